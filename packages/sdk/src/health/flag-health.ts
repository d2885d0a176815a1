import {
  type EvaluationContext,
  type FlagValueType,
  type JsonValue,
  OpenFeature,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';

export interface FlagHealthEntry {
  key: string;
  /** Absent for sensitive flags, disabled flags and failed evaluations (those would show a made-up default). */
  value?: JsonValue;
  variant?: string;
  reason: string;
  errorCode?: string;
  /** Present (true) when the value is withheld because the flag is marked sensitive. */
  sensitive?: true;
}

export interface FlagHealth {
  provider: { name: string; status: string };
  /** The server revision the values reflect (RuntimeControlProvider), otherwise null. */
  revision: number | null;
  flags: FlagHealthEntry[];
}

export interface FlagHealthOptions {
  /**
   * Which flags to show. Default: every flag a RuntimeControlProvider holds. A provider that cannot list its
   * flags (e.g. InMemoryProvider) shows only the keys given here.
   */
  keys?: readonly string[];
}

/** Provider states in which the service is not serving flag values it got from the control plane. */
export const UNHEALTHY_STATUSES: ReadonlySet<string> = new Set(['ERROR', 'FATAL', 'NOT_READY']);

const PLACEHOLDER_DEFAULTS: Record<FlagValueType, JsonValue> = { boolean: false, string: '', number: 0, object: {} };
// Tried in order for providers that cannot tell a flag's type; the first that is not a type mismatch wins.
const PROBE_ORDER: readonly FlagValueType[] = ['boolean', 'string', 'number', 'object'];

function statusOf(provider: Provider): string {
  if (provider instanceof RuntimeControlProvider) return provider.state;
  // Other providers' status is kept by the SDK; it is only reachable when the provider is the default one.
  if (OpenFeature.getProvider() === provider) return OpenFeature.getClient().providerStatus;
  return 'READY';
}

async function resolve(
  provider: Provider,
  type: FlagValueType,
  key: string,
  context: EvaluationContext,
): Promise<ResolutionDetails<JsonValue>> {
  const fallback = PLACEHOLDER_DEFAULTS[type];
  try {
    switch (type) {
      case 'boolean':
        return await provider.resolveBooleanEvaluation(key, fallback as boolean, context, silentLogger);
      case 'string':
        return await provider.resolveStringEvaluation(key, fallback as string, context, silentLogger);
      case 'number':
        return await provider.resolveNumberEvaluation(key, fallback as number, context, silentLogger);
      case 'object':
        return await provider.resolveObjectEvaluation(key, fallback, context, silentLogger);
    }
  } catch (err) {
    // Providers signal errors by throwing OpenFeature errors (which carry `code`), as the SDK expects.
    const code = (err as { code?: unknown }).code;
    return { value: fallback, reason: 'ERROR', errorCode: (typeof code === 'string' ? code : 'GENERAL') as never };
  }
}

async function evaluateUnknownType(
  provider: Provider,
  key: string,
  context: EvaluationContext,
): Promise<ResolutionDetails<JsonValue>> {
  let last: ResolutionDetails<JsonValue> | undefined;
  for (const type of PROBE_ORDER) {
    last = await resolve(provider, type, key, context);
    if (last.errorCode !== 'TYPE_MISMATCH') return last;
  }
  return last as ResolutionDetails<JsonValue>;
}

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

function entryOf(key: string, details: ResolutionDetails<JsonValue>): FlagHealthEntry {
  const entry: FlagHealthEntry = { key, reason: details.reason ?? 'UNKNOWN' };
  if (details.variant !== undefined) entry.variant = details.variant;
  if (details.errorCode) entry.errorCode = details.errorCode;
  const sensitive = details.flagMetadata?.sensitive === true;
  if (sensitive) entry.sensitive = true;
  else if (!details.errorCode && details.reason !== 'DISABLED') entry.value = details.value;
  return entry;
}

/**
 * What a service's flags evaluate to for one context, for a debug endpoint: each flag's variant and reason, and its
 * value unless the flag is sensitive. Never throws for an evaluation problem: a failed flag shows its error code.
 */
export async function flagHealth(
  provider: Provider,
  context: EvaluationContext = {},
  options: FlagHealthOptions = {},
): Promise<FlagHealth> {
  const flags: FlagHealthEntry[] = [];
  if (provider instanceof RuntimeControlProvider) {
    const keys = options.keys ?? provider.flagKeys();
    for (const key of keys) {
      const type = provider.flagType(key);
      // An unknown key is evaluated as boolean so that it reports FLAG_NOT_FOUND like any other evaluation.
      flags.push(
        entryOf(key, provider.evaluate(type ?? 'boolean', key, PLACEHOLDER_DEFAULTS[type ?? 'boolean'], context)),
      );
    }
  } else {
    for (const key of options.keys ?? []) flags.push(entryOf(key, await evaluateUnknownType(provider, key, context)));
  }
  return {
    provider: { name: provider.metadata.name, status: statusOf(provider) },
    revision: provider instanceof RuntimeControlProvider ? (provider.currentRevision ?? null) : null,
    flags,
  };
}

/** The HTTP status for a health view: 503 while the provider has no usable flags or has lost them. */
export function flagHealthStatusCode(health: FlagHealth): number {
  return UNHEALTHY_STATUSES.has(health.provider.status) ? 503 : 200;
}

/** The targeting key the health endpoints use by default: `?user=` or the `x-user-id` header. */
export function defaultHealthContext(
  query: unknown,
  headers: Record<string, string | string[] | undefined>,
): EvaluationContext {
  const fromQuery = (query as Record<string, unknown> | undefined)?.user;
  const header = headers['x-user-id'];
  const user = typeof fromQuery === 'string' && fromQuery ? fromQuery : Array.isArray(header) ? header[0] : header;
  return user ? { targetingKey: user } : {};
}
