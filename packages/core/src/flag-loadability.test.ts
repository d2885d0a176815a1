import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagdCore } from '@openfeature/flagd-core';
import { checkFlagLoads, unloadableFlagdFlag } from './flag-loadability.js';
import type { Flag } from './flag-model.js';
import { validateFlag } from './flag-validation.js';
import { toFlagdConfig, toFlagdFlag } from './flagd-compile.js';

const envs = ['development', 'production'];
const flag = (over: Partial<Flag> = {}): Flag => ({
  key: 'f',
  type: 'boolean',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  environments: { production: { state: 'ENABLED' } },
  ...over,
});
const issuesOf = (input: unknown, evaluators = {}) => {
  const r = validateFlag(input, { environments: envs, evaluators });
  return r.ok ? [] : r.issues.map((i) => `${i.code} ${i.path}`);
};

describe('checkFlagLoads', () => {
  it('passes a flag flagd-core loads and evaluates in every configured environment', () => {
    assert.deepEqual(checkFlagLoads(flag(), {}, envs), []);
  });

  it('finds what flagd-core rejects even when a hand-made flag skipped validation', () => {
    // `in` would find Object.prototype.constructor; flagd-core keeps variants in a Map and rejects the whole document.
    const bad = flag({ defaultVariant: 'constructor' });
    assert.equal(checkFlagLoads(bad, {}, envs)[0]?.code, 'UNLOADABLE');
    const badRule = flag({ environments: { production: { state: 'DISABLED', targeting: { bogus_op: [1] } } } });
    assert.equal(checkFlagLoads(badRule, {}, envs)[0]?.code, 'INVALID_TARGETING', 'checked even while disabled');
  });

  it('serves an isolated flag as PARSE_ERROR through flagd-core', () => {
    const engine = new FlagdCore(undefined, { debug() {}, info() {}, warn() {}, error() {} });
    engine.setConfigurations(JSON.stringify({ flags: { x: unloadableFlagdFlag(true) } }));
    const r = engine.resolve('boolean', 'x', true, {});
    assert.equal(r.errorCode, 'PARSE_ERROR');
    assert.equal(r.value, true, 'the code default');
    assert.equal(r.flagMetadata.sensitive, true);
  });
});

describe('validateFlag: own properties and servable results', () => {
  it('refuses inherited names as defaultVariant, rollout and override variants', () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      assert.deepEqual(issuesOf(flag({ defaultVariant: name })), ['UNKNOWN_DEFAULT_VARIANT /defaultVariant'], name);
      assert.deepEqual(
        issuesOf(
          flag({ environments: { production: { state: 'ENABLED', rollout: { variant: name, percentage: 5 } } } }),
        ),
        ['UNKNOWN_VARIANT /environments/production/rollout/variant'],
      );
      assert.deepEqual(
        issuesOf(flag({ environments: { production: { state: 'ENABLED', overrides: { u1: name } } } })),
        ['UNKNOWN_VARIANT /environments/production/overrides/u1'],
      );
    }
  });

  it('refuses targeting that can return a name the flag has no variant for', () => {
    const t = (targeting: unknown) => flag({ environments: { production: { state: 'ENABLED', targeting } } } as never);
    assert.deepEqual(issuesOf(t({ if: [{ var: 'beta' }, 'onn', null] })), [
      'INVALID_TARGETING /environments/production/targeting',
    ]);
    assert.deepEqual(issuesOf(t({ '==': [{ var: 'x' }, 1] })), [
      'INVALID_TARGETING /environments/production/targeting',
      'INVALID_TARGETING /environments/production/targeting',
    ]);
    assert.deepEqual(issuesOf(t({ if: [true, { var: 'v' }, 'on'] })), [
      'INVALID_TARGETING /environments/production/targeting/if/1/var',
    ]);
    assert.deepEqual(issuesOf(t({ $ref: 'e' }), { e: { if: [{ var: 'x' }, 'on', 'maybe'] } }), [
      'INVALID_TARGETING /environments/production/targeting',
    ]);
    assert.deepEqual(issuesOf(t({ if: [{ var: 'beta' }, 'on', null] })), []);
  });

  it('refuses object variants nested deeper than the limit and bad variant names', () => {
    let deep: unknown = {};
    for (let i = 0; i < 3000; i++) deep = { a: deep };
    const r = validateFlag(flag({ type: 'object', variants: { v: deep as never }, defaultVariant: 'v' }), {
      environments: envs,
    });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.issues[0]?.code, 'TOO_DEEP');
    assert.deepEqual(issuesOf(flag({ variants: { '': true, off: false } })), ['INVALID_KEY /variants/']);
  });
});

describe('environment isolation (toFlagdFlag)', () => {
  const secret = flag({
    key: 's',
    type: 'string',
    sensitive: true,
    variants: { dev: 'dev-value', prod: 'PROD-ONLY-VALUE', beta: 'beta-value' },
    defaultVariant: 'dev',
    environments: {
      development: { state: 'ENABLED' },
      production: { state: 'ENABLED', targeting: { if: [{ var: 'beta' }, 'beta', 'prod'] } },
    },
  });

  it('carries only the variants the environment can serve', () => {
    assert.deepEqual(Object.keys(toFlagdFlag(secret, 'development')!.variants), ['dev']);
    assert.deepEqual(Object.keys(toFlagdFlag(secret, 'production')!.variants).sort(), ['beta', 'dev', 'prod']);
  });

  it('leaves a flag out of environments it is not configured for', () => {
    const prodOnly = { ...secret, environments: { production: secret.environments.production! } };
    const dev = JSON.stringify(toFlagdConfig([prodOnly], {}, 'development'));
    assert.ok(!dev.includes('PROD-ONLY-VALUE'));
    assert.ok(!dev.includes('"s"'));
  });
});
