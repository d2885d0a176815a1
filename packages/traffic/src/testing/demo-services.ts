import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in service version and a steady load generator, for the canary end-to-end tests, the demo and the
 * benchmark. Not a library feature: loopback only, bounded rate.
 */

/**
 * healthy; `errors`: exactly every 20th request answers 500 (5%, deterministic); `slow`: latency × slowFactor;
 * `bursty`: `burstLength` 500s in a row once every `burstEvery` requests, the first burst after `burstAfter`
 * requests (default 8 in 1000: 0.8 % on average, a spike when it comes); `tail`: one request in ten is
 * slowFactor × slower (p95 moves, the mean much less).
 */
export type BackendMode = 'healthy' | 'errors' | 'slow' | 'bursty' | 'tail';

const MODES: readonly BackendMode[] = ['healthy', 'errors', 'slow', 'bursty', 'tail'];

export interface DemoBackendOptions {
  service: string;
  version: string;
  /** Base latency of a healthy response. Default 15 ms. */
  latencyMs?: number;
  mode?: BackendMode;
  /** Default 3. */
  slowFactor?: number;
  /** In `errors` mode one request in this many fails. Default 20 (5%). */
  errorEvery?: number;
  /** `bursty` mode: a burst every this many requests (default 1000), this long (default 8), first after (default 40). */
  burstEvery?: number;
  burstLength?: number;
  burstAfter?: number;
}

export class DemoBackend {
  private server: http.Server | undefined;
  private _mode: BackendMode;
  private served = 0;
  private _url = '';
  /** `Date.now()` of the first response that was bad (5xx, or slowed) since the mode last changed; else null. */
  firstBadAt: number | null = null;

  constructor(private readonly options: DemoBackendOptions) {
    this._mode = options.mode ?? 'healthy';
  }

  get url(): string {
    return this._url;
  }

  get mode(): BackendMode {
    return this._mode;
  }

  /** Switches behaviour (also `POST /__mode {"mode": "errors"}` over HTTP, for the demo). */
  setMode(mode: BackendMode): void {
    this._mode = mode;
    this.served = 0;
    this.firstBadAt = null;
  }

  async listen(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this._url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this._url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'POST' && req.url === '/__mode') {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const mode = (JSON.parse(body || '{}') as { mode?: string }).mode;
        if (!MODES.includes(mode as BackendMode)) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(`{"error":"mode: ${MODES.join('|')}"}`);
          return;
        }
        this.setMode(mode as BackendMode);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mode }));
      });
      return;
    }
    this.served += 1;
    const mode = this._mode;
    const o = this.options;
    const burstAfter = o.burstAfter ?? 40;
    const fail =
      (mode === 'errors' && this.served % (o.errorEvery ?? 20) === 0) ||
      (mode === 'bursty' &&
        this.served > burstAfter &&
        (this.served - burstAfter - 1) % (o.burstEvery ?? 1000) < (o.burstLength ?? 8));
    const slowed = mode === 'slow' || (mode === 'tail' && this.served % 10 === 0);
    const latency = (o.latencyMs ?? 15) * (slowed ? (o.slowFactor ?? 3) : 1);
    if ((fail || slowed) && this.firstBadAt === null) this.firstBadAt = Date.now();
    setTimeout(() => {
      const status = fail ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          service: this.options.service,
          version: this.options.version,
          ...(fail ? { error: 'simulated failure' } : { answer: 'ok' }),
        }),
      );
    }, latency);
  }
}

export interface LoadStats {
  sent: number;
  byVersion: Record<string, number>;
  byStatus: Record<string, number>;
  /** `Date.now()` of the last response served by each version. */
  lastByVersion: Record<string, number>;
}

/** Sends `rps` GET requests per second to `url` until stopped, counting responses by `x-rc-version` and status. */
export class LoadGenerator {
  readonly stats: LoadStats = { sent: 0, byVersion: {}, byStatus: {}, lastByVersion: {} };
  private timer: NodeJS.Timeout | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private inFlight = 0;

  constructor(
    private readonly url: string,
    private readonly rps: number,
    private readonly headers: Record<string, string> = {},
  ) {}

  start(): void {
    const tickMs = 20;
    let carry = 0;
    let last = performance.now();
    this.timer = setInterval(() => {
      // By elapsed time, not by tick count: on a busy machine timers fire late, and the rate must hold anyway
      // (a canary's minimum-request gate is sized from it). A long stall sends at most 100 ms' worth at once.
      const now = performance.now();
      carry = Math.min(carry + (this.rps * (now - last)) / 1000, Math.max(1, this.rps / 10));
      last = now;
      while (carry >= 1) {
        carry -= 1;
        // A bounded number in flight: a stalled router must not make the generator pile up sockets.
        if (this.inFlight < 200) this.send();
      }
    }, tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + 5000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.agent.destroy();
  }

  private send(): void {
    this.inFlight += 1;
    this.stats.sent += 1;
    const req = http.get(this.url, { agent: this.agent, headers: this.headers }, (res) => {
      res.resume();
      res.on('end', () => {
        this.inFlight -= 1;
        const version = String(res.headers['x-rc-version'] ?? 'none');
        this.stats.byVersion[version] = (this.stats.byVersion[version] ?? 0) + 1;
        this.stats.lastByVersion[version] = Date.now();
        const status = String(res.statusCode);
        this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
      });
    });
    req.on('error', () => {
      this.inFlight -= 1;
      this.stats.byStatus.error = (this.stats.byStatus.error ?? 0) + 1;
    });
  }
}
