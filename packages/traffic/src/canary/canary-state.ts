import type { AnalysisWindow, CheckResult, DecisionAction, RollbackCause, VersionSample } from './canary-analysis.js';
import type { CanaryPlan } from './canary-plan.js';

/**
 * A canary run's persisted state and decision log, and the storage contract the controller needs. The server
 * implements the store over its database (SQLite/PostgreSQL); `InMemoryCanaryStateStore` serves tests and demos.
 */

/** progressing → (paused ⇄ progressing) → promoted | rolled_back | aborted. The last three are final. */
export type CanaryPhase = 'progressing' | 'paused' | 'promoted' | 'rolled_back' | 'aborted';

export const FINAL_PHASES: readonly CanaryPhase[] = ['promoted', 'rolled_back', 'aborted'];

/** `rc_canary_status` values. 0–2 follow `flagger_canary_status` (running, succeeded, failed). */
export const PHASE_CODES: Record<CanaryPhase, number> = {
  progressing: 0,
  promoted: 1,
  rolled_back: 2,
  paused: 3,
  aborted: 4,
};

export interface LastAnalysis {
  at: string;
  outcome: 'pass' | 'fail' | 'inconclusive';
  checks: CheckResult[];
  /** The traffic the analysis covered. */
  window?: AnalysisWindow;
  /** Each version's numbers over that range (latencies in ms), when Prometheus had them. */
  stable?: VersionSample;
  canary?: VersionSample;
}

/**
 * What became of one step of the weight timeline: `in-progress` (the weight in force, being analysed), `gated`
 * (passed, waiting at a manual gate for `promote`), `passed` (moved on after a passing analysis or an opened gate),
 * `failed` (rolled back from it), `skipped` (a full promotion by hand jumped over it), `aborted`; the run's last
 * entry, at 100 or 0, is `promoted`, `rolled-back` or `aborted`.
 */
export type StepOutcome =
  | 'in-progress'
  | 'gated'
  | 'passed'
  | 'failed'
  | 'skipped'
  | 'promoted'
  | 'rolled-back'
  | 'aborted';

/** One weight the run put in force: when it was decided and applied, and how the step ended. */
export interface StepRecord {
  weight: number;
  /** Index into `plan.steps` (for the final 0 of a rollback, the step it left). */
  stepIndex: number;
  decidedAt: string;
  /** When the router confirmed the weight; null until then. */
  appliedAt: string | null;
  /** When the step ended (the next weight was decided); null while in force. */
  endedAt: string | null;
  outcome: StepOutcome;
  /** In words: the reason of the decision that ended (or gated) the step. */
  detail: string;
}

/** A run waiting at a manual gate (`plan.pauseAt`): phase `paused`, analyses still running. */
export interface CanaryGate {
  weight: number;
  /** When the step's analysis passed and the run stopped at the gate. */
  since: string;
}

export interface CanaryState {
  service: string;
  /** Identifies one run; a new `start` after a finished run gets a new id and a fresh decision log. */
  runId: string;
  plan: CanaryPlan;
  phase: CanaryPhase;
  stepIndex: number;
  /** The canary weight this run wants in force (0 after a rollback or abort, 100 after promotion). */
  canaryWeight: number;
  failedChecks: number;
  inconclusiveStreak: number;
  startedAt: string;
  updatedAt: string;
  /** When the next analysis is due (ISO); null once paused or final. */
  nextAnalysisAt: string | null;
  finishedAt: string | null;
  /** Whether the router confirmed `canaryWeight`. False after a decision until the router accepts it (retried). */
  routerSynced: boolean;
  routerError: string | null;
  lastAnalysis: LastAnalysis | null;
  /** When the router confirmed the weight now in force (ISO): analyses judge only traffic since then. */
  weightAppliedAt?: string | null;
  /** When the last conclusive (pass or fail) analysis ended: the next one starts there. */
  lastJudgedAt?: string | null;
  /** Since when the step has had no conclusive analysis (missing data); null while data comes in. */
  holdingSince?: string | null;
  /** How the run ended, in words: `promoted`, `rolled back: 5xx spike`, `rolled back: not enough data`, ... */
  outcome?: string | null;
  /** Set while the run waits at a manual gate for `promote`; null otherwise. */
  gate?: CanaryGate | null;
  /** The weight timeline, oldest first (absent from runs stored before it existed). */
  history?: StepRecord[];
}

export type RecordedAction = DecisionAction | 'start' | 'resume' | 'abort' | 'router-error' | 'gate';

/** One line of a run's history: what was decided, by whom, and the numbers and bounds behind it. */
export interface CanaryDecisionRecord {
  at: string;
  service: string;
  runId: string;
  action: RecordedAction;
  /** `controller` for automatic decisions, otherwise the API actor. */
  actor: string;
  fromWeight: number;
  toWeight: number;
  stepIndex: number;
  failedChecks: number;
  inconclusiveStreak: number;
  reason: string;
  checks?: CheckResult[];
  /** The traffic the analysis covered. */
  window?: AnalysisWindow;
  /** For a rollback: a spike, failed checks in a row, or not enough data. */
  cause?: RollbackCause;
  stable?: VersionSample;
  canary?: VersionSample;
}

export interface StoredCanaryState {
  state: CanaryState;
  /** Optimistic-concurrency token: bumped by every save. */
  revision: number;
}

/** A save whose `expectedRevision` no longer matches: someone else (another replica, a command) wrote first. */
export class CanaryConflictError extends Error {
  constructor(service: string) {
    super(`canary "${service}" was changed concurrently`);
    this.name = 'CanaryConflictError';
  }
}

export interface CanaryStateStore {
  list(): Promise<StoredCanaryState[]>;
  get(service: string): Promise<StoredCanaryState | undefined>;
  /**
   * Writes `state` and appends `decision` (if any) atomically, only if the stored revision is `expectedRevision`
   * (null: no row may exist). Throws CanaryConflictError otherwise, writing nothing.
   */
  save(
    state: CanaryState,
    decision: CanaryDecisionRecord | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanaryState>;
  /** The run's decisions, oldest first; the newest `limit` when there are more. */
  decisions(service: string, runId: string, limit?: number): Promise<CanaryDecisionRecord[]>;
}

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Keeps everything in memory (copied in and out, as a database would); for tests, demos and benchmarks. */
export class InMemoryCanaryStateStore implements CanaryStateStore {
  private readonly rows = new Map<string, StoredCanaryState>();
  private readonly log: CanaryDecisionRecord[] = [];

  async list(): Promise<StoredCanaryState[]> {
    return [...this.rows.values()].sort((a, b) => a.state.service.localeCompare(b.state.service)).map(copy);
  }

  async get(service: string): Promise<StoredCanaryState | undefined> {
    const row = this.rows.get(service);
    return row && copy(row);
  }

  async save(
    state: CanaryState,
    decision: CanaryDecisionRecord | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanaryState> {
    const current = this.rows.get(state.service);
    if ((current?.revision ?? null) !== expectedRevision) throw new CanaryConflictError(state.service);
    const stored = { state: copy(state), revision: (current?.revision ?? 0) + 1 };
    this.rows.set(state.service, stored);
    if (decision) this.log.push(copy(decision));
    return copy(stored);
  }

  async decisions(service: string, runId: string, limit = 1000): Promise<CanaryDecisionRecord[]> {
    return this.log
      .filter((d) => d.service === service && d.runId === runId)
      .slice(-limit)
      .map(copy);
  }
}
