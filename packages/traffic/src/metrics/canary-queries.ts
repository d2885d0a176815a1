import type { MetricsReading, VersionSample } from '../canary/canary-analysis.js';
import { PrometheusClient, PrometheusQueryError } from './prometheus-client.js';

/**
 * The PromQL behind a canary analysis. Istio's standard metrics, `reporter="destination"` only (each request is
 * reported by both proxies; counting one side avoids doubling), grouped by `destination_version` so v1 and v2 come
 * back from one query over the same window. The local router exports the same series, so these queries drive both.
 */

export interface CanaryQueryTarget {
  service: string;
  /** Kubernetes namespace of the service; omitted for the local router (which reports `local`). */
  namespace?: string;
  /** PromQL range, e.g. `1m`: the longest an analysis looks back. */
  window: string;
}

/** The time range one analysis covers: traffic at the weight in force, since the last conclusive analysis. */
export interface AnalysisRange {
  /** Milliseconds since the epoch. */
  fromMs: number;
  toMs: number;
}

export interface ReadOptions {
  range?: AnalysisRange;
  /** Per query; the controller keeps it well inside the analysis interval. */
  timeoutMs?: number;
}

/** Label values are quoted PromQL strings: escape backslashes and quotes even though names are validated. */
function quote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

export function selector(target: CanaryQueryTarget, extra = ''): string {
  const parts = ['reporter="destination"', `destination_service_name=${quote(target.service)}`];
  if (target.namespace) parts.push(`destination_service_namespace=${quote(target.namespace)}`);
  if (extra) parts.push(extra);
  return `{${parts.join(',')}}`;
}

export interface CanaryQueries {
  requests: string;
  errors: string;
  fiveXx: string;
  p95: string;
  mean: string;
}

/** `@` timestamp in seconds with millisecond precision. */
const at = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * Without a range: `increase()` over the plan's window, as before. With a range: counter differences between the
 * two instants, `sum(x @ to) - (sum(x @ from) or sum(x @ to) * 0)`. Consecutive ranges tile exactly (no sample is
 * counted twice or lost between analyses, so a burst of 5xx between two analyses is still seen), there is no
 * extrapolation, and a version whose series did not exist yet at `from` counts from zero. `x @ from` is the last
 * sample at or before `from`, so a range includes up to one scrape interval before `from`.
 */
export function canaryQueries(target: CanaryQueryTarget, range?: AnalysisRange): CanaryQueries {
  const by = 'destination_version';
  const diff = (metric: string, extra = '', labels = by): string => {
    const sel = `${metric}${selector(target, extra)}`;
    if (!range) return `sum by (${labels}) (increase(${sel}[${target.window}]))`;
    const to = `sum by (${labels}) (${sel} @ ${at(range.toMs)})`;
    const from = `sum by (${labels}) (${sel} @ ${at(range.fromMs)})`;
    return `(${to} - (${from} or ${to} * 0))`;
  };
  return {
    requests: diff('istio_requests_total'),
    // "0" is what Istio reports when no response was sent (the client went away or the upstream reset).
    errors: diff('istio_requests_total', 'response_code=~"5..|0"'),
    fiveXx: diff('istio_requests_total', 'response_code=~"5.."'),
    p95: `histogram_quantile(0.95, ${diff('istio_request_duration_milliseconds_bucket', '', `le, ${by}`)})`,
    mean: `${diff('istio_request_duration_milliseconds_sum')} / ${diff('istio_request_duration_milliseconds_count')}`,
  };
}

/** Reads what an analysis needs for both versions; any query failure makes the whole reading a failure. */
export class PrometheusCanaryMetrics {
  readonly client: PrometheusClient;

  constructor(client: PrometheusClient | string) {
    this.client = typeof client === 'string' ? new PrometheusClient({ url: client }) : client;
  }

  async read(
    target: CanaryQueryTarget,
    versions: { stable: string; canary: string },
    options: ReadOptions = {},
  ): Promise<MetricsReading> {
    const q = canaryQueries(target, options.range);
    const query = { ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
    try {
      const [requests, errors, fiveXx, p95, mean] = await Promise.all(
        [q.requests, q.errors, q.fiveXx, q.p95, q.mean].map((text) =>
          this.client.queryByLabel(text, 'destination_version', query),
        ),
      );
      const finite = (value: number | undefined): number | null =>
        value === undefined || !Number.isFinite(value) ? null : value;
      const sample = (version: string): VersionSample | undefined => {
        const count = requests!.get(version);
        // A negative difference is a counter reset (the router restarted): no usable count.
        if (count === undefined || Number.isNaN(count) || count < 0) return undefined;
        return {
          requests: count,
          errors: Math.max(0, finiteOr(errors!.get(version), 0)),
          fiveXx: Math.max(0, finiteOr(fiveXx!.get(version), 0)),
          p95Ms: finite(p95!.get(version)),
          meanMs: finite(mean!.get(version)),
        };
      };
      return { ok: true, stable: sample(versions.stable), canary: sample(versions.canary) };
    } catch (error) {
      if (error instanceof PrometheusQueryError) {
        return { ok: false, errorKind: error.kind, error: error.message };
      }
      return { ok: false, errorKind: 'internal', error: (error as Error).message };
    }
  }
}

function finiteOr(value: number | undefined, fallback: number): number {
  return value === undefined || !Number.isFinite(value) ? fallback : value;
}
