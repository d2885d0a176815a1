import {
  checkFlagLoads,
  type Evaluators,
  type Flag,
  isPlainObject,
  pointer,
  validateFlag,
} from '@runtime-control/core';
import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { ChangeSync } from '../../state/change-sync.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Actor, Store, StoredFlag, WriteOptions } from '../../store/store.js';

export type EnvironmentPatch = Partial<{
  state: unknown;
  targeting: unknown;
  rollout: unknown;
  overrides: unknown;
}>;

/** Flag use cases: every write is validated in full (shape, types, schema, JsonLogic) before anything is stored. */
export class FlagService {
  constructor(
    private readonly store: Store,
    private readonly state: ReplicaState,
    private readonly sync: ChangeSync,
    private readonly environments: readonly string[],
  ) {}

  /**
   * Validates a flag document as every replica will load it: shape, types, schema, JsonLogic, the variants its rules
   * can return, and then flagd-core itself loading and evaluating it in every environment. Throws VALIDATION_FAILED /
   * INVALID_TARGETING with every problem's JSON Pointer.
   */
  validate(input: unknown, evaluators: Evaluators = this.state.evaluatorMap()): Flag {
    return validateServable(input, this.environments, evaluators);
  }

  list(): Promise<StoredFlag[]> {
    return this.store.listFlags();
  }

  async get(key: string): Promise<StoredFlag> {
    const stored = await this.store.getFlag(key);
    if (!stored) throw new AppError('FLAG_NOT_FOUND', `flag "${key}" not found`);
    return stored;
  }

  async create(input: unknown, actor: Actor): Promise<StoredFlag> {
    const flag = this.validate(input);
    const stored = await this.store.createFlag(flag, actor);
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  /**
   * Creates many flags in one transaction (seeding): each is validated in full as `create` validates one, and if
   * any is refused nothing is written and every problem is reported under `/flags/{index}`. Keys that exist are left
   * as they are and listed in `existing`. Each created flag gets its own revision and audit record; the replica
   * applies them in one catch-up, so the batch costs one compilation of what it created.
   */
  async createMany(
    inputs: readonly unknown[],
    actor: Actor,
  ): Promise<{ revision: number; created: string[]; existing: string[] }> {
    const evaluators = this.state.evaluatorMap();
    const flags: Flag[] = [];
    const details: ErrorDetail[] = [];
    let targetingOnly = true;
    inputs.forEach((input, i) => {
      try {
        flags.push(this.validate(input, evaluators));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.code !== 'INVALID_TARGETING') targetingOnly = false;
        const base = `/flags/${i}`;
        const problems =
          err.details.length > 0 ? err.details : [{ path: err.path ?? '', code: err.code, message: err.message }];
        for (const d of problems) details.push({ ...d, path: `${base}${d.path}` });
      }
    });
    if (details.length > 0) {
      const first = details[0]!;
      const refused = new Set(details.map((d) => d.path.split('/')[2])).size;
      throw new AppError(
        targetingOnly ? 'INVALID_TARGETING' : 'VALIDATION_FAILED',
        `${refused} of ${inputs.length} flags refused, nothing was written; first: ${first.path}: ${first.message}`,
        { details },
      );
    }
    const result = await this.store.createFlags(flags, actor);
    const last = result.created[result.created.length - 1];
    if (last) await this.sync.afterWrite(last.revision);
    return {
      revision: last?.revision ?? this.state.revision,
      created: result.created.map((s) => s.flag.key),
      existing: result.existing,
    };
  }

  async replace(key: string, input: unknown, actor: Actor, options: WriteOptions): Promise<StoredFlag> {
    if (isPlainObject(input) && input.key !== undefined && input.key !== key) {
      throw new AppError('VALIDATION_FAILED', `body key "${String(input.key)}" does not match the URL key "${key}"`, {
        path: '/key',
      });
    }
    const flag = this.validate(isPlainObject(input) ? { ...input, key } : input);
    const stored = await this.store.replaceFlag(key, flag, actor, options);
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  /**
   * Replaces the flag with its version after the change at `revision` (the audit record's `after`), validated as any
   * write is today (an evaluator it used may have changed since), and audited as a `revert`.
   */
  async revert(key: string, revision: number, actor: Actor, options: WriteOptions): Promise<StoredFlag> {
    const [record] = await this.store.queryAudit({
      entityType: 'flag',
      entityKey: key,
      beforeRevision: revision + 1,
      limit: 1,
    });
    if (record === undefined || record.revision !== revision) {
      throw new AppError(
        'REVISION_NOT_FOUND',
        `flag "${key}" did not change at revision ${revision}; its revisions are in GET /api/admin/audit?flag=${key}`,
        { path: '/revision' },
      );
    }
    if (record.after === null) {
      throw new AppError(
        'REVERT_TARGET_DELETED',
        `revision ${revision} deleted flag "${key}"; revert to a revision before it`,
        { path: '/revision' },
      );
    }
    const flag = this.validate(record.after);
    const stored = await this.store.replaceFlag(key, flag, actor, { ...options, action: 'revert' });
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  async delete(key: string, actor: Actor, options: WriteOptions): Promise<void> {
    const { revision } = await this.store.deleteFlag(key, actor, options);
    await this.sync.afterWrite(revision);
  }

  /** Changes one environment's settings; the result is validated as a whole flag inside the write transaction. */
  patchEnvironment(
    key: string,
    environment: string,
    patch: EnvironmentPatch,
    actor: Actor,
    options: WriteOptions,
  ): Promise<StoredFlag> {
    return this.updateEnvironment(key, environment, actor, options, (settings) => {
      for (const field of ['state', 'targeting', 'rollout', 'overrides'] as const) {
        if (!Object.hasOwn(patch, field)) continue;
        const value = patch[field];
        if (value === null && field !== 'state') delete settings[field];
        else settings[field] = value;
      }
    });
  }

  /** Sets (variant) or removes (undefined) one test-user override. */
  setOverride(
    key: string,
    environment: string,
    targetingKey: string,
    variant: string | undefined,
    actor: Actor,
    options: WriteOptions,
  ): Promise<StoredFlag> {
    // `__proto__` as a plain-object key sets the prototype instead of an entry (a silent no-op that still wrote a
    // revision); `constructor` and `prototype` are refused with it, as keys no override should need.
    if (targetingKey === '__proto__' || targetingKey === 'constructor' || targetingKey === 'prototype') {
      const path = `/environments${pointer(environment)}/overrides${pointer(targetingKey)}`;
      throw new AppError('VALIDATION_FAILED', `targeting key "${targetingKey}" is not allowed as an override key`, {
        details: [
          { path, code: 'RESERVED_KEY', message: `"${targetingKey}" cannot be a targeting key of an override` },
        ],
      });
    }
    return this.updateEnvironment(key, environment, actor, options, (settings) => {
      // A Map, then own data properties: no key can reach a prototype on the way.
      const current = settings.overrides as Record<string, string> | undefined;
      const entries = new Map<string, string>(current ? Object.entries(current) : []);
      if (variant === undefined) entries.delete(targetingKey);
      else entries.set(targetingKey, variant);
      const overrides: Record<string, string> = {};
      for (const [k, v] of entries) {
        Object.defineProperty(overrides, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      if (entries.size > 0) settings.overrides = overrides;
      else delete settings.overrides;
    });
  }

  /**
   * Read-modify-write of one environment's settings under the store's row lock: `change` edits a copy, the whole
   * flag is then validated (problems reported relative to the environment), written, and announced.
   */
  private async updateEnvironment(
    key: string,
    environment: string,
    actor: Actor,
    options: WriteOptions,
    change: (settings: Record<string, unknown>) => void,
  ): Promise<StoredFlag> {
    this.requireEnvironment(environment);
    const stored = await this.store.updateFlag(
      key,
      (current) => {
        const settings: Record<string, unknown> = { ...(current.environments[environment] ?? { state: 'DISABLED' }) };
        change(settings);
        const next = { ...current, environments: { ...current.environments, [environment]: settings } };
        return rebasePaths(() => this.validate(next), `/environments${pointer(environment)}`);
      },
      actor,
      options,
    );
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  private requireEnvironment(environment: string): void {
    if (!this.environments.includes(environment)) {
      throw new AppError(
        'NOT_FOUND',
        `unknown environment "${environment}" (configured: ${this.environments.join(', ')})`,
        {
          path: 'environment',
        },
      );
    }
  }
}

/** The write-time rule shared by flag and evaluator writes: accepted only if every replica can load and serve it. */
export function validateServable(input: unknown, environments: readonly string[], evaluators: Evaluators): Flag {
  const result = validateFlag(input, {
    environments,
    evaluatorNames: new Set(Object.keys(evaluators)),
    evaluators,
  });
  if (!result.ok) {
    const targeting = result.issues.every((i) => i.code === 'INVALID_TARGETING' || i.code === 'UNKNOWN_EVALUATOR');
    throw new AppError(targeting ? 'INVALID_TARGETING' : 'VALIDATION_FAILED', result.issues[0]!.message, {
      details: result.issues,
    });
  }
  const problems = checkFlagLoads(result.value, evaluators, environments);
  if (problems.length > 0) throw new AppError('INVALID_TARGETING', problems[0]!.message, { details: problems });
  return result.value;
}

/** Reports problems of a sub-document relative to the request body that carried it (PATCH of one environment). */
function rebasePaths<T>(fn: () => T, prefix: string): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const strip = (p: string) => (p.startsWith(prefix) ? p.slice(prefix.length) : p);
    throw new AppError(err.code, err.message, {
      details: err.details.map((d) => ({ ...d, path: strip(d.path) })),
      path: err.path === undefined ? undefined : strip(err.path),
    });
  }
}
