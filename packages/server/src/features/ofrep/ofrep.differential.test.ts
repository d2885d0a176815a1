import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EvaluationContext } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import { type Evaluators, type Flag, toFlagdConfig } from '@runtime-control/core';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/** Small deterministic PRNG (mulberry32) so a failure names a reproducible seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20261125;
const CONTEXTS = 3000;
const ENV = 'production';

const evaluators: Evaluators = {
  'beta-emails': { ends_with: [{ var: 'email' }, '@beta.example'] },
};

/** Definitions that exercise every evaluator the issue names, overrides, rollouts and disabled flags. */
function generateFlags(): Flag[] {
  const env = (settings: Flag['environments'][string]) => ({
    [ENV]: settings,
    development: { state: 'ENABLED' as const },
  });
  return [
    {
      key: 'bool-static',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      environments: env({ state: 'ENABLED' }),
    },
    {
      key: 'bool-disabled',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      environments: env({ state: 'DISABLED', targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'off', null] } }),
    },
    {
      key: 'bool-fractional',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      environments: env({
        state: 'ENABLED',
        targeting: {
          fractional: [
            ['on', 30],
            ['off', 70],
          ],
        },
      }),
    },
    {
      key: 'string-semver',
      type: 'string',
      // flagd flag metadata travels with every evaluation, as flagd returns it.
      metadata: { owner: 'team-web', ticket: 'WEB-1234', expiresOn: 20270301, temporary: true },
      variants: { legacy: 'v1', modern: 'v2', edge: 'v3' },
      defaultVariant: 'legacy',
      environments: env({
        state: 'ENABLED',
        targeting: {
          if: [
            { sem_ver: [{ var: 'appVersion' }, '>=', '2.5.0'] },
            'edge',
            { sem_ver: [{ var: 'appVersion' }, '^', '2.0.0'] },
            'modern',
            null,
          ],
        },
      }),
    },
    {
      key: 'string-affixes',
      type: 'string',
      variants: { internal: 'staff', beta: 'beta', everyone: 'all' },
      defaultVariant: 'everyone',
      environments: env({
        state: 'ENABLED',
        targeting: {
          if: [{ starts_with: [{ var: 'email' }, 'admin'] }, 'internal', { $ref: 'beta-emails' }, 'beta', null],
        },
      }),
    },
    {
      key: 'number-overrides-rollout',
      type: 'number',
      schema: { type: 'integer', minimum: 100, maximum: 60000 },
      variants: { normal: 15000, fast: 5000, slow: 30000 },
      defaultVariant: 'normal',
      environments: env({
        state: 'ENABLED',
        overrides: { 'user-7': 'slow', 'user-42': 'fast', 'user-99': 'slow' },
        rollout: { variant: 'fast', percentage: 12.5 },
      }),
    },
    {
      key: 'object-targeted',
      type: 'object',
      sensitive: true,
      metadata: { team: 'ai-platform', 'cost.center': 42 },
      variants: { a: { providers: ['x'], weight: 1 }, b: { providers: ['x', 'y'], weight: 2 } },
      defaultVariant: 'a',
      environments: env({
        state: 'ENABLED',
        overrides: { 'user-3': 'b' },
        targeting: { if: [{ in: [{ var: 'country' }, ['DE', 'FR']] }, 'b', null] },
        rollout: { variant: 'b', percentage: 50 },
      }),
    },
    {
      // flagd's null default: when targeting returns null the caller's code default applies (reason DEFAULT, no value).
      key: 'string-no-default',
      type: 'string',
      variants: { eu: 'eu-west', us: 'us-east' },
      defaultVariant: null,
      metadata: { owner: 'team-infra' },
      environments: env({
        state: 'ENABLED',
        targeting: {
          if: [{ in: [{ var: 'country' }, ['DE', 'FR']] }, 'eu', { '==': [{ var: 'country' }, 'US'] }, 'us', null],
        },
      }),
    },
    {
      key: 'fractional-custom-bucket',
      type: 'string',
      variants: { red: 'red', green: 'green', blue: 'blue' },
      defaultVariant: 'red',
      environments: env({
        state: 'ENABLED',
        targeting: { fractional: [{ var: 'email' }, ['red', 1], ['green', 1], ['blue', 2]] },
      }),
    },
  ];
}

function generateContexts(): EvaluationContext[] {
  const rnd = prng(SEED);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const contexts: EvaluationContext[] = [];
  for (let i = 0; i < CONTEXTS; i++) {
    const ctx: EvaluationContext = {};
    if (rnd() < 0.95) ctx.targetingKey = `user-${Math.floor(rnd() * 5000)}`;
    if (rnd() < 0.8) ctx.email = `${pick(['admin', 'dev', 'ops', 'x'])}${i}@${pick(['beta.example', 'example.com'])}`;
    if (rnd() < 0.8) ctx.appVersion = pick(['1.9.9', '2.0.0', '2.4.9', '2.5.0', '3.1.0', 'not-a-version']);
    if (rnd() < 0.7) ctx.country = pick(['DE', 'FR', 'US', 'JP']);
    if (rnd() < 0.5) ctx.plan = pick(['free', 'pro']);
    contexts.push(ctx);
  }
  // The override users must be covered whatever the PRNG draws.
  for (const u of ['user-7', 'user-42', 'user-99', 'user-3']) contexts.push({ targetingKey: u, country: 'US' });
  return contexts;
}

interface Outcome {
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  metadata?: unknown;
}

/** What flagd-core says for the same definition; "use the code default" (DISABLED) has no value, as in OFREP. */
function expected(core: FlagdCore, flag: Flag, ctx: EvaluationContext): Outcome {
  const placeholder = { boolean: false, string: '', number: 0, object: {} }[flag.type];
  const r = core.resolve(flag.type, flag.key, placeholder, ctx);
  if (r.errorCode) return { errorCode: r.errorCode };
  // DISABLED, or no variant (a null default): "use the code default" has no value, as in OFREP.
  if (r.reason === 'DISABLED' || r.variant === undefined) return { reason: r.reason, metadata: r.flagMetadata };
  return { value: r.value, variant: r.variant, reason: r.reason, metadata: r.flagMetadata };
}

function outcomeOf(body: Record<string, unknown>): Outcome {
  if (body.errorCode) return { errorCode: body.errorCode as string };
  const o: Outcome = { reason: body.reason as string, metadata: body.metadata ?? {} };
  if (Object.hasOwn(body, 'value')) {
    o.value = body.value;
    o.variant = body.variant as string;
  }
  return o;
}

describe('OFREP matches @openfeature/flagd-core (differential)', () => {
  let t: TestApp;
  let client: Record<string, string>;
  const flags = generateFlags();
  const contexts = generateContexts();
  const reference = new FlagdCore(undefined, { debug() {}, info() {}, warn() {}, error() {} });
  // The reference engine loads the flagd document compiled from the same definitions, independently of the server.
  reference.setConfigurations(JSON.stringify(toFlagdConfig(flags, evaluators, ENV)));

  before(async () => {
    t = await createTestApp();
    for (const [name, logic] of Object.entries(evaluators)) {
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/admin/evaluators/${name}`,
        headers: t.admin,
        payload: logic,
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    for (const flag of flags) {
      const res = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: flag });
      assert.equal(res.statusCode, 201, res.body);
    }
    client = await t.clientHeaders(ENV);
  });
  after(async () => t?.close());

  it(`bulk evaluation equals flagd-core for ${CONTEXTS} generated contexts`, async () => {
    const reasons = new Map<string, number>();
    for (const [i, ctx] of contexts.entries()) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: client,
        payload: { context: ctx },
      });
      assert.equal(res.statusCode, 200);
      const byKey = new Map<string, Record<string, unknown>>(
        res.json().flags.map((f: Record<string, unknown>) => [f.key, f]),
      );
      for (const flag of flags) {
        const got = outcomeOf(byKey.get(flag.key)!);
        const want = expected(reference, flag, ctx);
        assert.deepEqual(got, want, `seed ${SEED}, context #${i} ${JSON.stringify(ctx)}, flag ${flag.key}`);
        const label = `${flag.key}:${want.reason ?? want.errorCode}`;
        reasons.set(label, (reasons.get(label) ?? 0) + 1);
      }
    }
    // The generator must actually reach every branch, or the comparison proves little.
    for (const label of [
      'bool-static:STATIC',
      'bool-disabled:DISABLED',
      'bool-fractional:TARGETING_MATCH',
      'string-semver:TARGETING_MATCH',
      'string-semver:DEFAULT',
      'string-affixes:TARGETING_MATCH',
      'number-overrides-rollout:TARGETING_MATCH',
      'number-overrides-rollout:DEFAULT',
      'object-targeted:TARGETING_MATCH',
      'object-targeted:DEFAULT',
      'fractional-custom-bucket:TARGETING_MATCH',
      'string-no-default:TARGETING_MATCH',
      'string-no-default:DEFAULT',
    ]) {
      assert.ok((reasons.get(label) ?? 0) > 0, `no generated context produced ${label}`);
    }
  });

  it('single-flag evaluation equals flagd-core, including unknown flags', async () => {
    for (const [i, ctx] of contexts.slice(0, 600).entries()) {
      for (const flag of flags) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/ofrep/v1/evaluate/flags/${flag.key}`,
          headers: client,
          payload: { context: ctx },
        });
        const want = expected(reference, flag, ctx);
        assert.equal(res.statusCode, want.errorCode ? 400 : 200);
        assert.deepEqual(outcomeOf(res.json()), want, `context #${i} flag ${flag.key}`);
      }
    }
    const missing = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/nope',
      headers: client,
      payload: { context: {} },
    });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual([missing.json().key, missing.json().errorCode], ['nope', 'FLAG_NOT_FOUND']);
  });

  it('overrides win over targeting and rollout; rollouts hit their percentage', async () => {
    const ev = async (key: string, ctx: EvaluationContext) =>
      (
        await t.app.inject({
          method: 'POST',
          url: `/ofrep/v1/evaluate/flags/${key}`,
          headers: client,
          payload: { context: ctx },
        })
      ).json();
    assert.equal((await ev('number-overrides-rollout', { targetingKey: 'user-7' })).value, 30000);
    assert.equal((await ev('number-overrides-rollout', { targetingKey: 'user-42' })).value, 5000);
    assert.deepEqual((await ev('object-targeted', { targetingKey: 'user-3', country: 'US' })).variant, 'b');
    let fast = 0;
    const n = 4000;
    for (let i = 0; i < n; i++)
      if ((await ev('number-overrides-rollout', { targetingKey: `r-${i}` })).variant === 'fast') fast++;
    assert.ok(Math.abs(fast / n - 0.125) < 0.03, `12.5 % rollout gave ${((fast / n) * 100).toFixed(1)} %`);
  });

  it('bulk answers 304 to a matching If-None-Match and 200 after a change', async () => {
    const first = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: client,
      payload: { context: { targetingKey: 'a' } },
    });
    const etag = first.headers.etag as string;
    assert.ok(first.json().eventStreams[0].url.includes('/ofrep/v1/sse'));
    const again = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: { ...client, 'if-none-match': etag },
      payload: { context: { targetingKey: 'a' } },
    });
    assert.equal(again.statusCode, 304);
    const otherContext = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: { ...client, 'if-none-match': etag },
      payload: { context: { targetingKey: 'b' } },
    });
    assert.equal(otherContext.statusCode, 200);
    await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/flags/bool-static/environments/production',
      headers: t.admin,
      payload: { state: 'DISABLED' },
    });
    const changed = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: { ...client, 'if-none-match': etag },
      payload: { context: { targetingKey: 'a' } },
    });
    assert.equal(changed.statusCode, 200);
    assert.notEqual(changed.headers.etag, etag);
    // A change in another environment does not invalidate this one.
    const etag2 = changed.headers.etag as string;
    await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/flags/bool-static/environments/development',
      headers: t.admin,
      payload: { state: 'DISABLED' },
    });
    const unaffected = await t.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags',
      headers: { ...client, 'if-none-match': etag2 },
      payload: { context: { targetingKey: 'a' } },
    });
    assert.equal(unaffected.statusCode, 304);
  });

  it('invalid contexts get OFREP 400 INVALID_CONTEXT', async () => {
    for (const payload of [{ context: 'x' }, { context: { targetingKey: 5 } }, [1]]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags/bool-static',
        headers: client,
        payload,
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().errorCode, 'INVALID_CONTEXT');
    }
  });
});
