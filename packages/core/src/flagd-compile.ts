import type { EnvironmentSettings, Evaluators, Flag, JsonObject, JsonValue } from './flag-model.js';

/** A flag in flagd's definition format (https://flagd.dev/schema/v0/flags.json). */
export interface FlagdFlag {
  state: 'ENABLED' | 'DISABLED';
  variants: Record<string, JsonValue>;
  defaultVariant: string;
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

/** The flagd definition of `flag` in `environment`. A flag without settings for the environment is DISABLED there. */
export function toFlagdFlag(flag: Flag, environment: string): FlagdFlag {
  const settings = flag.environments[environment];
  const out: FlagdFlag = {
    state: settings?.state ?? 'DISABLED',
    variants: flag.variants,
    defaultVariant: flag.defaultVariant,
  };
  const targeting = settings ? compileTargeting(settings) : undefined;
  if (targeting !== undefined) out.targeting = targeting;
  // SDKs hide sensitive values from health views and logs; flagd metadata is how that travels with the flag.
  if (flag.sensitive) out.metadata = { sensitive: true };
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
  for (const flag of sorted) config.flags[flag.key] = toFlagdFlag(flag, environment);
  if (Object.keys(evaluators).length > 0) config.$evaluators = evaluators;
  if (metadata) config.metadata = metadata;
  return config;
}
