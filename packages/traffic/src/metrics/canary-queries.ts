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
  /** PromQL range, e.g. `1m`. */
  window: string;
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
}

/**
 * Counts use `increase()`, not `rate()`: the analysis needs "how many requests in the window" for the minimum
 * request count, and the error share is errors ÷ requests over the same window either way.
 */
export function canaryQueries(target: CanaryQueryTarget): CanaryQueries {
  const w = target.window;
  return {
    requests: `sum by (destination_version) (increase(istio_requests_total${selector(target)}[${w}]))`,
    // "0" is what Istio reports when no response was sent (the client went away or the upstream reset).
    errors: `sum by (destination_version) (increase(istio_requests_total${selector(target, 'response_code=~"5..|0"')}[${w}]))`,
    fiveXx: `sum by (destination_version) (increase(istio_requests_total${selector(target, 'response_code=~"5.."')}[${w}]))`,
    p95: `histogram_quantile(0.95, sum by (le, destination_version) (rate(istio_request_duration_milliseconds_bucket${selector(target)}[${w}])))`,
  };
}

/** Reads what an analysis needs for both versions; any query failure makes the whole reading a failure. */
export class PrometheusCanaryMetrics {
  readonly client: PrometheusClient;

  constructor(client: PrometheusClient | string) {
    this.client = typeof client === 'string' ? new PrometheusClient({ url: client }) : client;
  }

  async read(target: CanaryQueryTarget, versions: { stable: string; canary: string }): Promise<MetricsReading> {
    const q = canaryQueries(target);
    try {
      const [requests, errors, fiveXx, p95] = await Promise.all([
        this.client.queryByLabel(q.requests, 'destination_version'),
        this.client.queryByLabel(q.errors, 'destination_version'),
        this.client.queryByLabel(q.fiveXx, 'destination_version'),
        this.client.queryByLabel(q.p95, 'destination_version'),
      ]);
      const sample = (version: string): VersionSample | undefined => {
        const count = requests.get(version);
        if (count === undefined || Number.isNaN(count)) return undefined;
        const latency = p95.get(version);
        return {
          requests: count,
          errors: finiteOr(errors.get(version), 0),
          fiveXx: finiteOr(fiveXx.get(version), 0),
          p95Ms: latency === undefined || !Number.isFinite(latency) ? null : latency,
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
