import type { EnvironmentSettings, Evaluators, Flag, JsonObject, JsonValue } from './flag-model.js';
import { logicResults } from './json-logic-rules.js';

/** A flag in flagd's definition format (https://flagd.dev/schema/v0/flags.json). */
export interface FlagdFlag {
  state: 'ENABLED' | 'DISABLED';
  variants: Record<string, JsonValue>;
  /** null: the caller's code default (reason DEFAULT, no variant). */
  defaultVariant: string | null;
  targeting?: JsonObject;
  metadata?: Record<string, string | number | boolean>;
}

export interface FlagdConfig {
  $schema?: string;
  flags: Record<string, FlagdFlag>;
  $evaluators?: Evaluators;
  metadata?: Record<string, string | number | boolean>;
}

export const FLAGD_SCHEMA_URL = 'https://flagd.dev/schema/v0/flags.json';

// fractional weights are integers; basis points give rollouts 0.01 % granularity.
const BASIS_POINTS = 10_000;

function overridesRule(overrides: Record<string, string> | undefined): JsonValue[] {
  if (!overrides) return [];
  const byVariant = new Map<string, string[]>();
  for (const [targetingKey, variant] of Object.entries(overrides)) {
    const list = byVariant.get(variant) ?? [];
    list.push(targetingKey);
    byVariant.set(variant, list);
  }
  const branches: JsonValue[] = [];
  for (const [variant, keys] of [...byVariant.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    branches.push({ in: [{ var: 'targetingKey' }, keys.sort()] }, variant);
  }
  return branches;
}

function rolloutRule(settings: EnvironmentSettings): JsonObject | undefined {
  const r = settings.rollout;
  if (!r) return undefined;
  const inside = Math.round(r.percentage * 100);
  // The bucket names are not variants: the comparison turns "in the rollout" into the variant, and "outside" into
  // null so evaluation falls through to the default variant (reason DEFAULT), as flagd does for a null result.
  return {
    if: [
      {
        '==': [
          {
            fractional: [
              ['in', inside],
              ['out', BASIS_POINTS - inside],
            ],
          },
          'in',
        ],
      },
      r.variant,
      null,
    ],
  };
}

/**
 * Compiles one environment's settings to flagd JsonLogic. Order of precedence: test-user overrides, then the
 * user's targeting, then the percentage rollout, then `defaultVariant`. Returns undefined when nothing targets,
 * which flagd reports as reason STATIC.
 */
export function compileTargeting(settings: EnvironmentSettings): JsonObject | undefined {
  const overrides = overridesRule(settings.overrides);
  const rollout = rolloutRule(settings);
  let rest: JsonValue | undefined;
  if (settings.targeting && rollout) {
    rest = { if: [{ '!=': [settings.targeting, null] }, settings.targeting, rollout] };
  } else {
    rest = settings.targeting ?? rollout;
  }
  if (overrides.length === 0) return rest as JsonObject | undefined;
  return { if: [...overrides, rest ?? null] };
}

/**
 * The variants `settings` can serve: the default, every override, the rollout's and every name the targeting can
 * return (through shared evaluators). Undefined when the targeting computes its result (only stored data written
 * before results were checked can), in which case every variant stays reachable.
 */
export function reachableVariants(
  flag: Flag,
  settings: EnvironmentSettings,
  evaluators: Evaluators,
): Set<string> | undefined {
  const names = new Set<string>(flag.defaultVariant === null ? [] : [flag.defaultVariant]);
  for (const variant of Object.values(settings.overrides ?? {})) names.add(variant);
  if (settings.rollout) names.add(settings.rollout.variant);
  if (settings.targeting) {
    const results = logicResults(settings.targeting, evaluators, '');
    if (results.dynamic.length > 0) return undefined;
    for (const name of results.names) names.add(name);
  }
  return names;
}

/**
 * The flagd definition of `flag` in `environment`, or undefined when the flag has no settings there.
 *
 * Environment isolation: a configuration carries only what its environment can serve. A flag not configured for an
 * environment is absent from it (clients answer FLAG_NOT_FOUND and use their code default), and a configured flag
 * carries only the variants its settings there can return, so no client of one environment ever receives a
 * value that only another environment's rules serve.
 */
export function toFlagdFlag(flag: Flag, environment: string, evaluators: Evaluators = {}): FlagdFlag | undefined {
  if (!Object.hasOwn(flag.environments, environment)) return undefined;
  const settings = flag.environments[environment]!;
  const reachable = reachableVariants(flag, settings, evaluators);
  const variants: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(flag.variants)) {
    if (!reachable || reachable.has(name)) variants[name] = value;
  }
  const out: FlagdFlag = {
    state: settings.state,
    variants,
    defaultVariant: flag.defaultVariant,
  };
  const targeting = compileTargeting(settings);
  if (targeting !== undefined) out.targeting = targeting;
  // The flag's own metadata, and `sensitive`: SDKs hide sensitive values from health views and logs, and flagd
  // metadata is how that travels with the flag (validation keeps both keys out of the flag's metadata).
  if (flag.metadata || flag.sensitive) {
    out.metadata = { ...flag.metadata, ...(flag.sensitive ? { sensitive: true } : {}) };
  }
  return out;
}

/** The whole environment as one flagd flag-set document, keys sorted for stable output and ETags. */
export function toFlagdConfig(
  flags: Iterable<Flag>,
  evaluators: Evaluators,
  environment: string,
  metadata?: Record<string, string | number | boolean>,
): FlagdConfig {
  const sorted = [...flags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const config: FlagdConfig = { $schema: FLAGD_SCHEMA_URL, flags: {} };
  for (const flag of sorted) {
    const compiled = toFlagdFlag(flag, environment, evaluators);
    if (compiled) config.flags[flag.key] = compiled;
  }
  if (Object.keys(evaluators).length > 0) config.$evaluators = evaluators;
  if (metadata) config.metadata = metadata;
  return config;
}
