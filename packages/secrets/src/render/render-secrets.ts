/**
 * Secrets section → External Secrets manifests (`external-secrets.io/v1`: ESO ≥ 0.17 no longer serves `v1beta1`):
 * one ClusterSecretStore for the Vault store and one ExternalSecret per bundle, plus one strategic-merge patch per
 * consumer Deployment that wires the Secret keys into its container's `env` (`valueFrom.secretKeyRef`). Only
 * references are written — store address, Vault paths, property and Secret names — never a value. Same input, same
 * bytes: everything follows the platform file's order.
 */
import { stringify } from 'yaml';
import type { BundleConsumer, SecretsBundlePlan, SecretsPlan } from './secrets-plan.js';

export const ESO_API_VERSION = 'external-secrets.io/v1';
export const STORE_FILE = 'cluster-secret-store.yaml';
export const EXTERNAL_SECRETS_FILE = 'external-secrets.yaml';

/** `deployment-env-<name>.yaml`: the env patch of one consumer Deployment. */
export function envPatchFile(deployment: string): string {
  return `deployment-env-${deployment}.yaml`;
}

export interface SecretsManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** One file `rctl render` writes (the same shape as the Istio rendering's). */
export interface SecretsRenderedFile {
  name: string;
  content: string;
  summary: string;
}

function labels(plan: SecretsPlan, extra: Record<string, string> = {}): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'rctl', 'runtime-control/platform': plan.platform, ...extra };
}

export function renderClusterSecretStore(plan: SecretsPlan): SecretsManifest {
  const { store } = plan;
  const sa = store.auth.serviceAccount;
  const kubernetes: Record<string, unknown> = {
    mountPath: store.auth.mountPath,
    ...(store.auth.role !== undefined ? { role: store.auth.role } : {}),
    ...(sa
      ? {
          serviceAccountRef: {
            name: sa.name,
            ...(sa.namespace !== undefined ? { namespace: sa.namespace } : {}),
            ...(sa.audiences.length > 0 ? { audiences: sa.audiences } : {}),
          },
        }
      : {}),
  };
  return {
    apiVersion: ESO_API_VERSION,
    kind: 'ClusterSecretStore',
    metadata: { name: store.name, labels: labels(plan) },
    spec: {
      provider: {
        vault: {
          server: store.server,
          path: store.path,
          version: store.version,
          ...(store.namespace !== undefined ? { namespace: store.namespace } : {}),
          auth: { kubernetes },
        },
      },
    },
  };
}

export function renderExternalSecret(plan: SecretsPlan, bundle: SecretsBundlePlan): SecretsManifest {
  const annotations: Record<string, string> = {};
  if (bundle.rotation) {
    annotations['runtime-control/rotation-strategy'] = bundle.rotation.strategy;
    if (bundle.rotation.maxAge !== undefined) annotations['runtime-control/max-age'] = bundle.rotation.maxAge;
  }
  return {
    apiVersion: ESO_API_VERSION,
    kind: 'ExternalSecret',
    metadata: {
      name: bundle.secretName,
      namespace: bundle.namespace,
      labels: labels(plan, { 'runtime-control/service': bundle.service, 'runtime-control/bundle': bundle.name }),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      refreshInterval: bundle.refreshInterval,
      secretStoreRef: { name: plan.store.name, kind: 'ClusterSecretStore' },
      target: { name: bundle.secretName, creationPolicy: 'Owner' },
      data: bundle.properties.map(({ property, env }) => ({
        secretKey: env,
        remoteRef: { key: bundle.path, property },
      })),
    },
  };
}

/** A strategic-merge patch (merge key `name` on containers and env) giving a Deployment its bundles' env vars. */
export interface DeploymentEnvPatch {
  consumer: BundleConsumer;
  patch: {
    apiVersion: 'apps/v1';
    kind: 'Deployment';
    metadata: { name: string; namespace: string };
    spec: {
      template: {
        spec: {
          containers: {
            name: string;
            env: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }[];
          }[];
        };
      };
    };
  };
}

export function renderEnvPatches(plan: SecretsPlan): DeploymentEnvPatch[] {
  const byDeployment = new Map<string, DeploymentEnvPatch>();
  for (const bundle of plan.bundles) {
    for (const consumer of bundle.consumers) {
      const key = `${consumer.namespace}/${consumer.deployment}`;
      let entry = byDeployment.get(key);
      if (!entry) {
        entry = {
          consumer,
          patch: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: consumer.deployment, namespace: consumer.namespace },
            spec: { template: { spec: { containers: [{ name: consumer.container, env: [] }] } } },
          },
        };
        byDeployment.set(key, entry);
      }
      const env = entry.patch.spec.template.spec.containers[0]!.env;
      for (const { env: name } of bundle.properties) {
        env.push({ name, valueFrom: { secretKeyRef: { name: bundle.secretName, key: name } } });
      }
    }
  }
  return [...byDeployment.values()];
}

function header(plan: SecretsPlan, extra = ''): string {
  return `# Rendered by "rctl render" from platform "${plan.platform}"; change the platform file, not this file.\n${extra}`;
}

function documents(manifests: readonly object[]): string {
  return manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

/** Everything the secrets section renders: files and the ESO manifests in them (to validate). */
export function renderSecrets(plan: SecretsPlan): {
  files: SecretsRenderedFile[];
  manifests: SecretsManifest[];
  patches: DeploymentEnvPatch[];
} {
  const store = renderClusterSecretStore(plan);
  const externalSecrets = plan.bundles.map((b) => renderExternalSecret(plan, b));
  const patches = renderEnvPatches(plan);
  const files: SecretsRenderedFile[] = [
    { name: STORE_FILE, content: header(plan) + documents([store]), summary: '1 ClusterSecretStore' },
  ];
  if (externalSecrets.length > 0) {
    files.push({
      name: EXTERNAL_SECRETS_FILE,
      content: header(plan) + documents(externalSecrets),
      summary: `${externalSecrets.length} ExternalSecret`,
    });
  }
  for (const { consumer, patch } of patches) {
    const file = envPatchFile(consumer.deployment);
    const how =
      `# Strategic-merge patch: kubectl -n ${consumer.namespace} patch deployment ${consumer.deployment} ` +
      `--type strategic --patch-file ${file}\n# (or list it under "patches:" in a kustomization).\n`;
    files.push({
      name: file,
      content: header(plan, how) + documents([patch]),
      summary: `env of Deployment ${consumer.deployment}: ${patch.spec.template.spec.containers[0]!.env.length} from Secrets`,
    });
  }
  return { files, manifests: [store, ...externalSecrets], patches };
}
