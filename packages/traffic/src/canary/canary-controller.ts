import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CanaryQueryTarget, ReadOptions } from '../metrics/canary-queries.js';
import type { PinRoute, RouteRef, TrafficRouter } from '../routers/traffic-router.js';
import { analyse, type Decision, decide, type MetricsReading, rollbackOutcome } from './canary-analysis.js';
import { type CanaryNotifier, WebhookNotifier } from './canary-notifier.js';
import { type CanaryPlan, parseDuration } from './canary-plan.js';
import {
  CanaryConflictError,
  type CanaryDecisionRecord,
  type CanaryPhase,
  type CanaryState,
  type CanaryStateStore,
  FINAL_PHASES,
  PHASE_CODES,
  type RecordedAction,
  type StepOutcome,
  type StoredCanaryState,
} from './canary-state.js';

/**
 * The canary state machine. Every tick it looks at each stored run: a run whose router has not confirmed the last
 * decision is re-applied first; a progressing run whose analysis is due is analysed, decided and saved — the
 * decision is persisted before the router is called, so a crash between the two is repaired by the next tick (or
 * the next process) re-applying it. All timing comes from the stored state, so a restarted controller carries on
 * where the previous one stopped. Saves are conditional on the revision read, so two controllers sharing a store
 * never both act on one analysis.
 */

export interface CanaryMetricsProvider {
  read(
    target: CanaryQueryTarget,
    versions: { stable: string; canary: string },
    options?: ReadOptions,
  ): Promise<MetricsReading>;
}

/** Per-query timeout: well inside the interval (a quarter of it, 500 ms to 5 s), so a hung Prometheus costs little. */
export function queryTimeoutMs(intervalMs: number): number {
  return Math.min(5000, Math.max(500, Math.floor(intervalMs / 4)));
}

export interface CanaryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type CanaryErrorCode =
  | 'CANARY_NOT_FOUND'
  | 'CANARY_ACTIVE'
  | 'CANARY_INVALID_TRANSITION'
  | 'CANARY_NOT_PAUSED'
  | 'CANARY_CONFLICT';

export class CanaryError extends Error {
  constructor(
    readonly code: CanaryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CanaryError';
  }
}

export interface CanaryControllerOptions {
  store: CanaryStateStore;
  router: TrafficRouter;
  metrics: CanaryMetricsProvider;
  /** Where `rc_canary_*` metrics are registered (the server's registry); a private one when omitted. */
  registry?: Registry;
  /** Milliseconds since the epoch; injectable so tests drive time. */
  now?: () => number;
  logger?: CanaryLogger;
  /** Sends the webhook notifications of runs whose plan has `notify`; default a `WebhookNotifier` on `logger`. */
  notifier?: CanaryNotifier;
  /** How often `run()` ticks. Default 250 ms: analyses are due at their own interval, this only bounds lateness. */
  tickMs?: number;
}

export interface CanaryStatus {
  state: CanaryState;
  revision: number;
  decisions: CanaryDecisionRecord[];
}

const silentLogger: CanaryLogger = { info() {}, warn() {}, error() {} };

export class CanaryController {
  private readonly store: CanaryStateStore;
  private readonly router: TrafficRouter;
  private readonly metricsProvider: CanaryMetricsProvider;
  private readonly now: () => number;
  private readonly logger: CanaryLogger;
  private readonly tickMs: number;
  readonly notifier: CanaryNotifier;
  private readonly locks = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly gauges: {
    weight: Gauge<'service' | 'version'>;
    status: Gauge<'service'>;
    phase: Gauge<'service' | 'phase'>;
    failedChecks: Gauge<'service'>;
    decisions: Counter<'service' | 'decision'>;
  };

  constructor(options: CanaryControllerOptions) {
    this.store = options.store;
    this.router = options.router;
    this.metricsProvider = options.metrics;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? 250;
    this.notifier = options.notifier ?? new WebhookNotifier(this.logger);
    const registers = options.registry ? [options.registry] : [];
    this.gauges = {
      weight: new Gauge({
        name: 'rc_canary_weight',
        help: 'Traffic weight in percent the canary controller wants for each version of a service.',
        labelNames: ['service', 'version'],
        registers,
      }),
      status: new Gauge({
        name: 'rc_canary_status',
        help: 'Canary phase: 0 progressing, 1 promoted, 2 rolled back, 3 paused, 4 aborted.',
        labelNames: ['service'],
        registers,
      }),
      phase: new Gauge({
        name: 'rc_canary_phase',
        help: "Canary phase as a state set: 1 for the run's current phase, 0 for the others.",
        labelNames: ['service', 'phase'],
        registers,
      }),
      failedChecks: new Gauge({
        name: 'rc_canary_failed_checks',
        help: 'Failed analyses in a row at the current step of the canary run (a pass resets it).',
        labelNames: ['service'],
        registers,
      }),
      decisions: new Counter({
        name: 'rc_canary_decisions_total',
        help: 'Canary decisions by kind (advance, hold, fail-check, rollback, promote, pause, ...).',
        labelNames: ['service', 'decision'],
        registers,
      }),
    };
  }

  /** Loads stored runs: sets the gauges and re-applies every run's wanted weights (the router may have restarted). */
  async init(): Promise<void> {
    for (const stored of await this.store.list()) {
      this.observe(stored.state);
      if (!FINAL_PHASES.includes(stored.state.phase) || !stored.state.routerSynced) {
        await this.serialize(stored.state.service, () => this.syncRouter(stored));
      }
    }
  }

  /** Starts ticking every `tickMs` (timer unref'd: it never keeps the process alive). */
  run(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = this.tick()
        .catch((error) => this.logger.error({ err: error }, 'canary tick failed'))
        .finally(() => {
          this.ticking = undefined;
        });
    }, this.tickMs);
    this.timer.unref();
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.notifier.idle();
  }

  /** One pass over all runs. Exposed for tests and for driving time by hand. */
  async tick(): Promise<void> {
    const runs = await this.store.list();
    await Promise.all(
      runs.map((stored) =>
        this.serialize(stored.state.service, async () => {
          try {
            await this.step(stored.state.service);
          } catch (error) {
            if (error instanceof CanaryConflictError) return; // another writer won; the next tick re-reads
            this.logger.error({ err: error, service: stored.state.service }, 'canary step failed');
          }
        }),
      ),
    );
  }

  async start(service: string, plan: CanaryPlan, actor: string): Promise<CanaryStatus> {
    return this.serialize(service, async () => {
      const existing = await this.store.get(service);
      if (existing && !FINAL_PHASES.includes(existing.state.phase)) {
        throw new CanaryError(
          'CANARY_ACTIVE',
          `a canary of "${service}" is already ${existing.state.phase} (to ${existing.state.plan.canary}); promote or abort it first`,
        );
      }
      const at = this.isoNow();
      const weight = plan.steps[0] ?? 0;
      const state: CanaryState = {
        service,
        runId: randomUUID(),
        plan,
        phase: weight >= 100 ? 'promoted' : 'progressing',
        stepIndex: 0,
        canaryWeight: weight,
        failedChecks: 0,
        inconclusiveStreak: 0,
        startedAt: at,
        updatedAt: at,
        nextAnalysisAt: new Date(this.now() + plan.intervalMs).toISOString(),
        finishedAt: weight >= 100 ? at : null,
        routerSynced: false,
        routerError: null,
        lastAnalysis: null,
        weightAppliedAt: null,
        lastJudgedAt: null,
        holdingSince: null,
        outcome: weight >= 100 ? 'promoted' : null,
        gate: null,
        history: [],
      };
      openStep(state, at, weight >= 100 ? 'promoted' : 'in-progress', `started: ${plan.stable} → ${plan.canary}`);
      const decision = this.record(state, 'start', actor, 0, `started: ${plan.stable} → ${plan.canary} at ${weight}%`);
      const stored = await this.store.save(state, decision, existing?.revision ?? null);
      this.countDecision(state.service, 'start');
      this.notifier.notify(stored.state, decision);
      await this.syncRouter(stored);
      return this.status(service);
    });
  }

  async pause(service: string, actor: string): Promise<CanaryStatus> {
    return this.command(service, actor, ['progressing'], 'pause', (state) => {
      state.phase = 'paused';
      state.nextAnalysisAt = null;
      return `paused at ${state.canaryWeight}% by ${actor}`;
    });
  }

  async resume(service: string, actor: string): Promise<CanaryStatus> {
    return this.command(service, actor, ['paused'], 'resume', (state) => {
      if (state.gate) {
        throw new CanaryError(
          'CANARY_INVALID_TRANSITION',
          `the canary of "${service}" is waiting at its gate at ${state.gate.weight}%: promote it to go on, or abort it`,
        );
      }
      state.phase = 'progressing';
      state.inconclusiveStreak = 0;
      state.holdingSince = null;
      // Judge only what comes after the resume.
      state.lastJudgedAt = this.isoNow();
      state.nextAnalysisAt = new Date(this.now() + state.plan.intervalMs).toISOString();
      return `resumed at ${state.canaryWeight}% by ${actor}; next analysis in ${state.plan.intervalMs} ms`;
    });
  }

  /**
   * Promotion by hand. By default only a paused run (at a gate, or paused by hand or for missing data) and only one
   * step: it goes on to the next step and its analyses (to 100% — promoted — when that is the last). With
   * `full`, a progressing or paused run goes to 100% now, skipping the remaining steps and analyses.
   */
  async promote(service: string, actor: string, options: { full?: boolean } = {}): Promise<CanaryStatus> {
    if (options.full) {
      return this.command(service, actor, ['progressing', 'paused'], 'promote', (state) => {
        const reason = `promoted by ${actor} (remaining steps skipped)`;
        closeStep(state, this.isoNow(), 'skipped', reason);
        this.finish(state, 'promoted', 100);
        state.outcome = `promoted by ${actor}`;
        openStep(state, this.isoNow(), 'promoted', reason);
        return reason;
      });
    }
    return this.command(
      service,
      actor,
      ['paused'],
      (state) => (nextWeight(state) >= 100 ? 'promote' : 'advance'),
      (state) => {
        const weight = state.canaryWeight;
        const next = nextWeight(state);
        const why = state.gate
          ? `gate at ${weight}% opened by ${actor}`
          : `promoted by ${actor} from a pause at ${weight}%`;
        const at = this.isoNow();
        closeStep(state, at, 'passed', why);
        state.gate = null;
        state.failedChecks = 0;
        state.inconclusiveStreak = 0;
        state.holdingSince = null;
        if (next >= 100) {
          this.finish(state, 'promoted', 100);
          state.stepIndex = state.plan.steps.length - 1;
          state.outcome = `promoted by ${actor}`;
          openStep(state, at, 'promoted', why);
          return `${why}; promoting`;
        }
        state.phase = 'progressing';
        state.stepIndex += 1;
        state.canaryWeight = next;
        state.nextAnalysisAt = new Date(this.now() + state.plan.intervalMs).toISOString();
        openStep(state, at, 'in-progress', why);
        return `${why}; advancing to ${next}%`;
      },
      'CANARY_NOT_PAUSED',
    );
  }

  /** Rollback by hand: 100% to the stable version, the run ends as aborted. */
  async abort(service: string, actor: string): Promise<CanaryStatus> {
    return this.command(service, actor, ['progressing', 'paused'], 'abort', (state) => {
      const reason = `aborted by ${actor}: all traffic back to ${state.plan.stable}`;
      closeStep(state, this.isoNow(), 'aborted', reason);
      this.finish(state, 'aborted', 0);
      state.outcome = `aborted by ${actor}`;
      openStep(state, this.isoNow(), 'aborted', reason);
      return reason;
    });
  }

  async status(service: string, decisionLimit = 200): Promise<CanaryStatus> {
    const stored = await this.store.get(service);
    if (!stored) throw new CanaryError('CANARY_NOT_FOUND', `no canary for "${service}"`);
    return {
      state: stored.state,
      revision: stored.revision,
      decisions: await this.store.decisions(service, stored.state.runId, decisionLimit),
    };
  }

  async list(): Promise<StoredCanaryState[]> {
    return this.store.list();
  }

  // -------------------------------------------------------------------------------------------------- internals

  private async step(service: string): Promise<void> {
    const stored = await this.store.get(service);
    if (!stored) return;
    const { state } = stored;
    if (!state.routerSynced) {
      // The last decision is not in force yet: analysing traffic that does not reflect it would be meaningless.
      await this.syncRouter(stored);
      return;
    }
    // A run waiting at a gate keeps being analysed: a gate never shields a bad release from a rollback.
    const gated = state.phase === 'paused' && Boolean(state.gate);
    if ((state.phase !== 'progressing' && !gated) || state.nextAnalysisAt === null) return;
    if (Date.parse(state.nextAnalysisAt) > this.now()) return;

    // Judge only traffic at the weight in force: since it was applied, or since the last conclusive analysis,
    // whichever is later, and never more than the plan's window.
    const nowMs = this.now();
    const windowMs = parseDuration(state.plan.window) ?? state.plan.intervalMs;
    const appliedMs = state.weightAppliedAt ? Date.parse(state.weightAppliedAt) : Date.parse(state.startedAt);
    const judgedMs = state.lastJudgedAt ? Date.parse(state.lastJudgedAt) : 0;
    const fromMs = Math.min(nowMs - 1, Math.max(appliedMs, judgedMs, nowMs - windowMs));
    const reading = await this.metricsProvider.read(
      routeTarget(state),
      { stable: state.plan.stable, canary: state.plan.canary },
      { range: { fromMs, toMs: nowMs }, timeoutMs: queryTimeoutMs(state.plan.intervalMs) },
    );
    const analysis = analyse(reading, state.plan.thresholds, {
      weight: state.canaryWeight,
      pinned: state.plan.pins !== undefined,
    });
    // Missing data is counted from when the step last had a conclusive analysis (or began), not from when it was
    // first noticed: a step that never got data has been holding since its weight was applied.
    const holdingSinceMs = state.holdingSince ? Date.parse(state.holdingSince) : Math.max(appliedMs, judgedMs);
    let decision: Omit<Decision, 'action'> & { action: RecordedAction } = decide(
      state.plan,
      { ...state, holdingSinceMs },
      analysis,
      this.now(),
    );
    if (decision.action === 'advance' || decision.action === 'promote') {
      const stay = { ...decision.next, stepIndex: state.stepIndex };
      if (gated) {
        decision = {
          action: 'hold',
          next: stay,
          canaryWeight: state.canaryWeight,
          reason: `all checks passed at ${state.canaryWeight}%; waiting at the gate for promote`,
        };
      } else if (state.plan.pauseAt?.includes(state.canaryWeight)) {
        decision = {
          action: 'gate',
          next: stay,
          canaryWeight: state.canaryWeight,
          reason: `all checks passed at ${state.canaryWeight}%; paused at the gate: waiting for promote (analyses go on; a failing one still rolls back)`,
        };
      }
    }
    const next = structuredClone(state);
    const fromWeight = state.canaryWeight;
    next.stepIndex = decision.next.stepIndex;
    next.failedChecks = decision.next.failedChecks;
    next.inconclusiveStreak = decision.next.inconclusiveStreak;
    next.holdingSince =
      decision.next.holdingSinceMs === null || decision.next.holdingSinceMs === undefined
        ? null
        : new Date(decision.next.holdingSinceMs).toISOString();
    if (analysis.outcome !== 'inconclusive') next.lastJudgedAt = new Date(nowMs).toISOString();
    const window = { from: new Date(fromMs).toISOString(), to: new Date(nowMs).toISOString() };
    next.lastAnalysis = { at: this.isoNow(), outcome: analysis.outcome, checks: analysis.checks, window };
    if (analysis.stable) next.lastAnalysis.stable = analysis.stable;
    if (analysis.canary) next.lastAnalysis.canary = analysis.canary;
    next.nextAnalysisAt = new Date(this.now() + state.plan.intervalMs).toISOString();
    const at = this.isoNow();
    if (decision.action === 'promote') {
      closeStep(next, at, 'passed', decision.reason);
      this.finish(next, 'promoted', 100);
      next.outcome = 'promoted';
      openStep(next, at, 'promoted', decision.reason);
    } else if (decision.action === 'rollback') {
      closeStep(next, at, 'failed', decision.reason);
      this.finish(next, 'rolled_back', 0);
      next.outcome = rollbackOutcome(decision.cause ?? 'failed-checks');
      openStep(next, at, 'rolled-back', next.outcome);
    } else if (decision.action === 'pause') {
      next.phase = 'paused';
      next.nextAnalysisAt = null;
    } else if (decision.action === 'gate') {
      next.phase = 'paused';
      next.gate = { weight: state.canaryWeight, since: at };
      const current = next.history?.at(-1);
      if (current) {
        current.outcome = 'gated';
        current.detail = decision.reason;
      }
    } else {
      if (decision.action === 'advance') {
        closeStep(next, at, 'passed', decision.reason);
        next.canaryWeight = decision.canaryWeight;
        openStep(next, at, 'in-progress', decision.reason);
      }
      next.canaryWeight = decision.canaryWeight;
    }
    next.updatedAt = this.isoNow();
    if (next.canaryWeight !== fromWeight) next.routerSynced = false;
    const record = this.record(next, decision.action, 'controller', fromWeight, decision.reason);
    record.checks = analysis.checks;
    record.window = window;
    if (decision.cause) record.cause = decision.cause;
    if (analysis.stable) record.stable = analysis.stable;
    if (analysis.canary) record.canary = analysis.canary;
    const saved = await this.store.save(next, record, stored.revision);
    this.countDecision(service, decision.action);
    this.notifier.notify(saved.state, record);
    this.logger.info(
      { service, action: decision.action, from: fromWeight, to: next.canaryWeight, checks: analysis.checks },
      `canary ${service}: ${decision.reason}`,
    );
    if (!saved.state.routerSynced) await this.syncRouter(saved);
    else this.observe(saved.state);
  }

  /** Runs a user command under the service's lock: read, check the phase, mutate, save with a decision, route. */
  private async command(
    service: string,
    actor: string,
    allowed: readonly CanaryPhase[],
    actionOf: RecordedAction | ((state: CanaryState) => RecordedAction),
    mutate: (state: CanaryState) => string,
    refusal: CanaryErrorCode = 'CANARY_INVALID_TRANSITION',
  ): Promise<CanaryStatus> {
    return this.serialize(service, async () => {
      const stored = await this.store.get(service);
      if (!stored) throw new CanaryError('CANARY_NOT_FOUND', `no canary for "${service}"`);
      const verb = typeof actionOf === 'string' ? actionOf : 'promote';
      if (!allowed.includes(stored.state.phase)) {
        throw new CanaryError(
          refusal,
          `cannot ${verb} the canary of "${service}": it is ${stored.state.phase} (allowed from ${allowed.join(', ')})`,
        );
      }
      const action = typeof actionOf === 'string' ? actionOf : actionOf(stored.state);
      const next = structuredClone(stored.state);
      const fromWeight = next.canaryWeight;
      const reason = mutate(next);
      next.updatedAt = this.isoNow();
      if (next.canaryWeight !== fromWeight) next.routerSynced = false;
      let saved: StoredCanaryState;
      const record = this.record(next, action, actor, fromWeight, reason);
      try {
        saved = await this.store.save(next, record, stored.revision);
      } catch (error) {
        if (error instanceof CanaryConflictError) {
          throw new CanaryError('CANARY_CONFLICT', `${error.message}; read its status and try again`);
        }
        throw error;
      }
      this.countDecision(service, action);
      this.notifier.notify(saved.state, record);
      if (!saved.state.routerSynced) await this.syncRouter(saved);
      else this.observe(saved.state);
      return this.status(service);
    });
  }

  /**
   * Applies the run's wanted weights. Success marks the run synced; failure keeps the decision, records the router
   * error once (not on every retry) and leaves the retry to the next tick.
   */
  private async syncRouter(stored: StoredCanaryState): Promise<void> {
    const { state } = stored;
    const weights = { [state.plan.stable]: 100 - state.canaryWeight, [state.plan.canary]: state.canaryWeight };
    const active = !FINAL_PHASES.includes(state.phase);
    const pins: PinRoute | undefined =
      active && state.plan.pins ? { ...state.plan.pins, version: state.plan.canary } : undefined;
    try {
      await this.router.setWeights(routeRef(state), weights, pins);
    } catch (error) {
      const message = `${this.router.kind} router: ${(error as Error).message}`;
      this.logger.warn({ err: error, service: state.service }, 'canary route change failed; will retry');
      if (state.routerError !== message) {
        const next = { ...structuredClone(state), routerSynced: false, routerError: message, updatedAt: this.isoNow() };
        const record = this.record(next, 'router-error', 'controller', state.canaryWeight, message);
        try {
          await this.store.save(next, record, stored.revision);
          this.countDecision(state.service, 'router-error');
        } catch (saveError) {
          if (!(saveError instanceof CanaryConflictError)) throw saveError;
        }
      }
      this.observe(state);
      return;
    }
    if (!state.routerSynced || state.routerError !== null) {
      const next = { ...structuredClone(state), routerSynced: true, routerError: null, updatedAt: this.isoNow() };
      // When this weight took effect: the next analysis judges only traffic from here on.
      if (!state.routerSynced) {
        next.weightAppliedAt = this.isoNow();
        const current = next.history?.at(-1);
        if (current && current.appliedAt === null && current.weight === next.canaryWeight) {
          current.appliedAt = next.weightAppliedAt;
        }
      }
      try {
        const saved = await this.store.save(next, undefined, stored.revision);
        this.observe(saved.state);
        return;
      } catch (error) {
        if (!(error instanceof CanaryConflictError)) throw error;
      }
    }
    this.observe(state);
  }

  private finish(state: CanaryState, phase: 'promoted' | 'rolled_back' | 'aborted', weight: number): void {
    state.gate = null;
    state.phase = phase;
    state.canaryWeight = weight;
    state.nextAnalysisAt = null;
    state.finishedAt = this.isoNow();
  }

  private record(
    state: CanaryState,
    action: RecordedAction,
    actor: string,
    fromWeight: number,
    reason: string,
  ): CanaryDecisionRecord {
    return {
      at: this.isoNow(),
      service: state.service,
      runId: state.runId,
      action,
      actor,
      fromWeight,
      toWeight: state.canaryWeight,
      stepIndex: state.stepIndex,
      failedChecks: state.failedChecks,
      inconclusiveStreak: state.inconclusiveStreak,
      reason,
    };
  }

  /** Gauges show what is in force: a run whose router has not confirmed yet still reports the last applied split. */
  private observe(state: CanaryState): void {
    const { service, plan } = state;
    this.gauges.status.set({ service }, PHASE_CODES[state.phase]);
    for (const phase of Object.keys(PHASE_CODES) as CanaryPhase[]) {
      this.gauges.phase.set({ service, phase }, phase === state.phase ? 1 : 0);
    }
    this.gauges.failedChecks.set({ service }, state.failedChecks);
    if (state.routerSynced) {
      this.gauges.weight.set({ service, version: plan.stable }, 100 - state.canaryWeight);
      this.gauges.weight.set({ service, version: plan.canary }, state.canaryWeight);
    }
  }

  private countDecision(service: string, decision: string): void {
    this.gauges.decisions.inc({ service, decision });
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  /** One operation per service at a time in this process (ticks and commands); other processes are fenced by revisions. */
  private serialize<T>(service: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(service) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.locks.set(service, tail);
    void tail.then(() => {
      if (this.locks.get(service) === tail) this.locks.delete(service);
    });
    return result;
  }
}

/** The weight after the current step: the plan's next step (100 after the last). */
function nextWeight(state: CanaryState): number {
  return state.plan.steps[state.stepIndex + 1] ?? 100;
}

/** Appends the weight now in force to the run's timeline (not applied yet: the router confirms it later). */
function openStep(state: CanaryState, at: string, outcome: StepOutcome, detail: string): void {
  state.history ??= [];
  state.history.push({
    weight: state.canaryWeight,
    stepIndex: state.stepIndex,
    decidedAt: at,
    appliedAt: null,
    endedAt: null,
    outcome,
    detail,
  });
}

/** Ends the timeline's current entry (if the run has a timeline) with how the step went. */
function closeStep(state: CanaryState, at: string, outcome: StepOutcome, detail: string): void {
  const current = state.history?.at(-1);
  if (!current || current.endedAt !== null) return;
  current.endedAt = at;
  current.outcome = outcome;
  current.detail = detail;
}

function routeRef(state: CanaryState): RouteRef {
  const ref: RouteRef = { service: state.service };
  if (state.plan.namespace) ref.namespace = state.plan.namespace;
  if (state.plan.virtualService) ref.virtualService = state.plan.virtualService;
  return ref;
}

function routeTarget(state: CanaryState): CanaryQueryTarget {
  const target: CanaryQueryTarget = { service: state.service, window: state.plan.window };
  if (state.plan.namespace) target.namespace = state.plan.namespace;
  return target;
}
