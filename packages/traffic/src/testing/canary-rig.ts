import type { Registry } from 'prom-client';
import type { MetricsReading } from '../canary/canary-analysis.js';
import { CanaryController, type CanaryLogger, type CanaryMetricsProvider } from '../canary/canary-controller.js';
import { parseCanaryPlan } from '../canary/canary-plan.js';
import { type CanaryState, InMemoryCanaryStateStore } from '../canary/canary-state.js';
import { type CanaryQueryTarget, PrometheusCanaryMetrics, type ReadOptions } from '../metrics/canary-queries.js';
import { LocalRouter, type LocalRouterOptions } from '../routers/local-router.js';
import type { PinRoute, RouteRef, TrafficRouter, VersionWeights } from '../routers/traffic-router.js';
import { type BackendMode, DemoBackend, type DemoBackendOptions, LoadGenerator } from './demo-services.js';
import { type PrometheusProcess, startPrometheus } from './prometheus-process.js';

/**
 * Everything a canary needs on one machine, wired together: v1 and v2 backends, the local router in front of them,
 * a real Prometheus scraping the router every second, load through the router, and a controller. Used by the
 * end-to-end test, the demo and the benchmark so all three exercise the same path.
 */

/** Records when each split was applied, so tests can time "first bad response → 100% v1". */
export class RecordingRouter implements TrafficRouter {
  readonly kind: string;
  readonly applied: { at: number; weights: VersionWeights; pins?: PinRoute }[] = [];

  constructor(private readonly inner: TrafficRouter) {
    this.kind = inner.kind;
  }

  async setWeights(route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void> {
    await this.inner.setWeights(route, weights, pins);
    this.applied.push({ at: Date.now(), weights: { ...weights }, ...(pins ? { pins } : {}) });
  }
}

/** A metrics provider whose Prometheus URL can be changed mid-run (to a stopped or a hung one, in tests). */
export class SwitchableMetrics implements CanaryMetricsProvider {
  private current: PrometheusCanaryMetrics;

  constructor(url: string) {
    this.current = new PrometheusCanaryMetrics(url);
  }

  pointAt(url: string): void {
    this.current = new PrometheusCanaryMetrics(url);
  }

  read(
    target: CanaryQueryTarget,
    versions: { stable: string; canary: string },
    options?: ReadOptions,
  ): Promise<MetricsReading> {
    return this.current.read(target, versions, options);
  }
}

export interface CanaryRigOptions {
  service?: string;
  v2Mode?: BackendMode;
  /** Base latency of both versions (ms). Default 60. */
  latencyMs?: number;
  /** More options for v2's backend (slowFactor, burst shape, ...). */
  v2?: Partial<DemoBackendOptions>;
  rps?: number;
  tickMs?: number;
  /** Prometheus scrape interval. Default 1000 ms. */
  scrapeIntervalMs?: number;
  /** The local router's latency buckets (default: its fine buckets). */
  durationBucketsMs?: LocalRouterOptions['durationBucketsMs'];
  registry?: Registry;
  logger?: CanaryLogger;
}

export class CanaryRig {
  readonly service: string;
  readonly v1: DemoBackend;
  readonly v2: DemoBackend;
  readonly router: LocalRouter;
  readonly recording: RecordingRouter;
  readonly store = new InMemoryCanaryStateStore();
  prometheus!: PrometheusProcess;
  metrics!: SwitchableMetrics;
  controller!: CanaryController;
  load!: LoadGenerator;

  constructor(private readonly options: CanaryRigOptions = {}) {
    this.service = options.service ?? 'ai-gateway';
    // 60 ms sits mid-bucket in Istio's (50, 100] ms bucket: scheduling jitter on a busy machine does not move a healthy
    // p95 across a bucket edge (at 15 ms, a few 10 ms stalls among 20 samples did), while 3× (180 ms) lands two buckets up.
    const latencyMs = options.latencyMs ?? 60;
    this.v1 = new DemoBackend({ service: this.service, version: 'v1', latencyMs });
    this.v2 = new DemoBackend({
      service: this.service,
      version: 'v2',
      latencyMs,
      mode: options.v2Mode ?? 'healthy',
      ...options.v2,
    });
    this.router = new LocalRouter({
      routes: [],
      ...(options.durationBucketsMs ? { durationBucketsMs: options.durationBucketsMs } : {}),
    });
    this.recording = new RecordingRouter(this.router);
  }

  async start(): Promise<void> {
    await Promise.all([this.v1.listen(), this.v2.listen()]);
    this.router.addRoute({
      service: this.service,
      backends: { v1: this.v1.url, v2: this.v2.url },
      weights: { v1: 100, v2: 0 },
    });
    await this.router.listen();
    this.prometheus = await startPrometheus({
      targets: [{ address: new URL(this.router.adminUrl).host }],
      scrapeIntervalMs: this.options.scrapeIntervalMs ?? 1000,
    });
    this.metrics = new SwitchableMetrics(this.prometheus.url);
    const controllerOptions: ConstructorParameters<typeof CanaryController>[0] = {
      store: this.store,
      router: this.recording,
      metrics: this.metrics,
      tickMs: this.options.tickMs ?? 100,
    };
    if (this.options.registry) controllerOptions.registry = this.options.registry;
    if (this.options.logger) controllerOptions.logger = this.options.logger;
    this.controller = new CanaryController(controllerOptions);
    this.load = new LoadGenerator(this.router.url, this.options.rps ?? 100);
    this.load.start();
    this.controller.run();
  }

  /** Starts a canary with a short interval and window, for one machine. */
  async startCanary(plan: Record<string, unknown> = {}): Promise<CanaryState> {
    const parsed = parseCanaryPlan({
      canary: 'v2',
      interval: '1s',
      window: '5s',
      failureThreshold: 2,
      thresholds: { minRequests: 10 },
      missingData: { maxHold: '10s', action: 'rollback' },
      ...plan,
    });
    return (await this.controller.start(this.service, parsed, 'test')).state;
  }

  async state(): Promise<CanaryState> {
    return (await this.controller.status(this.service)).state;
  }

  /** Polls until the run reaches a final phase (or `timeoutMs`), returning the last state. */
  async waitForFinal(timeoutMs: number, onChange?: (state: CanaryState) => void): Promise<CanaryState> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const state = await this.state();
      const key = `${state.phase}/${state.canaryWeight}`;
      if (key !== last) {
        last = key;
        onChange?.(state);
      }
      if (['promoted', 'rolled_back', 'aborted'].includes(state.phase) && state.routerSynced) return state;
      if (Date.now() > deadline) return state;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.controller?.stop();
    await this.load?.stop();
    await this.prometheus?.stop();
    await this.router.close();
    await Promise.all([this.v1.close(), this.v2.close()]);
  }
}
