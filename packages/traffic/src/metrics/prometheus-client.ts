/**
 * Instant queries over the Prometheus HTTP API (`GET /api/v1/query`). Every way a query can fail becomes a
 * PrometheusQueryError with a `kind`, so the canary's missing-data policy can tell "Prometheus said no" from
 * "Prometheus is not there" — and never mistakes either for a healthy canary.
 */

/** Prometheus' own `errorType`s, plus what can go wrong before or around it. */
export type PrometheusErrorKind =
  | 'bad_data'
  | 'execution'
  | 'timeout'
  | 'canceled'
  | 'internal'
  | 'unavailable'
  | 'not_found'
  | 'unreachable'
  | 'bad_response';

export class PrometheusQueryError extends Error {
  constructor(
    readonly kind: PrometheusErrorKind,
    message: string,
    readonly query: string,
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PrometheusQueryError';
  }
}

export interface VectorSample {
  labels: Record<string, string>;
  /** NaN and ±Inf come through as numbers (`histogram_quantile` of nothing is NaN). */
  value: number;
  timestampSeconds: number;
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:9090`. */
  url: string;
  /** Per query; Flagger uses 5 s. */
  timeoutMs?: number;
}

export interface QueryOptions {
  /** Overrides the client's timeout for this query. */
  timeoutMs?: number;
}

const KNOWN_ERROR_TYPES = new Set(['bad_data', 'execution', 'timeout', 'canceled', 'internal', 'unavailable']);

export class PrometheusClient {
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: PrometheusClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Runs an instant query that must return a vector (scalars are returned as one unlabelled sample). */
  async queryVector(query: string, time?: Date, options: QueryOptions = {}): Promise<VectorSample[]> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const params = new URLSearchParams({ query });
    if (time) params.set('time', String(time.getTime() / 1000));
    // Prometheus gives up on its side too, so a slow query does not keep running after we stopped waiting.
    params.set('timeout', `${Math.max(1, Math.floor(timeoutMs))}ms`);
    const url = `${this.url}/api/v1/query?${params}`;
    let response: Response;
    let text: string;
    // The deadline covers the whole exchange: a server that sends headers and then stalls the body times out too.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      response = await fetch(url, { signal });
      text = await response.text();
    } catch (error) {
      const timedOut = signal.aborted || (error as { name?: string }).name === 'TimeoutError';
      throw new PrometheusQueryError(
        timedOut ? 'timeout' : 'unreachable',
        timedOut
          ? `Prometheus at ${this.url} did not answer within ${timeoutMs} ms`
          : `cannot reach Prometheus at ${this.url}: ${describeFetchError(error)}`,
        query,
        undefined,
        { cause: error },
      );
    }
    let body: PrometheusEnvelope;
    try {
      body = JSON.parse(text) as PrometheusEnvelope;
    } catch {
      const kind = response.status === 404 ? 'not_found' : 'bad_response';
      throw new PrometheusQueryError(
        kind,
        `Prometheus at ${this.url} answered HTTP ${response.status} without a JSON body${kind === 'not_found' ? ' (is the URL a Prometheus server?)' : ''}: ${text.slice(0, 200)}`,
        query,
        response.status,
      );
    }
    if (body.status !== 'success') {
      const errorType = typeof body.errorType === 'string' ? body.errorType : '';
      const kind = (KNOWN_ERROR_TYPES.has(errorType) ? errorType : 'bad_response') as PrometheusErrorKind;
      throw new PrometheusQueryError(
        kind,
        `Prometheus rejected the query (HTTP ${response.status}, ${errorType || 'no errorType'}): ${body.error ?? 'no message'}`,
        query,
        response.status,
      );
    }
    const data = body.data;
    if (!data || typeof data !== 'object') {
      throw new PrometheusQueryError('bad_response', 'Prometheus answered success without data', query);
    }
    if (data.resultType === 'scalar' && Array.isArray(data.result)) {
      const [ts, value] = data.result as [number, string];
      return [{ labels: {}, value: Number(value), timestampSeconds: ts }];
    }
    if (data.resultType !== 'vector' || !Array.isArray(data.result)) {
      throw new PrometheusQueryError(
        'bad_response',
        `expected a vector result, got ${String(data.resultType)}`,
        query,
        response.status,
      );
    }
    return (data.result as { metric?: Record<string, string>; value?: [number, string] }[]).map((sample) => {
      if (!Array.isArray(sample.value) || sample.value.length !== 2) {
        throw new PrometheusQueryError('bad_response', 'a vector sample has no [time, value] pair', query);
      }
      // Sample values are strings on the wire ("NaN", "+Inf" included); Number() maps those correctly.
      return { labels: sample.metric ?? {}, value: Number(sample.value[1]), timestampSeconds: sample.value[0] };
    });
  }

  /** `queryVector` keyed by one label (e.g. `destination_version`); samples without the label are dropped. */
  async queryByLabel(query: string, label: string, options: QueryOptions = {}): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    for (const sample of await this.queryVector(query, undefined, options)) {
      const key = sample.labels[label];
      if (key !== undefined) result.set(key, sample.value);
    }
    return result;
  }

  /** True when `/-/ready` answers 200. */
  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}

interface PrometheusEnvelope {
  status?: string;
  data?: { resultType?: string; result?: unknown };
  errorType?: unknown;
  error?: string;
  warnings?: string[];
}

/** The system error behind undici's "fetch failed" (ECONNREFUSED etc.). */
function describeFetchError(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const candidate = current as { code?: unknown; cause?: unknown; message?: string };
    if (typeof candidate.code === 'string')
      return `${candidate.code}${candidate.message ? ` (${candidate.message})` : ''}`;
    if (!candidate.cause) return candidate.message ?? String(current);
    current = candidate.cause;
  }
  return String(error);
}
