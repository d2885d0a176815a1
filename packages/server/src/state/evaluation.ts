import type { EvaluationContext, JsonValue } from '@openfeature/core';
import type { EnvironmentView } from './replica-state.js';

/** The outcome of one evaluation, in OFREP's vocabulary. `value` is absent when the caller's code default applies. */
export interface Evaluation {
  key: string;
  value?: JsonValue;
  variant?: string;
  reason: string;
  errorCode?: string;
  errorDetails?: string;
  metadata: Record<string, string | number | boolean>;
}

/**
 * One flag for one context. flagd-core's own `FeatureFlag.evaluate` decides (targeting, variants, reasons); around
 * it, the checks of `FlagdCore.resolve` in the same order — a disabled flag, an answer without a value (the code
 * default), a value of another type than the flag's — without the two copies of the result `resolve` makes per call
 * (the OFREP routes evaluate for every request). The differential tests compare these answers with `resolve`'s.
 */
export function evaluateFlag(view: EnvironmentView, key: string, context: EvaluationContext): Evaluation {
  const type = view.flagTypes.get(key);
  if (type === undefined) {
    return { key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${key}" not found`, metadata: {} };
  }
  const flag = view.engine.getFlag(key);
  if (flag === undefined) {
    const metadata = view.engine.getFlagSetMetadata() as Metadata;
    return { key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag '${key}' not found`, metadata };
  }
  if (flag.state === 'DISABLED') return { key, reason: 'DISABLED', metadata: flag.metadata as Metadata };
  const r = flag.evaluate(context);
  const metadata = r.flagMetadata as Metadata;
  if (r.errorCode) {
    return { key, reason: 'ERROR', errorCode: r.errorCode, errorDetails: r.errorMessage ?? r.errorCode, metadata };
  }
  if (r.value === undefined || r.variant === undefined) return { key, reason: r.reason ?? 'UNKNOWN', metadata };
  if (typeof r.value !== type) {
    const errorDetails = `Evaluated type of the flag ${key} does not match. Expected ${type}, got ${typeof r.value}`;
    return { key, reason: 'ERROR', errorCode: 'TYPE_MISMATCH', errorDetails, metadata: flag.metadata as Metadata };
  }
  return { key, value: r.value as JsonValue, variant: r.variant, reason: r.reason ?? 'UNKNOWN', metadata };
}

type Metadata = Evaluation['metadata'];

/** Every flag of the environment (bulk OFREP and the debug view), in key order. */
export function evaluateAll(view: EnvironmentView, context: EvaluationContext): Evaluation[] {
  return [...view.flagTypes.keys()].sort().map((key) => evaluateFlag(view, key, context));
}
