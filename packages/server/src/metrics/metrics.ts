import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, one registry per app instance (tests run several apps in one process).
 * Label values are bounded: flag keys and variants come from the stored definitions (unknown keys are folded into
 * one value), routes are route templates, never raw URLs.
 */
export interface ServerMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  evaluations: Counter<'environment' | 'flag' | 'variant' | 'reason'>;
  sseClients: Gauge<'environment' | 'stream'>;
  revision: Gauge;
  propagationLag: Histogram;
  catchUps: Counter<'trigger'>;
  revisionGaps: Counter;
  busDegraded: Gauge;
  unleashHints: Counter<'source'>;
  unleashWatchErrors: Counter;
  unloadableRecords: Gauge<'entity'>;
}

export const UNKNOWN_FLAG_LABEL = '__unknown__';

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'rc_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'rc_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status code.',
      labelNames: ['method', 'route', 'status'],
      // Dense below 10 ms, where evaluation endpoints live; a few buckets up to 5 s for admin writes.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    evaluations: new Counter({
      name: 'rc_flag_evaluations_total',
      help: 'Server-side flag evaluations (OFREP and debug view) by flag, variant and reason.',
      labelNames: ['environment', 'flag', 'variant', 'reason'],
      registers: [registry],
    }),
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
  };
}
