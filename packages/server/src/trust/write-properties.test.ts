import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagdCore } from '@openfeature/flagd-core';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../testing/test-app.js';

/**
 * Property: whatever sequence of writes arrives (flag create/replace/patch/override/delete, evaluator put/delete),
 * every write the API accepts leaves every environment's configuration loadable and evaluable by flagd-core — the
 * engine every replica and SDK runs — with nothing isolated as broken; and every write it refuses changes nothing
 * (flags, evaluators, tokens, audit). No write gets a 5xx.
 *
 * The generators deliberately mix valid and hostile material: inherited names (`constructor`, `toString`…) as
 * variants and defaults, unknown operators, results that name no variant, computed results, `$'` in evaluators,
 * evaluators that flags use changing under them.
 */
const SEED = Number(process.env.RC_PROPERTY_SEED ?? 20261201);
const RUNS = Number(process.env.RC_PROPERTY_RUNS ?? 150);
const ENVIRONMENTS = ['development', 'production'] as const;

const variantName = fc.constantFrom('on', 'off', 'a', 'b', 'constructor', 'toString', 'valueOf', '__proto__x');
const flagKey = fc.constantFrom('f1', 'f2', 'f3', 'constructor', 'toString');
const evaluatorName = fc.constantFrom('e1', 'e2', 'hasOwnProperty');

/** JsonLogic rules: mostly valid ones over the variant names, some hostile. */
const rule: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  result: fc.oneof(
    { weight: 5, arbitrary: variantName },
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ var: fc.constantFrom('tier', 'targetingKey') }) },
    { weight: 1, arbitrary: fc.record({ $ref: evaluatorName }) },
    { weight: 1, arbitrary: fc.constantFrom(true, 1, "x$'y", ['on']) },
    { weight: 2, arbitrary: tie('node') },
  ),
  condition: fc.oneof(
    fc.record({ '==': fc.tuple(fc.record({ var: fc.constant('tier') }), fc.constantFrom('gold', 'silver')) }),
    fc.record({ starts_with: fc.tuple(fc.record({ var: fc.constant('email') }), fc.constant('a')) }),
    fc.record({ $ref: evaluatorName }),
    fc.record({ bogus_op: fc.constant([1]) }),
    fc.constant({ a: 1, b: 2 }),
  ),
  node: fc.oneof(
    fc.record({ if: fc.tuple(tie('condition'), tie('result'), tie('result')) }),
    fc.record({ if: fc.tuple(tie('condition'), tie('result')) }),
    fc.record({ fractional: fc.tuple(fc.tuple(variantName, fc.nat(100)), fc.tuple(variantName, fc.nat(100))) }),
    fc.record({ or: fc.tuple(tie('result'), tie('result')) }),
  ),
})).result;

const typedValue = (type: string): fc.Arbitrary<unknown> =>
  type === 'boolean'
    ? fc.boolean()
    : type === 'number'
      ? fc.oneof(fc.integer(), fc.constant(0.5))
      : type === 'string'
        ? fc.string({ maxLength: 8 })
        : fc.dictionary(fc.constantFrom('x', 'y'), fc.integer(), { maxKeys: 2 });

const environmentSettings = fc.record(
  {
    state: fc.constantFrom('ENABLED', 'DISABLED'),
    targeting: rule,
    overrides: fc.dictionary(fc.constantFrom('u1', 'u2', 'constructor'), variantName, { maxKeys: 2 }),
    rollout: fc.record({ variant: variantName, percentage: fc.constantFrom(0, 10, 50.5, 100) }),
  },
  { requiredKeys: ['state'] },
);

const flagDocument = fc
  .record({ key: flagKey, type: fc.constantFrom('boolean', 'string', 'number', 'object') })
  .chain(({ key, type }) =>
    fc.record(
      {
        key: fc.constant(key),
        type: fc.constant(type),
        variants: fc.dictionary(variantName, typedValue(type), { minKeys: 1, maxKeys: 3 }),
        defaultVariant: variantName,
        sensitive: fc.boolean(),
        environments: fc.record(
          { development: environmentSettings, production: environmentSettings },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['key', 'type', 'variants', 'defaultVariant'] },
    ),
  );

type Command =
  | { op: 'create'; flag: Record<string, unknown> }
  | { op: 'replace'; flag: Record<string, unknown> }
  | { op: 'patch'; key: string; env: string; patch: Record<string, unknown> }
  | { op: 'override'; key: string; env: string; user: string; variant: string }
  | { op: 'deleteFlag'; key: string }
  | { op: 'putEvaluator'; name: string; logic: unknown }
  | { op: 'deleteEvaluator'; name: string };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: flagDocument.map((flag) => ({ op: 'create' as const, flag })) },
  { weight: 2, arbitrary: flagDocument.map((flag) => ({ op: 'replace' as const, flag })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        key: flagKey,
        env: fc.constantFrom(...ENVIRONMENTS),
        patch: fc.record(
          { state: fc.constantFrom('ENABLED', 'DISABLED'), targeting: rule, rollout: fc.constant(null) },
          { requiredKeys: [] },
        ),
      })
      .filter((c) => Object.keys(c.patch).length > 0)
      .map((c) => ({ op: 'patch' as const, ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        key: flagKey,
        env: fc.constantFrom(...ENVIRONMENTS),
        user: fc.constantFrom('u1', 'u9'),
        variant: variantName,
      })
      .map((c) => ({ op: 'override' as const, ...c })),
  },
  { weight: 1, arbitrary: flagKey.map((key) => ({ op: 'deleteFlag' as const, key })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ name: evaluatorName, logic: fc.oneof(rule, fc.constant({ in: [{ var: 'targetingKey' }, ['u1']] })) })
      .map((c) => ({ op: 'putEvaluator' as const, ...c })),
  },
  { weight: 1, arbitrary: evaluatorName.map((name) => ({ op: 'deleteEvaluator' as const, name })) },
);

function request(c: Command): { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; payload?: unknown } {
  switch (c.op) {
    case 'create':
      return { method: 'POST', url: '/api/admin/flags', payload: c.flag };
    case 'replace':
      return { method: 'PUT', url: `/api/admin/flags/${c.flag.key}`, payload: c.flag };
    case 'patch':
      return { method: 'PATCH', url: `/api/admin/flags/${c.key}/environments/${c.env}`, payload: c.patch };
    case 'override':
      return {
        method: 'PUT',
        url: `/api/admin/flags/${c.key}/environments/${c.env}/overrides/${c.user}`,
        payload: { variant: c.variant },
      };
    case 'deleteFlag':
      return { method: 'DELETE', url: `/api/admin/flags/${c.key}` };
    case 'putEvaluator':
      return { method: 'PUT', url: `/api/admin/evaluators/${c.name}`, payload: c.logic };
    case 'deleteEvaluator':
      return { method: 'DELETE', url: `/api/admin/evaluators/${c.name}` };
  }
}

async function persistedState(t: TestApp): Promise<string> {
  const [revision, flags, evaluators, tokens, audit] = await Promise.all([
    t.store.currentRevision(),
    t.store.listFlags(),
    t.store.listEvaluators(),
    t.store.listTokens(),
    t.store.queryAudit({ limit: 1000 }),
  ]);
  return JSON.stringify({ revision, flags, evaluators, tokens, audit: audit.map((a) => a.revision) });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Every environment's snapshot loads in a fresh flagd-core and every flag in it evaluates without a load error. */
async function assertServable(
  t: TestApp,
  tokens: Record<string, Record<string, string>>,
  after: string,
): Promise<void> {
  assert.deepEqual(t.rt.state.brokenRecords(), [], `nothing isolated after ${after}`);
  for (const env of ENVIRONMENTS) {
    const snap = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: tokens[env] });
    assert.equal(snap.statusCode, 200);
    const engine = new FlagdCore(undefined, silent);
    engine.setConfigurations(snap.body);
    for (const [key, flag] of engine.getFlags()) {
      const contexts: Record<string, string>[] = [
        { targetingKey: 'u1' },
        { targetingKey: 'u9', tier: 'gold', email: 'a@x' },
        {},
      ];
      for (const context of contexts) {
        const r = flag.evaluate(context, silent);
        assert.ok(
          r.errorCode === undefined,
          `${env}/${key} answers ${r.errorCode} (${r.errorMessage}) after ${after}; config ${snap.body.slice(0, 600)}`,
        );
      }
    }
  }
}

describe('write properties (fast-check)', () => {
  it(`every accepted write is servable everywhere; every refused write changes nothing (seed ${SEED})`, async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 10 }), async (commands) => {
        const t = await createTestApp({ RC_LOG_LEVEL: 'silent' });
        try {
          const tokens = {
            development: await t.clientHeaders('development'),
            production: await t.clientHeaders('production'),
          };
          for (const c of commands) {
            const before = await persistedState(t);
            const r = request(c);
            const res = await t.app.inject({
              method: r.method,
              url: r.url,
              headers: t.admin,
              ...(r.payload === undefined ? {} : { payload: JSON.stringify(r.payload) }),
            });
            assert.ok(res.statusCode < 500, `${r.method} ${r.url} → ${res.statusCode} ${res.body}`);
            const label = `${r.method} ${r.url} ${JSON.stringify(r.payload)}`;
            if (res.statusCode < 300) {
              accepted++;
              await assertServable(t, tokens, label);
            } else {
              refused++;
              assert.equal(await persistedState(t), before, `refused ${label} (${res.body}) changed nothing`);
            }
          }
        } finally {
          await t.close();
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // The generators must exercise both sides, or the property says little.
    assert.ok(accepted > 20, `accepted ${accepted}`);
    assert.ok(refused > 20, `refused ${refused}`);
  });
});
