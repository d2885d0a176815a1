/** What one evaluation produced, in label-safe form (no values, no messages). */
export interface EvaluationRecord {
  flagKey: string;
  providerName: string;
  variant: string | undefined;
  reason: string | undefined;
  errorCode: string | undefined;
}

/**
 * Receives every evaluation, from the OpenFeature client (through a hook) and from the synchronous fast path
 * alike, so both paths produce the same metrics. Implementations must be cheap and must not throw.
 */
export interface EvaluationRecorder {
  record(evaluation: EvaluationRecord): void;
}
