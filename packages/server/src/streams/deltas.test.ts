import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deltaOf, resumeDeltaOf } from './deltas.js';

describe('deltaOf', () => {
  const before = {
    revision: 4,
    config: { flags: { a: { state: 'ENABLED' }, b: { state: 'ENABLED' } }, $evaluators: { e: { '==': [1, 1] } } },
  };

  it('carries the changed flags as they are now, the removed keys, and only top-level entries that differ', () => {
    const after = {
      revision: 9,
      etag: 'tag',
      config: {
        flags: { a: { state: 'DISABLED' }, b: { state: 'ENABLED' }, c: {} },
        $evaluators: { e: { '==': [1, 1] } },
      },
    };
    assert.deepEqual(deltaOf(before, after, ['a', 'c', 'gone']), {
      revision: 9,
      base: 4,
      etag: 'tag',
      flags: { a: { state: 'DISABLED' }, c: {} },
      removed: ['gone'],
      top: {},
    });
    const noEvaluators = { ...after, config: { flags: after.config.flags } };
    assert.deepEqual(deltaOf(before, noEvaluators, []).top, { $evaluators: null });
    const metadata = { ...after, config: { ...after.config, metadata: { owner: 'x' } } };
    assert.deepEqual(deltaOf(before, metadata, []).top, { metadata: { owner: 'x' } });
  });

  it('a resume states every top-level entry (present or null), as it cannot know which changed', () => {
    const view = { revision: 9, etag: 't', config: { flags: { a: {} }, metadata: { m: 1 } } };
    const delta = resumeDeltaOf(3, view, ['a']);
    assert.equal(delta.base, 3);
    assert.deepEqual(delta.top, { $evaluators: null, metadata: { m: 1 } });
  });
});
