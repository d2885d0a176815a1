import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalRouter } from '@runtime-control/traffic';
import { UsageError } from '../http-client.js';
import { main } from '../index.js';
import { runCli } from '../test-support.js';
import { startBody } from './canary.js';

describe('rctl canary start flags', () => {
  it('maps flags to the API body', () => {
    assert.deepEqual(
      startBody('ai-gateway', {
        to: 'v2',
        steps: '5,10,25,50,100',
        interval: '60s',
        threshold: '3',
        'max-error-rate': '0.01',
        'max-p95-ratio': '1.2',
        'min-requests': '100',
        'pin-user': ['alice', 'bob'],
        'on-missing-data': 'pause',
      }),
      {
        service: 'ai-gateway',
        to: 'v2',
        steps: [5, 10, 25, 50, 100],
        interval: '60s',
        failureThreshold: 3,
        thresholds: { maxErrorRate: 0.01, maxP95Ratio: 1.2, minRequests: 100 },
        missingData: { action: 'pause' },
        pins: { values: ['alice', 'bob'] },
      },
    );
  });

  it("maps --notify-url and --notify-secret-file to the plan's notify; a secret without a URL is a usage error", () => {
    assert.deepEqual(
      startBody('ai-gateway', { to: 'v2', 'notify-url': 'http://hooks/x', 'notify-secret-file': '/etc/rc/secret' }),
      { service: 'ai-gateway', to: 'v2', notify: { url: 'http://hooks/x', secretFile: '/etc/rc/secret' } },
    );
    assert.throws(() => startBody('ai-gateway', { to: 'v2', 'notify-secret-file': '/s' }), /--notify-url/);
  });

  it('refuses a missing --to, non-numeric numbers and a pin header without users as usage errors', () => {
    assert.throws(() => startBody('ai-gateway', {}), UsageError);
    assert.throws(() => startBody('ai-gateway', { to: 'v2', threshold: 'three' }), /--threshold must be a number/);
    assert.throws(() => startBody('ai-gateway', { to: 'v2', steps: '5,,10' }), /--steps/);
    assert.throws(() => startBody('ai-gateway', { to: 'v2', 'pin-header': 'x-user' }), /--pin-user/);
  });
});

describe('rctl canary against a server', () => {
  const requests: { method: string; url: string; body: string }[] = [];
  const run = {
    service: 'ai-gateway',
    phase: 'rolled_back',
    plan: {
      stable: 'v1',
      canary: 'v2',
      steps: [5, 10, 25, 50, 100],
      intervalMs: 60000,
      window: '1m',
      failureThreshold: 2,
    },
    canaryWeight: 0,
    weights: { v1: 100, v2: 0 },
    failedChecks: 2,
    inconclusiveStreak: 0,
    nextAnalysisAt: null,
    routerSynced: true,
    routerError: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:02:00.000Z',
    decisions: [
      {
        at: '2026-01-01T00:00:00.000Z',
        action: 'start',
        actor: 'alice',
        fromWeight: 0,
        toWeight: 5,
        failedChecks: 0,
        reason: 'started',
      },
      {
        at: '2026-01-01T00:02:00.000Z',
        action: 'rollback',
        actor: 'controller',
        fromWeight: 5,
        toWeight: 0,
        failedChecks: 2,
        reason: 'error-rate failed; rolling back',
        checks: [
          {
            name: 'error-rate',
            status: 'fail',
            value: 0.05,
            threshold: 0.01,
            detail: 'canary error rate 5% (bound 1%)',
          },
        ],
      },
    ],
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/admin/canaries' && req.method === 'POST') {
        const parsed = JSON.parse(body) as { to?: string };
        if (parsed.to === 'v1') {
          res
            .writeHead(400)
            .end(
              JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: 'to is the same as from', path: '/to' } }),
            );
          return;
        }
        const traffic = { requestsPerSecond: 0.5, window: '5m', warnings: ['at 0.5 req/s, v2 at 5% needs ~2000 s'] };
        res.writeHead(201).end(JSON.stringify({ ...run, phase: 'progressing', weights: { v1: 95, v2: 5 }, traffic }));
        return;
      }
      if (req.url === '/api/admin/canaries') return res.end(JSON.stringify({ canaries: [run] }));
      if (req.url === '/api/admin/canaries/ai-gateway') return res.end(JSON.stringify(run));
      if (req.url === '/api/admin/canaries/ai-gateway/abort') return res.end(JSON.stringify(run));
      res.writeHead(404).end(JSON.stringify({ error: { code: 'CANARY_NOT_FOUND', message: 'no canary for "x"' } }));
    });
  });
  let env: NodeJS.ProcessEnv;

  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    env = { RC_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, RC_TOKEN: 'tok' };
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('starts a canary and says how to follow it', async () => {
    const res = await runCli(['canary', 'start', 'ai-gateway', '--to', 'v2', '--interval', '60s'], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /started canary of ai-gateway: v1 → v2.*v1 95% \/ v2 5%/);
    assert.deepEqual(JSON.parse(requests.at(-1)!.body), { service: 'ai-gateway', to: 'v2', interval: '60s' });
    // The server's low-traffic check: the current rate on stdout, its warnings on stderr.
    assert.match(res.stdout, /current traffic: 0\.5 req\/s \(last 5m\)/);
    assert.match(res.stderr, /warning: at 0\.5 req\/s, v2 at 5% needs ~2000 s/);
  });

  it('shows a run with its decisions and the failing check values', async () => {
    const res = await runCli(['canary', 'status', 'ai-gateway'], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /ai-gateway: rolled_back — v1 → v2, v1 100% \/ v2 0%/);
    assert.match(res.stdout, /rollback\s+5% →\s+0%\s+error-rate failed; rolling back/);
    assert.match(res.stdout, /FAIL error-rate: canary error rate 5% \(bound 1%\)/);
    const list = await runCli(['canary', 'status'], { env });
    assert.match(list.stdout, /ai-gateway\s+rolled_back\s+v1 → v2\s+v1 100% \/ v2 0%\s+2\/2/);
  });

  it('aborts, and reports server errors with code and path', async () => {
    assert.match((await runCli(['canary', 'abort', 'ai-gateway'], { env })).stdout, /rolled_back/);
    const bad = await runCli(['canary', 'start', 'ai-gateway', '--to', 'v1'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /VALIDATION_FAILED: to is the same as from \(at \/to\)/);
    const missing = await runCli(['canary', 'pause', 'x'], { env });
    assert.match(missing.stderr, /CANARY_NOT_FOUND/);
    assert.equal((await runCli(['canary', 'start'], { env })).code, 2);
  });
});

describe('rctl canary against the real server: manual gate, promote, status --watch', () => {
  const ADMIN_TOKEN = 'test-admin-token';
  /** Answers every analysis query: 1000 requests per version, p95 40/41 ms, `canaryErrors` 5xx for v2. */
  let canaryErrors = 0;
  const prometheus = http.createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
    const sample = (v1: number, v2: number) => [
      { metric: { destination_version: 'v1' }, value: [Date.now() / 1000, String(v1)] },
      { metric: { destination_version: 'v2' }, value: [Date.now() / 1000, String(v2)] },
    ];
    const result = query.startsWith('histogram_quantile')
      ? sample(40, 41)
      : query.includes('response_code')
        ? sample(0, canaryErrors)
        : sample(1000, 1000);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  const router = new LocalRouter({
    routes: [{ service: 'ai-gateway', backends: { v1: 'http://127.0.0.1:1', v2: 'http://127.0.0.1:2' } }],
  });
  let dataDir: string;
  let server: { url: string; close(): Promise<void> };

  before(async () => {
    await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
    await router.listen();
    dataDir = await mkdtemp(join(tmpdir(), 'rctl-canary-'));
    const { startServer } = await import('@runtime-control/server');
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        RC_CANARY_ROUTER: 'local',
        RC_LOCAL_ROUTER_URL: router.adminUrl,
        RC_PROMETHEUS_URL: `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`,
        RC_CANARY_INTERVAL_MS: '100',
      },
      print: () => {},
    });
  });

  after(async () => {
    await server?.close();
    await router.close();
    await new Promise<void>((r) => prometheus.close(() => r()));
    await rm(dataDir, { recursive: true, force: true });
  });

  const env = () => ({ RC_URL: server.url, RC_TOKEN: ADMIN_TOKEN, USER: 'e2e' });

  /** Runs `rctl` in-process, its output readable while it runs (for --watch). */
  function rctl(argv: string[]) {
    const live = { stdout: '', stderr: '' };
    const done = main(argv, {
      stdout: (s) => {
        live.stdout += s;
      },
      stderr: (s) => {
        live.stderr += s;
      },
      env: env(),
      cwd: process.cwd(),
    });
    return { live, done };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const startArgs = ['--to', 'v2', '--min-requests', '10', '--pin-user', 'tester'];

  it('holds at the --pause-at gate (seen by --watch) until promote, then the watch ends 0 on promotion', async () => {
    const start = await runCli(
      ['canary', 'start', 'ai-gateway', ...startArgs, '--steps', '10,50', '--pause-at', '10'],
      {
        env: env(),
      },
    );
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /pauses at 10% once each step passed; go on with: rctl canary promote ai-gateway/);
    const watch = rctl(['canary', 'status', 'ai-gateway', '--watch', '--poll-interval', '50ms']);
    await until(() => watch.live.stdout.includes('paused at the gate at 10%'), 'the gate in the watch output');
    // Analyses go on at the gate; nothing moves until promote.
    await until(() => /analysis pass: .*\n(.*\n)*.*analysis pass/.test(watch.live.stdout), 'two analyses');
    assert.deepEqual(router.routeTable()[0]?.weights, { v1: 90, v2: 10 });
    const promote = await runCli(['canary', 'promote', 'ai-gateway'], { env: env() });
    assert.equal(promote.code, 0, promote.stderr);
    assert.match(promote.stdout, /ai-gateway: progressing, v1 50% \/ v2 50%/);
    const code = await watch.done;
    const out = watch.live.stdout;
    assert.equal(code, 0, `${out}\n${watch.live.stderr}`);
    assert.match(out, /step 10%: gated — all checks passed at 10%; paused at the gate/);
    assert.match(out, /step 10%: applied/);
    assert.match(out, /step 10%: passed — gate at 10% opened by admin \(e2e\)/);
    assert.match(out, /step 100%: promoted/);
    assert.match(
      out,
      /analysis pass: ok request-count 1000 requests \(fewer of the two\) vs minimum 10; ok traffic-share/,
    );
    assert.match(out, /ok error-rate 0 % vs max 1 %/);
    assert.match(out, /ok p95-vs-stable v2 41 ms vs v1 40 ms: max 50 ms \(v1 × 1.25 or \+ 5 ms\)/);
    assert.match(out, /ai-gateway: promoted, v1 0% \/ v2 100%\n$/);
  });

  it('the watch exits 1 with the reason when the run is rolled back, even while it waits at a gate', async () => {
    const start = await runCli(['canary', 'start', 'ai-gateway', ...startArgs, '--pause-at', '5'], { env: env() });
    assert.equal(start.code, 0, start.stderr);
    const watch = rctl(['canary', 'status', 'ai-gateway', '--watch', '--poll-interval', '50ms']);
    await until(() => watch.live.stdout.includes('paused at the gate at 5%'), 'the gate');
    canaryErrors = 50;
    try {
      assert.equal(await watch.done, 1, watch.live.stdout);
    } finally {
      canaryErrors = 0;
    }
    assert.match(watch.live.stdout, /FAIL 5xx-vs-stable v2 5xx 5 % vs v1 0 %: spike above 0.5 %/);
    assert.match(watch.live.stdout, /ai-gateway: rolled back: 5xx spike, v1 100% \/ v2 0%/);
    assert.match(watch.live.stderr, /ai-gateway: rolled back: 5xx spike — rolled back: 5xx spike at 5%/);
  });

  it('promote: CANARY_NOT_PAUSED for a progressing run, --full promotes it; bad --poll-interval is a usage error', async () => {
    const start = await runCli(['canary', 'start', 'ai-gateway', '--to', 'v2', '--interval', '1h'], { env: env() });
    assert.equal(start.code, 0, start.stderr);
    const refused = await runCli(['canary', 'promote', 'ai-gateway'], { env: env() });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /CANARY_NOT_PAUSED/);
    const full = await runCli(['canary', 'promote', 'ai-gateway', '--full'], { env: env() });
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /ai-gateway: promoted, v1 0% \/ v2 100%/);
    // On a terminal the frame is redrawn in place (cursor home, clear), then the final line.
    let tty = '';
    const code = await main(['canary', 'status', 'ai-gateway', '--watch'], {
      stdout: (text) => {
        tty += text;
      },
      stderr: () => {},
      env: env(),
      cwd: process.cwd(),
      isTTY: true,
    });
    assert.equal(code, 0);
    assert.ok(tty.startsWith('\x1b[H\x1b[Jai-gateway v1 → v2: promoted by admin (e2e), v1 0% / v2 100%\n'), tty);
    assert.match(tty, /weight timeline:\n {3}5% {2}applied \d\d:\d\d:\d\d {2}skipped {5}promoted by admin \(e2e\)/);
    const badPoll = await runCli(['canary', 'status', 'ai-gateway', '--watch', '--poll-interval', 'fast'], {
      env: env(),
    });
    assert.equal(badPoll.code, 2);
    assert.match(badPoll.stderr, /--poll-interval must be a duration/);
    const badGate = await runCli(['canary', 'start', 'ai-gateway', '--to', 'v2', '--pause-at', '30'], { env: env() });
    assert.equal(badGate.code, 1);
    assert.match(badGate.stderr, /\/pauseAt\/0/);
  });
});
