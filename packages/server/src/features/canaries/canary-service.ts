import type { JsonObject } from '@runtime-control/core';
import { isPlainObject } from '@runtime-control/core';
import {
  CanaryConflictError,
  CanaryController,
  type CanaryDecisionRecord,
  CanaryError,
  CanaryPlanError,
  type CanaryState,
  type CanaryStateStore,
  estimateFirstStep,
  IstioRouter,
  LocalRouterClient,
  PrometheusCanaryMetrics,
  type PrometheusClient,
  parseCanaryPlan,
  readRequestRate,
  type StoredCanaryState,
  serviceNameIssue,
  type TrafficRouter,
} from '@runtime-control/traffic/canary';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServerConfig } from '../../config/config.js';
import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { Actor, Store } from '../../store/store.js';

/**
 * Canary runs inside the server: the controller from `@runtime-control/traffic`, its state and decision log in the
 * server's database (so a restarted server resumes every run, and `GET /api/admin/canaries/{service}` shows every
 * decision with its numbers), its `rc_canary_*` metrics on the server's `/metrics`.
 */

/** The traffic package's store contract over the server's Store; a lost revision race becomes a conflict. */
export class ServerCanaryStateStore implements CanaryStateStore {
  constructor(private readonly store: Store) {}

  async list(): Promise<StoredCanaryState[]> {
    return (await this.store.listCanaries()).map((c) => ({
      state: c.state as unknown as CanaryState,
      revision: c.revision,
    }));
  }

  async get(service: string): Promise<StoredCanaryState | undefined> {
    const c = await this.store.getCanary(service);
    return c && { state: c.state as unknown as CanaryState, revision: c.revision };
  }

  async save(
    state: CanaryState,
    decision: CanaryDecisionRecord | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanaryState> {
    try {
      const saved = await this.store.saveCanary(
        state.service,
        state as unknown as JsonObject,
        decision && { runId: decision.runId, at: decision.at, decision: decision as unknown as JsonObject },
        expectedRevision,
      );
      return { state: saved.state as unknown as CanaryState, revision: saved.revision };
    } catch (error) {
      if (error instanceof AppError && error.code === 'PRECONDITION_FAILED')
        throw new CanaryConflictError(state.service);
      throw error;
    }
  }

  async decisions(service: string, runId: string, limit?: number): Promise<CanaryDecisionRecord[]> {
    return (await this.store.listCanaryDecisions(service, runId, limit)) as unknown as CanaryDecisionRecord[];
  }
}

export function createCanaryRouter(config: ServerConfig): TrafficRouter | undefined {
  if (config.canaryRouter === 'local') return new LocalRouterClient(config.localRouterUrl!);
  if (config.canaryRouter === 'istio') {
    return new IstioRouter({
      ...(config.kubernetesApiUrl ? { apiUrl: config.kubernetesApiUrl } : {}),
      ...(config.kubernetesToken ? { token: config.kubernetesToken } : {}),
      namespace: config.kubernetesNamespace,
    });
  }
  return undefined;
}

/** What the API shows of a run: its state, the split in force and (for one run) its decisions. */
export type CanaryView = CanaryState & {
  weights: Record<string, number>;
  revision: number;
  gate: NonNullable<CanaryState['gate']> | null;
  history: NonNullable<CanaryState['history']>;
};

function view(state: CanaryState, revision: number): CanaryView {
  return {
    ...state,
    // Runs stored before gates and the timeline existed have neither.
    gate: state.gate ?? null,
    history: state.history ?? [],
    weights: { [state.plan.stable]: 100 - state.canaryWeight, [state.plan.canary]: state.canaryWeight },
    revision,
  };
}

const START_FIELDS = new Set([
  'service',
  'to',
  'from',
  'steps',
  'interval',
  'intervalMs',
  'window',
  'failureThreshold',
  'thresholds',
  'missingData',
  'pins',
  'notify',
  'pauseAt',
  'virtualService',
  'namespace',
]);

/** What `start` found of the service's current traffic, and warnings when the first step cannot be judged in time. */
export interface CanaryTrafficCheck {
  requestsPerSecond: number | null;
  window: string;
  secondsToMinRequests: number | null;
  warnings: string[];
}

export class CanaryService {
  private readonly controller: CanaryController | undefined;
  private readonly prometheus: PrometheusClient | undefined;
  private opened = false;

  constructor(
    private readonly config: ServerConfig,
    store: Store,
    registry: Registry,
    private readonly logger: Logger,
    router: TrafficRouter | undefined = createCanaryRouter(config),
  ) {
    if (router && config.prometheusUrl) {
      const metrics = new PrometheusCanaryMetrics(config.prometheusUrl);
      this.prometheus = metrics.client;
      this.controller = new CanaryController({
        store: new ServerCanaryStateStore(store),
        router,
        metrics,
        registry,
        logger,
      });
    }
  }

  get enabled(): boolean {
    return this.controller !== undefined;
  }

  /** Loads stored runs (re-applying their weights) and starts ticking; in the background, never blocking start-up. */
  open(): void {
    if (!this.controller || this.opened) return;
    this.opened = true;
    const controller = this.controller;
    controller
      .init()
      .catch((error) => this.logger.error({ err: error }, 'loading canary runs failed; ticking anyway'))
      .finally(() => {
        if (this.opened) controller.run();
      });
  }

  async close(): Promise<void> {
    this.opened = false;
    await this.controller?.stop();
  }

  async start(
    input: unknown,
    actor: Actor,
  ): Promise<CanaryView & { decisions: CanaryDecisionRecord[]; traffic: CanaryTrafficCheck }> {
    const controller = this.require();
    if (!isPlainObject(input)) throw new AppError('VALIDATION_FAILED', 'body must be a JSON object', { path: '' });
    const issues: ErrorDetail[] = [];
    for (const key of Object.keys(input)) {
      if (!START_FIELDS.has(key))
        issues.push({ path: `/${key}`, code: 'UNKNOWN_PROPERTY', message: `unknown property "${key}"` });
    }
    const serviceProblem = serviceNameIssue(input.service);
    if (serviceProblem) issues.push(serviceProblem);
    const { service, to, from, ...rest } = Object.fromEntries(
      Object.entries(input).filter(([key]) => START_FIELDS.has(key)),
    );
    let plan: ReturnType<typeof parseCanaryPlan> | undefined;
    try {
      plan = parseCanaryPlan(
        { ...rest, ...(to !== undefined ? { canary: to } : {}), ...(from !== undefined ? { stable: from } : {}) },
        { intervalMs: this.config.canaryIntervalMs },
      );
    } catch (error) {
      if (!(error instanceof CanaryPlanError)) throw error;
      // The API calls the versions `from`/`to`; the plan calls them `stable`/`canary`.
      for (const i of error.issues) {
        const path = i.path.replace(/^\/canary/, '/to').replace(/^\/stable/, '/from');
        issues.push({ ...i, path, message: i.message.replace(/^canary /, 'to ').replace(/^stable /, 'from ') });
      }
    }
    if (issues.length > 0 || !plan) {
      throw new AppError('VALIDATION_FAILED', issues[0]?.message ?? 'invalid canary', { details: issues });
    }
    const traffic = await this.checkTraffic(service as string, plan);
    const status = await this.call(() => controller.start(service as string, plan, actor.name));
    return { ...view(status.state, status.revision), decisions: status.decisions, traffic };
  }

  /**
   * The service's request rate now (Prometheus, last 5m), read before the run starts: warns when the first step
   * cannot collect `minRequests` per version within the max hold. Never blocks the start: a Prometheus that does not
   * answer within 1.5 s becomes a warning too.
   */
  private async checkTraffic(service: string, plan: ReturnType<typeof parseCanaryPlan>): Promise<CanaryTrafficCheck> {
    const window = '5m';
    if (!this.prometheus) return { requestsPerSecond: null, window, secondsToMinRequests: null, warnings: [] };
    try {
      const rate = await readRequestRate(
        this.prometheus,
        { service, window, ...(plan.namespace ? { namespace: plan.namespace } : {}) },
        1500,
      );
      const estimate = estimateFirstStep(plan, rate);
      return {
        requestsPerSecond: estimate.requestsPerSecond,
        window,
        secondsToMinRequests: Number.isFinite(estimate.secondsToMinRequests) ? estimate.secondsToMinRequests : null,
        warnings: estimate.warnings,
      };
    } catch (error) {
      this.logger.warn({ err: error, service }, 'canary start: reading the request rate failed');
      return {
        requestsPerSecond: null,
        window,
        secondsToMinRequests: null,
        warnings: [`could not read the current request rate from Prometheus: ${(error as Error).message}`],
      };
    }
  }

  async list(): Promise<CanaryView[]> {
    return (await this.require().list()).map((s) => view(s.state, s.revision));
  }

  async get(service: string): Promise<CanaryView & { decisions: CanaryDecisionRecord[] }> {
    const status = await this.call(() => this.require().status(service));
    return { ...view(status.state, status.revision), decisions: status.decisions };
  }

  async command(
    service: string,
    action: 'pause' | 'resume' | 'promote' | 'abort',
    actor: Actor,
    options: { full?: boolean } = {},
  ): Promise<CanaryView & { decisions: CanaryDecisionRecord[] }> {
    const controller = this.require();
    const status = await this.call(() =>
      action === 'promote' ? controller.promote(service, actor.name, options) : controller[action](service, actor.name),
    );
    return { ...view(status.state, status.revision), decisions: status.decisions };
  }

  private require(): CanaryController {
    if (!this.controller) {
      throw new AppError(
        'CANARIES_DISABLED',
        'canaries are not configured: set RC_CANARY_ROUTER (local or istio) and RC_PROMETHEUS_URL',
      );
    }
    return this.controller;
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CanaryError) throw new AppError(error.code, error.message, { path: '/service' });
      throw error;
    }
  }
}
