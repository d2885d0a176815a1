import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type PlatformFileData, readYamlSource } from '@runtime-control/core';
import {
  planSecrets,
  renderSecrets,
  type SecretsBundlePlan,
  type SecretsPlatformInput,
  secretBundles,
  VaultClient,
  VaultKvBackend,
} from '@runtime-control/secrets';
import { FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';

/**
 * The DevMentor platform's secrets on the fakes (FakeVault, FakeKubernetes and the FakeEsoController simulation —
 * fakes, not the real servers; see docs/secrets.md "Test fakes"): every bundle written at version 1 with
 * `initial-<ENV>` values, the rendered ClusterSecretStore, ExternalSecrets and consumer Deployments applied, ESO
 * reconciling. Several servers (replicas) can be pointed at one set.
 */

export const DEVMENTOR_PLATFORM = fileURLToPath(
  new URL('../../../../examples/devmentor/platform.yaml', import.meta.url),
);
export const FAKE_KUBE_TOKEN = 'vault-e2e-kube-token';

/** The role, namespace and service account the server logs in to Vault with (RC_VAULT_AUTH=kubernetes). */
export const SERVER_VAULT_ROLE = 'runtime-control';
export const SERVER_SERVICE_ACCOUNT = { namespace: 'runtime-control', name: 'runtime-control' };
export const SERVER_VAULT_AUDIENCE = 'vault';

export interface DevmentorFakes {
  vault: FakeVault;
  kube: FakeKubernetes;
  eso: FakeEsoController;
  plan: NonNullable<ReturnType<typeof planSecrets>> & { bundles: SecretsBundlePlan[] };
  /** RC_* variables of a server on these fakes with the Vault root token. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

function devmentor(): SecretsPlatformInput {
  const source = readYamlSource(readFileSync(DEVMENTOR_PLATFORM, 'utf8'));
  assert.ok(source.ok);
  const data = source.data as PlatformFileData;
  const defaultNamespace = data.namespaces[0]!.name;
  return {
    name: data.platform,
    services: data.services.map((s) => ({
      name: s.name,
      namespace: s.namespace ?? defaultNamespace,
      deployments: (s.deployments ?? []).map((d) => ({ name: d.name, container: d.container ?? d.name })),
    })),
    ...(data.secrets ? { secrets: data.secrets } : {}),
  };
}

export async function startDevmentorFakes(options: { rolloutDelayMs?: number } = {}): Promise<DevmentorFakes> {
  const vault = new FakeVault();
  const kube = new FakeKubernetes({ token: FAKE_KUBE_TOKEN, rolloutDelayMs: options.rolloutDelayMs ?? 20 });
  const eso = new FakeEsoController({ kubernetes: kube, vault });
  const plan = planSecrets(devmentor())!;
  await vault.listen();
  await kube.listen();
  const backend = new VaultKvBackend(new VaultClient({ address: vault.url, token: vault.rootToken }));
  const sa = plan.store.auth.serviceAccount!;
  vault.writePolicy('devmentor-read', [{ path: `${plan.store.path}/data/devmentor/*`, capabilities: ['read'] }]);
  vault.writeKubernetesRole(plan.store.auth.role!, {
    boundServiceAccountNames: [sa.name],
    boundServiceAccountNamespaces: [sa.namespace!],
    audience: sa.audiences[0]!,
    policies: ['devmentor-read'],
  });
  // The server's own role: status (metadata, subkeys) and rotation (data: write, patch, and read for a rollback).
  const mount = plan.store.path;
  vault.writePolicy('runtime-control', [
    { path: `${mount}/data/devmentor/*`, capabilities: ['create', 'read', 'update', 'patch'] },
    { path: `${mount}/metadata/devmentor/*`, capabilities: ['read', 'list'] },
    { path: `${mount}/subkeys/devmentor/*`, capabilities: ['read'] },
  ]);
  vault.writeKubernetesRole(SERVER_VAULT_ROLE, {
    boundServiceAccountNames: [SERVER_SERVICE_ACCOUNT.name],
    boundServiceAccountNamespaces: [SERVER_SERVICE_ACCOUNT.namespace],
    audience: SERVER_VAULT_AUDIENCE,
    policies: ['runtime-control'],
  });
  for (const bundle of secretBundles(plan)) {
    const data = Object.fromEntries(Object.values(bundle.properties).map((env) => [env, `initial-${env}`]));
    await backend.write(bundle.path, data, { cas: 0 });
  }
  const { manifests, patches } = renderSecrets(plan);
  for (const manifest of manifests) {
    if (manifest.kind === 'ClusterSecretStore') {
      const spec = structuredClone(manifest.spec) as { provider: { vault: { server: string } } };
      spec.provider.vault.server = vault.url;
      kube.apply({ ...manifest, spec });
    } else {
      kube.apply(manifest as unknown as Record<string, unknown>);
    }
  }
  for (const { consumer, patch } of patches) {
    kube.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: consumer.deployment, namespace: consumer.namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: consumer.deployment } },
        template: { metadata: { labels: { app: consumer.deployment } }, spec: patch.spec.template.spec },
      },
    });
  }
  eso.start(25);
  return {
    vault,
    kube,
    eso,
    plan,
    env: () => ({
      RC_PLATFORM_FILE: DEVMENTOR_PLATFORM,
      RC_SECRETS_BACKEND: 'vault',
      RC_VAULT_ADDR: vault.url,
      RC_VAULT_TOKEN: vault.rootToken,
      RC_KUBERNETES_API_URL: kube.url,
      RC_KUBERNETES_TOKEN: FAKE_KUBE_TOKEN,
    }),
    async close() {
      await eso.stop();
      await kube.close();
      await vault.close();
    },
  };
}
