import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and is jittered within its bounds', () => {
    assert.equal(
      backoffDelay(0, 250, 10_000, () => 0),
      125,
    );
    assert.equal(
      backoffDelay(0, 250, 10_000, () => 1),
      250,
    );
    assert.equal(
      backoffDelay(3, 250, 10_000, () => 1),
      2000,
    );
    assert.equal(
      backoffDelay(20, 250, 10_000, () => 1),
      10_000,
      'capped',
    );
    assert.equal(
      backoffDelay(1000, 250, 10_000, () => 1),
      10_000,
      'no overflow for large attempts',
    );
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(10, 250, 10_000)));
    assert.ok(spread.size > 10, 'jitter spreads reconnects');
    for (const d of spread) assert.ok(d >= 125 && d <= 10_000);
  });
});
