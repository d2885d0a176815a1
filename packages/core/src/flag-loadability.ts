import { FlagdCore } from '@openfeature/flagd-core';
import type { Evaluators, Flag, FlagType, JsonValue } from './flag-model.js';
import { pointer, type ValidationIssue } from './flag-validation.js';
import { type FlagdFlag, toFlagdConfig } from './flagd-compile.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const PLACEHOLDER: Record<FlagType, JsonValue> = { boolean: false, string: '', number: 0, object: {} };

/**
 * Loads `flag` into @openfeature/flagd-core exactly as a replica will (the same compilation, the same shared
 * evaluators, the same engine) for every environment it is configured in, and evaluates it once there. Returns
 * what flagd-core rejects; empty means every replica and every SDK can serve the flag.
 *
 * flagd-core rejects a whole configuration for one flag's structural problem, and answers PARSE_ERROR for every
 * user of a rule it cannot build, so a write is accepted only when this is empty.
 */
export function checkFlagLoads(flag: Flag, evaluators: Evaluators, environments: readonly string[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const env of environments) {
    if (!Object.hasOwn(flag.environments, env)) continue;
    const base = `/environments${pointer(env)}`;
    const engine = new FlagdCore(undefined, silent);
    try {
      engine.setConfigurations(JSON.stringify(toFlagdConfig([flag], evaluators, env)));
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message;
      issues.push({
        path: base,
        code: 'UNLOADABLE',
        message: `flagd cannot load this flag in ${env}: ${cause ?? (err as Error).message}`.slice(0, 500),
      });
      continue;
    }
    const loaded = engine.getFlag(flag.key);
    if (!loaded) {
      issues.push({ path: base, code: 'UNLOADABLE', message: `flagd dropped this flag in ${env}` });
      continue;
    }
    // Evaluate the rule whatever the state: a disabled flag's targeting must work the moment it is enabled.
    const r = loaded.evaluate({ targetingKey: 'rc-load-check' }, silent);
    if (r.errorCode) {
      issues.push({
        path: `${base}/targeting`,
        code: 'INVALID_TARGETING',
        message: `flagd answers ${r.errorCode} for this flag in ${env}: ${r.errorMessage ?? 'no detail'}`,
      });
    } else if (r.value !== undefined && typeof r.value !== typeof PLACEHOLDER[flag.type]) {
      issues.push({ path: `${base}/targeting`, code: 'TYPE_MISMATCH', message: `flagd serves a ${typeof r.value}` });
    }
  }
  return issues;
}

/**
 * What a replica serves in place of a flag it cannot load: a flag that flagd-core (server and SDK alike) answers
 * with PARSE_ERROR, so callers get their code default and an error code, and every other flag keeps working.
 */
export function unloadableFlagdFlag(sensitive: boolean): FlagdFlag {
  const flag: FlagdFlag = {
    state: 'ENABLED',
    variants: { unloadable: false },
    defaultVariant: 'unloadable',
    // An operator the engine does not have: flagd-core refuses to build the rule and reports PARSE_ERROR.
    targeting: { 'rc-unloadable-flag': [] },
    metadata: { unloadable: true },
  };
  if (sensitive) flag.metadata = { unloadable: true, sensitive: true };
  return flag;
}
