import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalRouter } from '@runtime-control/traffic';
import { createSqliteStore } from '../../store/sqlite-store.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * The canary API through the server: a local router (its admin port, as RC_LOCAL_ROUTER_URL) and a stub Prometheus
 * answering the analysis queries with whatever the test sets. The controller logic itself is tested in the traffic
 * package (unit, and end to end against a real Prometheus); this checks wiring, persistence, validation and errors.
 */

type Vector = { metric: Record<string, string>; value: [number, string] }[];

class StubPrometheus {
  private server: http.Server | undefined;
  url = '';
  canaryErrors = 0;
  down = false;

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (this.down) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'stub is down' }));
        return;
      }
      const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      const sample = (v1: number, v2: number): Vector => [
        { metric: { destination_version: 'v1' }, value: [Date.now() / 1000, String(v1)] },
        { metric: { destination_version: 'v2' }, value: [Date.now() / 1000, String(v2)] },
      ];
      let result: Vector;
      if (query.startsWith('histogram_quantile')) result = sample(40, 41);
      else if (query.includes('response_code')) result = sample(0, this.canaryErrors);
      else result = sample(1000, 1000);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

describe('canaries API', () => {
  const prometheus = new StubPrometheus();
  const router = new LocalRouter({
    routes: [
      { service: 'ai-gateway', backends: { v1: 'http://127.0.0.1:1', v2: 'http://127.0.0.1:2' } },
      { service: 'auth-service', backends: { v1: 'http://127.0.0.1:1', v2: 'http://127.0.0.1:2' } },
    ],
  });
  let dir: string;
  let t: TestApp;
  let env: Record<string, string>;

  before(async () => {
    await prometheus.listen();
    await router.listen();
    dir = await mkdtemp(join(tmpdir(), 'rc-canaries-'));
    env = {
      RC_CANARY_ROUTER: 'local',
      RC_LOCAL_ROUTER_URL: router.adminUrl,
      RC_PROMETHEUS_URL: prometheus.url,
      RC_CANARY_INTERVAL_MS: '100',
    };
    t = await createTestApp(env, await createSqliteStore(join(dir, 'rc.db')));
  });

  after(async () => {
    await t.close();
    await router.close();
    await prometheus.close();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (url: string, payload?: object | string) =>
    t.app.inject({ method: 'POST', url, headers: t.admin, ...(payload !== undefined ? { payload } : {}) });
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.admin });

  async function waitFor(service: string, done: (body: { phase: string; canaryWeight: number }) => boolean) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = (await get(`/api/admin/canaries/${service}`)).json();
      if ((done(body) && body.routerSynced) || Date.now() > deadline) return body;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('validates the start request with a code and a path for every problem', async () => {
    const res = await post('/api/admin/canaries', { service: 'AI', to: 'v1', steps: [10, 5], colour: 'red' });
    assert.equal(res.statusCode, 400);
    const { error } = res.json();
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.deepEqual(
      error.details.map((d: { path: string }) => d.path),
      ['/colour', '/service', '/to', '/steps/1'],
    );
    assert.equal((await post('/api/admin/canaries', 'nope')).statusCode, 400);
    const notify = await post('/api/admin/canaries', { service: 'ai-gateway', to: 'v2', notify: { url: 'ftp://x' } });
    assert.equal(notify.statusCode, 400);
    assert.equal(notify.json().error.details[0].path, '/notify/url');
    assert.equal((await get('/api/admin/canaries/Bad_Name')).json().error.path, 'service');
  });

  it('starts a canary, moves the router, records decisions and promotes a healthy canary', async () => {
    const res = await post('/api/admin/canaries', {
      service: 'ai-gateway',
      to: 'v2',
      window: '30s',
      thresholds: { minRequests: 10 },
      pins: { values: ['tester'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    const started = res.json();
    assert.equal(started.phase, 'progressing');
    // The stub answers 1000 req/s per version: 100 req/s at 5% is plenty for 10 requests; no warning.
    assert.deepEqual(started.traffic.warnings, []);
    assert.equal(started.traffic.requestsPerSecond, 2000);
    assert.deepEqual(started.weights, { v1: 95, v2: 5 });
    assert.equal(started.decisions[0].action, 'start');
    assert.equal(started.decisions[0].actor, 'admin');
    assert.deepEqual(router.routeTable()[0]?.pins, { header: 'x-user', values: ['tester'], version: 'v2' });

    const final = await waitFor('ai-gateway', (b) => b.phase === 'promoted');
    assert.equal(final.phase, 'promoted');
    assert.deepEqual(router.routeTable()[0]?.weights, { v1: 0, v2: 100 });
    const body = (await get('/api/admin/canaries/ai-gateway')).json();
    assert.deepEqual(
      body.decisions.map((d: { action: string }) => d.action),
      ['start', 'advance', 'advance', 'advance', 'promote'],
    );
    const promote = body.decisions.at(-1);
    assert.equal(promote.checks.find((c: { name: string }) => c.name === 'error-rate').threshold, 0.01);
    assert.equal(promote.canary.requests, 1000);

    const list = (await get('/api/admin/canaries')).json();
    assert.deepEqual(
      list.canaries.map((c: { service: string; phase: string }) => [c.service, c.phase]),
      [['ai-gateway', 'promoted']],
    );
    const metrics = (await t.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /rc_canary_weight\{service="ai-gateway",version="v2"\} 100/);
    assert.match(metrics, /rc_canary_status\{service="ai-gateway"\} 1/);
    assert.match(metrics, /rc_canary_phase\{service="ai-gateway",phase="promoted"\} 1/);
    assert.match(metrics, /rc_canary_phase\{service="ai-gateway",phase="progressing"\} 0/);
    assert.match(metrics, /rc_canary_decisions_total\{service="ai-gateway",decision="promote"\} 1/);
  });

  it('pauses, resumes and aborts by command; refuses impossible transitions and unknown services', async () => {
    prometheus.canaryErrors = 0;
    const started = await post('/api/admin/canaries', { service: 'auth-service', to: 'v2', interval: '1h' });
    assert.equal(started.statusCode, 201, started.body);
    // An hour-long interval: this run is surely still active (a fast one may already have been promoted).
    const again = await post('/api/admin/canaries', { service: 'auth-service', to: 'v2' });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'CANARY_ACTIVE');
    assert.equal((await post('/api/admin/canaries/auth-service/pause')).json().phase, 'paused');
    const twice = await post('/api/admin/canaries/auth-service/pause');
    assert.equal(twice.statusCode, 409);
    assert.equal(twice.json().error.code, 'CANARY_INVALID_TRANSITION');
    assert.equal((await post('/api/admin/canaries/auth-service/resume')).json().phase, 'progressing');
    const aborted = (await post('/api/admin/canaries/auth-service/abort')).json();
    assert.equal(aborted.phase, 'aborted');
    assert.deepEqual(router.routeTable()[1]?.weights, { v1: 100, v2: 0 });
    assert.equal((await post('/api/admin/canaries/auth-service/promote')).statusCode, 409);
    const missing = await get('/api/admin/canaries/nope');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'CANARY_NOT_FOUND');
  });

  it('rolls back a failing canary and shows why', async () => {
    prometheus.canaryErrors = 50;
    const started = await post('/api/admin/canaries', {
      service: 'ai-gateway',
      to: 'v2',
      failureThreshold: 2,
      thresholds: { minRequests: 10 },
    });
    assert.equal(started.statusCode, 201, started.body);
    const final = await waitFor('ai-gateway', (b) => b.phase === 'rolled_back');
    assert.equal(final.phase, 'rolled_back');
    const body = (await get('/api/admin/canaries/ai-gateway')).json();
    // 5% 5xx against none on v1 is a spike: rolled back at the first analysis, whatever the failure threshold.
    assert.deepEqual(
      body.decisions.map((d: { action: string }) => d.action),
      ['start', 'rollback'],
    );
    assert.equal(body.outcome, 'rolled back: 5xx spike');
    const errorRate = body.decisions[1].checks.find((c: { name: string }) => c.name === 'error-rate');
    assert.deepEqual([errorRate.status, errorRate.value, errorRate.threshold], ['fail', 0.05, 0.01]);
    assert.deepEqual(router.routeTable()[0]?.weights, { v1: 100, v2: 0 });
    prometheus.canaryErrors = 0;
  });

  it('warns at start when the first step cannot collect the minimum requests within the max hold', async () => {
    const res = await post('/api/admin/canaries', {
      service: 'auth-service',
      to: 'v2',
      interval: '1h',
      thresholds: { minRequests: 1_000_000 },
      missingData: { maxHold: '2m' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const { traffic } = res.json();
    assert.equal(traffic.requestsPerSecond, 2000);
    assert.equal(traffic.secondsToMinRequests, 10_000); // 1e6 ÷ (2000 × 5%)
    assert.match(traffic.warnings[0], /at 2000 req\/s, v2 at 5% needs ~10000 s .* more than the max hold \(120 s\)/);
    assert.match(traffic.warnings[0], /--min-requests 12000 or less/);
    await post('/api/admin/canaries/auth-service/abort');
  });

  it('resumes a run after a restart from the state in the database', async () => {
    const started = await post('/api/admin/canaries', { service: 'auth-service', to: 'v2', interval: '1h' });
    assert.equal(started.statusCode, 201, started.body);
    await router.setWeights({ service: 'auth-service' }, { v1: 100, v2: 0 }); // the router "restarted"
    await t.close();
    t = await createTestApp(env, await createSqliteStore(join(dir, 'rc.db')));
    // The new server re-applies the run's split in the background, then carries on from the stored state.
    const deadline = Date.now() + 5000;
    while (router.routeTable()[1]?.weights.v2 !== 5 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(router.routeTable()[1]?.weights, { v1: 95, v2: 5 });
    const body = (await get('/api/admin/canaries/auth-service')).json();
    assert.equal(body.phase, 'progressing');
    assert.equal(body.decisions.length, 1);
    await post('/api/admin/canaries/auth-service/abort');
  });

  it('pauses at a manual gate until promote, shows the timeline and the last checks, and still rolls back there', async () => {
    prometheus.canaryErrors = 0;
    const bad = await post('/api/admin/canaries', { service: 'ai-gateway', to: 'v2', steps: [10, 50], pauseAt: [30] });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.details[0].path, '/pauseAt/0');
    const res = await post('/api/admin/canaries', {
      service: 'ai-gateway',
      to: 'v2',
      steps: [10, 50],
      pauseAt: [10],
      thresholds: { minRequests: 10 },
      pins: { values: ['tester'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().plan.pauseAt, [10]);
    assert.equal(res.json().gate, null);
    const gated = await waitFor('ai-gateway', (b) => b.phase === 'paused');
    assert.equal(gated.phase, 'paused');
    assert.equal(gated.canaryWeight, 10);
    assert.equal(gated.gate.weight, 10);
    assert.equal(gated.history.length, 1);
    assert.equal(gated.history[0].outcome, 'gated');
    assert.ok(gated.history[0].appliedAt, 'the step records when the router applied it');
    const errorRate = gated.lastAnalysis.checks.find((c: { name: string }) => c.name === 'error-rate');
    assert.deepEqual([errorRate.status, errorRate.value, errorRate.threshold], ['pass', 0, 0.01]);
    assert.equal(gated.lastAnalysis.canary.requests, 1000);
    assert.equal(gated.lastAnalysis.stable.p95Ms, 40);
    assert.match(
      (await t.app.inject({ url: '/metrics' })).body,
      /rc_canary_phase\{service="ai-gateway",phase="paused"\} 1/,
    );
    // Analyses go on at the gate (each a hold); nothing moves until promote.
    const holding = await waitFor('ai-gateway', (b) =>
      (b as unknown as { decisions: { action: string }[] }).decisions.some((d) => d.action === 'hold'),
    );
    assert.equal(holding.canaryWeight, 10);
    assert.deepEqual(router.routeTable()[0]?.weights, { v1: 90, v2: 10 });
    const resume = await post('/api/admin/canaries/ai-gateway/resume');
    assert.equal(resume.statusCode, 409);
    assert.match(resume.json().error.message, /waiting at its gate at 10%/);
    const opened = await post('/api/admin/canaries/ai-gateway/promote');
    assert.equal(opened.statusCode, 200, opened.body);
    assert.equal(opened.json().phase, 'progressing');
    assert.equal(opened.json().canaryWeight, 50);
    const final = await waitFor('ai-gateway', (b) => b.phase === 'promoted');
    assert.equal(final.phase, 'promoted');
    assert.deepEqual(
      (final as unknown as { history: { weight: number; outcome: string }[] }).history.map((h) => [
        h.weight,
        h.outcome,
      ]),
      [
        [10, 'passed'],
        [50, 'passed'],
        [100, 'promoted'],
      ],
    );
    const late = await post('/api/admin/canaries/ai-gateway/promote');
    assert.equal(late.statusCode, 409);
    assert.equal(late.json().error.code, 'CANARY_NOT_PAUSED');

    // A gate never shields a bad release: a spike while waiting rolls back.
    await post('/api/admin/canaries', {
      service: 'ai-gateway',
      to: 'v2',
      pauseAt: [5],
      thresholds: { minRequests: 10 },
      pins: { values: ['tester'] },
    });
    await waitFor('ai-gateway', (b) => b.phase === 'paused');
    prometheus.canaryErrors = 50;
    const rolledBack = await waitFor('ai-gateway', (b) => b.phase === 'rolled_back');
    prometheus.canaryErrors = 0;
    assert.equal(rolledBack.phase, 'rolled_back');
    assert.equal((rolledBack as unknown as { outcome: string }).outcome, 'rolled back: 5xx spike');
  });

  it('promote: 409 CANARY_NOT_PAUSED on a progressing run, full=true skips to 100%, 404 unknown, 400 bad query', async () => {
    const started = await post('/api/admin/canaries', { service: 'auth-service', to: 'v2', interval: '1h' });
    assert.equal(started.statusCode, 201, started.body);
    const notPaused = await post('/api/admin/canaries/auth-service/promote');
    assert.equal(notPaused.statusCode, 409);
    assert.equal(notPaused.json().error.code, 'CANARY_NOT_PAUSED');
    const badFull = await post('/api/admin/canaries/auth-service/promote?full=yes');
    assert.equal(badFull.statusCode, 400);
    assert.equal(badFull.json().error.path, 'full');
    const unknownParam = await post('/api/admin/canaries/auth-service/promote?fast=true');
    assert.equal(unknownParam.statusCode, 400);
    assert.equal(unknownParam.json().error.path, 'fast');
    const missing = await post('/api/admin/canaries/nope/promote');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'CANARY_NOT_FOUND');
    const full = await post('/api/admin/canaries/auth-service/promote?full=true');
    assert.equal(full.statusCode, 200, full.body);
    assert.equal(full.json().phase, 'promoted');
    assert.deepEqual(
      full.json().history.map((h: { weight: number; outcome: string }) => [h.weight, h.outcome]),
      [
        [5, 'skipped'],
        [100, 'promoted'],
      ],
    );
  });

  it('answers 503 when no router is configured', async () => {
    const bare = await createTestApp();
    try {
      const res = await bare.app.inject({ method: 'GET', url: '/api/admin/canaries', headers: bare.admin });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().error.code, 'CANARIES_DISABLED');
    } finally {
      await bare.close();
    }
  });
});
