import type { EvaluationContext, JsonValue } from '@openfeature/core';
import type { FlagType } from '@runtime-control/core';
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

// flagd-core needs a default of the flag's type; it is returned only where OFREP says "use the code default",
// and in those cases we omit `value`, so the placeholder never reaches a client.
const PLACEHOLDER: Record<FlagType, JsonValue> = { boolean: false, string: '', number: 0, object: {} };

export function evaluateFlag(view: EnvironmentView, key: string, context: EvaluationContext): Evaluation {
  const type = view.flagTypes.get(key);
  if (type === undefined) {
    return { key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag "${key}" not found`, metadata: {} };
  }
  const r = view.engine.resolve(type, key, PLACEHOLDER[type], context);
  const metadata = r.flagMetadata as Record<string, string | number | boolean>;
  if (r.errorCode) {
    return { key, reason: 'ERROR', errorCode: r.errorCode, errorDetails: r.errorMessage ?? r.errorCode, metadata };
  }
  const reason = r.reason ?? 'UNKNOWN';
  if (reason === 'DISABLED' || r.variant === undefined) {
    return { key, reason, metadata };
  }
  return { key, value: r.value as JsonValue, variant: r.variant, reason, metadata };
}

/** Every flag of the environment (bulk OFREP and the debug view), in key order. */
export function evaluateAll(view: EnvironmentView, context: EvaluationContext): Evaluation[] {
  return [...view.flagTypes.keys()].sort().map((key) => evaluateFlag(view, key, context));
}
