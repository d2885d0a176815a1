import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type PlatformFileData, readYamlSource } from '@runtime-control/core';
import { eventually, FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';
import { bundleStatus } from './bundle.js';
import { diagnoseBundle } from './diagnose.js';
import { KubernetesSecrets } from './kubernetes-secrets.js';
import { planSecrets, renderSecrets, type SecretsPlatformInput, secretBundles } from './render/index.js';
import { Rotator } from './rotation.js';
import { generateSecretValue } from './rotation-write.js';
import { VaultClient } from './vault-client.js';
import { VaultKvBackend } from './vault-kv-backend.js';

/**
 * The DevMentor platform file's secrets, end to end against the fakes: its rendered ClusterSecretStore and
 * ExternalSecrets applied to the fake Kubernetes API, its consumers' Deployments carrying the rendered env wiring,
 * the ESO simulation syncing from the fake Vault; then status, diagnostics and a rotation of the shared JWT secret
 * (auth-service signs, api-gateway verifies: one value, both Deployments restarted).
 */

const DEVMENTOR = new URL('../../../examples/devmentor/platform.yaml', import.meta.url);
const TOKEN = 'devmentor-kube-token';

function devmentor(): SecretsPlatformInput {
  const source = readYamlSource(readFileSync(DEVMENTOR, 'utf8'));
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

describe('DevMentor secrets end to end on the fakes: render → sync → status → diagnose → rotate', () => {
  const vault = new FakeVault();
  const kube = new FakeKubernetes({ token: TOKEN, rolloutDelayMs: 20 });
  const eso = new FakeEsoController({ kubernetes: kube, vault });
  const plan = planSecrets(devmentor())!;
  const bundles = secretBundles(plan);
  let backend: VaultKvBackend;
  let cluster: KubernetesSecrets;
  const secretData = (namespace: string, name: string) =>
    Object.fromEntries(
      Object.entries(kube.get('Secret', namespace, name)?.data ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString('utf8'),
      ]),
    );

  before(async () => {
    await vault.listen();
    await kube.listen();
    backend = new VaultKvBackend(new VaultClient({ address: vault.url, token: vault.rootToken }));
    cluster = new KubernetesSecrets({ apiUrl: kube.url, token: TOKEN });
    const sa = plan.store.auth.serviceAccount!;
    vault.writePolicy('devmentor-read', [{ path: `${plan.store.path}/data/devmentor/*`, capabilities: ['read'] }]);
    vault.writeKubernetesRole(plan.store.auth.role!, {
      boundServiceAccountNames: [sa.name],
      boundServiceAccountNamespaces: [sa.namespace!],
      audience: sa.audiences[0]!,
      policies: ['devmentor-read'],
    });
    for (const bundle of bundles) {
      const data = Object.fromEntries(Object.values(bundle.properties).map((env) => [env, `initial-${env}`]));
      await backend.write(bundle.path, data, { cas: 0 });
    }
    const { manifests, patches } = renderSecrets(plan);
    for (const manifest of manifests) {
      if (manifest.kind === 'ClusterSecretStore') {
        const spec = structuredClone(manifest.spec) as { provider: { vault: { server: string } } };
        spec.provider.vault.server = vault.url; // the fake in place of https://vault.example.com
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
  });

  after(async () => {
    await eso.stop();
    await kube.close();
    await vault.close();
  });

  it('syncs every bundle, and every env var of every consumer resolves to a key of a synced Secret', async () => {
    assert.equal(bundles.length, 4);
    for (const bundle of bundles) {
      const es = bundle.externalSecret!;
      await eventually(() => Object.keys(secretData(es.namespace, es.name)).length > 0, 10_000, `sync of ${es.name}`);
      assert.deepEqual(
        secretData(es.namespace, es.name),
        Object.fromEntries(Object.values(bundle.properties).map((env) => [env, `initial-${env}`])),
      );
    }
    for (const deployment of kube.list('Deployment')) {
      const containers = (
        deployment.spec as {
          template: {
            spec: {
              containers: { env: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }[] }[];
            };
          };
        }
      ).template.spec.containers;
      for (const env of containers.flatMap((c) => c.env)) {
        const ref = env.valueFrom.secretKeyRef;
        assert.ok(
          ref.key in secretData(deployment.metadata.namespace!, ref.name),
          `${deployment.metadata.name}: ${env.name} → ${ref.name}/${ref.key}`,
        );
      }
    }
  });

  it('shows every bundle in-sync and finds nothing to diagnose', async () => {
    for (const bundle of bundles) {
      await eventually(
        async () => (await bundleStatus(bundle, { backend, cluster })).state === 'in-sync',
        10_000,
        `${bundle.service}/${bundle.name} in-sync`,
      );
      assert.deepEqual((await diagnoseBundle(bundle, { cluster, backend })).findings, []);
    }
  });

  it('rotates the shared JWT secret: new version, synced, auth-service and api-gateway restarted and rolled out', async () => {
    const jwt = bundles.find((b) => b.service === 'auth-service' && b.name === 'jwt')!;
    const rotationPolicy = plan.bundles.find((b) => b.id === 'auth-service/jwt')!.rotation!;
    assert.equal(rotationPolicy.strategy, 'generated');
    const value = generateSecretValue({ length: rotationPolicy.length!, alphabet: rotationPolicy.alphabet! });
    assert.match(value, /^[A-Za-z0-9_-]{64}$/);
    const rotator = new Rotator({ backend, cluster, pollMs: 20, syncTimeoutMs: 10_000, rolloutTimeoutMs: 10_000 });
    const done = await rotator.rotate(jwt, { property: 'JWT_SECRET', value, actor: 'platform-team' });
    assert.equal(done.status, 'completed');
    assert.deepEqual([done.previousVersion, done.version], [1, 2]);
    const es = jwt.externalSecret!;
    assert.equal(secretData(es.namespace, es.name).JWT_SECRET, value);
    for (const consumer of jwt.consumers!) {
      const deployment = await cluster.getDeployment(consumer.namespace, consumer.deployment);
      assert.equal(deployment.restartedAt, done.restartedAt, consumer.deployment);
      assert.equal(deployment.rolledOut, true, consumer.deployment);
    }
    assert.deepEqual(jwt.consumers!.map((c) => c.deployment).sort(), ['api-gateway', 'auth-service']);
    for (const bundle of bundles) {
      assert.equal((await bundleStatus(bundle, { backend, cluster })).state, 'in-sync', bundle.name);
    }
    const untouched = await cluster.getDeployment(es.namespace, 'project-service');
    assert.equal(untouched.restartedAt, undefined, 'a Deployment that does not consume the bundle is not restarted');
  });
});
