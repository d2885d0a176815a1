import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../http-client.js';
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
