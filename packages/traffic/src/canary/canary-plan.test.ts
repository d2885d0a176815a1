import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CanaryPlanError, formatDuration, parseCanaryPlan, parseDuration, serviceNameIssue } from './canary-plan.js';

function issues(input: unknown): { path: string; code: string }[] {
  try {
    parseCanaryPlan(input);
  } catch (error) {
    assert.ok(error instanceof CanaryPlanError);
    return error.issues.map(({ path, code }) => ({ path, code }));
  }
  assert.fail('expected a CanaryPlanError');
}

describe('parseCanaryPlan', () => {
  it('fills in the runbook defaults', () => {
    const plan = parseCanaryPlan({ canary: 'v2' });
    assert.equal(plan.stable, 'v1');
    assert.deepEqual(plan.steps, [5, 10, 25, 50, 100]);
    assert.equal(plan.intervalMs, 60_000);
    assert.equal(plan.window, '1m');
    assert.equal(plan.failureThreshold, 3);
    assert.equal(plan.thresholds.maxErrorRate, 0.01);
    assert.deepEqual(plan.missingData, { maxHoldMs: 5 * 60_000, action: 'rollback' });
    assert.equal(plan.pins, undefined);
  });

  it('takes the interval default from the caller (RC_CANARY_INTERVAL_MS) and durations as text', () => {
    assert.equal(parseCanaryPlan({ canary: 'v2' }, { intervalMs: 1000 }).intervalMs, 1000);
    assert.equal(parseCanaryPlan({ canary: 'v2', interval: '2m' }).intervalMs, 120_000);
    assert.equal(parseCanaryPlan({ canary: 'v2', intervalMs: 1500 }).intervalMs, 1500);
  });

  it('accepts a full plan with pins', () => {
    const plan = parseCanaryPlan({
      stable: 'v1',
      canary: 'v2',
      steps: [10, 50],
      window: '30s',
      failureThreshold: 1,
      thresholds: { maxErrorRate: 0.02, maxP95Ratio: 1.2, minRequests: 10 },
      missingData: { limit: 3, action: 'pause' },
      pins: { header: 'x-user', values: ['alice', 'bob', 'alice'] },
      virtualService: 'devmentor-routes',
      namespace: 'devmentor-app',
    });
    assert.deepEqual(plan.steps, [10, 50, 100]);
    assert.deepEqual(plan.pins, { header: 'x-user', values: ['alice', 'bob'] });
    assert.equal(plan.thresholds.maxP95Ratio, 1.2);
    assert.equal(plan.thresholds.max5xxRatio, 2, 'unset thresholds keep their defaults');
    assert.equal(plan.virtualService, 'devmentor-routes');
  });

  it('names the field of every problem', () => {
    assert.deepEqual(issues({}), [{ path: '/canary', code: 'INVALID_VALUE' }]);
    assert.deepEqual(issues({ canary: 'v1' }), [{ path: '/canary', code: 'INVALID_VALUE' }]);
    assert.deepEqual(issues({ canary: 'v2', steps: [5, 5] }), [{ path: '/steps/1', code: 'NOT_INCREASING' }]);
    assert.deepEqual(issues({ canary: 'v2', steps: [0, 101, 2.5] }), [
      { path: '/steps/0', code: 'INVALID_VALUE' },
      { path: '/steps/1', code: 'INVALID_VALUE' },
      { path: '/steps/2', code: 'INVALID_VALUE' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', steps: [] }), [{ path: '/steps', code: 'INVALID_VALUE' }]);
    assert.deepEqual(issues({ canary: 'v2', interval: 'soon' }), [{ path: '/interval', code: 'INVALID_VALUE' }]);
    assert.deepEqual(issues({ canary: 'v2', window: '1d' }), [{ path: '/window', code: 'INVALID_VALUE' }]);
    assert.deepEqual(issues({ canary: 'v2', failureThreshold: 0 }), [
      { path: '/failureThreshold', code: 'INVALID_VALUE' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', thresholds: { maxErrorRate: 2, bogus: 1 } }), [
      { path: '/thresholds/bogus', code: 'UNKNOWN_PROPERTY' },
      { path: '/thresholds/maxErrorRate', code: 'INVALID_VALUE' },
    ]);
    // Inherited names are not thresholds (own properties only).
    assert.deepEqual(issues({ canary: 'v2', thresholds: { constructor: 1, toString: 2 } }), [
      { path: '/thresholds/constructor', code: 'UNKNOWN_PROPERTY' },
      { path: '/thresholds/toString', code: 'UNKNOWN_PROPERTY' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', missingData: { action: 'ignore' } }), [
      { path: '/missingData/action', code: 'INVALID_VALUE' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', pins: { header: 'X-User', values: [] } }), [
      { path: '/pins/header', code: 'INVALID_VALUE' },
      { path: '/pins/values', code: 'INVALID_VALUE' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', color: 'blue' }), [{ path: '/color', code: 'UNKNOWN_PROPERTY' }]);
    assert.deepEqual(issues('v2'), [{ path: '', code: 'INVALID_TYPE' }]);
  });
});

describe('manual gates (pauseAt)', () => {
  it('accepts step weights below 100, sorted; absent means no gate', () => {
    assert.deepEqual(parseCanaryPlan({ canary: 'v2', pauseAt: [50, 10] }).pauseAt, [10, 50]);
    assert.deepEqual(parseCanaryPlan({ canary: 'v2', steps: [20, 60], pauseAt: [60] }).pauseAt, [60]);
    assert.equal(parseCanaryPlan({ canary: 'v2' }).pauseAt, undefined);
  });

  it('refuses a weight that is not a step, 100, a duplicate and a non-array, each at its path', () => {
    assert.deepEqual(issues({ canary: 'v2', pauseAt: [30, 100, 50, 50, '10'] }), [
      { path: '/pauseAt/0', code: 'INVALID_VALUE' },
      { path: '/pauseAt/1', code: 'INVALID_VALUE' },
      { path: '/pauseAt/3', code: 'DUPLICATE' },
      { path: '/pauseAt/4', code: 'INVALID_VALUE' },
    ]);
    assert.deepEqual(issues({ canary: 'v2', pauseAt: 50 }), [{ path: '/pauseAt', code: 'INVALID_TYPE' }]);
  });
});

describe('durations and names', () => {
  it('parses and formats durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('1.5s'), undefined);
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(1500), '1500ms');
  });

  it('validates service names', () => {
    assert.equal(serviceNameIssue('ai-gateway'), undefined);
    assert.equal(serviceNameIssue('AI_gateway')?.path, '/service');
    assert.equal(serviceNameIssue('')?.code, 'INVALID_VALUE');
  });
});
