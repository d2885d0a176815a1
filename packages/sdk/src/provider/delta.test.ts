import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlagdConfigurationData } from '@runtime-control/core';
import { applyDelta, deltaFit } from './delta.js';

describe('applyDelta', () => {
  it('sets changed flags, deletes removed ones, replaces or deletes top-level entries; returns the keys touched', () => {
    const doc: FlagdConfigurationData = {
      flags: { a: { state: 'ENABLED' }, b: { state: 'ENABLED' } },
      $evaluators: { x: { '==': [1, 1] } },
      metadata: { owner: 'web' },
    };
    const touched = applyDelta(doc, {
      revision: 9,
      base: 7,
      etag: 'e',
      flags: { a: { state: 'DISABLED' }, c: { state: 'ENABLED' } },
      removed: ['b', 'never-there'],
      top: { $evaluators: { y: true }, metadata: null },
    });
    assert.deepEqual(doc, {
      flags: { a: { state: 'DISABLED' }, c: { state: 'ENABLED' } },
      $evaluators: { y: true },
    });
    assert.deepEqual(touched, ['a', 'c', 'b', 'never-there']);
  });

  it('keeps `__proto__` as data: no prototype is changed', () => {
    const doc: FlagdConfigurationData = { flags: {} };
    const flags = JSON.parse('{"__proto__": {"state": "ENABLED", "polluted": true}}') as Record<string, unknown>;
    applyDelta(doc, {
      revision: 2,
      base: 1,
      etag: 'e',
      flags,
      removed: [],
      top: JSON.parse('{"__proto__": {"x": 1}}'),
    });
    assert.equal(Object.getPrototypeOf(doc.flags), Object.prototype);
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    assert.ok(Object.hasOwn(doc.flags, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('deltaFit', () => {
  it('applies from base up to (not including) its revision; skips what is held; a gap otherwise', () => {
    const delta = { base: 5, revision: 9 };
    assert.equal(deltaFit(5, delta), 'apply');
    assert.equal(deltaFit(8, delta), 'apply', 'the view did not change between base and revision');
    assert.equal(deltaFit(9, delta), 'skip');
    assert.equal(deltaFit(12, delta), 'skip');
    assert.equal(deltaFit(4, delta), 'gap');
    assert.equal(deltaFit(undefined, delta), 'gap');
  });
});
