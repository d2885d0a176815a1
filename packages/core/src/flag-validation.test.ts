import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFlagLoads } from './flag-loadability.js';
import { validateFlag } from './flag-validation.js';
import { toFlagdFlag } from './flagd-compile.js';

const envs = { environments: ['development', 'production'] };
const base = {
  key: 'k',
  type: 'number',
  variants: { a: 1, b: 2 },
  defaultVariant: 'a',
  environments: { production: { state: 'ENABLED' } },
};

function issuesOf(input: unknown) {
  const r = validateFlag(input, envs);
  return r.ok ? [] : r.issues.map((i) => `${i.code} ${i.path}`);
}

describe('validateFlag', () => {
  it('accepts a valid flag and returns it typed, dropping nothing', () => {
    const r = validateFlag(
      { ...base, description: 'd', owner: 'o', schema: { type: 'number' }, sensitive: true },
      envs,
    );
    assert.ok(r.ok);
    assert.equal(r.value.description, 'd');
    assert.equal(r.value.sensitive, true);
  });

  it('reports each problem with its JSON Pointer', () => {
    assert.deepEqual(issuesOf({ ...base, variants: { a: 1, 'b/c': 'x' } }), ['VARIANT_TYPE_MISMATCH /variants/b~1c']);
    assert.deepEqual(issuesOf({ ...base, defaultVariant: 'z' }), ['UNKNOWN_DEFAULT_VARIANT /defaultVariant']);
    assert.deepEqual(issuesOf({ ...base, type: 'array' }), ['INVALID_VALUE /type']);
    assert.deepEqual(issuesOf({ ...base, variants: {} }), [
      'REQUIRED /variants',
      'UNKNOWN_DEFAULT_VARIANT /defaultVariant',
    ]);
    assert.deepEqual(issuesOf({ ...base, environments: { qa: { state: 'ENABLED' } } }), [
      'UNKNOWN_ENVIRONMENT /environments/qa',
    ]);
    assert.deepEqual(issuesOf({ ...base, variants: { a: Number.NaN } }), ['VARIANT_TYPE_MISMATCH /variants/a']);
    assert.deepEqual(issuesOf('flag'), ['INVALID_TYPE ']);
  });

  it('checks every variant against the JSON Schema', () => {
    const r = issuesOf({
      ...base,
      schema: { type: 'integer', minimum: 100, maximum: 60000 },
      variants: { a: 150, b: 99, c: 1.5 },
    });
    // 1.5 breaks both `integer` and `minimum`: each is reported.
    assert.deepEqual(r.sort(), [
      'SCHEMA_VIOLATION /variants/b',
      'SCHEMA_VIOLATION /variants/c',
      'SCHEMA_VIOLATION /variants/c',
    ]);
    assert.deepEqual(issuesOf({ ...base, schema: { type: 'nonsense' } }), ['INVALID_SCHEMA /schema']);
  });

  it('checks rollouts and overrides against the variants', () => {
    const env = (production: unknown) => ({ ...base, environments: { production } });
    assert.deepEqual(issuesOf(env({ state: 'ENABLED', rollout: { variant: 'b', percentage: 12.345 } })), [
      'INVALID_VALUE /environments/production/rollout/percentage',
    ]);
    assert.deepEqual(issuesOf(env({ state: 'ENABLED', rollout: { variant: 'z', percentage: 5 } })), [
      'UNKNOWN_VARIANT /environments/production/rollout/variant',
    ]);
    assert.deepEqual(issuesOf(env({ state: 'ENABLED', overrides: { u1: 'z' } })), [
      'UNKNOWN_VARIANT /environments/production/overrides/u1',
    ]);
    assert.deepEqual(issuesOf(env({ state: 'ENABLED', targeting: [] })), [
      'INVALID_TARGETING /environments/production/targeting',
    ]);
  });

  it('refuses a $ref to an evaluator that does not exist when the names are known', () => {
    const flag = {
      ...base,
      environments: { production: { state: 'ENABLED', targeting: { if: [{ $ref: 'x' }, 'a', null] } } },
    };
    assert.deepEqual(validateFlag(flag, { ...envs, evaluatorNames: new Set(['x']) }).ok, true);
    const r = validateFlag(flag, { ...envs, evaluatorNames: new Set() });
    assert.ok(!r.ok && r.issues[0]?.code === 'UNKNOWN_EVALUATOR');
  });
});

describe('validateFlag: flagd flag metadata', () => {
  it('keeps flat string, number and boolean metadata, and compiles it (with sensitive) into the flagd flag', () => {
    const metadata = { owner: 'team-web', ticket: 'WEB-1', expiresOn: 20270301, temporary: true, constructor: 'ok' };
    const r = validateFlag({ ...base, metadata, sensitive: true }, envs);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value.metadata, metadata);
    assert.deepEqual(toFlagdFlag(r.value, 'production')?.metadata, { ...metadata, sensitive: true });
    const none = validateFlag({ ...base, metadata: {} }, envs);
    assert.ok(none.ok);
    assert.equal(none.value.metadata, undefined, 'empty metadata is no metadata');
    assert.equal(toFlagdFlag(none.value, 'production')?.metadata, undefined);
  });

  it('refuses nested values, reserved keys, bad keys, oversized values and too many keys, each at its path', () => {
    assert.deepEqual(issuesOf({ ...base, metadata: [] }), ['INVALID_TYPE /metadata']);
    assert.deepEqual(
      issuesOf({
        ...base,
        metadata: {
          nested: { a: 1 },
          list: ['x'],
          none: null,
          nan: Number.NaN,
          sensitive: true,
          revision: 3,
          'bad key': 'x',
          'a/b': 'x',
          long: 'x'.repeat(1025),
          ctrl: 'a\u0000b',
        },
      }).sort(),
      [
        'INVALID_KEY /metadata/a~1b',
        'INVALID_KEY /metadata/bad key',
        'INVALID_TYPE /metadata/ctrl',
        'INVALID_TYPE /metadata/list',
        'INVALID_TYPE /metadata/long',
        'INVALID_TYPE /metadata/nan',
        'INVALID_TYPE /metadata/nested',
        'INVALID_TYPE /metadata/none',
        'RESERVED_KEY /metadata/revision',
        'RESERVED_KEY /metadata/sensitive',
      ],
    );
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(issuesOf({ ...base, metadata: many }), ['TOO_MANY /metadata']);
  });
});

describe('validateFlag: no default variant (flagd null)', () => {
  it('accepts null or an absent defaultVariant as "the code default", and compiles it to flagd null that flagd loads', () => {
    const { defaultVariant: _omitted, ...withoutDefault } = base;
    for (const input of [{ ...base, defaultVariant: null }, withoutDefault]) {
      const r = validateFlag(input, envs);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.value.defaultVariant, null);
      const compiled = toFlagdFlag(r.value, 'production');
      assert.equal(compiled?.defaultVariant, null);
      assert.deepEqual(checkFlagLoads(r.value, {}, ['production']), []);
    }
  });

  it('a default that is not a variant, or not a string, is still refused', () => {
    assert.deepEqual(issuesOf({ ...base, defaultVariant: 'zzz' }), ['UNKNOWN_DEFAULT_VARIANT /defaultVariant']);
    assert.deepEqual(issuesOf({ ...base, defaultVariant: 3 }), ['INVALID_TYPE /defaultVariant']);
  });
});
