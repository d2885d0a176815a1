/**
 * The classic Vault/ESO mistakes, found in the platform file before anything reaches a cluster (issue 12 items 1
 * and 7, runbook §7 "ExternalSecret stuck pending"). Each is accepted by the Kubernetes API server and fails later:
 * an ExternalSecret that never syncs, a rotation that never arrives, a pod without its env var. Every problem names
 * its place in the file (JSON Pointer) and its fix in one line. `rctl render` refuses to write when one fails;
 * `rctl secrets check` prints each check as pass or fail.
 */
import { durationSeconds } from '@runtime-control/core';
import type { SecretsPlan, SecretsPlatformInput } from './secrets-plan.js';

export const SECRETS_CHECKS = {
  kvPath: {
    id: 'kv-path',
    code: 'KV_DATA_IN_PATH',
    title: 'KV v2 store path is the mount only and bundle paths have no "data/" (ESO adds it)',
  },
  refreshInterval: {
    id: 'refresh-interval',
    code: 'REFRESH_DISABLED_WITH_ROTATION',
    title: 'bundles with a rotation policy have a refreshInterval above 0 (force-sync is ignored at 0)',
  },
  envProvided: {
    id: 'env-provided',
    code: 'ENV_NOT_PROVIDED',
    title: 'every env var a service needs reaches each of its Deployments from a bundle',
  },
  storeAuth: {
    id: 'store-auth',
    code: 'STORE_AUTH_INCOMPLETE',
    title: "the store's Kubernetes auth names a role, a service account and an audience",
  },
} as const;

export type SecretsCheckId = (typeof SECRETS_CHECKS)[keyof typeof SECRETS_CHECKS]['id'];

export interface SecretsCheckIssue {
  check: string;
  code: string;
  /** JSON Pointer into the platform file. */
  path: string;
  /** What is wrong and what happens. Names and paths only, never a value. */
  message: string;
  /** The fix, in one line. */
  fix: string;
  /** The service the problem belongs to; absent for the store. */
  service?: string;
}

export interface SecretsCheckResult {
  id: string;
  code: string;
  title: string;
  issues: SecretsCheckIssue[];
}

function segments(path: string): string[] {
  return path.split('/');
}

/** KV v2: the store's path is the mount; ESO builds `<mount>/data/<key>`, so "data" in either doubles it. */
export function checkKvPaths(plan: SecretsPlan): SecretsCheckIssue[] {
  const { store } = plan;
  if (store.version !== 'v2') return [];
  const { id: check, code } = SECRETS_CHECKS.kvPath;
  const issues: SecretsCheckIssue[] = [];
  const storeSegments = segments(store.path);
  const dataAt = storeSegments.indexOf('data', 1);
  const mount = dataAt > 0 ? storeSegments.slice(0, dataAt).join('/') : store.path;
  if (dataAt > 0) {
    issues.push({
      check,
      code,
      path: '/secrets/store/path',
      message:
        `secrets store "${store.name}" path "${store.path}" contains "data" with version v2: ESO inserts "/data" ` +
        `itself and would read ${mount}/data/${storeSegments.slice(dataAt).join('/')}/<key>, which does not exist, so every ExternalSecret stays pending.`,
      fix: `set path: ${mount} (the KV mount only)`,
    });
  }
  for (const bundle of plan.bundles) {
    const parts = segments(bundle.path);
    let rest: string[] | undefined;
    if (parts[0] === 'data') rest = parts.slice(1);
    else if (bundle.path.startsWith(`${mount}/data/`)) rest = segments(bundle.path.slice(mount.length + 6));
    if (!rest) continue;
    issues.push({
      check,
      code,
      path: `${bundle.pointer}/path`,
      service: bundle.service,
      message:
        `secrets bundle "${bundle.id}" path "${bundle.path}" includes the KV v2 "data/" segment: ESO adds it to the ` +
        `mount and would read ${mount}/data/${bundle.path}, which does not exist.`,
      fix: `set path: ${rest.join('/')} (relative to the mount "${mount}", without data/)`,
    });
  }
  return issues;
}

/** `refreshInterval: 0` reads Vault once: the force-sync a rotation sends is ignored after the first sync. */
export function checkRefreshIntervals(plan: SecretsPlan): SecretsCheckIssue[] {
  const { id: check, code } = SECRETS_CHECKS.refreshInterval;
  return plan.bundles
    .filter((b) => b.rotation !== undefined && durationSeconds(b.refreshInterval) === 0)
    .map((b) => ({
      check,
      code,
      path: `${b.pointer}/refreshInterval`,
      service: b.service,
      message:
        `secrets bundle "${b.id}" has refreshInterval ${b.refreshInterval} and a ${b.rotation!.strategy} rotation ` +
        'policy: ESO reads Vault once and then ignores force-sync, so a rotated value never reaches the Secret.',
      fix: 'set refreshInterval to a duration such as 1h (a rotation forces a sync in between)',
    }));
}

/** Each env var a service `needs` must reach each of its Deployments from some bundle. */
export function checkEnvProvided(plan: SecretsPlan, input: SecretsPlatformInput): SecretsCheckIssue[] {
  const { id: check, code } = SECRETS_CHECKS.envProvided;
  const issues: SecretsCheckIssue[] = [];
  const provided = (deployment: string, env: string) =>
    plan.bundles.some(
      (b) => b.consumers.some((c) => c.deployment === deployment) && b.properties.some((p) => p.env === env),
    );
  (input.secrets?.services ?? []).forEach((entry, i) => {
    const service = input.services.find((s) => s.name === entry.name);
    if (!service) return;
    (entry.needs ?? []).forEach((env, n) => {
      const missing = service.deployments.filter((d) => !provided(d.name, env));
      const sources = plan.bundles.filter((b) => b.properties.some((p) => p.env === env));
      if (service.deployments.length === 0 && sources.length === 0) {
        issues.push({
          check,
          code,
          path: `/secrets/services/${i}/needs/${n}`,
          service: entry.name,
          message: `service "${entry.name}" needs ${env}, but no bundle provides it.`,
          fix: `add a bundle whose properties give ${env}, with the service's Deployments as consumers`,
        });
      }
      for (const d of missing) {
        issues.push({
          check,
          code,
          path: `/secrets/services/${i}/needs/${n}`,
          service: entry.name,
          message: `service "${entry.name}" needs ${env}, but Deployment "${d.name}" gets it from no bundle: its pods start without it.`,
          fix:
            sources.length > 0
              ? `add "${d.name}" to the consumers of bundle "${sources[0]!.id}"`
              : `add a bundle whose properties give ${env}, with "${d.name}" among its consumers`,
        });
      }
    });
  });
  return issues;
}

/** ESO's Vault Kubernetes login needs a role; Vault checks the service account and (1.21+) the audience. */
export function checkStoreAuth(plan: SecretsPlan): SecretsCheckIssue[] {
  const { id: check, code } = SECRETS_CHECKS.storeAuth;
  const { store } = plan;
  const at = '/secrets/store/auth/kubernetes';
  const what = `secrets store "${store.name}"`;
  const issues: SecretsCheckIssue[] = [];
  const { role, serviceAccount } = store.auth;
  if (role === undefined) {
    issues.push({
      check,
      code,
      path: `${at}/role`,
      message: `${what} names no Vault role: ESO refuses the store (auth.kubernetes.role is required) and every ExternalSecret stays pending.`,
      fix: `set auth.kubernetes.role to the Vault role of auth/${store.auth.mountPath}/role/<role> bound to the service account`,
    });
  }
  if (serviceAccount === undefined) {
    issues.push({
      check,
      code,
      path: `${at}/serviceAccountRef`,
      message: `${what} names no service account: ESO logs in with its own token, which the Vault role is rarely bound to (403 permission denied).`,
      fix: `set auth.kubernetes.serviceAccountRef {name, namespace, audiences} to the account bound to ${role === undefined ? 'the role' : `role "${role}"`}`,
    });
  } else if (serviceAccount.audiences.length === 0) {
    issues.push({
      check,
      code,
      path: `${at}/serviceAccountRef/audiences`,
      message: `${what} requests the service account token with no audience: Vault 1.21+ refuses a Kubernetes login when the role has no audience, and the token must carry the role's.`,
      fix: `set auth.kubernetes.serviceAccountRef.audiences to the Vault role's audience, e.g. [vault]`,
    });
  }
  return issues;
}

/**
 * Every offline check, in a fixed order, each with its problems (none = pass). With `service`, only problems of
 * that service and of the store.
 */
export function checkSecrets(
  plan: SecretsPlan,
  input: SecretsPlatformInput,
  options: { service?: string } = {},
): SecretsCheckResult[] {
  const results: [(typeof SECRETS_CHECKS)[keyof typeof SECRETS_CHECKS], SecretsCheckIssue[]][] = [
    [SECRETS_CHECKS.kvPath, checkKvPaths(plan)],
    [SECRETS_CHECKS.refreshInterval, checkRefreshIntervals(plan)],
    [SECRETS_CHECKS.envProvided, checkEnvProvided(plan, input)],
    [SECRETS_CHECKS.storeAuth, checkStoreAuth(plan)],
  ];
  return results.map(([meta, issues]) => ({
    ...meta,
    issues: issues.filter(
      (i) => options.service === undefined || i.service === undefined || i.service === options.service,
    ),
  }));
}
