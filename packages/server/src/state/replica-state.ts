import { createHash } from 'node:crypto';
import { type FeatureFlag, FlagdCore } from '@openfeature/flagd-core';
import {
  checkFlagLoads,
  collectRefs,
  type Evaluators,
  FLAG_TYPES,
  FLAGD_SCHEMA_URL,
  type Flag,
  type FlagdConfig,
  type FlagdFlag,
  type FlagType,
  flagSetOf,
  collectRefs as refsOf,
  toFlagdFlag,
  unloadableFlagdFlag,
  validateEvaluators,
  validateFlag,
} from '@runtime-control/core';
import type { Logger } from 'pino';
import type { Store, StoredEvaluator, StoredFlag, StoredToken } from '../store/store.js';
import { objectKeyOrder, PrecompiledStorage, parseOneFlag } from './flag-engine.js';
import { flagdLogger } from './flagd-logger.js';

/**
 * One environment's compiled view — or one flag set's slice of it — the flagd document clients receive and the engine
 * that evaluates it. A flag set's view shares its environment's engine and answers only for its own flags: keys
 * outside `flagTypes` are FLAG_NOT_FOUND, exactly as an unknown flag.
 */
export interface EnvironmentView {
  readonly name: string;
  /** The flag set (flagd flagSetId) this view is limited to; null: the whole environment. */
  readonly flagSet: string | null;
  readonly engine: FlagdCore;
  /** The flagd JSON (serialized once per change, shared by every snapshot and stream client). */
  readonly configJson: string;
  /** The same document as an object, for deltas (shared by every view of it: never mutated). */
  readonly config: Readonly<FlagdConfig>;
  /** Content hash of `configJson`: unchanged when a change touched other environments only. */
  readonly etag: string;
  /** Global revision at which this environment's configuration last changed. */
  readonly revision: number;
  readonly flagTypes: ReadonlyMap<string, FlagType>;
  readonly sensitive: ReadonlySet<string>;
}

export interface ReplicaStateOptions {
  /** Called each time a flag is compiled for an environment (tests count what a change recompiles). */
  onFlagCompiled?: (key: string, environment: string) => void;
}

/** A stored record this replica cannot serve (written by an older version, or by hand): isolated, not fatal. */
export interface BrokenRecord {
  entityType: 'flag' | 'evaluator';
  key: string;
  /** Revision of the stored record. */
  revision: number;
  problem: string;
}

/** What one catch-up applied: the revision reached and the keys of what changed (the admin stream relays it). */
export interface AppliedChanges {
  revision: number;
  flags: string[];
  evaluators: string[];
  tokens: string[];
}

export interface EnvironmentChange {
  environment: string;
  /** The flag set whose view changed; null: the whole environment's. */
  flagSet: string | null;
  revision: number;
  changedKeys: string[];
  view: EnvironmentView;
  /** The view before this change (what a delta is computed against). */
  previous: EnvironmentView;
}

export type CatchUpTrigger = 'startup' | 'write' | 'message' | 'reconnect' | 'reconcile';

export interface CatchUpResult {
  from: number;
  to: number;
  changes: number;
}

const CHANGE_LOG_LIMIT = 1000;
const LOAD_CHECK_CONTEXT = { targetingKey: 'rc-load-check' };
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** What a replica concluded about one stored flag: servable (`flag`) or isolated (`problem`). */
interface FlagAssessment {
  stored: StoredFlag;
  flag?: Flag;
  problem?: string;
}

/**
 * What one replica knows: flags, shared evaluators and live tokens, at one applied revision. It only moves forward,
 * by reading `changesSince(applied)` from the store — after its own writes, on a bus message, on reconnect and on
 * the reconciliation timer — so every replica converges on the database's state whatever pub/sub loses.
 *
 * Every stored record is treated as untrusted: a flag or evaluator this replica cannot load is isolated (served as
 * an error to its callers, named in readiness, counted and logged) and everything else keeps being served and
 * updated. A catch-up is computed in full before anything is replaced, so a failure leaves the replica on the
 * revision it had, and the next trigger retries.
 */
export class ReplicaState {
  private applied = -1;
  private flags = new Map<string, FlagAssessment>();
  private evaluators = new Map<string, StoredEvaluator>();
  /** Evaluators that validate; the only ones compiled into configurations. */
  private usableEvaluators: Evaluators = {};
  private brokenEvaluators = new Map<string, BrokenRecord>();
  private readonly tokensByHash = new Map<string, StoredToken>();
  private readonly views = new Map<string, EnvironmentView>();
  /**
   * Per environment, the view of each flag set that has flags there, precomputed with every change so a set-limited
   * client costs one more map lookup and nothing else; a set with no flags there reads `emptyViews`.
   */
  private readonly setViews = new Map<string, Map<string, EnvironmentView>>();
  private readonly emptyViews = new Map<string, EnvironmentView>();
  /** Per environment, what its installed views were compiled from (what the next change compiles against). */
  private compiled = new Map<string, CompiledEnvironment>();
  /** Per view (environment, or `environment/set`): recent (revision, changed keys), for resuming a stream. */
  private readonly changeLog = new Map<string, { revision: number; keys: string[] }[]>();
  private readonly logStart = new Map<string, number>();
  private readonly listeners: ((change: EnvironmentChange) => void)[] = [];
  private readonly revokedListeners: ((token: StoredToken) => void)[] = [];
  private readonly appliedListeners: ((applied: AppliedChanges) => void)[] = [];
  private readonly brokenListeners: ((broken: readonly BrokenRecord[]) => void)[] = [];
  private running: Promise<CatchUpResult> | undefined;
  private rerun = false;

  constructor(
    private readonly store: Store,
    readonly environments: readonly string[],
    private readonly logger: Logger,
    private readonly options: ReplicaStateOptions = {},
  ) {
    for (const env of environments) this.changeLog.set(env, []);
  }

  get revision(): number {
    return this.applied;
  }

  onEnvironmentChange(listener: (change: EnvironmentChange) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Called after every catch-up that applied changes (this replica's writes and other replicas'), whatever they
   * touched: flags, evaluators or tokens, even when no environment's configuration changed.
   */
  onApplied(listener: (applied: AppliedChanges) => void): void {
    this.appliedListeners.push(listener);
  }

  /** Called once for each token this replica learns is revoked (its own revocations and other replicas'). */
  onTokenRevoked(listener: (token: StoredToken) => void): void {
    this.revokedListeners.push(listener);
  }

  /** Called with the full list of broken records whenever it changes (metrics). */
  onBrokenChange(listener: (broken: readonly BrokenRecord[]) => void): void {
    this.brokenListeners.push(listener);
  }

  /**
   * The view a client reads: its environment's, or with `flagSet` that set's slice of it (an empty document when the
   * set has no flags in the environment). Undefined until the environment is loaded.
   */
  view(environment: string, flagSet?: string | null): EnvironmentView | undefined {
    if (flagSet === undefined || flagSet === null) return this.views.get(environment);
    return this.setViews.get(environment)?.get(flagSet) ?? this.emptyViews.get(environment);
  }

  /** A servable flag (isolated ones are absent). */
  flag(key: string): StoredFlag | undefined {
    const a = this.flags.get(key);
    return a?.flag ? a.stored : undefined;
  }

  /** Every servable flag. */
  allFlags(): StoredFlag[] {
    const out: StoredFlag[] = [];
    for (const a of this.flags.values()) if (a.flag) out.push(a.stored);
    return out;
  }

  /** Records this replica isolated because it cannot load them, flags first, by key. */
  brokenRecords(): BrokenRecord[] {
    const flags: BrokenRecord[] = [];
    for (const a of this.flags.values()) {
      if (a.problem !== undefined) {
        flags.push({
          entityType: 'flag',
          key: a.stored.flag.key ?? '',
          revision: a.stored.revision,
          problem: a.problem,
        });
      }
    }
    flags.sort((x, y) => (x.key < y.key ? -1 : 1));
    const evaluators = [...this.brokenEvaluators.values()].sort((x, y) => (x.key < y.key ? -1 : 1));
    return [...flags, ...evaluators];
  }

  evaluatorNames(): Set<string> {
    return new Set(this.evaluators.keys());
  }

  /** The evaluators configurations are compiled with (stored ones that validate). */
  evaluatorMap(): Evaluators {
    return { ...this.usableEvaluators };
  }

  tokenByHash(hash: string): StoredToken | undefined {
    return this.tokensByHash.get(hash);
  }

  /**
   * Keys changed in `environment` (or its flag set's view) after `revision`, or undefined when the log no longer
   * reaches that far back.
   */
  changedSince(environment: string, revision: number, flagSet?: string | null): string[] | undefined {
    const view = this.view(environment, flagSet);
    if (!view || revision >= view.revision) return [];
    const log = viewKey(environment, flagSet ?? null);
    // The log is complete from `logStart` on; a client older than that needs a snapshot.
    if (revision < (this.logStart.get(log) ?? Number.POSITIVE_INFINITY)) return undefined;
    const keys = new Set<string>();
    for (const entry of this.changeLog.get(log) ?? []) {
      if (entry.revision > revision) for (const k of entry.keys) keys.add(k);
    }
    return [...keys].sort();
  }

  /** Loads everything; the first call of a replica's life. Never fails for a bad record, only for the database. */
  async load(): Promise<void> {
    const revision = await this.store.currentRevision();
    const [flags, evaluators, tokens] = await Promise.all([
      this.store.listFlags(),
      this.store.listEvaluators(),
      this.store.listTokens(),
    ]);
    const evaluatorMap = new Map(evaluators.map((e) => [e.name, e]));
    const usable = this.usableFrom(evaluatorMap);
    const assessed = new Map<string, FlagAssessment>();
    for (const stored of flags) assessed.set(stored.flag.key, this.assess(stored, usable.evaluators, usable.broken));
    const views = this.compileViews(assessed, usable.evaluators, 'all');
    this.evaluators = evaluatorMap;
    this.usableEvaluators = usable.evaluators;
    this.brokenEvaluators = usable.broken;
    this.flags = assessed;
    this.tokensByHash.clear();
    for (const t of tokens) if (!t.revokedAt) this.tokensByHash.set(t.hash, t);
    this.applied = revision;
    this.compiled = views;
    this.installViews(views, revision);
    this.reportBroken(undefined);
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
      else if (c.entityType === 'token') tokenIds.add(c.entityKey);
      // 'secret': a rotation step's audit record; no state of this replica depends on it.
    }
    const [flags, evaluators, tokens] = await Promise.all([
      Promise.all([...flagKeys].map(async (k) => [k, await this.store.getFlag(k)] as const)),
      Promise.all([...evaluatorNames].map(async (n) => [n, await this.store.getEvaluator(n)] as const)),
      Promise.all([...tokenIds].map((id) => this.store.getToken(id))),
    ]);
    const revision = changes[changes.length - 1]!.revision;
    // Everything below is computed on copies; state is replaced only once the new views exist.
    const nextEvaluators = new Map(this.evaluators);
    for (const [name, stored] of evaluators) {
      if (stored) nextEvaluators.set(name, stored);
      else nextEvaluators.delete(name);
    }
    const usable = evaluatorNames.size > 0 ? this.usableFrom(nextEvaluators) : undefined;
    const evaluatorsNow = usable?.evaluators ?? this.usableEvaluators;
    const brokenNow = usable?.broken ?? this.brokenEvaluators;
    const nextFlags = new Map(this.flags);
    for (const [key, stored] of flags) {
      if (stored) nextFlags.set(key, this.assess(stored, evaluatorsNow, brokenNow));
      else nextFlags.delete(key);
    }
    const touched = new Set(flagKeys);
    if (evaluatorNames.size > 0) {
      // A flag that uses a changed evaluator is re-checked against its new logic.
      for (const [key, a] of nextFlags) {
        if (flagKeys.has(key) || !referencesAny(a.stored.flag, evaluatorNames)) continue;
        nextFlags.set(key, this.assess(a.stored, evaluatorsNow, brokenNow));
        touched.add(key);
      }
    }
    const recompile = flagKeys.size > 0 || evaluatorNames.size > 0;
    const views = recompile ? this.compileViews(nextFlags, evaluatorsNow, touched) : undefined;

    // Commit: from here on nothing can fail.
    const before = recompile ? this.brokenRecords() : undefined;
    this.evaluators = nextEvaluators;
    if (usable) {
      this.usableEvaluators = usable.evaluators;
      this.brokenEvaluators = usable.broken;
    }
    this.flags = nextFlags;
    this.applyTokens(tokens);
    this.applied = Math.max(this.applied, revision);
    if (views) {
      this.compiled = views;
      this.installViews(views, this.applied);
    }
    if (before) this.reportBroken(before);
    this.notifyApplied({
      revision: this.applied,
      flags: [...flagKeys],
      evaluators: [...evaluatorNames],
      tokens: [...tokenIds],
    });
    this.logger.debug({ trigger, revision: this.applied, changes: changes.length }, 'caught up');
    return changes.length;
  }

  private notifyApplied(applied: AppliedChanges): void {
    for (const l of this.appliedListeners) {
      try {
        l(applied);
      } catch (err) {
        this.logger.error({ err }, 'applied-changes listener failed');
      }
    }
  }

  private applyTokens(tokens: (StoredToken | undefined)[]): void {
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
  }

  /** Splits stored evaluators into the ones configurations can use and the ones isolated as broken. */
  private usableFrom(stored: Map<string, StoredEvaluator>): {
    evaluators: Evaluators;
    broken: Map<string, BrokenRecord>;
  } {
    const evaluators: Evaluators = {};
    const broken = new Map<string, BrokenRecord>();
    for (const [name, e] of stored) {
      const problem = e.unreadable ?? firstProblem(validateEvaluators({ [name]: e.logic }));
      if (problem === undefined) evaluators[name] = e.logic;
      else broken.set(name, { entityType: 'evaluator', key: name, revision: e.revision, problem });
    }
    return { evaluators, broken };
  }

  /** Validates a stored flag as a write would (the stored row is untrusted). */
  private assess(
    stored: StoredFlag,
    evaluators: Evaluators,
    brokenEvaluators?: ReadonlyMap<string, BrokenRecord>,
  ): FlagAssessment {
    if (stored.unreadable) return { stored, problem: stored.unreadable };
    for (const name of brokenEvaluators?.keys() ?? []) {
      if (referencesAny(stored.flag, new Set([name]))) {
        return { stored, problem: `uses evaluator "${name}", which cannot be loaded` };
      }
    }
    const result = validateFlag(stored.flag, {
      environments: this.environments,
      evaluatorNames: new Set(Object.keys(evaluators)),
      evaluators,
    });
    if (!result.ok) return { stored, problem: firstProblem(result) };
    return { stored, flag: result.value };
  }

  /**
   * Builds every environment's configuration and its engine, compiling (flagd definition, flagd-core parse, load
   * check) only the flags that differ from the last compiled state — what this change wrote, plus the flags that
   * reference a changed evaluator — and reusing every other flag's compiled JSON and parsed flagd-core flag. So a
   * write costs the same at 50 flags as at 5,000, while every view is the document a full build would produce.
   *
   * A flag that validates but that flagd-core still cannot load (a loader quirk no validation knew about), or whose
   * rule flagd-core cannot build (it loads, but answers PARSE_ERROR for everyone), is isolated. Flags are parsed one
   * at a time, so one such flag never makes the rest of its environment unloadable.
   */
  private compileViews(
    flags: Map<string, FlagAssessment>,
    evaluators: Evaluators,
    check: ReadonlySet<string> | 'all',
  ): Map<string, CompiledEnvironment> {
    const logger = flagdLogger(this.logger);
    // Nothing compiled yet (or asked to): compile everything.
    const previous = check === 'all' || this.compiled.size === 0 ? undefined : this.compiled;
    // What to compile: the flags the caller names that exist; the ones that no longer do leave every document.
    const dirty: string[] = [];
    const removed: string[] = [];
    if (!previous || check === 'all') {
      dirty.push(...flags.keys());
    } else {
      // `check` names every flag whose assessment this change replaced (written, deleted, or re-checked against a
      // changed evaluator), so nothing here walks the whole flag set.
      for (const key of check) {
        if (flags.has(key)) dirty.push(key);
        else removed.push(key);
      }
    }
    const fresh = new Map<string, Map<string, CompiledFlag>>();
    for (const key of dirty) {
      const a = flags.get(key)!;
      let perEnv = a.flag ? this.compileServable(key, a, evaluators, logger) : undefined;
      if (perEnv instanceof Error) {
        flags.set(key, { stored: a.stored, problem: perEnv.message });
        perEnv = undefined;
      }
      fresh.set(key, perEnv ?? this.compileIsolated(key, flags.get(key)!, logger));
    }
    const out = new Map<string, CompiledEnvironment>();
    for (const env of this.environments) {
      const before = previous?.get(env);
      const sameEvaluators = before !== undefined && before.evaluators === evaluators;
      // What changes in this environment's document: key → its new entry, or undefined when it leaves.
      const updates = new Map<string, CompiledFlag | undefined>();
      const changedSets = new Set<string>();
      let keysChanged = before === undefined;
      for (const key of removed) {
        const old = before?.entries.get(key);
        if (!old) continue;
        updates.set(key, undefined);
        keysChanged = true;
        if (old.set !== undefined) changedSets.add(old.set);
      }
      for (const key of dirty) {
        const next = fresh.get(key)!.get(env);
        const old = before?.entries.get(key);
        // Same document entry: keep the parsed flag the views already serve.
        if ((old && next && sameCompiledFlag(old, next)) || (!old && !next)) continue;
        updates.set(key, next);
        if ((old === undefined) !== (next === undefined)) keysChanged = true;
        if (old?.set !== undefined) changedSets.add(old.set);
        if (next?.set !== undefined) changedSets.add(next.set);
      }
      if (before && sameEvaluators && updates.size === 0) {
        out.set(env, before);
        continue;
      }
      const entries = new Map(before?.entries);
      for (const [key, next] of updates) {
        if (next) entries.set(key, next);
        else entries.delete(key);
      }
      let order: string[];
      let features: Map<string, FeatureFlag>;
      let flagTypes: Map<string, FlagType>;
      let sensitive: Set<string>;
      if (before && !keysChanged) {
        // Same keys: copy the previous maps (natively) and patch the changed entries in place.
        order = before.order;
        features = new Map(before.engine.getFlags());
        flagTypes = new Map(before.flagTypes);
        sensitive = new Set(before.sensitive);
        for (const [key, next] of updates) {
          features.set(key, next!.feature);
          flagTypes.set(key, next!.type);
          if (next!.sensitive) sensitive.add(key);
          else sensitive.delete(key);
        }
      } else {
        order = objectKeyOrder([...entries.keys()].sort(compareKeys));
        features = new Map();
        flagTypes = new Map();
        sensitive = new Set();
        for (const key of order) {
          const e = entries.get(key)!;
          features.set(key, e.feature);
          flagTypes.set(key, e.type);
          if (e.sensitive) sensitive.add(key);
        }
      }
      // The document in chunks of CHUNK_FLAGS flags, each kept with its hash: a change that keeps the keys rebuilds
      // and re-hashes only the chunks it touched (the whole document is then one join).
      let position: Map<string, number>;
      let chunks: string[];
      let chunkHashes: string[];
      if (before && !keysChanged) {
        position = before.position;
        chunks = before.chunks.slice();
        chunkHashes = before.chunkHashes.slice();
        const touched = new Set<number>();
        for (const key of updates.keys()) touched.add(Math.floor(position.get(key)! / CHUNK_FLAGS));
        for (const c of touched) {
          chunks[c] = chunkJson(order, c, entries);
          chunkHashes[c] = hashOf(chunks[c]!);
        }
      } else {
        position = new Map(order.map((key, i) => [key, i]));
        chunks = [];
        chunkHashes = [];
        for (let c = 0; c * CHUNK_FLAGS < order.length; c++) {
          chunks.push(chunkJson(order, c, entries));
          chunkHashes.push(hashOf(chunks[c]!));
        }
      }
      const evaluatorsJson = Object.keys(evaluators).length > 0 ? JSON.stringify(evaluators) : undefined;
      const head = documentHead();
      const tail = documentTail(evaluatorsJson);
      const configJson = `${head}${chunks.join(',')}${tail}`;
      // A content hash all the same (equal documents, equal etags, on every replica): of the chunks' hashes.
      const etag = etagOf(`${head}${chunkHashes.join(',')}${tail}`);
      const engine = new FlagdCore(new PrecompiledStorage(features, logger), logger);
      // A set's slice is rebuilt when one of its flags changed or the shared evaluators did; others are reused.
      const sets = new Map<string, SlicedView>(sameEvaluators ? before.sets : []);
      if (!sameEvaluators || changedSets.size > 0) {
        const members = new Map<string, string[]>();
        for (const set of changedSets) members.set(set, []);
        for (const key of order) {
          const set = entries.get(key)!.set;
          if (set === undefined || (sameEvaluators && !changedSets.has(set))) continue;
          let keys = members.get(set);
          if (!keys) {
            keys = [];
            members.set(set, keys);
          }
          keys.push(key);
        }
        for (const [set, keys] of members) {
          if (keys.length > 0) sets.set(set, sliceOf(keys, entries, evaluators));
          else sets.delete(set);
        }
      }
      // The keys whose flagd-core flag changed (as flagd-core's own hash comparison would find them).
      const changedKeys: string[] = [];
      for (const [key, next] of updates) {
        if (before?.entries.get(key)?.feature.hash !== next?.feature.hash) changedKeys.push(key);
      }
      out.set(env, {
        config: documentObject(order, entries, evaluators),
        configJson,
        etag,
        engine,
        flagTypes,
        sensitive,
        sets,
        empty: before?.empty ?? sliceOf([], entries, evaluators),
        entries,
        order,
        position,
        chunks,
        chunkHashes,
        evaluators,
        changedKeys: before && sameEvaluators ? changedKeys.sort() : undefined,
      });
    }
    return out;
  }

  /**
   * A servable flag's definition and parsed flagd-core flag in each environment it is configured in, or the problem
   * that isolates it: flagd-core cannot load it somewhere, or answers an error for it.
   */
  private compileServable(
    key: string,
    a: FlagAssessment,
    evaluators: Evaluators,
    logger: ReturnType<typeof flagdLogger>,
  ): Map<string, CompiledFlag> | Error {
    const flag = a.flag!;
    const out = new Map<string, CompiledFlag>();
    const type = FLAG_TYPES.includes(flag.type) ? flag.type : 'boolean';
    for (const env of this.environments) {
      const definition = toFlagdFlag(flag, env, evaluators);
      if (definition === undefined) continue;
      this.options.onFlagCompiled?.(key, env);
      const json = JSON.stringify(definition);
      let feature: FeatureFlag | undefined;
      try {
        feature = parseOneFlag(key, json, evaluators, logger);
      } catch {
        feature = undefined;
      }
      if (!feature) {
        const issues = checkFlagLoads(flag, evaluators, [env]);
        const issue = issues[0];
        return new Error(issue ? `${issue.path}: ${issue.message}` : `flagd cannot load this flag in ${env}`);
      }
      const r = feature.evaluate(LOAD_CHECK_CONTEXT, silent);
      if (r.errorCode) return new Error(`flagd answers ${r.errorCode} in ${env}: ${r.errorMessage ?? 'no detail'}`);
      out.set(
        env,
        compiledFlag(key, json, definition, feature, {
          type,
          sensitive: flag.sensitive === true,
          set: flagSetOf(flag),
          refs: definition.targeting ? [...refsOf(definition.targeting)] : [],
        }),
      );
    }
    return out;
  }

  /** What an isolated flag serves where it is configured: an error (PARSE_ERROR, code default) to its callers. */
  private compileIsolated(
    key: string,
    a: FlagAssessment,
    logger: ReturnType<typeof flagdLogger>,
  ): Map<string, CompiledFlag> {
    const out = new Map<string, CompiledFlag>();
    const raw = a.stored.flag as Partial<Flag> | undefined;
    if (typeof raw?.key !== 'string') return out;
    const envs = raw && typeof raw.environments === 'object' && raw.environments !== null ? raw.environments : {};
    const type = FLAG_TYPES.includes(raw.type as FlagType) ? (raw.type as FlagType) : 'boolean';
    for (const env of this.environments) {
      if (!Object.hasOwn(envs, env)) continue;
      this.options.onFlagCompiled?.(key, env);
      const definition = unloadableFlagdFlag(raw.sensitive === true);
      const json = JSON.stringify(definition);
      const feature = parseOneFlag(key, json, {}, logger);
      if (!feature) throw new Error(`flagd-core did not load the placeholder of isolated flag "${key}"`);
      // An isolated flag keeps the set its stored metadata names, so its set's clients see its PARSE_ERROR.
      out.set(
        env,
        compiledFlag(key, json, definition, feature, {
          type,
          sensitive: raw.sensitive === true,
          set: flagSetOf(raw),
          refs: [],
        }),
      );
    }
    return out;
  }

  private installViews(compiled: Map<string, CompiledEnvironment>, revision: number): void {
    for (const [env, compiledEnv] of compiled) {
      const { configJson, engine, flagTypes, sensitive } = compiledEnv;
      const etag = compiledEnv.etag;
      const previous = this.views.get(env);
      if (previous && previous.etag === etag) continue;
      const view: EnvironmentView = {
        name: env,
        flagSet: null,
        engine,
        configJson,
        etag,
        revision,
        flagTypes,
        sensitive,
        config: compiledEnv.config,
      };
      this.views.set(env, view);
      const changedKeys = previous ? (compiledEnv.changedKeys ?? changedFlagKeys(previous.engine, engine)) : undefined;
      // A set's slice is a function of its environment's document, so it can only change when that did.
      this.installSetViews(env, compiledEnv, changedKeys && new Set(changedKeys), revision);
      if (!changedKeys) {
        this.logStart.set(env, revision);
        continue;
      }
      this.logChange(env, revision, changedKeys);
      this.emit({ environment: env, flagSet: null, revision, changedKeys, view, previous: previous! });
    }
  }

  /**
   * Replaces an environment's flag-set views. A set whose slice changed gets a new view and a change of its own,
   * naming only keys that are (or were) in that set, so a set-limited stream never learns another set's flags; a
   * set that lost its last flag here reads the empty view again, and its clients get that as their change.
   */
  private installSetViews(
    env: string,
    compiledEnv: CompiledEnvironment,
    envChanged: ReadonlySet<string> | undefined,
    revision: number,
  ): void {
    const { engine } = compiledEnv;
    const toView = (set: string | null, part: SlicedView): EnvironmentView => ({
      name: env,
      flagSet: set,
      engine,
      configJson: part.configJson,
      config: part.config,
      etag: part.etag,
      revision,
      flagTypes: part.flagTypes,
      sensitive: part.sensitive,
    });
    const previousEmpty = this.emptyViews.get(env);
    const empty = toView(null, compiledEnv.empty);
    // Views whose document did not change keep their revision and move onto the new engine (same document, same
    // answers), so no view keeps an older engine alive.
    this.emptyViews.set(env, previousEmpty && previousEmpty.etag === empty.etag ? { ...previousEmpty, engine } : empty);
    const previousSets = this.setViews.get(env) ?? new Map<string, EnvironmentView>();
    const next = new Map<string, EnvironmentView>();
    const names = new Set([...previousSets.keys(), ...compiledEnv.sets.keys()]);
    for (const set of names) {
      const part = compiledEnv.sets.get(set);
      const before = previousSets.get(set) ?? previousEmpty;
      const after = part ? toView(set, part) : { ...this.emptyViews.get(env)!, flagSet: set };
      if (before && before.etag === after.etag) {
        if (part) next.set(set, { ...(previousSets.get(set) ?? after), engine });
        continue;
      }
      const current = { ...after, revision };
      if (part) next.set(set, current);
      const key = viewKey(env, set);
      if (!before || !envChanged) {
        this.logStart.set(key, revision);
        continue;
      }
      const changedKeys = [...new Set([...before.flagTypes.keys(), ...current.flagTypes.keys()])]
        .filter((k) => envChanged.has(k) || before.flagTypes.has(k) !== current.flagTypes.has(k))
        .sort();
      if (!this.logStart.has(key)) this.logStart.set(key, before.revision);
      this.logChange(key, revision, changedKeys);
      this.emit({ environment: env, flagSet: set, revision, changedKeys, view: current, previous: before });
    }
    this.setViews.set(env, next);
  }

  private logChange(key: string, revision: number, keys: string[]): void {
    let log = this.changeLog.get(key);
    if (!log) {
      log = [];
      this.changeLog.set(key, log);
    }
    log.push({ revision, keys });
    if (log.length > CHANGE_LOG_LIMIT) this.logStart.set(key, log.shift()!.revision);
  }

  private emit(change: EnvironmentChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.logger.error({ err }, 'environment change listener failed');
      }
    }
  }

  /** Logs newly broken and repaired records, and tells listeners. */
  private reportBroken(before: BrokenRecord[] | undefined): void {
    const now = this.brokenRecords();
    const id = (r: BrokenRecord) => `${r.entityType}:${r.key}:${r.revision}`;
    const old = new Set((before ?? []).map(id));
    const current = new Set(now.map(id));
    for (const r of now) {
      if (!old.has(id(r))) {
        this.logger.error(
          { entityType: r.entityType, key: r.key, revision: r.revision, problem: r.problem },
          `${r.entityType} "${r.key}" cannot be loaded; it answers its code default with an error until it is fixed`,
        );
      }
    }
    for (const r of before ?? []) {
      if (!current.has(id(r)) && !now.some((n) => n.entityType === r.entityType && n.key === r.key)) {
        this.logger.info({ entityType: r.entityType, key: r.key }, `${r.entityType} "${r.key}" loads again`);
      }
    }
    for (const l of this.brokenListeners) {
      try {
        l(now);
      } catch (err) {
        this.logger.error({ err }, 'broken-record listener failed');
      }
    }
  }
}

interface CompiledEnvironment extends SlicedView {
  engine: FlagdCore;
  /** Each flag set's slice of the environment, for the sets that have flags in it. */
  sets: Map<string, SlicedView>;
  /** The document of a set with no flags in this environment. */
  empty: SlicedView;
  /** Each flag in the document, compiled: what the next change reuses for the flags it does not touch. */
  entries: Map<string, CompiledFlag>;
  /** The document's keys, in document order, and each key's index in it. */
  order: string[];
  position: Map<string, number>;
  /** The document's flags in chunks of CHUNK_FLAGS (in order, joined by commas), and each chunk's hash. */
  chunks: string[];
  chunkHashes: string[];
  /** The evaluators it was compiled with (identity: unchanged when a change touched no evaluator). */
  evaluators: Evaluators;
  /**
   * Keys whose flagd-core flag differs from the previous compilation's, when the compilation knows them (same
   * evaluators); otherwise the installed engines are compared.
   */
  changedKeys?: string[];
}

/** A document clients receive and the flags it answers for. */
interface SlicedView {
  config: FlagdConfig;
  configJson: string;
  /** Content hash of `configJson`, computed once when the document is built (not on every change). */
  etag: string;
  flagTypes: Map<string, FlagType>;
  sensitive: Set<string>;
}

/** One flag's entry in one environment's document. */
interface CompiledFlag {
  /** Its flagd definition, serialized as the document carries it. */
  json: string;
  /** The same definition as an object (never mutated: documents share it). */
  definition: FlagdFlag;
  /** `"key":json`, its member of the document (kept, so assembling a document is one join). */
  fragment: string;
  /** flagd-core's parsed flag (`$ref`s expanded), what the environment's engine evaluates. */
  feature: FeatureFlag;
  type: FlagType;
  sensitive: boolean;
  set: string | undefined;
  /** Shared evaluators its rule references (a set's slice carries those). */
  refs: string[];
}

/** A flag compiled for one environment: its flagd JSON (`json`, of `definition`), its document member and parsed flag. */
function compiledFlag(
  key: string,
  json: string,
  definition: FlagdFlag,
  feature: FeatureFlag,
  info: Pick<CompiledFlag, 'type' | 'sensitive' | 'set' | 'refs'>,
): CompiledFlag {
  return { json, definition, fragment: `${JSON.stringify(key)}:${json}`, feature, ...info };
}

function sameCompiledFlag(a: CompiledFlag, b: CompiledFlag): boolean {
  // The hash too: the JSON keeps `$ref`s, the parsed flag has them expanded (an evaluator change shows only there).
  return (
    a.json === b.json &&
    a.feature.hash === b.feature.hash &&
    a.type === b.type &&
    a.sensitive === b.sensitive &&
    a.set === b.set
  );
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Flags per chunk of an environment's document: a write re-joins and re-hashes about this many flags' JSON. */
const CHUNK_FLAGS = 64;

function documentHead(): string {
  return `{"$schema":${JSON.stringify(FLAGD_SCHEMA_URL)},"flags":{`;
}

function documentTail(evaluatorsJson: string | undefined): string {
  return evaluatorsJson === undefined ? '}}' : `},"$evaluators":${evaluatorsJson}}`;
}

/** The flagd document (what JSON.stringify of `{ $schema, flags, $evaluators }` writes), from each flag's JSON. */
function documentJson(
  order: readonly string[],
  entries: ReadonlyMap<string, CompiledFlag>,
  evaluatorsJson: string | undefined,
): string {
  const parts: string[] = [];
  for (const key of order) parts.push(entries.get(key)!.fragment);
  return `${documentHead()}${parts.join(',')}${documentTail(evaluatorsJson)}`;
}

/** Chunk `index` of a document's flags: the members of flags `index * CHUNK_FLAGS` on, joined by commas. */
function chunkJson(order: readonly string[], index: number, entries: ReadonlyMap<string, CompiledFlag>): string {
  const parts: string[] = [];
  const end = Math.min(order.length, (index + 1) * CHUNK_FLAGS);
  for (let i = index * CHUNK_FLAGS; i < end; i++) parts.push(entries.get(order[i]!)!.fragment);
  return parts.join(',');
}

function hashOf(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}

/**
 * The document holding only `keys` (in document order) of an environment's, with only the shared evaluators those
 * flags reference: a set-limited client receives nothing of another set's flags, not even the rules they share.
 */
function sliceOf(
  keys: readonly string[],
  entries: ReadonlyMap<string, CompiledFlag>,
  evaluators: Evaluators,
): SlicedView {
  const refs = new Set<string>();
  const types = new Map<string, FlagType>();
  const hidden = new Set<string>();
  for (const key of keys) {
    const e = entries.get(key)!;
    for (const ref of e.refs) refs.add(ref);
    types.set(key, e.type);
    if (e.sensitive) hidden.add(key);
  }
  const used = Object.entries(evaluators).filter(([name]) => refs.has(name));
  const evaluatorsJson = used.length > 0 ? JSON.stringify(Object.fromEntries(used)) : undefined;
  const configJson = documentJson(keys, entries, evaluatorsJson);
  const config = documentObject(keys, entries, used.length > 0 ? Object.fromEntries(used) : {});
  return { config, configJson, etag: etagOf(configJson), flagTypes: types, sensitive: hidden };
}

/**
 * The document as an object, equal to JSON.parse of its JSON (deltas read the changed flags by key). Its `flags` is a
 * read-only view over the kept per-flag definitions: reading one flag costs a lookup, so a change's delta does not
 * build a 5,000-key object; enumerating it (JSON.stringify, Object.keys) gives every flag in document order.
 */
function documentObject(
  order: readonly string[],
  entries: ReadonlyMap<string, CompiledFlag>,
  evaluators: Evaluators,
): FlagdConfig {
  const own = (key: string | symbol): CompiledFlag | undefined =>
    typeof key === 'string' && entries.has(key) ? entries.get(key) : undefined;
  const refuse = (): boolean => false;
  const flags = new Proxy({} as FlagdConfig['flags'], {
    get: (target, key) => own(key)?.definition ?? Reflect.get(target, key),
    has: (_target, key) => own(key) !== undefined,
    ownKeys: () => [...order],
    getOwnPropertyDescriptor: (_target, key) => {
      const entry = own(key);
      // Configurable, as the (empty, extensible) target has no such property: the proxy invariants allow only that.
      return entry ? { value: entry.definition, enumerable: true, writable: false, configurable: true } : undefined;
    },
    set: refuse,
    defineProperty: refuse,
    deleteProperty: refuse,
    setPrototypeOf: refuse,
  });
  const config: FlagdConfig = { $schema: FLAGD_SCHEMA_URL, flags };
  if (Object.keys(evaluators).length > 0) config.$evaluators = evaluators;
  return config;
}

function etagOf(configJson: string): string {
  return createHash('sha1').update(configJson).digest('base64url').slice(0, 22);
}

/** Where a view's change log is kept: the environment's name, or `environment/set` (neither name can hold "/"). */
function viewKey(environment: string, flagSet: string | null): string {
  return flagSet === null ? environment : `${environment}/${flagSet}`;
}

/** Keys added, removed or changed between two loaded engines (flagd-core hashes each flag after `$ref` expansion). */
function changedFlagKeys(before: FlagdCore, after: FlagdCore): string[] {
  const keys: string[] = [];
  const old = before.getFlags();
  for (const [key, flag] of after.getFlags()) if (old.get(key)?.hash !== flag.hash) keys.push(key);
  for (const key of old.keys()) if (!after.getFlag(key)) keys.push(key);
  return keys.sort();
}

function firstProblem(
  result: { ok: true } | { ok: false; issues: { path: string; message: string }[] },
): string | undefined {
  if (result.ok) return undefined;
  const i = result.issues[0]!;
  return i.path ? `${i.path}: ${i.message}` : i.message;
}

function referencesAny(flag: Flag, names: ReadonlySet<string>): boolean {
  const envs = flag && typeof flag.environments === 'object' && flag.environments !== null ? flag.environments : {};
  for (const settings of Object.values(envs)) {
    const targeting = (settings as { targeting?: unknown } | null)?.targeting;
    if (!targeting) continue;
    for (const ref of collectRefs(targeting)) if (names.has(ref)) return true;
  }
  return false;
}
