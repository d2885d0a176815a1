import { type Evaluators, type Flag, isPlainObject, type JsonValue, pointer } from '@runtime-control/core';
import {
  BUILT_IN_CONTEXT_FIELDS,
  type UnleashConstraint,
  type UnleashEnvironmentPlan,
  type UnleashFeaturePlan,
  type UnleashPayload,
  type UnleashStrategy,
  type UnleashVariant,
} from './unleash-model.js';

/** A part of a flag that Unleash cannot express; the whole file is refused before anything is written. */
export interface Untranslatable {
  flag: string;
  path: string;
  construct: string;
  message: string;
}

export type TranslationResult =
  | { ok: true; features: UnleashFeaturePlan[] }
  | { ok: false; problems: Untranslatable[] };

/** Unleash OSS has exactly these environments. */
export const UNLEASH_OSS_ENVIRONMENTS = ['development', 'production'] as const;

class Refusal extends Error {
  constructor(
    readonly path: string,
    readonly construct: string,
    message: string,
  ) {
    super(message);
  }
}

const SEMVER_OPERATORS: Record<string, string> = {
  '=': 'SEMVER_EQ',
  '>': 'SEMVER_GT',
  '<': 'SEMVER_LT',
  '>=': 'SEMVER_GTE',
  '<=': 'SEMVER_LTE',
};

function contextName(variable: unknown, path: string): string {
  const name = isPlainObject(variable) && typeof variable.var === 'string' ? variable.var : undefined;
  if (!name) throw new Refusal(path, 'non-variable operand', 'the left operand must be {"var": "<context field>"}');
  if (name.includes('.')) throw new Refusal(path, 'nested context field', `"${name}": Unleash context fields are flat`);
  if (name.startsWith('$flagd')) throw new Refusal(path, name, `"${name}" has no Unleash equivalent`);
  return name === 'targetingKey' ? 'userId' : name;
}

function stringValues(list: unknown, path: string): string[] {
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
    throw new Refusal(path, 'non-literal list', 'the list must be literal strings or numbers');
  }
  return list.map(String);
}

function constraint(contextField: string, operator: string, values: string[], inverted = false): UnleashConstraint {
  return { contextName: contextField, operator, values, inverted, caseInsensitive: false };
}

/** A JsonLogic condition → constraints that must all hold (Unleash ANDs the constraints of one strategy). */
function conditionToConstraints(logic: unknown, evaluators: Evaluators, path: string): UnleashConstraint[] {
  if (!isPlainObject(logic) || Object.keys(logic).length !== 1) {
    throw new Refusal(
      path,
      JSON.stringify(logic)?.slice(0, 60) ?? 'condition',
      'a condition must be one JsonLogic operation',
    );
  }
  const [op, args] = Object.entries(logic)[0] as [string, unknown];
  const a = Array.isArray(args) ? args : [args];
  switch (op) {
    case '$ref': {
      const target = typeof args === 'string' ? evaluators[args] : undefined;
      if (!target) throw new Refusal(path, '$ref', `no shared evaluator named ${JSON.stringify(args)}`);
      return conditionToConstraints(target, evaluators, `${path}/$ref`);
    }
    case 'in':
      return [constraint(contextName(a[0], `${path}/in/0`), 'IN', stringValues(a[1], `${path}/in/1`))];
    case '==':
    case '===':
    case '!=':
    case '!==': {
      const [left, right] = isPlainObject(a[0]) ? [a[0], a[1]] : [a[1], a[0]];
      if (typeof right !== 'string' && typeof right !== 'number') {
        throw new Refusal(path, op, 'equality must compare a context field with a literal');
      }
      return [constraint(contextName(left, `${path}/${op}`), op.startsWith('!') ? 'NOT_IN' : 'IN', [String(right)])];
    }
    case 'starts_with':
    case 'ends_with': {
      const affix = a[1];
      if (typeof affix !== 'string') throw new Refusal(path, op, `${op} needs a literal string`);
      return [
        constraint(contextName(a[0], `${path}/${op}/0`), op === 'starts_with' ? 'STR_STARTS_WITH' : 'STR_ENDS_WITH', [
          affix,
        ]),
      ];
    }
    case 'sem_ver': {
      const operator = SEMVER_OPERATORS[String(a[1])];
      if (!operator || typeof a[2] !== 'string') {
        throw new Refusal(path, `sem_ver ${String(a[1])}`, 'Unleash has SEMVER_EQ/GT/LT/GTE/LTE only (no ^ or ~)');
      }
      return [{ ...constraint(contextName(a[0], `${path}/sem_ver/0`), operator, []), value: a[2] }];
    }
    case 'and':
      return a.flatMap((c, i) => conditionToConstraints(c, evaluators, `${path}/and/${i}`));
    case '!': {
      const inner = conditionToConstraints(a[0], evaluators, `${path}/!`);
      if (inner.length !== 1)
        throw new Refusal(path, '! of a compound condition', 'Unleash can only invert one constraint');
      return [{ ...inner[0]!, inverted: !inner[0]!.inverted }];
    }
    default:
      throw new Refusal(path, op, `the JsonLogic operator "${op}" has no Unleash equivalent`);
  }
}

function payloadOf(flag: Flag, variant: string): UnleashPayload | undefined {
  const value = flag.variants[variant] as JsonValue;
  switch (flag.type) {
    case 'boolean':
      return undefined;
    case 'string':
      return { type: 'string', value: String(value) };
    case 'number':
      return { type: 'number', value: String(value) };
    case 'object':
      return { type: 'json', value: JSON.stringify(value) };
  }
}

interface Branch {
  constraints: UnleashConstraint[];
  variant: string;
  rollout?: number;
}

/**
 * Builds one environment's strategies. Flag semantics: overrides, then targeting branches, then the rollout, then
 * the default variant. Unleash ORs strategies in order and the first match decides, so each of ours becomes one
 * strategy in that order; for boolean flags a "false" branch cannot be a strategy (a matching strategy means on), so
 * it becomes an inverted constraint on every later strategy instead.
 */
function environmentPlan(flag: Flag, env: string, evaluators: Evaluators): UnleashEnvironmentPlan {
  const settings = flag.environments[env];
  const base = `/environments${pointer(env)}`;
  const branches: Branch[] = [];
  if (!settings) return { enabled: false, strategies: [] };
  const byVariant = new Map<string, string[]>();
  for (const [key, variant] of Object.entries(settings.overrides ?? {})) {
    byVariant.set(variant, [...(byVariant.get(variant) ?? []), key]);
  }
  for (const [variant, keys] of [...byVariant.entries()].sort(([x], [y]) => x.localeCompare(y))) {
    branches.push({ constraints: [constraint('userId', 'IN', keys.sort())], variant });
  }
  // No default variant (flagd's null): no catch-all strategy, so when nothing matches Unleash answers off / the
  // disabled variant, which providers turn into the code default — what flagd does.
  let fallthrough: string | undefined = flag.defaultVariant ?? undefined;
  if (settings.targeting) {
    const t = settings.targeting;
    const path = `${base}/targeting`;
    const resolved = isPlainObject(t) && typeof t.$ref === 'string' ? evaluators[t.$ref] : t;
    if (isPlainObject(resolved) && Array.isArray(resolved.if)) {
      const parts = resolved.if;
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const variant = parts[i + 1];
        if (variant === null) continue;
        if (typeof variant !== 'string' || !Object.hasOwn(flag.variants, variant)) {
          throw new Refusal(
            `${path}/if/${i + 1}`,
            'computed result',
            'each branch must return a variant name (or null)',
          );
        }
        branches.push({ constraints: conditionToConstraints(parts[i], evaluators, `${path}/if/${i}`), variant });
      }
      if (parts.length % 2 === 1) {
        const last = parts[parts.length - 1];
        if (last !== null) {
          if (typeof last !== 'string' || !Object.hasOwn(flag.variants, last)) {
            throw new Refusal(
              `${path}/if/${parts.length - 1}`,
              'computed result',
              'the else branch must be a variant name or null',
            );
          }
          if (settings.rollout) {
            throw new Refusal(
              path,
              'else branch with a rollout',
              'an else branch leaves nothing for the rollout to apply to',
            );
          }
          fallthrough = last;
        }
      }
    } else if (isPlainObject(resolved) && Array.isArray(resolved.fractional) && flag.type === 'boolean') {
      throw new Refusal(
        path,
        'fractional',
        'use the environment rollout (percentage) instead of fractional targeting for Unleash',
      );
    } else {
      const op = isPlainObject(resolved) ? Object.keys(resolved)[0] : typeof resolved;
      throw new Refusal(
        path,
        String(op),
        `targeting must be {"if": [condition, variant, …]} to translate to Unleash strategies`,
      );
    }
  }
  if (settings.rollout) {
    if (!Number.isInteger(settings.rollout.percentage)) {
      throw new Refusal(
        `${base}/rollout/percentage`,
        'fractional percentage',
        'Unleash rollouts are whole percentages',
      );
    }
    branches.push({ constraints: [], variant: settings.rollout.variant, rollout: settings.rollout.percentage });
  }
  if (fallthrough !== undefined) branches.push({ constraints: [], variant: fallthrough, rollout: 100 });

  const strategies: UnleashStrategy[] = [];
  const exclusions: UnleashConstraint[] = [];
  const isOn = (variant: string) => flag.variants[variant] === true;
  for (const [i, b] of branches.entries()) {
    const last = i === branches.length - 1;
    if (flag.type === 'boolean' && !isOn(b.variant)) {
      if (last) continue;
      if (b.rollout !== undefined) {
        throw new Refusal(
          `${base}/rollout`,
          'rollout to the off variant',
          'a boolean rollout must roll out the "on" variant',
        );
      }
      if (b.constraints.length !== 1) {
        throw new Refusal(
          `${base}/targeting`,
          'compound condition returning off',
          'a branch that returns the off variant may have one condition only (it becomes an inverted constraint)',
        );
      }
      exclusions.push({ ...b.constraints[0]!, inverted: !b.constraints[0]!.inverted });
      continue;
    }
    const payload = payloadOf(flag, b.variant);
    const variants: UnleashVariant[] = payload
      ? [{ name: b.variant, weight: 1000, weightType: 'variable', stickiness: 'default', payload }]
      : [];
    strategies.push({
      name: 'flexibleRollout',
      parameters: { rollout: String(b.rollout ?? 100), stickiness: 'default', groupId: flag.key },
      constraints: [...exclusions, ...b.constraints],
      variants,
    });
  }
  // An enabled Unleash flag with no strategies is on for everyone; an explicit 0 % keeps "off by default" off.
  if (strategies.length === 0) {
    strategies.push({
      name: 'flexibleRollout',
      parameters: { rollout: '0', stickiness: 'default', groupId: flag.key },
      constraints: [],
      variants: [],
    });
  }
  return { enabled: settings.state === 'ENABLED', strategies };
}

/**
 * Translates validated flags to Unleash features. Everything is checked first: if any flag uses something Unleash
 * cannot express, nothing is returned but the list of problems (the seed then writes nothing).
 */
export function translateFlags(
  flags: Flag[],
  evaluators: Evaluators,
  environments: readonly string[],
): TranslationResult {
  const problems: Untranslatable[] = [];
  const features: UnleashFeaturePlan[] = [];
  for (const flag of flags) {
    try {
      const envs: Record<string, UnleashEnvironmentPlan> = {};
      for (const env of Object.keys(flag.environments)) {
        if (!environments.includes(env)) {
          throw new Refusal(
            `/environments${pointer(env)}`,
            `environment "${env}"`,
            `Unleash has no environment "${env}" (it has ${environments.join(', ')})`,
          );
        }
      }
      for (const env of environments) envs[env] = environmentPlan(flag, env, evaluators);
      const contextFields = new Set<string>();
      for (const e of Object.values(envs)) {
        for (const s of e.strategies)
          for (const c of s.constraints)
            if (!BUILT_IN_CONTEXT_FIELDS.has(c.contextName)) contextFields.add(c.contextName);
      }
      features.push({
        name: flag.key,
        type: flag.type === 'boolean' ? 'release' : 'operational',
        description: flag.description ?? '',
        environments: envs,
        contextFields: [...contextFields].sort(),
      });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      problems.push({ flag: flag.key, path: err.path, construct: err.construct, message: err.message });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, features };
}

export function formatUntranslatable(p: Untranslatable): string {
  return `flag "${p.flag}" at ${p.path}: ${p.construct}: ${p.message}`;
}
