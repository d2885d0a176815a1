import type { EvaluationContext, EvaluationContextValue } from '@openfeature/server-sdk';
import type { Context as UnleashContext } from 'unleash-client';

/** Context fields Unleash reads from the top level of its context; everything else lives in `properties`. */
const TOP_LEVEL_FIELDS = new Set(['sessionId', 'remoteAddress', 'environment', 'appName']);

/**
 * Maps an OpenFeature evaluation context to an Unleash context.
 *
 * - `targetingKey` becomes `userId`. An explicit `userId` key is used only when there is no targeting key, so
 *   OpenFeature's notion of "who" always wins.
 * - `sessionId`, `remoteAddress`, `environment` and `appName` go to the top level (as strings); `environment` and
 *   `appName` then override the client's static ones, as they would with the Unleash SDK.
 * - `currentTime` (a Date, or a string Date.parse understands) becomes a Date; anything else there is dropped.
 * - Every other key goes to `properties`: strings as they are, numbers and booleans stringified, Dates as ISO
 *   strings. Objects, arrays and null are skipped: Unleash constraints compare scalars only.
 */
export function toUnleashContext(context: EvaluationContext): UnleashContext {
  const result: UnleashContext = {};
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) {
    if (key === 'targetingKey' || key === 'userId') continue;
    if (key === 'currentTime') {
      const time = toDate(value);
      if (time) result.currentTime = time;
      continue;
    }
    const text = scalarToString(value);
    if (text === undefined) continue;
    if (TOP_LEVEL_FIELDS.has(key)) result[key] = text;
    else properties[key] = text;
  }
  const userId = scalarToString(context.targetingKey) ?? scalarToString(context.userId);
  if (userId !== undefined) result.userId = userId;
  if (Object.keys(properties).length > 0) result.properties = properties;
  return result;
}

function scalarToString(value: EvaluationContextValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return undefined;
}

function toDate(value: EvaluationContextValue | undefined): Date | undefined {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}
