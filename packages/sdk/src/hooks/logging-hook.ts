import type { EvaluationDetails, FlagValue, Hook, HookContext } from '@openfeature/server-sdk';

type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/** The part of a pino-style logger the SDK uses: structured fields first, then the message. */
export interface StructuredLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

export interface LoggingHookOptions {
  logger: StructuredLogger;
  /** Log the evaluated value of non-sensitive flags (default true). */
  includeValues?: boolean;
  /** Log the evaluation context's `targetingKey` (default false). No other context attribute is ever logged. */
  includeTargetingKey?: boolean;
}

/** Stands in for the value (and error message) of a flag whose metadata says `sensitive: true`. */
export const SENSITIVE_PLACEHOLDER = '[sensitive]';

/** True when the flag's metadata (flagd `metadata`, surfaced as `flagMetadata`) marks its values as sensitive. */
export function isSensitive(details: Pick<EvaluationDetails<FlagValue>, 'flagMetadata'>): boolean {
  return details.flagMetadata?.sensitive === true;
}

/**
 * Logs every OpenFeature evaluation: at debug when it succeeded, at warn when it failed (the code default was
 * served). Fields: flag key, variant, reason, error code, the value (unless sensitive) and, only when asked, the
 * targeting key — never the rest of the evaluation context, which is where user attributes live.
 */
export class LoggingHook implements Hook {
  private readonly logger: StructuredLogger;
  private readonly includeValues: boolean;
  private readonly includeTargetingKey: boolean;

  constructor(options: LoggingHookOptions) {
    this.logger = options.logger;
    this.includeValues = options.includeValues ?? true;
    this.includeTargetingKey = options.includeTargetingKey ?? false;
  }

  /**
   * `finally` sees both outcomes with the flag's metadata (the `error` stage gets only the thrown error, without
   * the metadata that says whether the flag is sensitive), and runs once per evaluation.
   */
  finally(hookContext: Readonly<HookContext<FlagValue>>, details: EvaluationDetails<FlagValue>): void {
    try {
      const sensitive = isSensitive(details);
      const fields: Record<string, unknown> = {
        flagKey: hookContext.flagKey,
        provider: hookContext.providerMetadata.name,
        variant: details.variant,
        reason: details.reason,
      };
      if (this.includeTargetingKey && hookContext.context.targetingKey !== undefined) {
        fields.targetingKey = hookContext.context.targetingKey;
      }
      if (details.errorCode) {
        fields.errorCode = details.errorCode;
        // A message can quote what was evaluated (e.g. a type mismatch), so a sensitive flag's is withheld too.
        fields.errorMessage = sensitive ? SENSITIVE_PLACEHOLDER : details.errorMessage;
        this.logger.warn(fields, 'feature flag evaluation failed; serving the code default');
        return;
      }
      if (this.includeValues) fields.value = sensitive ? SENSITIVE_PLACEHOLDER : details.value;
      this.logger.debug(fields, 'feature flag evaluated');
    } catch {
      // A logging failure must never change an evaluation's outcome.
    }
  }
}
