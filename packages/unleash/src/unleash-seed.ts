import { canonicalJson, diffJson, type JsonChange } from '@runtime-control/core';
import { normalizeStrategy, type UnleashAdminClient } from './unleash-admin-client.js';
import type { UnleashEnvironmentPlan, UnleashFeaturePlan } from './unleash-model.js';

export type FeatureStatus = 'missing' | 'in-sync' | 'drifted';

export interface FeatureComparison {
  name: string;
  status: FeatureStatus;
  /** What differs between Unleash and the file (only for drifted features), Unleash's value as `before`. */
  changes: JsonChange[];
}

export interface SeedReport {
  created: string[];
  existing: string[];
  updated: string[];
  drifted: FeatureComparison[];
}

export type SeedProgress = (line: string) => void;

function desiredState(plan: UnleashFeaturePlan) {
  return {
    description: plan.description,
    environments: Object.fromEntries(
      Object.entries(plan.environments).map(([env, e]) => [
        env,
        { enabled: e.enabled, strategies: e.strategies.map(normalizeStrategy) },
      ]),
    ),
  };
}

function currentState(feature: NonNullable<Awaited<ReturnType<UnleashAdminClient['getFeature']>>>, envs: string[]) {
  const byName = new Map(feature.environments.map((e) => [e.name, e]));
  return {
    description: feature.description ?? '',
    environments: Object.fromEntries(
      envs.map((env) => {
        const e = byName.get(env);
        return [env, { enabled: e?.enabled ?? false, strategies: (e?.strategies ?? []).map(normalizeStrategy) }];
      }),
    ),
  };
}

/** Compares every planned feature with Unleash, reading only. */
export async function compareWithUnleash(
  client: UnleashAdminClient,
  plans: UnleashFeaturePlan[],
): Promise<FeatureComparison[]> {
  const out: FeatureComparison[] = [];
  for (const plan of plans) {
    const feature = await client.getFeature(plan.name);
    if (!feature) {
      out.push({ name: plan.name, status: 'missing', changes: [] });
      continue;
    }
    const want = desiredState(plan);
    const have = currentState(feature, Object.keys(plan.environments));
    const same = canonicalJson(want) === canonicalJson(have);
    out.push({ name: plan.name, status: same ? 'in-sync' : 'drifted', changes: same ? [] : diffJson(have, want) });
  }
  return out;
}

async function writeEnvironment(client: UnleashAdminClient, name: string, env: string, plan: UnleashEnvironmentPlan) {
  for (const s of plan.strategies) await client.addStrategy(name, env, s);
  await client.setEnabled(name, env, plan.enabled);
}

/**
 * Seeds Unleash: creates what is missing (with its strategies, enabled per environment), leaves existing features
 * as they are (a 409 is reported, not an error), and with `reconcile` rewrites drifted ones to match the file.
 */
export async function seedUnleash(
  client: UnleashAdminClient,
  plans: UnleashFeaturePlan[],
  options: { reconcile: boolean; progress?: SeedProgress },
): Promise<SeedReport> {
  const progress = options.progress ?? (() => {});
  const report: SeedReport = { created: [], existing: [], updated: [], drifted: [] };
  const neededFields = [...new Set(plans.flatMap((p) => p.contextFields))];
  if (neededFields.length > 0) {
    const known = new Set(await client.contextFields());
    for (const field of neededFields) {
      if (!known.has(field)) {
        await client.createContextField(field);
        progress(`context field ${field} created`);
      }
    }
  }
  for (const plan of plans) {
    const created = await client.createFeature({ name: plan.name, type: plan.type, description: plan.description });
    if (created) {
      for (const [env, e] of Object.entries(plan.environments)) await writeEnvironment(client, plan.name, env, e);
      report.created.push(plan.name);
      progress(`created ${plan.name}`);
      continue;
    }
    report.existing.push(plan.name);
    const [comparison] = await compareWithUnleash(client, [plan]);
    if (comparison?.status !== 'drifted') {
      progress(`exists  ${plan.name} (in sync)`);
      continue;
    }
    report.drifted.push(comparison);
    if (!options.reconcile) {
      progress(`exists  ${plan.name} (differs from the file; left as is — use --reconcile to update)`);
      continue;
    }
    const feature = await client.getFeature(plan.name);
    if (feature && (feature.description ?? '') !== plan.description)
      await client.updateDescription(plan.name, plan.description);
    for (const [env, e] of Object.entries(plan.environments)) {
      const current = feature?.environments.find((x) => x.name === env);
      for (const s of current?.strategies ?? []) await client.deleteStrategy(plan.name, env, s.id);
      await writeEnvironment(client, plan.name, env, e);
    }
    report.updated.push(plan.name);
    progress(`updated ${plan.name}`);
  }
  return report;
}
