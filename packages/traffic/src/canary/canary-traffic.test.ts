import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCanaryPlan } from './canary-plan.js';
import { estimateFirstStep } from './canary-traffic.js';

describe('estimateFirstStep (low traffic)', () => {
  const plan = parseCanaryPlan({ canary: 'v2', interval: '60s', thresholds: { minRequests: 50 } }); // hold 5m

  it('does not warn when the first step collects the minimum within the hold', () => {
    // 10 req/s × 5% = 0.5 req/s to v2: 50 requests in 100 s < 300 s.
    const e = estimateFirstStep(plan, 10);
    assert.equal(e.weight, 5);
    assert.equal(e.secondsToMinRequests, 100);
    assert.equal(e.maxHoldSeconds, 300);
    assert.deepEqual(e.warnings, []);
  });

  it('warns with the settings that would fit when it cannot', () => {
    // 1 req/s × 5% = 0.05 req/s: 1000 s for 50 requests, more than 300 s.
    const e = estimateFirstStep(plan, 1);
    assert.equal(e.secondsToMinRequests, 1000);
    assert.equal(e.warnings.length, 1);
    assert.match(e.warnings[0]!, /at 1 req\/s, v2 at 5% needs ~1000 s to collect 50 requests/);
    assert.match(
      e.warnings[0]!,
      /--min-requests 15 or less, or --max-hold 1000s or more, or a first step of at least 17%/,
    );
  });

  it('warns when the service has no traffic, and never for a first step of 100%', () => {
    assert.match(estimateFirstStep(plan, 0).warnings[0]!, /no requests to the service in the last 5m/);
    assert.equal(estimateFirstStep(plan, 0).secondsToMinRequests, Number.POSITIVE_INFINITY);
    assert.deepEqual(estimateFirstStep(parseCanaryPlan({ canary: 'v2', steps: [100] }), 0).warnings, []);
  });
});
