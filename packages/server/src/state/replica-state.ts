import { createHash } from 'node:crypto';
import { FlagdCore } from '@openfeature/flagd-core';
import { type Evaluators, type FlagType, toFlagdConfig } from '@runtime-control/core';
import type { Logger } from 'pino';
import type { Store, StoredEvaluator, StoredFlag, StoredToken } from '../store/store.js';
import { flagdLogger } from './flagd-logger.js';

/** One environment's compiled view: the flagd document clients receive and the engine that evaluates it. */
export interface EnvironmentView {
  readonly name: string;
  readonly engine: FlagdCore;
  /** The flagd JSON (serialized once per change, shared by every snapshot and stream client). */
  readonly configJson: string;
  /** Content hash of `configJson`: unchanged when a change touched other environments only. */
  readonly etag: string;
  /** Global revision at which this environment's configuration last changed. */
  readonly revision: number;
  readonly flagTypes: ReadonlyMap<string, FlagType>;
  readonly sensitive: ReadonlySet<string>;
}

export interface EnvironmentChange {
  environment: string;
  revision: number;
  changedKeys: string[];
  view: EnvironmentView;
}

export type CatchUpTrigger = 'startup' | 'write' | 'message' | 'reconnect' | 'reconcile';

export interface CatchUpResult {
  from: number;
  to: number;
  changes: number;
}

const CHANGE_LOG_LIMIT = 1000;

/**
 * What one replica knows: flags, shared evaluators and live tokens, at one applied revision. It only moves forward,
 * by reading `changesSince(applied)` from the store — after its own writes, on a bus message, on reconnect and on
 * the reconciliation timer — so every replica converges on the database's state whatever pub/sub loses.
 */
export class ReplicaState {
  private applied = -1;
  private readonly flags = new Map<string, StoredFlag>();
  private readonly evaluators = new Map<string, StoredEvaluator>();
  private readonly tokensByHash = new Map<string, StoredToken>();
  private readonly views = new Map<string, EnvironmentView>();
  /** Per environment: recent (revision, changed keys), for resuming a stream without a full snapshot. */
  private readonly changeLog = new Map<string, { revision: number; keys: string[] }[]>();
  private readonly logStart = new Map<string, number>();
  private readonly listeners: ((change: EnvironmentChange) => void)[] = [];
  private readonly revokedListeners: ((token: StoredToken) => void)[] = [];
  private running: Promise<CatchUpResult> | undefined;
  private rerun = false;

  constructor(
    private readonly store: Store,
    readonly environments: readonly string[],
    private readonly logger: Logger,
  ) {
    for (const env of environments) this.changeLog.set(env, []);
  }

  get revision(): number {
    return this.applied;
  }

  onEnvironmentChange(listener: (change: EnvironmentChange) => void): void {
    this.listeners.push(listener);
  }

  /** Called once for each token this replica learns is revoked (its own revocations and other replicas'). */
  onTokenRevoked(listener: (token: StoredToken) => void): void {
    this.revokedListeners.push(listener);
  }

  view(environment: string): EnvironmentView | undefined {
    return this.views.get(environment);
  }

  flag(key: string): StoredFlag | undefined {
    return this.flags.get(key);
  }

  allFlags(): StoredFlag[] {
    return [...this.flags.values()];
  }

  evaluatorNames(): Set<string> {
    return new Set(this.evaluators.keys());
  }

  evaluatorMap(): Evaluators {
    return Object.fromEntries([...this.evaluators.values()].map((e) => [e.name, e.logic]));
  }

  tokenByHash(hash: string): StoredToken | undefined {
    return this.tokensByHash.get(hash);
  }

  /** Keys changed in `environment` after `revision`, or undefined when the log no longer reaches that far back. */
  changedSince(environment: string, revision: number): string[] | undefined {
    const view = this.views.get(environment);
    if (!view || revision >= view.revision) return [];
    // The log is complete from `logStart` on; a client older than that needs a snapshot.
    if (revision < (this.logStart.get(environment) ?? Number.POSITIVE_INFINITY)) return undefined;
    const keys = new Set<string>();
    for (const entry of this.changeLog.get(environment) ?? []) {
      if (entry.revision > revision) for (const k of entry.keys) keys.add(k);
    }
    return [...keys].sort();
  }

  /** Loads everything; the first call of a replica's life. */
  async load(): Promise<void> {
    const revision = await this.store.currentRevision();
    const [flags, evaluators, tokens] = await Promise.all([
      this.store.listFlags(),
      this.store.listEvaluators(),
      this.store.listTokens(),
    ]);
    this.flags.clear();
    for (const f of flags) this.flags.set(f.flag.key, f);
    this.evaluators.clear();
    for (const e of evaluators) this.evaluators.set(e.name, e);
    this.tokensByHash.clear();
    for (const t of tokens) if (!t.revokedAt) this.tokensByHash.set(t.hash, t);
    this.applied = revision;
    this.recompile(this.environments, revision);
  }

  /**
   * Applies every change after the applied revision. Calls are serialized; a call during a run schedules one more
   * run, so a revision committed while we were reading is never left behind.
   */
  catchUp(trigger: CatchUpTrigger): Promise<CatchUpResult> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    const run = async (): Promise<CatchUpResult> => {
      const from = this.applied;
      let total = 0;
      do {
        this.rerun = false;
        total += await this.applyChanges(trigger);
      } while (this.rerun);
      return { from, to: this.applied, changes: total };
    };
    this.running = run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async applyChanges(trigger: CatchUpTrigger): Promise<number> {
    const changes = await this.store.changesSince(this.applied);
    if (changes.length === 0) return 0;
    const flagKeys = new Set<string>();
    const evaluatorNames = new Set<string>();
    const tokenIds = new Set<string>();
    for (const c of changes) {
      if (c.entityType === 'flag') flagKeys.add(c.entityKey);
      else if (c.entityType === 'evaluator') evaluatorNames.add(c.entityKey);
      else tokenIds.add(c.entityKey);
    }
    const [flags, evaluators, tokens] = await Promise.all([
      Promise.all([...flagKeys].map(async (k) => [k, await this.store.getFlag(k)] as const)),
      Promise.all([...evaluatorNames].map(async (n) => [n, await this.store.getEvaluator(n)] as const)),
      Promise.all([...tokenIds].map((id) => this.store.getToken(id))),
    ]);
    for (const [key, stored] of flags) {
      if (stored) this.flags.set(key, stored);
      else this.flags.delete(key);
    }
    for (const [name, stored] of evaluators) {
      if (stored) this.evaluators.set(name, stored);
      else this.evaluators.delete(name);
    }
    for (const token of tokens) {
      if (!token) continue;
      if (token.revokedAt) {
        const wasLive = this.tokensByHash.delete(token.hash);
        if (wasLive) {
          for (const l of this.revokedListeners) {
            try {
              l(token);
            } catch (err) {
              this.logger.error({ err }, 'token revocation listener failed');
            }
          }
        }
      } else this.tokensByHash.set(token.hash, token);
    }
    const revision = changes[changes.length - 1]!.revision;
    this.applied = Math.max(this.applied, revision);
    if (flagKeys.size > 0 || evaluatorNames.size > 0) this.recompile(this.environments, this.applied);
    this.logger.debug({ trigger, revision: this.applied, changes: changes.length }, 'caught up');
    return changes.length;
  }

  private recompile(environments: readonly string[], revision: number): void {
    const flags = [...this.flags.values()].map((s) => s.flag);
    const evaluators = this.evaluatorMap();
    for (const env of environments) {
      const config = toFlagdConfig(flags, evaluators, env);
      const configJson = JSON.stringify(config);
      const etag = createHash('sha1').update(configJson).digest('base64url').slice(0, 22);
      const previous = this.views.get(env);
      if (previous && previous.etag === etag) continue;
      const engine = previous?.engine ?? new FlagdCore(undefined, flagdLogger(this.logger));
      const changedKeys = engine.setConfigurations(configJson).sort();
      const view: EnvironmentView = {
        name: env,
        engine,
        configJson,
        etag,
        revision,
        flagTypes: new Map(flags.map((f) => [f.key, f.type])),
        sensitive: new Set(flags.filter((f) => f.sensitive).map((f) => f.key)),
      };
      this.views.set(env, view);
      if (!previous) {
        this.logStart.set(env, revision);
        continue;
      }
      const log = this.changeLog.get(env)!;
      log.push({ revision, keys: changedKeys });
      if (log.length > CHANGE_LOG_LIMIT) this.logStart.set(env, log.shift()!.revision);
      for (const l of this.listeners) {
        try {
          l({ environment: env, revision, changedKeys, view });
        } catch (err) {
          this.logger.error({ err }, 'environment change listener failed');
        }
      }
    }
  }
}
