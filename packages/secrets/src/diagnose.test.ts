import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';
import type { SecretBundle } from './bundle.js';
import { diagnoseBundle } from './diagnose.js';
import { KubernetesSecrets } from './kubernetes-secrets.js';
import { VaultClient } from './vault-client.js';
import { VaultKvBackend } from './vault-kv-backend.js';

/** Runbook §7 "ExternalSecret stuck pending" and friends, each provoked on the fakes and named with its fix. */

const NS = 'devmentor-app';

describe('diagnoseBundle against the fakes', () => {
  const vault = new FakeVault();
  const kube = new FakeKubernetes({ token: 't' });
  const eso = new FakeEsoController({ kubernetes: kube, vault });
  let cluster: KubernetesSecrets;
  let backend: VaultKvBackend;
  const bundle = (es: string): SecretBundle => ({
    service: 'api-gateway',
    name: es,
    path: 'devmentor/api-gateway',
    properties: { JWT_SECRET: 'JWT_SECRET' },
    externalSecret: { namespace: NS, name: es },
  });
  const store = (name: string, overrides: { path?: string; audiences?: string[] } = {}) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name },
    spec: {
      provider: {
        vault: {
          server: vault.url,
          path: overrides.path ?? 'secret',
          version: 'v2',
          auth: {
            kubernetes: {
              role: 'devmentor',
              serviceAccountRef: {
                name: 'external-secrets',
                namespace: 'external-secrets',
                ...(overrides.audiences ? { audiences: overrides.audiences } : {}),
              },
            },
          },
        },
      },
    },
  });
  const externalSecret = (
    name: string,
    storeName: string,
    extra: { refreshInterval?: string; property?: string; key?: string } = {},
  ) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: NS },
    spec: {
      refreshInterval: extra.refreshInterval ?? '1h',
      secretStoreRef: { name: storeName, kind: 'ClusterSecretStore' },
      target: { name },
      data: [
        {
          secretKey: 'JWT_SECRET',
          remoteRef: { key: extra.key ?? 'devmentor/api-gateway', property: extra.property ?? 'JWT_SECRET' },
        },
      ],
    },
  });
  const codes = async (name: string) =>
    (await diagnoseBundle(bundle(name), { cluster, backend })).findings.map((f) => f.code).sort();

  before(async () => {
    await vault.listen();
    await kube.listen();
    cluster = new KubernetesSecrets({ apiUrl: kube.url, token: 't' });
    backend = new VaultKvBackend(new VaultClient({ address: vault.url, token: vault.rootToken }));
    vault.writePolicy('eso', [{ path: 'secret/data/devmentor/*', capabilities: ['read'] }]);
    vault.writeKubernetesRole('devmentor', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['external-secrets'],
      audience: 'vault',
      policies: ['eso'],
    });
    vault.put('secret', 'devmentor/api-gateway', { JWT_SECRET: 'j' });
    kube.apply(store('good', { audiences: ['vault'] }));
    kube.apply(store('double-data', { path: 'secret/data', audiences: ['vault'] }));
    kube.apply(store('no-audience'));
    eso.start(20);
  });
  after(async () => {
    await eso.stop();
    await kube.close();
    await vault.close();
  });

  it('finds nothing wrong with a synced bundle', async () => {
    kube.apply(externalSecret('healthy', 'good'));
    await eventually(() => kube.get('Secret', NS, 'healthy'), 5000, 'sync');
    assert.deepEqual(await codes('healthy'), []);
  });

  it('names ESO missing, a missing ExternalSecret, and a missing store', async () => {
    kube.esoInstalled = false;
    try {
      const { findings } = await diagnoseBundle(bundle('healthy'), { cluster, backend });
      assert.deepEqual(
        findings.map((f) => f.code),
        ['ESO_NOT_INSTALLED'],
      );
      assert.match(findings[0]!.fix, /install the External Secrets Operator/);
    } finally {
      kube.esoInstalled = true;
    }
    assert.deepEqual(await codes('absent'), ['EXTERNALSECRET_MISSING']);
    kube.apply(externalSecret('orphan', 'no-such-store'));
    await eventually(async () => (await codes('orphan')).includes('EXTERNALSECRET_ERROR'), 5000, 'orphan fails');
    assert.deepEqual(await codes('orphan'), ['EXTERNALSECRET_ERROR', 'STORE_MISSING']);
  });

  it('names kv/data with v2, a store without audience (not ready), a missing path and property', async () => {
    kube.apply(externalSecret('double', 'double-data'));
    kube.apply(externalSecret('no-aud', 'no-audience'));
    kube.apply(externalSecret('no-path', 'good', { key: 'devmentor/nothing' }));
    kube.apply(externalSecret('no-prop', 'good', { property: 'API_KEY' }));
    await eventually(
      async () =>
        (await Promise.all(['double', 'no-aud', 'no-path', 'no-prop'].map(codes))).every((c) =>
          c.includes('EXTERNALSECRET_ERROR'),
        ),
      5000,
      'all four fail',
    );
    const double = await diagnoseBundle(bundle('double'), { cluster, backend });
    assert.deepEqual(double.findings.map((f) => f.code).sort(), ['EXTERNALSECRET_ERROR', 'KV_PATH_HAS_DATA']);
    assert.match(double.findings.find((f) => f.code === 'KV_PATH_HAS_DATA')!.fix, /^set path: secret /);
    await eventually(async () => (await codes('no-aud')).includes('STORE_NOT_READY'), 5000, 'store not ready');
    const noAudience = await diagnoseBundle(bundle('no-aud'), { cluster, backend });
    assert.deepEqual(noAudience.findings.map((f) => f.code).sort(), [
      'EXTERNALSECRET_ERROR',
      'STORE_NOT_READY',
      'STORE_NO_AUDIENCE',
    ]);
    assert.match(
      noAudience.findings.find((f) => f.code === 'STORE_NOT_READY')!.fix,
      /external-secrets\/external-secrets/,
    );
    assert.deepEqual(await codes('no-path'), ['EXTERNALSECRET_ERROR', 'VAULT_PATH_MISSING']);
    assert.deepEqual(await codes('no-prop'), ['EXTERNALSECRET_ERROR', 'VAULT_PROPERTY_MISSING']);
  });

  it('names refreshInterval 0 and a Secret that ESO does not manage', async () => {
    kube.apply(externalSecret('once', 'good', { refreshInterval: '0s' }));
    await eventually(() => kube.get('Secret', NS, 'once'), 5000, 'sync once');
    assert.deepEqual(await codes('once'), ['REFRESH_INTERVAL_ZERO']);
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hand-made', namespace: NS }, data: {} });
    kube.apply(externalSecret('hand-made', 'good'));
    await eventually(async () => (await codes('hand-made')).includes('EXTERNALSECRET_ERROR'), 5000, 'unmanaged fails');
    const { findings } = await diagnoseBundle(bundle('hand-made'), { cluster, backend });
    assert.deepEqual(findings.map((f) => f.code).sort(), ['EXTERNALSECRET_ERROR', 'SECRET_NOT_MANAGED']);
    assert.match(
      findings.find((f) => f.code === 'SECRET_NOT_MANAGED')!.fix,
      /kubectl -n devmentor-app delete secret hand-made/,
    );
  });

  it('names an ExternalSecret ESO never reconciled (stuck pending)', async () => {
    await eso.stop();
    try {
      kube.apply(externalSecret('pending', 'good'));
      assert.deepEqual(await codes('pending'), ['EXTERNALSECRET_PENDING']);
    } finally {
      eso.start(20);
    }
  });
});
