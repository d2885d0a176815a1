import type { SecretBackend } from './backend.js';
import { bundleId, type SecretBundle } from './bundle.js';
import { SecretNotFoundError, SecretsError } from './errors.js';
import type { SecretsCluster } from './kubernetes-secrets.js';
import { isZeroDuration } from './rotation.js';

/**
 * Runbook §7, "ExternalSecret stuck pending: check ClusterSecretStore auth, Vault path/version, ESO logs", as checks
 * on a live bundle: each finding names what is wrong and the fix in one line. Reads status, specs, metadata and
 * Vault subkeys only — never a value.
 */

export type FindingCode =
  | 'ESO_NOT_INSTALLED'
  | 'EXTERNALSECRET_MISSING'
  | 'EXTERNALSECRET_PENDING'
  | 'EXTERNALSECRET_ERROR'
  | 'STORE_MISSING'
  | 'STORE_NOT_READY'
  | 'STORE_NO_AUDIENCE'
  | 'KV_PATH_HAS_DATA'
  | 'VAULT_PATH_MISSING'
  | 'VAULT_PROPERTY_MISSING'
  | 'VAULT_UNREADABLE'
  | 'REFRESH_INTERVAL_ZERO'
  | 'REFRESH_CREATED_ONCE'
  | 'SECRET_NOT_MANAGED'
  | 'SECRET_MISSING';

export interface Finding {
  code: FindingCode;
  severity: 'error' | 'warning';
  message: string;
  fix: string;
}

export async function diagnoseBundle(
  bundle: SecretBundle,
  deps: { cluster: SecretsCluster; backend?: SecretBackend },
): Promise<{ bundle: string; findings: Finding[] }> {
  const findings: Finding[] = [];
  const add = (code: FindingCode, severity: Finding['severity'], message: string, fix: string) =>
    findings.push({ code, severity, message, fix });
  const result = { bundle: bundleId(bundle), findings };
  const ref = bundle.externalSecret;
  if (!ref) return result;
  const { cluster } = deps;

  if (!(await cluster.esoInstalled())) {
    add(
      'ESO_NOT_INSTALLED',
      'error',
      'the API server does not serve external-secrets.io/v1 (ESO is not installed, or older than 0.16)',
      'install the External Secrets Operator ≥ 0.17 with its CRDs (helm install external-secrets external-secrets/external-secrets -n external-secrets --create-namespace)',
    );
    return result;
  }

  let es: Awaited<ReturnType<SecretsCluster['getExternalSecret']>>;
  try {
    es = await cluster.getExternalSecret(ref.namespace, ref.name);
  } catch (error) {
    if (!(error instanceof SecretNotFoundError)) throw error;
    add(
      'EXTERNALSECRET_MISSING',
      'error',
      `ExternalSecret ${ref.namespace}/${ref.name} does not exist`,
      'apply the rendered manifests (rctl render PLATFORM_FILE, then kubectl apply -f the output)',
    );
    return result;
  }
  const where = `ExternalSecret ${ref.namespace}/${ref.name}`;

  if (es.refreshPolicy === 'CreatedOnce') {
    add(
      'REFRESH_CREATED_ONCE',
      'warning',
      `${where} has refreshPolicy CreatedOnce: it never refreshes`,
      'use refreshPolicy Periodic (the default) for a rotated secret',
    );
  } else if (es.refreshInterval !== undefined && isZeroDuration(es.refreshInterval)) {
    add(
      'REFRESH_INTERVAL_ZERO',
      'warning',
      `${where} has refreshInterval ${es.refreshInterval}: ESO fetches once and ignores force-sync afterwards`,
      'set refreshInterval (e.g. 1h) so rotations reach the Secret',
    );
  }

  if (es.storeRef.kind === 'ClusterSecretStore' && es.storeRef.name) {
    try {
      const store = await cluster.getClusterSecretStore(es.storeRef.name);
      const vault = store.vault;
      if (vault?.version === 'v2' && vault.path && /(^|\/)data\/?$/.test(vault.path)) {
        add(
          'KV_PATH_HAS_DATA',
          'error',
          `ClusterSecretStore ${store.name} has path ${vault.path} with version v2: ESO adds /data itself and reads ${vault.path.replace(/\/$/, '')}/data/<key>`,
          `set path: ${vault.path.replace(/\/?data\/?$/, '')} (the KV mount only)`,
        );
      }
      const sa = vault?.auth.serviceAccount;
      if (vault && (!sa || sa.audiences.length === 0)) {
        add(
          'STORE_NO_AUDIENCE',
          'warning',
          `ClusterSecretStore ${store.name} requests no audience for its service-account token; Vault 1.21+ refuses a Kubernetes login to a role without one`,
          `set auth.kubernetes.serviceAccountRef.audiences (e.g. [vault]) and the same audience on Vault role ${vault.auth.role ?? '?'}`,
        );
      }
      if (store.ready?.status === 'False') {
        const account = sa ? `${sa.namespace ?? '?'}/${sa.name ?? '?'}` : 'ESO’s own service account';
        add(
          'STORE_NOT_READY',
          'error',
          `ClusterSecretStore ${store.name} is not ready: ${store.ready.reason ?? ''} ${store.ready.message ?? ''}`.trim(),
          `check Vault role ${vault?.auth.role ?? '?'} on auth/${vault?.auth.mountPath ?? 'kubernetes'}: bound_service_account_names/namespaces include ${account}, its audience matches serviceAccountRef.audiences, and that service account has system:auth-delegator`,
        );
      }
    } catch (error) {
      if (!(error instanceof SecretNotFoundError)) throw error;
      add(
        'STORE_MISSING',
        'error',
        `${where} refers to ClusterSecretStore ${es.storeRef.name}, which does not exist`,
        'apply the rendered ClusterSecretStore (rctl render PLATFORM_FILE)',
      );
    }
  }

  if (deps.backend) {
    const checked = new Map<string, Set<string> | undefined>();
    for (const remote of es.remoteRefs) {
      if (!checked.has(remote.key)) {
        try {
          checked.set(remote.key, new Set(Object.keys((await deps.backend.readSubkeys(remote.key)).subkeys)));
        } catch (error) {
          checked.set(remote.key, undefined);
          if (error instanceof SecretNotFoundError) {
            add(
              'VAULT_PATH_MISSING',
              'error',
              `Vault has no secret at ${remote.key} (read by ${where})`,
              `write it (vault kv put <mount>/${remote.key} …) or correct remoteRef.key`,
            );
          } else {
            add(
              'VAULT_UNREADABLE',
              'warning',
              `cannot check ${remote.key} in Vault: ${error instanceof SecretsError ? error.code : 'error'}`,
              'give Runtime Control read access to the metadata/ and subkeys/ paths of the bundle',
            );
          }
        }
      }
      const keys = checked.get(remote.key);
      if (keys && remote.property !== undefined && !keys.has(remote.property)) {
        add(
          'VAULT_PROPERTY_MISSING',
          'error',
          `Vault secret ${remote.key} has no property ${remote.property} (Secret key ${remote.secretKey})`,
          `add the property (rctl secrets rotate ${bundleId(bundle)} --property ${remote.property}) or correct remoteRef.property`,
        );
      }
    }
  }

  const secret = await cluster.getSecretMetadata(ref.namespace, es.targetName);
  if (secret.exists && !secret.managedByEso && es.creationPolicy === 'Owner') {
    add(
      'SECRET_NOT_MANAGED',
      'error',
      `Secret ${ref.namespace}/${es.targetName} exists but is not managed by ESO`,
      `delete it so ESO can create it (kubectl -n ${ref.namespace} delete secret ${es.targetName}), or use creationPolicy Merge`,
    );
  }

  if (!es.ready) {
    add(
      'EXTERNALSECRET_PENDING',
      'error',
      `${where} has no Ready condition: ESO has not reconciled it`,
      'check that the ESO controller runs and its logs (kubectl -n external-secrets logs deploy/external-secrets)',
    );
  } else if (es.ready.status === 'False') {
    add(
      'EXTERNALSECRET_ERROR',
      'error',
      `${where} is not ready: ${es.ready.reason ?? ''} ${es.ready.message ?? ''}`.trim(),
      findings.length > 0
        ? 'fix the findings above, then force a sync (rctl secrets rotate, or annotate force-sync)'
        : 'read the ESO controller logs for this ExternalSecret',
    );
  } else if (!secret.exists) {
    add(
      'SECRET_MISSING',
      'error',
      `Secret ${ref.namespace}/${es.targetName} does not exist although ${where} is ready`,
      'check target.creationPolicy (None writes no Secret) and force a sync',
    );
  }
  return result;
}
