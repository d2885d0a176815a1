import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Analysis,
  analyse,
  decide,
  type MetricsReading,
  rollbackOutcome,
  type VersionSample,
} from './canary-analysis.js';
import { type CanaryPlan, DEFAULT_THRESHOLDS, parseCanaryPlan } from './canary-plan.js';

const healthy = (over: Partial<VersionSample> = {}): VersionSample => ({
  requests: 1000,
  errors: 0,
  fiveXx: 0,
  p95Ms: 20,
  ...over,
});

const reading = (stable: VersionSample | undefined, canary: VersionSample | undefined): MetricsReading => ({
  ok: true,
  stable,
  canary,
});

const check = (analysis: Analysis, name: string) => analysis.checks.find((c) => c.name === name);

describe('analyse', () => {
  it('passes a canary that matches the stable version, recording every check with its value and bound', () => {
    const a = analyse(reading(healthy(), healthy()), DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'pass');
    assert.deepEqual(
      a.checks.map((c) => [c.name, c.status]),
      [
        ['request-count', 'pass'],
        ['error-rate', 'pass'],
        ['5xx-vs-stable', 'pass'],
        ['p95-vs-stable', 'pass'],
      ],
    );
    assert.equal(check(a, 'error-rate')?.threshold, 0.01);
    assert.equal(check(a, 'p95-vs-stable')?.value, 1);
    assert.equal(check(a, 'p95-vs-stable')?.threshold, 1.25);
    assert.deepEqual(a.canary, healthy());
  });

  it('is inconclusive (never a pass) when Prometheus failed, naming the error kind', () => {
    const a = analyse({ ok: false, errorKind: 'unreachable', error: 'ECONNREFUSED' }, DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'inconclusive');
    assert.equal(a.checks[0]?.name, 'prometheus');
    assert.match(a.checks[0]!.detail, /unreachable: ECONNREFUSED/);
  });

  it('is inconclusive when either version has no series at all', () => {
    assert.equal(analyse(reading(healthy(), undefined), DEFAULT_THRESHOLDS).outcome, 'inconclusive');
    assert.equal(analyse(reading(undefined, healthy()), DEFAULT_THRESHOLDS).outcome, 'inconclusive');
  });

  it('judges nothing below the minimum request count, even a canary failing every request', () => {
    const a = analyse(reading(healthy(), healthy({ requests: 49, errors: 49, fiveXx: 49 })), DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'inconclusive');
    assert.deepEqual(
      a.checks.map((c) => c.name),
      ['request-count'],
    );
    assert.equal(a.checks[0]?.value, 49);
    assert.equal(a.checks[0]?.threshold, 50);
  });

  it('needs the minimum on the stable version too (the relative checks compare with it)', () => {
    const a = analyse(reading(healthy({ requests: 10 }), healthy()), DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'inconclusive');
  });

  it('accepts exactly the minimum request count', () => {
    const a = analyse(reading(healthy({ requests: 50 }), healthy({ requests: 50 })), DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'pass');
  });

  it('fails an error rate above the bound and passes one exactly at it', () => {
    const over = analyse(reading(healthy(), healthy({ errors: 11, fiveXx: 0 })), DEFAULT_THRESHOLDS);
    assert.equal(over.outcome, 'fail');
    assert.equal(check(over, 'error-rate')?.status, 'fail');
    assert.equal(check(over, 'error-rate')?.value, 0.011);
    const at = analyse(reading(healthy(), healthy({ errors: 10 })), DEFAULT_THRESHOLDS);
    assert.equal(check(at, 'error-rate')?.status, 'pass');
  });

  it('fails 5% 5xx on both the error-rate and the 5xx-vs-stable checks', () => {
    const a = analyse(reading(healthy(), healthy({ errors: 50, fiveXx: 50 })), DEFAULT_THRESHOLDS);
    assert.equal(a.outcome, 'fail');
    assert.equal(check(a, 'error-rate')?.status, 'fail');
    assert.equal(check(a, '5xx-vs-stable')?.status, 'fail');
    assert.equal(check(a, '5xx-vs-stable')?.value, null, 'no ratio against a stable version with no 5xx');
  });

  it('compares 5xx with the stable version: 3% vs 2% passes ×2, 5% vs 2% fails', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, maxErrorRate: 1 };
    const stable = healthy({ fiveXx: 20, errors: 20 });
    const ok = analyse(reading(stable, healthy({ fiveXx: 30, errors: 30 })), thresholds);
    assert.equal(check(ok, '5xx-vs-stable')?.status, 'pass');
    assert.equal(check(ok, '5xx-vs-stable')?.value, 1.5);
    const spike = analyse(reading(stable, healthy({ fiveXx: 50, errors: 50 })), thresholds);
    assert.equal(check(spike, '5xx-vs-stable')?.status, 'fail');
    assert.equal(check(spike, '5xx-vs-stable')?.value, 2.5);
  });

  it('tolerates a small absolute 5xx difference against a stable version with none', () => {
    const a = analyse(reading(healthy(), healthy({ fiveXx: 4, errors: 4 })), DEFAULT_THRESHOLDS);
    assert.equal(check(a, '5xx-vs-stable')?.status, 'pass');
    assert.equal(a.outcome, 'pass');
  });

  it('fails a p95 three times the stable one and passes 1.2×', () => {
    const slow = analyse(reading(healthy({ p95Ms: 20 }), healthy({ p95Ms: 60 })), DEFAULT_THRESHOLDS);
    assert.equal(slow.outcome, 'fail');
    assert.equal(check(slow, 'p95-vs-stable')?.value, 3);
    assert.equal(check(slow, 'error-rate')?.status, 'pass');
    const fine = analyse(reading(healthy({ p95Ms: 20 }), healthy({ p95Ms: 24 })), DEFAULT_THRESHOLDS);
    assert.equal(check(fine, 'p95-vs-stable')?.status, 'pass');
  });

  it('passes a large p95 ratio when the difference is under the tolerance in ms', () => {
    const a = analyse(reading(healthy({ p95Ms: 1 }), healthy({ p95Ms: 4 })), DEFAULT_THRESHOLDS);
    assert.equal(check(a, 'p95-vs-stable')?.status, 'pass');
    assert.equal(check(a, 'p95-vs-stable')?.value, 4);
  });

  it('is inconclusive when a p95 is missing, unless another check already failed', () => {
    const missing = analyse(reading(healthy(), healthy({ p95Ms: null })), DEFAULT_THRESHOLDS);
    assert.equal(missing.outcome, 'inconclusive');
    assert.equal(check(missing, 'p95-vs-stable')?.status, 'no-data');
    const failing = analyse(reading(healthy(), healthy({ p95Ms: null, errors: 500, fiveXx: 500 })), DEFAULT_THRESHOLDS);
    assert.equal(failing.outcome, 'fail');
  });

  it('treats a stable p95 of zero as missing (no ratio can be formed)', () => {
    const a = analyse(reading(healthy({ p95Ms: 0 }), healthy()), DEFAULT_THRESHOLDS);
    assert.equal(check(a, 'p95-vs-stable')?.status, 'no-data');
  });
});

describe('analyse: each step on its own traffic', () => {
  it('fails traffic-share when the canary got nothing although its weight should have brought enough', () => {
    const a = analyse(reading(healthy({ requests: 500 }), undefined), DEFAULT_THRESHOLDS, { weight: 50 });
    assert.equal(a.outcome, 'fail');
    assert.equal(check(a, 'traffic-share')?.status, 'fail');
    assert.equal(check(a, 'traffic-share')?.value, 0);
    assert.equal(check(a, 'traffic-share')?.threshold, 0.5);
  });

  it('waits (inconclusive) while the weight cannot yet have brought the minimum to the canary', () => {
    // 5% of 600 is 30 < 50: too early to say anything, even with no canary requests.
    const a = analyse(reading(healthy({ requests: 600 }), undefined), DEFAULT_THRESHOLDS, { weight: 5 });
    assert.equal(a.outcome, 'inconclusive');
    assert.equal(check(a, 'request-count')?.status, 'no-data');
  });

  it('passes a share near the weight, fails one far off, and with pins only a shortfall', () => {
    const near = analyse(reading(healthy({ requests: 900 }), healthy({ requests: 110 })), DEFAULT_THRESHOLDS, {
      weight: 10,
    });
    assert.equal(check(near, 'traffic-share')?.status, 'pass');
    assert.equal(near.outcome, 'pass');
    const tooMuch = analyse(reading(healthy({ requests: 500 }), healthy({ requests: 500 })), DEFAULT_THRESHOLDS, {
      weight: 10,
    });
    assert.equal(check(tooMuch, 'traffic-share')?.status, 'fail');
    const pinned = analyse(reading(healthy({ requests: 500 }), healthy({ requests: 500 })), DEFAULT_THRESHOLDS, {
      weight: 10,
      pinned: true,
    });
    assert.equal(check(pinned, 'traffic-share')?.status, 'pass');
  });

  it('catches a uniform slowdown on the mean even when both p95 fall in one coarse bucket', () => {
    const a = analyse(
      reading(healthy({ p95Ms: 97.5, meanMs: 60 }), healthy({ p95Ms: 97.5, meanMs: 90 })),
      DEFAULT_THRESHOLDS,
    );
    assert.equal(check(a, 'p95-vs-stable')?.status, 'pass');
    assert.equal(check(a, 'mean-vs-stable')?.status, 'fail');
    assert.equal(check(a, 'mean-vs-stable')?.value, 1.5);
    const slight = analyse(
      reading(healthy({ p95Ms: 66, meanMs: 60 }), healthy({ p95Ms: 72, meanMs: 66 })),
      DEFAULT_THRESHOLDS,
    );
    assert.equal(slight.outcome, 'pass');
  });

  it('needs at least spikeMinErrors 5xx for a spike: two stray 5xx in 60 requests are not one', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, maxErrorRate: 1 };
    const two = analyse(reading(healthy(), healthy({ requests: 60, fiveXx: 2, errors: 2 })), thresholds);
    assert.equal(check(two, '5xx-vs-stable')?.status, 'pass');
    const eight = analyse(reading(healthy(), healthy({ requests: 60, fiveXx: 8, errors: 8 })), thresholds);
    assert.equal(check(eight, '5xx-vs-stable')?.status, 'fail');
  });
});

describe('decide', () => {
  const plan: CanaryPlan = parseCanaryPlan({
    canary: 'v2',
    failureThreshold: 2,
    missingData: { limit: 2, action: 'rollback' },
  });
  const start = { stepIndex: 0, failedChecks: 0, inconclusiveStreak: 0 };
  const pass = analyse(reading(healthy(), healthy()), DEFAULT_THRESHOLDS);
  const none = analyse({ ok: false, errorKind: 'unreachable', error: 'down' }, DEFAULT_THRESHOLDS);

  it('advances along the runbook steps 5 → 10 → 25 → 50 and promotes at 100', () => {
    let progress = start;
    const weights: number[] = [plan.steps[0]!];
    const actions: string[] = [];
    for (let i = 0; i < 4; i++) {
      const d = decide(plan, progress, pass);
      actions.push(d.action);
      weights.push(d.canaryWeight);
      progress = d.next;
    }
    assert.deepEqual(weights, [5, 10, 25, 50, 100]);
    assert.deepEqual(actions, ['advance', 'advance', 'advance', 'promote']);
  });

  const latency = analyse(reading(healthy(), healthy({ p95Ms: 200 })), DEFAULT_THRESHOLDS);
  const spike = analyse(reading(healthy(), healthy({ errors: 100, fiveXx: 100 })), DEFAULT_THRESHOLDS);

  it('rolls back at once on a 5xx spike, whatever the failure threshold', () => {
    assert.equal(check(spike, '5xx-vs-stable')?.status, 'fail');
    const d = decide(plan, start, spike);
    assert.equal(d.action, 'rollback');
    assert.equal(d.cause, 'spike');
    assert.equal(d.canaryWeight, 0);
    assert.match(d.reason, /^rolled back: 5xx spike at 5%/);
    assert.equal(rollbackOutcome('spike'), 'rolled back: 5xx spike');
  });

  it('counts other failures in a row (a pass resets them) and rolls back at the threshold', () => {
    const first = decide(plan, start, latency);
    assert.equal(first.action, 'fail-check');
    assert.equal(first.canaryWeight, 5);
    assert.equal(first.next.failedChecks, 1);
    assert.match(first.reason, /p95-vs-stable failed \(1\/2 in a row\)/);
    const passed = decide(plan, first.next, pass);
    assert.equal(passed.action, 'advance');
    assert.equal(passed.next.failedChecks, 0);
    const again = decide(plan, passed.next, latency);
    assert.equal(again.action, 'fail-check');
    const second = decide(plan, again.next, latency);
    assert.equal(second.action, 'rollback');
    assert.equal(second.cause, 'failed-checks');
    assert.equal(second.canaryWeight, 0);
  });

  it('rolls back on the first failure with a threshold of 1', () => {
    const strict = { ...plan, failureThreshold: 1 };
    assert.equal(decide(strict, start, latency).action, 'rollback');
  });

  it('holds on missing data by time, never advancing, and rolls back "not enough data" after maxHold', () => {
    const timed = parseCanaryPlan({ canary: 'v2', interval: '10s', missingData: { maxHold: '25s' } });
    assert.equal(timed.missingData.maxHoldMs, 25_000);
    const t0 = 1_000_000;
    const h1 = decide(timed, { ...start, holdingSinceMs: t0 }, none, t0 + 10_000);
    assert.equal(h1.action, 'hold');
    assert.equal(h1.canaryWeight, 5);
    assert.equal(h1.next.holdingSinceMs, t0);
    const h2 = decide(timed, h1.next, none, t0 + 20_000);
    assert.equal(h2.action, 'hold');
    const h3 = decide(timed, h2.next, none, t0 + 25_000);
    assert.equal(h3.action, 'rollback');
    assert.equal(h3.cause, 'not-enough-data');
    assert.equal(h3.canaryWeight, 0);
    assert.match(h3.reason, /^rolled back: not enough data for 25000 ms/);
    assert.equal(rollbackOutcome('not-enough-data'), 'rolled back: not enough data');
  });

  it('keeps the older missingData.limit as limit × interval', () => {
    assert.equal(plan.missingData.maxHoldMs, 2 * plan.intervalMs);
  });

  it('resets the hold after a conclusive analysis', () => {
    const h1 = decide(plan, { ...start, holdingSinceMs: 0 }, none, 1);
    const passed = decide(plan, h1.next, pass, 2);
    assert.equal(passed.next.inconclusiveStreak, 0);
    assert.equal(passed.next.holdingSinceMs, null);
    const failed = decide(plan, h1.next, latency, 2);
    assert.equal(failed.next.inconclusiveStreak, 0);
    assert.equal(failed.next.holdingSinceMs, null);
  });

  it('pauses instead of rolling back when the policy says so', () => {
    const pausing = { ...plan, missingData: { maxHoldMs: 0, action: 'pause' as const } };
    const d = decide(pausing, { ...start, stepIndex: 2 }, none);
    assert.equal(d.action, 'pause');
    assert.equal(d.canaryWeight, 25);
  });

  it('never promotes on missing data, even at the last step before 100', () => {
    const atFifty = { stepIndex: 3, failedChecks: 0, inconclusiveStreak: 0 };
    for (let i = 0; i < 5; i++) assert.notEqual(decide(plan, atFifty, none, i * 1000).action, 'promote');
    assert.equal(decide(plan, atFifty, pass).action, 'promote');
  });

  it('promotes after the last listed step of a plan that stops short of 100', () => {
    const short = parseCanaryPlan({ canary: 'v2', steps: [5, 10, 25] });
    assert.deepEqual(short.steps, [5, 10, 25, 100]);
    assert.equal(decide(short, { stepIndex: 2, failedChecks: 0, inconclusiveStreak: 0 }, pass).action, 'promote');
  });
});
