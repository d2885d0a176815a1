import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonValue } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import type { FlagType } from '@runtime-control/core';
import fc from 'fast-check';
import fastJson from 'fast-json-stringify';
import type { CountCell } from '../../metrics/metrics.js';
import { evaluateFlag } from '../../state/evaluation.js';
import type { EnvironmentView } from '../../state/replica-state.js';
import { type BulkTail, OfrepAnswers, ofrepErrorBody, variantLabel } from './ofrep-answers.js';
import { OfrepEvaluation, ofrepSchemas } from './ofrep-schemas.js';

// What the bulk route sent before its answers were prepared per view: every flag evaluated for the context and the
// whole body serialized by the route's 200 schema (as Fastify compiles it, the evaluation schema as a shared $ref).
const serializeWholeBody = fastJson(ofrepSchemas.bulk.response[200] as fastJson.Schema, {
  schema: { OfrepEvaluation: OfrepEvaluation as fastJson.Schema },
});
const serializeOne = fastJson(OfrepEvaluation);

const valuesOf: Record<FlagType, fc.Arbitrary<JsonValue>> = {
  boolean: fc.boolean(),
  string: fc.string({ maxLength: 4 }),
  number: fc.integer(),
  object: fc.oneof(fc.constant<JsonValue>({ a: 1 }), fc.constant<JsonValue>([1, 'x"'])),
};

// Flags of every kind a view can hold: with and without targeting (absent, empty, a rule), disabled with a rule, no
// default variant, a declared type the values do not have (an error answer), metadata or none.
const flagArb = fc.constantFrom<FlagType>('boolean', 'string', 'number', 'object').chain((type) =>
  fc.record({
    type: fc.constant(type),
    declaredType: fc.oneof({ weight: 5, arbitrary: fc.constant(type) }, fc.constant<FlagType>('string')),
    state: fc.constantFrom('ENABLED', 'ENABLED', 'DISABLED'),
    a: valuesOf[type],
    b: valuesOf[type],
    defaultVariant: fc.constantFrom('a', 'b', null),
    targeting: fc.constantFrom<'none' | 'empty' | 'rule'>('none', 'empty', 'rule'),
    metadata: fc.constantFrom(undefined, { team: 'x', version: 2 }),
    sensitive: fc.boolean(),
  }),
);

type FlagSpec = typeof flagArb extends fc.Arbitrary<infer T> ? T : never;

function viewOf(specs: Map<string, FlagSpec>, name = 'production'): EnvironmentView {
  const flags: Record<string, Record<string, unknown>> = {};
  for (const [key, f] of specs) {
    const flag: Record<string, unknown> = {
      state: f.state,
      variants: { a: f.a, b: f.b },
      defaultVariant: f.defaultVariant,
    };
    if (f.metadata) flag.metadata = f.metadata;
    if (f.targeting === 'empty') flag.targeting = {};
    // Plan 1 and 2 pick different variants for the same reason (TARGETING_MATCH); others get the default.
    if (f.targeting === 'rule') {
      flag.targeting = { if: [{ '==': [{ var: 'plan' }, 1] }, 'b', { '==': [{ var: 'plan' }, 2] }, 'a', null] };
    }
    flags[key] = flag;
  }
  const config = { flags };
  const engine = new FlagdCore();
  engine.setConfigurations(JSON.stringify(config));
  return {
    name,
    flagSet: null,
    engine,
    config,
    configJson: JSON.stringify(config),
    etag: 'e',
    revision: 7,
    flagTypes: new Map([...specs].map(([k, f]) => [k, f.declaredType])),
    sensitive: new Set([...specs].filter(([, f]) => f.sensitive).map(([k]) => k)),
  } as unknown as EnvironmentView;
}

/** Counts by label tuple, as `EvaluationCounts` would hold them (cells the answers bump, `inc` for the rest). */
class RecordingCounts {
  readonly cells = new Map<string, CountCell>();
  cell(environment: string, flag: string, variant: string, reason: string): CountCell {
    const id = JSON.stringify([environment, flag, variant, reason]);
    let cell = this.cells.get(id);
    if (cell === undefined) {
      cell = { child: { inc() {} }, pending: 0 };
      this.cells.set(id, cell);
    }
    return cell;
  }
  totals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, cell] of this.cells) if (cell.pending > 0) out[id] = cell.pending;
    return out;
  }
}

const tail: BulkTail = {
  metadata: { revision: 7 },
  eventStreams: [{ type: 'sse', url: 'http://127.0.0.1:1/ofrep/v1/sse?key=k.x', inactivityDelaySec: 120 }],
};

const keysArb = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/), { minLength: 0, maxLength: 6 });

describe('OfrepAnswers', () => {
  it('single and bulk bodies and counts are exactly those of evaluating and serializing every flag per request (property)', () => {
    fc.assert(
      fc.property(
        keysArb.chain((keys) =>
          fc.tuple(fc.constant(keys), fc.array(flagArb, { minLength: keys.length, maxLength: keys.length })),
        ),
        fc.array(fc.record({ targetingKey: fc.string({ maxLength: 3 }), plan: fc.integer({ min: 0, max: 2 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        ([keys, specs], contexts) => {
          const view = viewOf(new Map(keys.map((k, i) => [k, specs[i]!])));
          const prepared = new RecordingCounts();
          const evaluated = new RecordingCounts();
          const answers = new OfrepAnswers(prepared);
          for (const context of contexts) {
            const sorted = [...view.flagTypes.keys()].sort();
            const flags = sorted.map((k) => {
              const e = evaluateFlag(view, k, context);
              evaluated.cell(view.name, e.key, variantLabel(view, e), e.errorCode ?? e.reason).pending++;
              if (e.errorCode) return ofrepErrorBody(e, e.errorCode);
              // The single route's answer: what the route schema makes of this very evaluation.
              assert.equal(answers.answerFor(view, e).json, serializeOne(e));
              return e;
            });
            assert.equal(answers.bulkBody(view, context, tail), serializeWholeBody({ flags, ...tail }));
          }
          assert.deepEqual(prepared.totals(), evaluated.totals());
        },
      ),
      { numRuns: 1500, seed: 20261202 },
    );
  });

  it('keeps a fixed answer only for flags the context cannot change, and never an error', () => {
    const spec = (over: Partial<FlagSpec>): FlagSpec => ({
      type: 'boolean',
      declaredType: 'boolean',
      state: 'ENABLED',
      a: true,
      b: false,
      defaultVariant: 'a',
      targeting: 'none',
      metadata: undefined,
      sensitive: false,
      ...over,
    });
    const view = viewOf(
      new Map([
        ['static', spec({})],
        ['empty-rule', spec({ targeting: 'empty' })],
        ['disabled-rule', spec({ state: 'DISABLED', targeting: 'rule' })],
        ['targeted', spec({ targeting: 'rule' })],
        ['mismatch', spec({ declaredType: 'string' })],
        ['no-default', spec({ defaultVariant: null })],
      ]),
    );
    const answers = new OfrepAnswers(new RecordingCounts()).of(view);
    assert.deepEqual([...answers.fixedByKey.keys()].sort(), ['disabled-rule', 'empty-rule', 'no-default', 'static']);
    assert.equal(answers.fixedByKey.get('static')!.json, serializeOne(evaluateFlag(view, 'static', {})));
    assert.equal(answers.fixedByKey.get('disabled-rule')!.evaluation.reason, 'DISABLED');
    // A view made after a change gets answers of its own; the old view's stay as they were.
    const changed = viewOf(new Map([['static', spec({ defaultVariant: 'b' })]]));
    const again = new OfrepAnswers(new RecordingCounts());
    assert.equal(again.of(view).fixedByKey.get('static')!.evaluation.value, true);
    assert.equal(again.of(changed).fixedByKey.get('static')!.evaluation.value, false);
  });
});
