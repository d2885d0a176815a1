import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PlatformFileData, readYamlSource } from '@runtime-control/core';
import {
  planSecrets,
  renderSecrets,
  type SecretsPlatformInput,
  secretBundles,
  VaultClient,
  VaultKvBackend,
} from '@runtime-control/secrets';
import { eventually, FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * The secrets API with RC_SECRETS_BACKEND=vault against the fakes (FakeVault, FakeKubernetes, the FakeEsoController
 * simulation — fakes, not the real servers; see docs/secrets.md "Test fakes"): the DevMentor platform file's
 * ExternalSecrets and consumers applied, status in-sync with consumers running the current value, and a rotation
 * through all five steps with a supplied sentinel value that appears in no response or log line.
 */

const PLATFORM = fileURLToPath(new URL('../../../../../examples/devmentor/platform.yaml', import.meta.url));
const KUBE_TOKEN = 'vault-e2e-kube-token';

function devmentor(): SecretsPlatformInput {
  const source = readYamlSource(readFileSync(PLATFORM, 'utf8'));
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

describe('secrets API on the Vault backend (fakes: Vault, Kubernetes, ESO)', () => {
  const vault = new FakeVault();
  const kube = new FakeKubernetes({ token: KUBE_TOKEN, rolloutDelayMs: 20 });
  const eso = new FakeEsoController({ kubernetes: kube, vault });
  const plan = planSecrets(devmentor())!;
  let dir: string;
  let t: TestApp;
  const seen: string[] = [];

  // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
  const api = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await t.app.inject({
      method,
      url: path,
      headers: t.admin,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    seen.push(res.body);
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  before(async () => {
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
    dir = await mkdtemp(join(tmpdir(), 'rc-secrets-vault-'));
    t = await createTestApp({
      RC_DATA_DIR: dir,
      RC_PLATFORM_FILE: PLATFORM,
      RC_SECRETS_BACKEND: 'vault',
      RC_VAULT_ADDR: vault.url,
      RC_VAULT_TOKEN: vault.rootToken,
      RC_KUBERNETES_API_URL: kube.url,
      RC_KUBERNETES_TOKEN: KUBE_TOKEN,
      RC_LOG_LEVEL: 'debug',
    });
  });

  after(async () => {
    await t?.close();
    await eso.stop();
    await kube.close();
    await vault.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every bundle reaches in-sync, with the ExternalSecret Ready and the consumers on the current value', async () => {
    await eventually(
      async () =>
        (await api('GET', '/api/admin/secrets')).body.bundles.every((b: { state: string }) => b.state === 'in-sync'),
      15_000,
      'all in-sync',
    );
    const jwt = (await api('GET', '/api/admin/secrets/auth-service/jwt')).body;
    assert.equal(jwt.backend, 'vault');
    assert.equal(jwt.currentVersion, 1);
    assert.equal(jwt.externalSecret.ready, 'True');
    assert.equal(jwt.secret.managedByEso, true);
    assert.deepEqual(
      jwt.consumers.map((c: { deployment: string; runsCurrentValue: boolean }) => [c.deployment, c.runsCurrentValue]),
      [
        ['auth-service', true],
        ['api-gateway', true],
      ],
    );
  });

  it('rotates through all five steps; the Secret gets the value, consumers restart; the value is never shown', async () => {
    const sentinel = `redis://:${randomBytes(16).toString('base64url')}@cache:6379/0`;
    const started = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.deepEqual(started.body.steps, ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout']);
    let done: { status: string; version: number; history: { step: string; outcome: string }[] } | undefined;
    await eventually(
      async () => {
        const r = await api('GET', `/api/admin/secrets/api-gateway/redis/rotations/${started.body.id}`);
        done = r.body;
        return r.body.status !== 'running';
      },
      30_000,
      'rotation finished',
    );
    assert.equal(done!.status, 'completed', JSON.stringify(done));
    assert.equal(done!.version, 2);
    assert.deepEqual(
      done!.history.filter((h) => h.outcome === 'succeeded').map((h) => h.step),
      ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout'],
    );
    const secret = kube.get('Secret', 'devmentor-app', 'api-gateway-redis');
    assert.equal(Buffer.from(secret!.data!.REDIS_URL!, 'base64').toString('utf8'), sentinel);
    const show = await api('GET', '/api/admin/secrets/api-gateway/redis');
    assert.equal(show.body.state, 'in-sync');
    assert.equal(show.body.currentVersion, 2);
    assert.equal(show.body.consumers[0].runsCurrentValue, true);

    const forms = [
      sentinel,
      Buffer.from(sentinel).toString('base64'),
      Buffer.from(sentinel).toString('hex'),
      encodeURIComponent(sentinel),
    ];
    for (const [where, texts] of [
      ['responses', seen],
      ['logs', t.logs],
    ] as const) {
      for (const text of texts) for (const form of forms) assert.ok(!text.includes(form), `value in ${where}`);
    }
    assert.ok(!t.logs.some((l) => l.includes(vault.rootToken)), 'no Vault token in the logs');
  });
});
