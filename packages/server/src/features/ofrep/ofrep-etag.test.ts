import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '@runtime-control/core';
import fc from 'fast-check';
import { canonicalContext } from './ofrep-controller.js';

// The bulk ETag hashes the canonical context; the fast path must give the very same text, or ETags would change
// between versions (and between replicas running different versions).
describe('OFREP ETag context canonicalization', () => {
  it('is canonicalJson for any context, flat or not, whatever its key order', () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('targetingKey', '0', '10', '9', 'a', 'B', ''));
    const context = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 });
    fc.assert(
      fc.property(context, (ctx) => {
        const parsed = JSON.parse(JSON.stringify(ctx)) as Record<string, never>;
        assert.equal(canonicalContext(parsed), canonicalJson(parsed));
      }),
      { numRuns: 2000, seed: 42 },
    );
    const examples: Record<string, string | number | boolean | null>[] = [
      {},
      { targetingKey: 'user-1' },
      { b: 1, a: 2 },
      { a: 1, b: 'x', c: null, d: true },
      { 1: 'x', a: 1 },
    ];
    for (const ctx of examples) assert.equal(canonicalContext(ctx), canonicalJson(ctx));
  });
});
