import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProviderEvents } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import {
  allServices,
  createTestDatabase,
  eventually,
  Resources,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
  serviceOrFail,
  sleep,
} from '@runtime-control/testkit';
import { RuntimeControlProvider } from './runtime-control-provider.js';

/**
 * A rolling restart of two replicas (PostgreSQL + Redis) behind a load balancer leaves a connected provider READY
 * throughout: each replica, on shutdown, turns unready first, keeps serving while the balancer notices, then tells
 * its streams to reconnect, and the provider moves to the other replica without ever reporting STALE or ERROR.
 */

const ADMIN = 'rc-rolling-restart-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
/** How long a replica keeps serving after turning unready (RC_DRAIN_DELAY_MS); the balancer probes much faster. */
const DRAIN_DELAY_MS = 400;
const PROBE_MS = 50;

/**
 * A Kubernetes Service in miniature: a TCP balancer that sends each new connection to one of the endpoints whose
 * `/health/ready` last answered 200 (probed every PROBE_MS), round robin. Connections stay where they were opened.
 */
class ReadyBalancer {
  private readonly endpoints = new Map<string, boolean>();
  private readonly sockets = new Set<Socket>();
  private next = 0;
  private server: Server | undefined;
  private probe: NodeJS.Timeout | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const ready = [...this.endpoints].filter(([, ok]) => ok).map(([url]) => url);
      if (ready.length === 0) {
        client.destroy();
        return;
      }
      const target = new URL(ready[this.next++ % ready.length]!);
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    this.probe = setInterval(() => void this.probeAll(), PROBE_MS);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  add(url: string): void {
    this.endpoints.set(url, false);
  }

  remove(url: string): void {
    this.endpoints.delete(url);
  }

  isReady(url: string): boolean {
    return this.endpoints.get(url) === true;
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      [...this.endpoints.keys()].map(async (url) => {
        let ok = false;
        try {
          ok = (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(PROBE_MS * 4) })).status === 200;
        } catch {
          ok = false;
        }
        if (this.endpoints.has(url)) this.endpoints.set(url, ok);
      }),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe(
  'rolling restart of two replicas',
  allServices(
    serviceOrFail('RC_TEST_DATABASE_URL', requireTestDatabaseUrl()),
    serviceOrFail('RC_TEST_REDIS_URL', requireTestRedisUrl()),
  ),
  () => {
    const cleanup = new Resources();
    const balancer = new ReadyBalancer();
    let databaseUrl: string;

    async function startReplica(name: string): Promise<RunningServer> {
      const dataDir = await mkdtemp(join(tmpdir(), `rc-rolling-${name}-`));
      cleanup.add(() => rm(dataDir, { recursive: true, force: true }));
      const server = await startServer({
        port: 0,
        host: '127.0.0.1',
        dataDir,
        env: {
          RC_DATABASE_URL: databaseUrl,
          RC_REDIS_URL: requireTestRedisUrl(),
          RC_ADMIN_TOKEN: ADMIN,
          RC_REPLICA_ID: name,
          RC_LOG_LEVEL: 'silent',
          RC_SSE_HEARTBEAT_MS: '1000',
          RC_RECONCILE_INTERVAL_MS: '500',
          RC_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
        },
        print: () => {},
        defaultMetrics: false,
      });
      cleanup.add(() => server.close());
      return server;
    }

    /**
     * An admin call through the balancer on a fresh connection: a pooled keep-alive socket to a replica that has
     * since stopped would fail with "other side closed" — the client-side race every load-balanced HTTP client
     * meets, and not what this test is about (the SDK's stream).
     */
    // biome-ignore lint/suspicious/noExplicitAny: test helper; each call site knows the body's shape
    function api(method: string, path: string, body?: unknown): Promise<any> {
      return new Promise((resolve, reject) => {
        const req = httpRequest(`${balancer.url}${path}`, { method, headers: admin, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(text ? JSON.parse(text) : undefined);
          });
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    }

    /** Replaces `old` with a new replica the way a Deployment's rolling update does: new one ready, then old stops. */
    async function roll(old: RunningServer, name: string): Promise<RunningServer> {
      const fresh = await startReplica(name);
      balancer.add(fresh.url);
      await eventually(() => balancer.isReady(fresh.url), 5000, `${name} is ready behind the balancer`, 10);
      await old.shutdown(() => {});
      balancer.remove(old.url);
      return fresh;
    }

    before(async () => {
      const db = await createTestDatabase(requireTestDatabaseUrl()!, { prefix: 'rc_rolling' });
      cleanup.add(() => db.drop());
      databaseUrl = db.url;
      await balancer.start();
      cleanup.add(() => balancer.close());
    });
    after(() => cleanup.closeAll());

    it('keeps an SDK client READY while both replicas restart one after the other, and it sees every change', async () => {
      let a = await startReplica('a');
      let b = await startReplica('b');
      balancer.add(a.url);
      balancer.add(b.url);
      await eventually(() => balancer.isReady(a.url) && balancer.isReady(b.url), 5000, 'both replicas ready', 10);

      await api('POST', '/api/admin/flags', {
        key: 'checkout-v2',
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        environments: { production: { state: 'ENABLED' } },
      });
      const { token } = await api('POST', '/api/admin/tokens', { kind: 'client', environment: 'production' });

      const provider = new RuntimeControlProvider({
        url: balancer.url,
        token,
        // Short, so that any real loss of the stream during the restart would surface as STALE and ERROR here.
        errorGracePeriodMs: 500,
        reconnectInitialMs: 50,
        reconnectMaxMs: 200,
      });
      cleanup.add(() => provider.onClose());
      await provider.initialize();
      const events: string[] = [];
      for (const type of [ProviderEvents.Stale, ProviderEvents.Error, ProviderEvents.Ready]) {
        provider.events.addHandler(type, (details) => events.push(`${type}: ${details?.message ?? ''}`));
      }
      const states = new Set<string>();
      const sampler = setInterval(() => states.add(provider.state), 5);
      cleanup.add(() => clearInterval(sampler));

      const flip = async (variant: 'on' | 'off') => {
        await api('PATCH', '/api/admin/flags/checkout-v2/environments/production', {
          targeting: { if: [{ '==': [1, 1] }, variant, null] },
        });
        await eventually(
          () => provider.flags.boolean('checkout-v2', variant !== 'on') === (variant === 'on'),
          5000,
          `the provider sees checkout-v2 = ${variant}`,
          5,
        );
      };

      await flip('on');
      a = await roll(a, 'a2');
      await flip('off');
      b = await roll(b, 'b2');
      await flip('on');
      // Once more, so each original replica's successor has carried the stream at least once.
      a = await roll(a, 'a3');
      await flip('off');
      await sleep(200);
      clearInterval(sampler);

      assert.deepEqual(events, [], 'no STALE, ERROR or READY transitions: the provider stayed READY');
      assert.deepEqual([...states], ['READY'], 'sampled every 5 ms, the provider was READY throughout');
      assert.equal(provider.state, 'READY');
      assert.ok(b.url !== a.url);
    });
  },
);
