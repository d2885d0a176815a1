import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, one registry per app instance (tests run several apps in one process).
 * Label values are bounded: flag keys and variants come from the stored definitions (unknown keys are folded into
 * one value), routes are route templates, never raw URLs.
 */
export interface ServerMetrics {
  registry: Registry;
  httpDuration: RequestDurations;
  evaluations: Counter<EvaluationLabel>;
  /** The hot path's way to count `evaluations` (OFREP): same series, handed to `evaluations` when scraped. */
  evaluationCounts: EvaluationCounts;
  sseClients: Gauge<'environment' | 'stream'>;
  revision: Gauge;
  propagationLag: Histogram;
  catchUps: Counter<'trigger'>;
  revisionGaps: Counter;
  busDegraded: Gauge;
  unleashHints: Counter<'source'>;
  unleashWatchErrors: Counter;
  unloadableRecords: Gauge<'entity'>;
  /** Secrets feature: age of each bundle's current version, its state (1 for the current one), rotations. */
  secretAge: Gauge<'service' | 'bundle'>;
  secretState: Gauge<'service' | 'bundle' | 'state'>;
  secretRotations: Counter<'outcome'>;
}

export const UNKNOWN_FLAG_LABEL = '__unknown__';

type EvaluationLabel = 'environment' | 'flag' | 'variant' | 'reason';

// The duration histogram's label values are joined into one map key with a character none of them contains (methods,
// route templates and status codes never hold NUL).
const SEP = '\u0000';

/** One label tuple of a counter: its bound prom-client child and the increments not yet handed to it. */
export interface CountCell {
  readonly child: { inc(value?: number): void };
  pending: number;
}

/**
 * Counts `rc_flag_evaluations_total` on the request path. prom-client's `inc(labels)` builds a hash string from the
 * labels and validates them on every call (about a microsecond, several per bulk evaluation); here the hot path
 * bumps a plain number in a cell found by one map lookup, and the pending counts are handed to the counter when it
 * is read (every scrape and `get()` run its `collect`), so what Prometheus sees is unchanged. Label values are bounded
 * by the caller (flag keys from the definitions, variants, reasons, environments), so the cells are too.
 */
export class EvaluationCounts {
  // environment → flag → variant → reason → cell: lookups with the strings at hand, no key string built per call.
  private readonly cells = new Map<string, Map<string, Map<string, Map<string, CountCell>>>>();
  private readonly list: CountCell[] = [];

  constructor(private readonly counter: Counter<EvaluationLabel>) {}

  inc(environment: string, flag: string, variant: string, reason: string): void {
    this.cell(environment, flag, variant, reason).pending++;
  }

  /**
   * The cell of a label tuple, to bump (`pending++`) without looking it up again: for answers that are the same on
   * every request (features/ofrep/ofrep-answers.ts keeps one per fixed answer).
   */
  cell(environment: string, flag: string, variant: string, reason: string): CountCell {
    return (
      this.cells.get(environment)?.get(flag)?.get(variant)?.get(reason) ?? this.add(environment, flag, variant, reason)
    );
  }

  /** First sight of a label tuple. */
  private add(environment: string, flag: string, variant: string, reason: string): CountCell {
    const child = <V>(map: Map<string, V>, key: string, make: () => V): V => {
      let value = map.get(key);
      if (value === undefined) {
        value = make();
        map.set(key, value);
      }
      return value;
    };
    const byFlag = child(this.cells, environment, () => new Map<string, Map<string, Map<string, CountCell>>>());
    const byVariant = child(byFlag, flag, () => new Map<string, Map<string, CountCell>>());
    const byReason = child(byVariant, variant, () => new Map<string, CountCell>());
    return child(byReason, reason, () => {
      const cell = { child: this.counter.labels({ environment, flag, variant, reason }), pending: 0 };
      this.list.push(cell);
      return cell;
    });
  }

  /** Hands the pending increments to the counter (its `collect`). */
  flush(): void {
    for (const cell of this.list) {
      if (cell.pending > 0) {
        cell.child.inc(cell.pending);
        cell.pending = 0;
      }
    }
  }
}

type RouteLabels = { method: string; route: string; status: string };

interface DurationSeries {
  readonly labels: RouteLabels;
  /** Observations per bucket (not cumulative), in the order of the bounds. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * `rc_http_request_duration_seconds`, observed once per request. A Prometheus histogram exposed exactly as
 * prom-client's `Histogram` exposes it (same series, labels, order and values: `metrics.test.ts` compares the two),
 * but recorded without what prom-client does on every `observe` (label hashing and validation, a bucket lookup by
 * number-to-string key), which cost more than a whole flag evaluation. It is a metric object of the registry (its
 * `get()` is what the registry formats), so `/metrics` and `registry.getMetricsAsJSON()` are unchanged.
 */
export class RequestDurations {
  readonly name = 'rc_http_request_duration_seconds';
  readonly help = 'HTTP request latency by route template and status code.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['method', 'route', 'status'] as const;
  private readonly series = new Map<string, DurationSeries>();
  /** The series each `routeRecorder` found, emptied with `series` by `reset`. */
  private readonly routeCaches: Map<string, Map<number, DurationSeries>>[] = [];

  constructor(
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** prom-client's signature. */
  observe(labels: RouteLabels, seconds: number): void {
    this.record(labels.method, labels.route, labels.status, seconds);
  }

  record(method: string, route: string, status: string, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    this.observeIn(this.seriesOf(method, route, status), seconds);
  }

  /**
   * The recorder of one route template, for the per-request hooks: its series are found by method and numeric status
   * in maps of their own, so a request builds no key string (joining the labels and hashing the result cost more
   * than the rest of the recording). Same series as `record`.
   */
  routeRecorder(route: string): (method: string, status: number, seconds: number) => void {
    const byMethod = new Map<string, Map<number, DurationSeries>>();
    this.routeCaches.push(byMethod);
    return (method, status, seconds) => {
      if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
      let byStatus = byMethod.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let s = byStatus.get(status);
      if (s === undefined) {
        s = this.seriesOf(method, route, String(status));
        byStatus.set(status, s);
      }
      this.observeIn(s, seconds);
    };
  }

  private seriesOf(method: string, route: string, status: string): DurationSeries {
    const key = method + SEP + route + SEP + status;
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: { method, route, status }, counts: new Array(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  private observeIn(s: DurationSeries, seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    if (i < bounds.length) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** The series as prom-client's `Histogram.get()` returns them (cumulative buckets, then +Inf, sum and count). */
  async get() {
    const values: {
      value: number;
      metricName: string;
      labels: Record<string, string | number>;
      exemplar: null | undefined;
    }[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({
          value: acc,
          metricName: `${this.name}_bucket`,
          exemplar: null,
          labels: { le: this.bounds[i]!, ...s.labels },
        });
      }
      values.push({
        value: s.count,
        metricName: `${this.name}_bucket`,
        exemplar: null,
        labels: { le: '+Inf', ...s.labels },
      });
      values.push({ value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined, labels: { ...s.labels } });
      values.push({ value: s.count, metricName: `${this.name}_count`, exemplar: undefined, labels: { ...s.labels } });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
    for (const cache of this.routeCaches) cache.clear();
  }
}

/** The buckets of `rc_http_request_duration_seconds`. */
export const HTTP_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'rc_' });
  let evaluationCounts: EvaluationCounts | undefined;
  const evaluations = new Counter<EvaluationLabel>({
    name: 'rc_flag_evaluations_total',
    help: 'Server-side flag evaluations (OFREP and debug view) by flag, variant and reason.',
    labelNames: ['environment', 'flag', 'variant', 'reason'],
    registers: [registry],
    collect: () => evaluationCounts?.flush(),
  });
  evaluationCounts = new EvaluationCounts(evaluations);
  return {
    registry,
    // Dense below 10 ms, where evaluation endpoints live; a few buckets up to 5 s for admin writes.
    httpDuration: new RequestDurations(HTTP_DURATION_BUCKETS, registry),
    evaluations,
    evaluationCounts,
    sseClients: new Gauge({
      name: 'rc_sse_clients',
      help: 'Connected server-sent-event clients by environment and stream (sdk = change stream, ofrep = ADR-0008).',
      labelNames: ['environment', 'stream'],
      registers: [registry],
    }),
    revision: new Gauge({
      name: 'rc_revision',
      help: 'Revision this replica has applied.',
      registers: [registry],
    }),
    propagationLag: new Histogram({
      name: 'rc_propagation_lag_seconds',
      help: 'Time from a commit on any replica to this replica applying it.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    catchUps: new Counter({
      name: 'rc_catch_ups_total',
      help: 'Reads of missed revisions from the database, by what triggered them.',
      labelNames: ['trigger'],
      registers: [registry],
    }),
    revisionGaps: new Counter({
      name: 'rc_revision_gaps_total',
      help: 'Change messages that skipped revisions (pub/sub lost some); each causes a database catch-up.',
      registers: [registry],
    }),
    busDegraded: new Gauge({
      name: 'rc_bus_degraded',
      help: 'Whether the change bus cannot deliver (1: Redis down or not answering; replicas converge by reconciliation).',
      registers: [registry],
    }),
    unleashHints: new Counter({
      name: 'rc_unleash_hints_total',
      help: "Unleash refresh hints sent to this replica's UnleashProviders, by how the bridge learnt of the change (webhook, watch = event log, relay = another replica's webhook).",
      labelNames: ['source'],
      registers: [registry],
    }),
    unloadableRecords: new Gauge({
      name: 'rc_unloadable_records',
      help: 'Stored flags and evaluators this replica cannot load (served as errors until fixed; see /health/ready).',
      labelNames: ['entity'],
      registers: [registry],
    }),
    unleashWatchErrors: new Counter({
      name: 'rc_unleash_watch_errors_total',
      help: "Failed reads of Unleash's event log by the event watch.",
      registers: [registry],
    }),
    secretAge: new Gauge({
      name: 'rc_secret_age_seconds',
      help: "Age of each secret bundle's current version (from the backend's metadata, as of the last status read).",
      labelNames: ['service', 'bundle'],
      registers: [registry],
    }),
    secretState: new Gauge({
      name: 'rc_secret_state',
      help: "Each secret bundle's state (1 for its current state, 0 for the others): in-sync, syncing, stale-pods, missing, overdue, error.",
      labelNames: ['service', 'bundle', 'state'],
      registers: [registry],
    }),
    secretRotations: new Counter({
      name: 'rc_secret_rotations_total',
      help: 'Secret rotations (and rollbacks) finished by this replica, by outcome (completed, failed, conflict).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
