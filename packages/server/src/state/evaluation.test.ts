import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvaluationContext, JsonValue } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import type { FlagType } from '@runtime-control/core';
import fc from 'fast-check';
import { type Evaluation, evaluateFlag } from './evaluation.js';
import type { EnvironmentView } from './replica-state.js';

const PLACEHOLDER: Record<FlagType, JsonValue> = { boolean: false, string: '', number: 0, object: {} };

/** The answer as flagd-core's `FlagdCore.resolve` gives it, put in OFREP's terms the way the server always has. */
function throughResolve(engine: FlagdCore, type: FlagType, key: string, context: EvaluationContext): Evaluation {
  const r = engine.resolve(type, key, PLACEHOLDER[type], context);
  const metadata = r.flagMetadata as Evaluation['metadata'];
  if (r.errorCode) {
    return { key, reason: 'ERROR', errorCode: r.errorCode, errorDetails: r.errorMessage ?? r.errorCode, metadata };
  }
  const reason = r.reason ?? 'UNKNOWN';
  if (reason === 'DISABLED' || r.variant === undefined) return { key, reason, metadata };
  return { key, value: r.value as JsonValue, variant: r.variant, reason, metadata };
}

const valuesOf: Record<FlagType, fc.Arbitrary<JsonValue>> = {
  boolean: fc.boolean(),
  string: fc.string({ maxLength: 4 }),
  number: fc.integer(),
  object: fc.oneof(fc.constant<JsonValue>({ a: 1 }), fc.constant<JsonValue>([1, 2])),
};

// A flag as flagd-core takes it, sometimes with what validation would refuse (a variant of another type, targeting
// naming a variant that does not exist, no default) so that every branch of `resolve` is reached.
const flagArb = fc.constantFrom<FlagType>('boolean', 'string', 'number', 'object').chain((type) =>
  fc.record({
    type: fc.constant(type),
    declaredType: fc.oneof(
      { weight: 4, arbitrary: fc.constant(type) },
      fc.constantFrom<FlagType>('boolean', 'string', 'number', 'object'),
    ),
    state: fc.constantFrom('ENABLED', 'ENABLED', 'DISABLED'),
    a: valuesOf[type],
    b: fc.oneof(valuesOf[type], valuesOf.string, valuesOf.number),
    defaultVariant: fc.constantFrom('a', 'b', null),
    hit: fc.constantFrom('a', 'b', 'missing', null),
    miss: fc.constantFrom('a', 'b', null),
    targeted: fc.boolean(),
    metadata: fc.constantFrom({}, { team: 'x', version: 2 }),
  }),
);

describe('evaluateFlag', () => {
  it('answers as FlagdCore.resolve does, for every outcome (property)', () => {
    fc.assert(
      fc.property(flagArb, fc.integer({ min: 0, max: 2 }), (f, plan) => {
        const flag: Record<string, unknown> = {
          state: f.state,
          variants: { a: f.a, b: f.b },
          defaultVariant: f.defaultVariant,
          metadata: f.metadata,
        };
        if (f.targeted) flag.targeting = { if: [{ '==': [{ var: 'plan' }, 1] }, f.hit, f.miss] };
        const engine = new FlagdCore();
        engine.setConfigurations(JSON.stringify({ flags: { k: flag } }));
        const view = { flagTypes: new Map([['k', f.declaredType]]), engine } as unknown as EnvironmentView;
        const context = { targetingKey: 'u', plan };
        assert.deepEqual(evaluateFlag(view, 'k', context), throughResolve(engine, f.declaredType, 'k', context));
        assert.deepEqual(evaluateFlag(view, 'other', context), {
          key: 'other',
          reason: 'ERROR',
          errorCode: 'FLAG_NOT_FOUND',
          errorDetails: 'flag "other" not found',
          metadata: {},
        });
      }),
      { numRuns: 3000, seed: 20261202 },
    );
  });
});
