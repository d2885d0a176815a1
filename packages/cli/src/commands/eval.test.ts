import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../http-client.js';
import { parseContextArgs } from './eval.js';

describe('parseContextArgs', () => {
  it('keeps k=v values as strings, even when they look like numbers', () => {
    assert.deepEqual(parseContextArgs(['plan=pro', 'age=42', 'beta=true']), { plan: 'pro', age: '42', beta: 'true' });
  });

  it('parses k:=json values as JSON', () => {
    assert.deepEqual(parseContextArgs(['age:=42', 'beta:=true', 'tags:=["a","b"]', 'name:="x"', 'none:=null']), {
      age: 42,
      beta: true,
      tags: ['a', 'b'],
      name: 'x',
      none: null,
    });
  });

  it('splits on the first "=" so values may contain "=" and ":="', () => {
    assert.deepEqual(parseContextArgs(['query=a=b', 'expr=x:=1']), { query: 'a=b', expr: 'x:=1' });
  });

  it('allows empty string values', () => {
    assert.deepEqual(parseContextArgs(['email=']), { email: '' });
  });

  it('rejects entries without a key or "=" as usage errors (exit code 2)', () => {
    for (const bad of ['plan', '=pro', ':=1']) {
      assert.throws(
        () => parseContextArgs([bad]),
        (e: unknown) => e instanceof UsageError && e.exitCode === 2 && e.message.includes(bad),
      );
    }
  });

  it('rejects invalid JSON after := and suggests k=v', () => {
    assert.throws(
      () => parseContextArgs(['age:=forty']),
      (e: unknown) => e instanceof UsageError && /not valid JSON/.test(e.message) && /key=value/.test(e.message),
    );
  });
});
