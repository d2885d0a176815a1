import { FlagdCore } from '@openfeature/flagd-core';
import { type Evaluators, type Flag, pointer, toFlagdFlag } from '@runtime-control/core';
import type { ErrorDetail } from '../../errors/app-error.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const PLACEHOLDER = { boolean: false, string: '', number: 0, object: {} } as const;

/**
 * Checks that each environment's compiled targeting is JsonLogic that flagd-core accepts (known operators,
 * resolvable `$ref`s). flagd-core never throws on bad rules — it answers PARSE_ERROR at evaluation — so the check
 * loads the flag alone into a scratch engine and evaluates it once.
 */
export function checkTargeting(flag: Flag, evaluators: Evaluators): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  for (const [env, settings] of Object.entries(flag.environments)) {
    if (!settings.targeting && !settings.overrides && !settings.rollout) continue;
    const compiled = { ...toFlagdFlag(flag, env), state: 'ENABLED' as const };
    const engine = new FlagdCore(undefined, silent);
    try {
      const config: Record<string, unknown> = { flags: { [flag.key]: compiled } };
      if (Object.keys(evaluators).length > 0) config.$evaluators = evaluators;
      engine.setConfigurations(JSON.stringify(config));
      const r = engine.resolve(flag.type, flag.key, PLACEHOLDER[flag.type], { targetingKey: 'rc-validation' });
      if (r.errorCode === 'PARSE_ERROR') {
        problems.push({
          path: `/environments${pointer(env)}/targeting`,
          code: 'INVALID_TARGETING',
          message: `targeting is not valid flagd JsonLogic (unknown operator or malformed rule)`,
        });
      }
    } catch (err) {
      problems.push({
        path: `/environments${pointer(env)}/targeting`,
        code: 'INVALID_TARGETING',
        message: `targeting rejected by flagd: ${(err as Error).message}`,
      });
    }
  }
  return problems;
}
