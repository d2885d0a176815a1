import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  type PinRoute,
  type RouteRef,
  RouterError,
  type TrafficRouter,
  type VersionWeights,
  weightsIssue,
} from './traffic-router.js';

/**
 * A weighted HTTP reverse proxy for one machine (development, demos, tests): what Istio's sidecars and
 * VirtualService do for a canary, in one process. It exports the Istio standard metrics under the same names and
 * labels (`istio_requests_total`, `istio_request_duration_milliseconds`, `reporter="destination"`,
 * `destination_version`, `response_code`, ...), so the canary's PromQL is the same here and in a mesh.
 *
 * Two listeners: the proxy port carries traffic (every path is proxied), the admin port serves `/metrics`,
 * `GET /routes`, `PUT /routes/{service}` and `/health`, so no proxied path is ever shadowed.
 *
 * Which service a request is for: the `x-rc-service` header, else the first label of the Host header, else the
 * only configured service.
 */

export interface LocalRouteConfig {
  service: string;
  /** Version → base URL of that version's backend, e.g. `{ v1: 'http://127.0.0.1:8081' }`. */
  backends: Record<string, string>;
  /** Initial weights; default 100 to the first backend. */
  weights?: VersionWeights;
  pins?: PinRoute;
}

export interface LocalRouterOptions {
  routes: LocalRouteConfig[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  adminPort?: number;
  /** Upstream timeout; Envoy answers 504 (flag UT) when a route timeout expires. Default 15 s, Istio's default. */
  upstreamTimeoutMs?: number;
  /** Injectable for deterministic tests. */
  random?: () => number;
  /** Latency histogram bucket bounds (ms). Default `FINE_DURATION_BUCKETS_MS`; `ISTIO_DURATION_BUCKETS_MS` mimics a mesh. */
  durationBucketsMs?: readonly number[];
}

/** Istio's default `istio_request_duration_milliseconds` buckets. */
export const ISTIO_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** Ratio between neighbouring fine buckets. */
export const FINE_BUCKET_RATIO = 1.05;

/**
 * The local router's default buckets: geometric, 5 % apart from 0.5 ms to 60 s (then Istio's coarse tail).
 * `histogram_quantile` interpolates inside one bucket, so an estimate is off by less than one bucket's width (5 %):
 * two versions 10 % apart stay at least ~5 % apart anywhere in the range, and a latency sitting on a bucket edge
 * moves a p95 by at most 5 % when jitter pushes a few responses over it (well inside a 1.25 ratio bound).
 * Istio's default buckets are 2–5× apart (e.g. 50 → 100 ms): there a p95 cannot resolve less than a factor of two,
 * which is why the canary also compares mean latency (`_sum` ÷ `_count`, exact whatever the buckets).
 */
export const FINE_DURATION_BUCKETS_MS: readonly number[] = (() => {
  const buckets: number[] = [];
  for (let b = 0.5; b < 60_000; b *= FINE_BUCKET_RATIO) buckets.push(Number(b.toPrecision(4)));
  return [...buckets, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
})();

const LABELS = [
  'reporter',
  'source_workload',
  'destination_workload',
  'destination_workload_namespace',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'request_protocol',
  'response_code',
  'response_flags',
] as const;
type IstioLabel = (typeof LABELS)[number];

/** The namespace label value the local router reports; queries for it leave the namespace out. */
export const LOCAL_NAMESPACE = 'local';

interface RouteEntry {
  service: string;
  backends: Map<string, URL>;
  weights: VersionWeights;
  pins: PinRoute | undefined;
}

/** Headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

export class LocalRouter implements TrafficRouter {
  readonly kind = 'local';
  readonly registry = new Registry();
  private readonly routes = new Map<string, RouteEntry>();
  private readonly requests: Counter<IstioLabel>;
  private readonly duration: Histogram<IstioLabel>;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  private readonly random: () => number;
  private readonly upstreamTimeoutMs: number;
  private proxyServer: http.Server | undefined;
  private adminServer: http.Server | undefined;
  private _url = '';
  private _adminUrl = '';

  constructor(private readonly options: LocalRouterOptions) {
    this.random = options.random ?? Math.random;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
    this.requests = new Counter({
      name: 'istio_requests_total',
      help: 'Requests handled, with Istio standard labels (local router).',
      labelNames: LABELS,
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration in milliseconds, with Istio standard labels (local router).',
      labelNames: LABELS,
      buckets: [...(options.durationBucketsMs ?? FINE_DURATION_BUCKETS_MS)],
      registers: [this.registry],
    });
    for (const route of options.routes) this.addRoute(route);
  }

  /** Proxy base URL (after `listen`). */
  get url(): string {
    return this._url;
  }

  /** Admin base URL: `/metrics`, `/routes` (after `listen`). */
  get adminUrl(): string {
    return this._adminUrl;
  }

  addRoute(config: LocalRouteConfig): void {
    const backends = new Map<string, URL>();
    for (const [version, url] of Object.entries(config.backends)) backends.set(version, new URL(url));
    if (backends.size === 0) throw new RouterError(`service "${config.service}" has no backends`, 'INVALID');
    const weights = config.weights ?? { [[...backends.keys()][0]!]: 100 };
    this.validate(config.service, backends, weights, config.pins);
    this.routes.set(config.service, { service: config.service, backends, weights: { ...weights }, pins: config.pins });
    // Zero-initialise the series a canary query divides by: `increase()` cannot see the first error of a series
    // that did not exist before it (Prometheus has no earlier sample to subtract), so it must exist from the start.
    for (const version of backends.keys()) {
      for (const [code, flags] of [
        ['200', '-'],
        ['500', '-'],
        ['502', '-'],
        ['503', '-'],
        ['504', '-'],
        ['503', 'UF'],
        ['504', 'UT'],
      ] as const) {
        this.requests.inc(this.labels(config.service, version, code, flags), 0);
      }
    }
  }

  routeTable(): { service: string; backends: Record<string, string>; weights: VersionWeights; pins?: PinRoute }[] {
    return [...this.routes.values()].map((r) => ({
      service: r.service,
      backends: Object.fromEntries([...r.backends].map(([v, u]) => [v, u.toString()])),
      weights: { ...r.weights },
      ...(r.pins ? { pins: r.pins } : {}),
    }));
  }

  async setWeights(route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void> {
    const entry = this.routes.get(route.service);
    if (!entry) throw new RouterError(`the local router has no service "${route.service}"`, 'NOT_FOUND');
    this.validate(route.service, entry.backends, weights, pins);
    // Versions not named keep no traffic: the split is exactly what was asked for.
    entry.weights = { ...weights };
    entry.pins = pins ? { ...pins, values: [...pins.values] } : undefined;
  }

  async listen(): Promise<{ url: string; adminUrl: string }> {
    const host = this.options.host ?? '127.0.0.1';
    this.proxyServer = http.createServer((req, res) => this.proxy(req, res));
    this.proxyServer.keepAliveTimeout = 30_000;
    this.adminServer = http.createServer((req, res) => {
      this.admin(req, res).catch((error) => sendJson(res, 500, { error: { message: (error as Error).message } }));
    });
    this._url = await listenOn(this.proxyServer, host, this.options.port ?? 0);
    this._adminUrl = await listenOn(this.adminServer, host, this.options.adminPort ?? 0);
    return { url: this._url, adminUrl: this._adminUrl };
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await Promise.all(
      [this.proxyServer, this.adminServer].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  async metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** Picks the version for a request: a pin match first (as the route placed before the weighted one), then weights. */
  chooseVersion(entry: { weights: VersionWeights; pins?: PinRoute | undefined }, headerValue?: string): string {
    if (entry.pins && headerValue !== undefined && entry.pins.values.includes(headerValue)) return entry.pins.version;
    const point = this.random() * 100;
    let cumulative = 0;
    let last = '';
    for (const [version, weight] of Object.entries(entry.weights)) {
      if (weight <= 0) continue;
      cumulative += weight;
      last = version;
      if (point < cumulative) return version;
    }
    return last;
  }

  private validate(service: string, backends: Map<string, URL>, weights: VersionWeights, pins?: PinRoute): void {
    const problem = weightsIssue(weights);
    if (problem) throw new RouterError(`service "${service}": ${problem}`, 'INVALID');
    for (const version of Object.keys(weights)) {
      if (!backends.has(version)) {
        throw new RouterError(`service "${service}" has no backend for version "${version}"`, 'INVALID');
      }
    }
    if (pins && !backends.has(pins.version)) {
      throw new RouterError(`service "${service}" has no backend for pinned version "${pins.version}"`, 'INVALID');
    }
  }

  private serviceFor(req: http.IncomingMessage): RouteEntry | undefined {
    const named = req.headers['x-rc-service'];
    if (typeof named === 'string') return this.routes.get(named);
    const host = (req.headers.host ?? '').split(':')[0]!.split('.')[0]!;
    return this.routes.get(host) ?? (this.routes.size === 1 ? [...this.routes.values()][0] : undefined);
  }

  private labels(service: string, version: string, code: string, flags: string): Record<IstioLabel, string> {
    return {
      reporter: 'destination',
      source_workload: 'unknown',
      destination_workload: `${service}-${version}`,
      destination_workload_namespace: LOCAL_NAMESPACE,
      destination_app: service,
      destination_version: version,
      destination_service: `${service}.${LOCAL_NAMESPACE}`,
      destination_service_name: service,
      destination_service_namespace: LOCAL_NAMESPACE,
      destination_canonical_service: service,
      destination_canonical_revision: version,
      request_protocol: 'http',
      response_code: code,
      response_flags: flags,
    };
  }

  private proxy(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = performance.now();
    const entry = this.serviceFor(req);
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('local router: no route for this host\n');
      return;
    }
    const pinHeader = entry.pins ? req.headers[entry.pins.header] : undefined;
    const version = this.chooseVersion(entry, typeof pinHeader === 'string' ? pinHeader : undefined);
    const backend = entry.backends.get(version)!;
    let flags = '-';
    let recorded = false;
    const record = (code: string) => {
      if (recorded) return;
      recorded = true;
      const labels = this.labels(entry.service, version, code, flags);
      this.requests.inc(labels);
      this.duration.observe(labels, performance.now() - started);
    };
    // Istio reports response_code 0 when the downstream went away before a response was sent.
    res.on('close', () => record(res.headersSent ? String(res.statusCode) : '0'));

    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    headers['x-forwarded-host'] = req.headers.host;
    headers.host = backend.host;
    const upstream = http.request(
      {
        protocol: backend.protocol,
        hostname: backend.hostname,
        port: backend.port,
        method: req.method,
        path: `${backend.pathname.replace(/\/$/, '')}${req.url ?? '/'}`,
        headers,
        agent: this.agent,
        timeout: this.upstreamTimeoutMs,
      },
      (upstreamRes) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        out['x-rc-version'] = version;
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('timeout', () => {
      flags = 'UT';
      upstream.destroy(new Error('upstream timeout'));
    });
    upstream.on('error', () => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Envoy: 503 with UF when the upstream connection fails, 504 with UT when the route timeout expires.
      const timedOut = flags === 'UT';
      if (!timedOut) flags = 'UF';
      res
        .writeHead(timedOut ? 504 : 503, { 'content-type': 'text/plain', 'x-rc-version': version })
        .end(timedOut ? 'upstream request timeout\n' : 'upstream connect error\n');
    });
    req.pipe(upstream);
  }

  private async admin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(await this.registry.metrics());
      return;
    }
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/routes') return sendJson(res, 200, { routes: this.routeTable() });
    const m = /^\/routes\/([^/]+)$/.exec(path);
    if (m && req.method === 'PUT') {
      const service = decodeURIComponent(m[1]!);
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return sendJson(res, 400, { error: { code: 'MALFORMED_JSON', message: 'body is not valid JSON', path: '' } });
      }
      const { weights, pins } = (body ?? {}) as { weights?: VersionWeights; pins?: PinRoute };
      if (typeof weights !== 'object' || weights === null) {
        return sendJson(res, 400, {
          error: { code: 'VALIDATION_FAILED', message: 'weights must be an object', path: '/weights' },
        });
      }
      try {
        await this.setWeights({ service }, weights, pins ?? undefined);
      } catch (error) {
        const status = error instanceof RouterError && error.code === 'NOT_FOUND' ? 404 : 400;
        return sendJson(res, status, {
          error: { code: status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED', message: (error as Error).message },
        });
      }
      return sendJson(
        res,
        200,
        this.routeTable().find((r) => r.service === service),
      );
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no admin route ${req.method} ${path}` } });
  }
}

/** Talks to a LocalRouter's admin port (`RC_LOCAL_ROUTER_URL`), for a controller in another process. */
export class LocalRouterClient implements TrafficRouter {
  readonly kind = 'local';
  readonly adminUrl: string;

  constructor(adminUrl: string) {
    this.adminUrl = adminUrl.replace(/\/+$/, '');
  }

  async setWeights(route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.adminUrl}/routes/${encodeURIComponent(route.service)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ weights, ...(pins ? { pins } : {}) }),
        signal: AbortSignal.timeout(5000),
      });
    } catch (error) {
      throw new RouterError(
        `cannot reach the local router at ${this.adminUrl}: ${(error as Error).message}`,
        'UNAVAILABLE',
        {
          cause: error,
        },
      );
    }
    const text = await res.text();
    if (res.ok) return;
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new RouterError(
      `local router answered ${res.status}: ${message}`,
      res.status === 404 ? 'NOT_FOUND' : res.status >= 500 ? 'UNAVAILABLE' : 'INVALID',
    );
  }
}

function listenOn(server: http.Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve(`http://${host}:${address.port}`);
    });
  });
}

function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
