import type { SecretBackend } from './backend.js';
import { SecretNotFoundError, SecretsError } from './errors.js';
import type { SecretsCluster } from './kubernetes-secrets.js';

/**
 * A secret bundle as status and rotation see it: one KV path whose properties become env vars of the consumer
 * Deployments through one ExternalSecret. (The platform file's `secrets` section will produce these; only names,
 * never values.)
 */
export interface SecretBundle {
  service: string;
  name: string;
  /** KV path relative to the mount (`devmentor/api-gateway`). */
  path: string;
  /** Vault property → env var. */
  properties: Record<string, string>;
  /** The ExternalSecret syncing it (absent on the local backend). */
  externalSecret?: { namespace: string; name: string };
  consumers?: { namespace: string; deployment: string }[];
  maxAgeSeconds?: number;
}

export const bundleId = (bundle: Pick<SecretBundle, 'service' | 'name'>): string => `${bundle.service}/${bundle.name}`;

export type BundleState = 'in-sync' | 'syncing' | 'stale-pods' | 'missing' | 'overdue' | `error: ${string}`;

export interface BundleStatus {
  bundle: string;
  state: BundleState;
  /** Why, one line each (no values). */
  reasons: string[];
  vault?: {
    currentVersion: number;
    updatedTime: string;
    ageSeconds: number;
    maxAgeSeconds?: number;
    missingProperties: string[];
  };
  externalSecret?: {
    ready: string | undefined;
    reason: string | undefined;
    message: string | undefined;
    refreshTime: string | undefined;
    syncedResourceVersion: string | undefined;
  };
  secret?: { exists: boolean; managedByEso: boolean };
  consumers?: { namespace: string; deployment: string; rolledOut: boolean; stalePods: number; pods: number }[];
}

/**
 * One state per bundle, from Vault's metadata and subkeys (never data), the ExternalSecret's status, the target
 * Secret's metadata and the consumers' rollouts and pod start times. The first that applies wins: `missing` (no
 * secret at the path, no ExternalSecret, no target Secret), `error: <reason>` (a property absent from Vault, the
 * ExternalSecret not Ready, a Secret of that name not managed by ESO, a backend failure), `syncing` (Vault has a
 * version newer than the last sync, or no sync yet), `stale-pods` (a consumer still rolling out, or with pods started
 * before the current Vault version was written), `overdue` (older than `maxAgeSeconds`), else `in-sync`.
 *
 * Known limit: a pod started between the Vault write and ESO's sync is not seen as stale (the Secret's data change time
 * is not visible without reading it); rotation avoids the case by restarting consumers after the sync.
 */
export async function bundleStatus(
  bundle: SecretBundle,
  deps: { backend: SecretBackend; cluster?: SecretsCluster; now?: () => number },
): Promise<BundleStatus> {
  const now = (deps.now ?? Date.now)();
  const status: BundleStatus = { bundle: bundleId(bundle), state: 'in-sync', reasons: [] };
  const settle = (state: BundleState, reason: string): BundleStatus => {
    status.state = state;
    status.reasons.push(reason);
    return status;
  };

  let versionCreated = 0;
  try {
    const metadata = await deps.backend.readMetadata(bundle.path);
    const current = metadata.versions[String(metadata.currentVersion)];
    versionCreated = Date.parse(current?.createdTime ?? metadata.updatedTime);
    status.vault = {
      currentVersion: metadata.currentVersion,
      updatedTime: current?.createdTime ?? metadata.updatedTime,
      ageSeconds: Math.max(0, Math.floor((now - versionCreated) / 1000)),
      ...(bundle.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: bundle.maxAgeSeconds }),
      missingProperties: [],
    };
    if (current?.deletionTime || current?.destroyed)
      return settle('missing', `version ${metadata.currentVersion} is deleted`);
    const { subkeys } = await deps.backend.readSubkeys(bundle.path);
    status.vault.missingProperties = Object.keys(bundle.properties).filter((p) => !(p in subkeys));
  } catch (error) {
    if (error instanceof SecretNotFoundError) return settle('missing', `no secret at ${bundle.path}`);
    return settle(`error: ${errorReason(error)}`, errorReason(error));
  }
  if (status.vault.missingProperties.length > 0) {
    const reason = `property ${status.vault.missingProperties.join(', ')} missing in ${bundle.path}`;
    return settle(`error: ${reason}`, reason);
  }

  if (deps.cluster && bundle.externalSecret) {
    const { namespace, name } = bundle.externalSecret;
    try {
      const es = await deps.cluster.getExternalSecret(namespace, name);
      status.externalSecret = {
        ready: es.ready?.status,
        reason: es.ready?.reason,
        message: es.ready?.message,
        refreshTime: es.refreshTime,
        syncedResourceVersion: es.syncedResourceVersion,
      };
      const secret = await deps.cluster.getSecretMetadata(namespace, es.targetName);
      status.secret = { exists: secret.exists, managedByEso: secret.managedByEso };
      if (es.ready?.status === 'False') {
        const reason = `${es.ready.reason ?? 'NotReady'}: ${es.ready.message ?? ''}`.trim();
        return settle(`error: ${reason}`, `ExternalSecret ${namespace}/${name} is not ready (${reason})`);
      }
      if (secret.exists && !secret.managedByEso) {
        return settle(
          'error: Secret not managed by ESO',
          `Secret ${namespace}/${es.targetName} exists but is not managed by ESO`,
        );
      }
      if (!secret.exists && es.refreshTime)
        return settle('missing', `Secret ${namespace}/${es.targetName} does not exist`);
      const refreshed = es.refreshTime ? Date.parse(es.refreshTime) : 0;
      if (!es.refreshTime || es.ready?.status !== 'True' || refreshed < Math.floor(versionCreated / 1000) * 1000) {
        return settle('syncing', `Vault version ${status.vault.currentVersion} is not synced yet`);
      }
      status.consumers = [];
      for (const consumer of bundle.consumers ?? []) {
        const deployment = await deps.cluster.getDeployment(consumer.namespace, consumer.deployment);
        const pods = await deps.cluster.listPods(consumer.namespace, deployment.selector);
        const stale = pods.filter(
          (p) => p.startTime === undefined || Date.parse(p.startTime) < Math.floor(versionCreated / 1000) * 1000,
        );
        status.consumers.push({
          ...consumer,
          rolledOut: deployment.rolledOut,
          stalePods: stale.length,
          pods: pods.length,
        });
      }
      const staleConsumers = status.consumers.filter((c) => !c.rolledOut || c.stalePods > 0);
      if (staleConsumers.length > 0) {
        return settle(
          'stale-pods',
          `${staleConsumers.map((c) => `${c.namespace}/${c.deployment}`).join(', ')} still run pods started before version ${status.vault.currentVersion}`,
        );
      }
    } catch (error) {
      if (error instanceof SecretNotFoundError)
        return settle('missing', `${error.operation} ${error.path ?? ''}: not found`.trim());
      return settle(`error: ${errorReason(error)}`, errorReason(error));
    }
  }

  if (bundle.maxAgeSeconds !== undefined && status.vault.ageSeconds > bundle.maxAgeSeconds) {
    return settle(
      'overdue',
      `version ${status.vault.currentVersion} is ${status.vault.ageSeconds} s old (maximum ${bundle.maxAgeSeconds} s)`,
    );
  }
  return status;
}

function errorReason(error: unknown): string {
  return error instanceof SecretsError ? `${error.code} ${error.message}` : 'unexpected error';
}
