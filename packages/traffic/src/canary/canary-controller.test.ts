import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { ReadOptions } from '../metrics/canary-queries.js';
import type { PinRoute, RouteRef, TrafficRouter, VersionWeights } from '../routers/traffic-router.js';
import type { MetricsReading, VersionSample } from './canary-analysis.js';
import { CanaryController, CanaryError } from './canary-controller.js';
import { parseCanaryPlan } from './canary-plan.js';
import { InMemoryCanaryStateStore } from './canary-state.js';

const healthy: VersionSample = { requests: 500, errors: 0, fiveXx: 0, p95Ms: 50 };
const failing: VersionSample = { requests: 500, errors: 50, fiveXx: 50, p95Ms: 50 };
const slow: VersionSample = { requests: 500, errors: 0, fiveXx: 0, p95Ms: 150 };

class FakeRouter implements TrafficRouter {
  readonly kind = 'fake';
  calls: { weights: VersionWeights; pins?: PinRoute }[] = [];
  failNext = 0;
  async setWeights(_route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('router down');
    }
    this.calls.push({ weights, ...(pins ? { pins } : {}) });
  }
}

function setup(store = new InMemoryCanaryStateStore()) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const router = new FakeRouter();
  let reading: MetricsReading = { ok: true, stable: healthy, canary: healthy };
  const reads: ReadOptions[] = [];
  const registry = new Registry();
  const controller = new CanaryController({
    store,
    router,
    metrics: {
      read: async (_target, _versions, options) => {
        reads.push(options ?? {});
        return reading;
      },
    },
    now: () => now,
    registry,
  });
  return {
    store,
    reads,
    get now() {
      return now;
    },
    router,
    registry,
    controller,
    setReading(r: MetricsReading) {
      reading = r;
    },
    async advance(ms: number) {
      now += ms;
      await controller.tick();
    },
  };
}

const plan = parseCanaryPlan({
  canary: 'v2',
  interval: '10s',
  failureThreshold: 2,
  missingData: { maxHold: '15s' },
  pins: { values: ['tester'] },
});

describe('CanaryController', () => {
  it('applies the first step with the pin route, then waits a full interval before analysing', async () => {
    const t = setup();
    const status = await t.controller.start('ai-gateway', plan, 'alice');
    assert.equal(status.state.phase, 'progressing');
    assert.equal(status.state.canaryWeight, 5);
    assert.deepEqual(t.router.calls, [
      { weights: { v1: 95, v2: 5 }, pins: { header: 'x-user', values: ['tester'], version: 'v2' } },
    ]);
    assert.equal((await t.controller.status('ai-gateway')).state.routerSynced, true);
    await t.advance(9_999);
    assert.equal(t.router.calls.length, 1, 'no analysis before the interval');
    await t.advance(1);
    assert.equal((await t.controller.status('ai-gateway')).state.canaryWeight, 10);
  });

  it('promotes step by step, drops the pin route at the end and records every decision', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    for (let i = 0; i < 4; i++) await t.advance(10_000);
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'promoted');
    assert.deepEqual(
      t.router.calls.map((c) => c.weights.v2),
      [5, 10, 25, 50, 100],
    );
    assert.equal(t.router.calls.at(-1)?.pins, undefined);
    assert.deepEqual(
      decisions.map((d) => [d.action, d.actor, d.fromWeight, d.toWeight]),
      [
        ['start', 'alice', 0, 5],
        ['advance', 'controller', 5, 10],
        ['advance', 'controller', 10, 25],
        ['advance', 'controller', 25, 50],
        ['promote', 'controller', 50, 100],
      ],
    );
    const metrics = await t.registry.metrics();
    assert.match(metrics, /rc_canary_weight\{service="ai-gateway",version="v2"\} 100/);
    assert.match(metrics, /rc_canary_status\{service="ai-gateway"\} 1/);
    assert.match(metrics, /rc_canary_decisions_total\{service="ai-gateway",decision="advance"\} 3/);
    await t.advance(60_000);
    assert.equal(t.router.calls.length, 5, 'a finished run does nothing more');
  });

  it('judges each step only on traffic since its weight was applied, with a query timeout inside the interval', async () => {
    const t = setup();
    const t0 = t.now;
    await t.controller.start('ai-gateway', plan, 'alice');
    await t.advance(10_000); // → 10%, applied at t0 + 10 s
    t.setReading({ ok: false, errorKind: 'timeout', error: 'slow' });
    await t.advance(10_000); // inconclusive: the next window still starts at the weight change
    t.setReading({ ok: true, stable: healthy, canary: healthy });
    await t.advance(10_000);
    assert.deepEqual(
      t.reads.map((r) => [(r.range!.fromMs - t0) / 1000, (r.range!.toMs - t0) / 1000]),
      [
        [0, 10],
        [10, 20],
        [10, 30],
      ],
    );
    assert.ok(t.reads.every((r) => r.timeoutMs === 2500));
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.canaryWeight, 25);
    assert.deepEqual(decisions.at(-1)?.window, {
      from: new Date(t0 + 10_000).toISOString(),
      to: new Date(t0 + 30_000).toISOString(),
    });
  });

  it('rolls back at once on a 5xx spike, with the outcome saying so', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    t.setReading({ ok: true, stable: healthy, canary: failing });
    await t.advance(10_000);
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'rolled_back');
    assert.equal(state.outcome, 'rolled back: 5xx spike');
    assert.equal(decisions.at(-1)?.cause, 'spike');
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 100, v2: 0 });
  });

  it('rolls back after the failure threshold and exports the failed checks', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    t.setReading({ ok: true, stable: healthy, canary: slow });
    await t.advance(10_000);
    assert.match(await t.registry.metrics(), /rc_canary_failed_checks\{service="ai-gateway"\} 1/);
    await t.advance(10_000);
    const { state } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'rolled_back');
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 100, v2: 0 });
    const metrics = await t.registry.metrics();
    assert.match(metrics, /rc_canary_status\{service="ai-gateway"\} 2/);
    assert.match(metrics, /rc_canary_phase\{service="ai-gateway",phase="rolled_back"\} 1/);
    assert.match(metrics, /rc_canary_phase\{service="ai-gateway",phase="progressing"\} 0/);
    assert.match(metrics, /rc_canary_weight\{service="ai-gateway",version="v2"\} 0/);
  });

  it('resumes after a restart from the persisted state, on the persisted schedule', async () => {
    const store = new InMemoryCanaryStateStore();
    const first = setup(store);
    await first.controller.start('ai-gateway', plan, 'alice');
    await first.advance(10_000); // → 10%
    // A new process: same store, new controller, new router (which lost its routes).
    const second = setup(store);
    await second.controller.init();
    assert.deepEqual(second.router.calls.at(-1)?.weights, { v1: 90, v2: 10 }, 'the wanted split is re-applied');
    await second.advance(20_000); // its clock starts at the same instant; the analysis was due at +20 s
    assert.equal((await second.controller.status('ai-gateway')).state.canaryWeight, 25);
    const { decisions } = await second.controller.status('ai-gateway');
    assert.deepEqual(
      decisions.map((d) => d.action),
      ['start', 'advance', 'advance'],
    );
  });

  it('keeps a decision the router refused and re-applies it on the next tick, without analysing meanwhile', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    t.setReading({ ok: true, stable: healthy, canary: slow });
    await t.advance(10_000);
    t.router.failNext = 2;
    await t.advance(10_000); // rollback decided; the router fails
    let state = (await t.controller.status('ai-gateway')).state;
    assert.equal(state.phase, 'rolled_back');
    assert.equal(state.routerSynced, false);
    assert.match(state.routerError ?? '', /router down/);
    await t.advance(100); // still failing
    await t.advance(100); // applied
    state = (await t.controller.status('ai-gateway')).state;
    assert.equal(state.routerSynced, true);
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 100, v2: 0 });
    const actions = (await t.controller.status('ai-gateway')).decisions.map((d) => d.action);
    assert.equal(actions.filter((a) => a === 'router-error').length, 1, 'a repeated router error is recorded once');
  });

  it('holds on missing data and rolls back "not enough data" once maxHold has passed', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    t.setReading({ ok: false, errorKind: 'unreachable', error: 'connection refused' });
    await t.advance(10_000);
    assert.equal((await t.controller.status('ai-gateway')).state.canaryWeight, 5);
    await t.advance(10_000);
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'rolled_back');
    assert.equal(state.outcome, 'rolled back: not enough data');
    assert.deepEqual(
      decisions.map((d) => d.action),
      ['start', 'hold', 'rollback'],
    );
    assert.equal(decisions[2]!.cause, 'not-enough-data');
    assert.match(decisions[1]!.reason, /unreachable: connection refused/);
  });

  it('pauses, resumes, promotes and aborts by command, refusing impossible transitions', async () => {
    const t = setup();
    await assert.rejects(
      t.controller.pause('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_NOT_FOUND',
    );
    await t.controller.start('ai-gateway', plan, 'alice');
    await assert.rejects(
      t.controller.start('ai-gateway', plan, 'alice'),
      (e) => e instanceof CanaryError && e.code === 'CANARY_ACTIVE',
    );
    await t.controller.pause('ai-gateway', 'bob');
    await t.advance(60_000);
    assert.equal((await t.controller.status('ai-gateway')).state.canaryWeight, 5, 'paused: no analysis');
    await assert.rejects(
      t.controller.pause('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_INVALID_TRANSITION',
    );
    await t.controller.resume('ai-gateway', 'bob');
    await t.advance(10_000);
    assert.equal((await t.controller.status('ai-gateway')).state.canaryWeight, 10);
    const aborted = await t.controller.abort('ai-gateway', 'bob');
    assert.equal(aborted.state.phase, 'aborted');
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 100, v2: 0 });
    await assert.rejects(
      t.controller.promote('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_NOT_PAUSED',
    );
    await assert.rejects(
      t.controller.promote('ai-gateway', 'bob', { full: true }),
      (e) => (e as CanaryError).code === 'CANARY_INVALID_TRANSITION',
    );
    // A finished run can be replaced by a new one, with its own decision log.
    const again = await t.controller.start('ai-gateway', plan, 'alice');
    assert.equal(again.decisions.length, 1);
    await assert.rejects(
      t.controller.promote('ai-gateway', 'carol'),
      (e) => (e as CanaryError).code === 'CANARY_NOT_PAUSED',
      'a step-by-step promote needs a paused run',
    );
    const promoted = await t.controller.promote('ai-gateway', 'carol', { full: true });
    assert.equal(promoted.state.phase, 'promoted');
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 0, v2: 100 });
    assert.equal(promoted.decisions.at(-1)?.actor, 'carol');
    assert.deepEqual(
      promoted.state.history?.map((h) => [h.weight, h.outcome]),
      [
        [5, 'skipped'],
        [100, 'promoted'],
      ],
    );
  });

  it('keeps a weight timeline: each step with when it was decided and applied, and how it ended', async () => {
    const t = setup();
    const t0 = t.now;
    await t.controller.start('ai-gateway', plan, 'alice');
    await t.advance(10_000); // → 10%
    t.router.failNext = 1;
    await t.advance(10_000); // → 25% decided at +20 s; the router refuses
    await t.advance(500); // applied at +20.5 s
    t.setReading({ ok: true, stable: healthy, canary: failing });
    await t.advance(10_000); // spike → rolled back
    const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
    const { state } = await t.controller.status('ai-gateway');
    assert.deepEqual(
      state.history?.map((h) => [h.weight, h.decidedAt, h.appliedAt, h.endedAt, h.outcome]),
      [
        [5, iso(0), iso(0), iso(10), 'passed'],
        [10, iso(10), iso(10), iso(20), 'passed'],
        [25, iso(20), iso(20.5), iso(30.5), 'failed'],
        [0, iso(30.5), iso(30.5), null, 'rolled-back'],
      ],
    );
    assert.match(state.history?.[2]?.detail ?? '', /5xx spike at 25%/);
    assert.equal(state.history?.[3]?.detail, 'rolled back: 5xx spike');
  });
});

describe('CanaryController manual gates (pauseAt)', () => {
  // Pinned users (as in `plan`): the fake samples' 50/50 split then only fails the share check when short.
  const pins = { values: ['tester'] };
  const gated = parseCanaryPlan({ canary: 'v2', interval: '10s', failureThreshold: 2, pauseAt: [25], pins });

  async function atGate() {
    const t = setup();
    await t.controller.start('ai-gateway', gated, 'alice');
    await t.advance(10_000); // 5 → 10
    await t.advance(10_000); // 10 → 25
    await t.advance(10_000); // 25 passes: the gate
    return t;
  }

  it('pauses at the gate once its step has passed, visible in status, metrics and the decision log', async () => {
    const t = await atGate();
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'paused');
    assert.equal(state.canaryWeight, 25);
    assert.deepEqual(state.gate, { weight: 25, since: new Date(t.now).toISOString() });
    assert.equal(state.history?.at(-1)?.outcome, 'gated');
    assert.equal(decisions.at(-1)?.action, 'gate');
    assert.match(decisions.at(-1)?.reason ?? '', /paused at the gate/);
    const metrics = await t.registry.metrics();
    assert.match(metrics, /rc_canary_phase\{service="ai-gateway",phase="paused"\} 1/);
    assert.match(metrics, /rc_canary_status\{service="ai-gateway"\} 3/);
    assert.match(metrics, /rc_canary_decisions_total\{service="ai-gateway",decision="gate"\} 1/);
    // Passing analyses go on and hold at the gate; nothing moves without promote.
    for (let i = 0; i < 5; i++) await t.advance(10_000);
    const later = await t.controller.status('ai-gateway');
    assert.equal(later.state.phase, 'paused');
    assert.equal(later.state.canaryWeight, 25);
    assert.deepEqual(
      later.decisions.slice(-5).map((d) => d.action),
      ['hold', 'hold', 'hold', 'hold', 'hold'],
    );
    assert.deepEqual(
      t.router.calls.map((c) => c.weights.v2),
      [5, 10, 25],
    );
  });

  it('promote opens the gate: the next step, analysed as usual, then promotion', async () => {
    const t = await atGate();
    await assert.rejects(
      t.controller.resume('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_INVALID_TRANSITION' && /gate at 25%/.test((e as Error).message),
    );
    const opened = await t.controller.promote('ai-gateway', 'bob');
    assert.equal(opened.state.phase, 'progressing');
    assert.equal(opened.state.canaryWeight, 50);
    assert.equal(opened.state.gate, null);
    assert.deepEqual([opened.decisions.at(-1)?.action, opened.decisions.at(-1)?.actor], ['advance', 'bob']);
    assert.match(opened.decisions.at(-1)?.reason ?? '', /gate at 25% opened by bob; advancing to 50%/);
    await assert.rejects(
      t.controller.promote('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_NOT_PAUSED',
    );
    await t.advance(9_999);
    assert.equal((await t.controller.status('ai-gateway')).state.canaryWeight, 50, 'a full interval at 50% first');
    await t.advance(1);
    const { state } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'promoted');
    assert.deepEqual(
      state.history?.map((h) => [h.weight, h.outcome]),
      [
        [5, 'passed'],
        [10, 'passed'],
        [25, 'passed'],
        [50, 'passed'],
        [100, 'promoted'],
      ],
    );
    assert.equal(state.history?.[2]?.detail, 'gate at 25% opened by bob');
  });

  it('promote at a gate on the last step before 100 promotes', async () => {
    const t = setup();
    await t.controller.start(
      'ai-gateway',
      parseCanaryPlan({ canary: 'v2', interval: '10s', steps: [20], pauseAt: [20], pins }),
      'a',
    );
    await t.advance(10_000);
    assert.equal((await t.controller.status('ai-gateway')).state.phase, 'paused');
    const done = await t.controller.promote('ai-gateway', 'bob');
    assert.equal(done.state.phase, 'promoted');
    assert.equal(done.state.outcome, 'promoted by bob');
    assert.equal(done.decisions.at(-1)?.action, 'promote');
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 0, v2: 100 });
  });

  it('a gate never shields a bad release: a spike while waiting rolls back at once', async () => {
    const t = await atGate();
    t.setReading({ ok: true, stable: healthy, canary: failing });
    await t.advance(10_000);
    const { state } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'rolled_back');
    assert.equal(state.outcome, 'rolled back: 5xx spike');
    assert.equal(state.gate, null);
    assert.deepEqual(t.router.calls.at(-1)?.weights, { v1: 100, v2: 0 });
    await assert.rejects(
      t.controller.promote('ai-gateway', 'bob'),
      (e) => (e as CanaryError).code === 'CANARY_NOT_PAUSED',
    );
  });

  it('failed checks in a row while waiting roll back at the threshold', async () => {
    const t = await atGate();
    t.setReading({ ok: true, stable: healthy, canary: slow });
    await t.advance(10_000);
    assert.equal((await t.controller.status('ai-gateway')).state.phase, 'paused');
    await t.advance(10_000);
    const { state, decisions } = await t.controller.status('ai-gateway');
    assert.equal(state.phase, 'rolled_back');
    assert.equal(state.outcome, 'rolled back: failed checks');
    assert.deepEqual(
      decisions.slice(-3).map((d) => d.action),
      ['gate', 'fail-check', 'rollback'],
    );
  });

  it('promote also takes a run paused by hand one step on', async () => {
    const t = setup();
    await t.controller.start('ai-gateway', plan, 'alice');
    await t.controller.pause('ai-gateway', 'bob');
    const next = await t.controller.promote('ai-gateway', 'bob');
    assert.equal(next.state.phase, 'progressing');
    assert.equal(next.state.canaryWeight, 10);
    assert.match(next.decisions.at(-1)?.reason ?? '', /promoted by bob from a pause at 5%/);
  });
});
