import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tokenFromHeaders } from './tokens.js';

/** The rule as the pattern states it; the fast path must agree with it on every header. */
function byPattern(auth: string): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
}

describe('tokenFromHeaders', () => {
  it('reads the usual and the unusual spellings of a bearer token', () => {
    assert.equal(tokenFromHeaders({ authorization: 'Bearer rc_client_abc' }), 'rc_client_abc');
    assert.equal(tokenFromHeaders({ authorization: 'bearer   rc_client_abc  ' }), 'rc_client_abc');
    assert.equal(tokenFromHeaders({ authorization: 'Bearer\trc_client_abc' }), 'rc_client_abc');
    assert.equal(tokenFromHeaders({ authorization: 'Bearer ' }), undefined);
    assert.equal(tokenFromHeaders({ authorization: 'Bearer a b' }), undefined);
    assert.equal(tokenFromHeaders({ authorization: 'Bearer a\u00a0b' }), undefined);
    assert.equal(tokenFromHeaders({ authorization: 'Basic abc' }), undefined);
    assert.equal(tokenFromHeaders({ 'x-api-key': ' rc_client_abc ' }), 'rc_client_abc');
    assert.equal(tokenFromHeaders({ authorization: 'Basic abc', 'x-api-key': 'k' }), 'k');
  });

  it('agrees with the pattern on any Authorization header (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom('Bearer', 'bearer', 'BEARER', ' ', '  ', '\t', '\u00a0', '\u2028', 'rc_client_', 'x'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), (parts) => {
        const auth = parts.join('');
        assert.equal(tokenFromHeaders({ authorization: auth }), byPattern(auth));
      }),
      { numRuns: 5000 },
    );
  });
});
