import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';
import { bundleStatus, type SecretBundle } from './bundle.js';
import { KubernetesSecrets } from './kubernetes-secrets.js';
import { LocalSecretBackend } from './local-backend.js';
import {
  type RotationEvent,
  RotationInProgressError,
  type RotationState,
  RotationStepError,
  Rotator,
} from './rotation.js';
import { VaultClient } from './vault-client.js';
import { VaultKvBackend } from './vault-kv-backend.js';

/**
 * Rotation and status end to end against the fakes: the Vault client on the fake Vault, KubernetesSecrets
 * (@kubernetes/client-node) on the fake Kubernetes API, and the simulated ESO controller syncing between them.
 */

const NS = 'devmentor-app';
const TOKEN = 'kube-admin-token';

describe('Rotator + bundleStatus against FakeVault, FakeKubernetes (client-node) and the ESO simulation', () => {
  const vault = new FakeVault();
  const kube = new FakeKubernetes({ token: TOKEN, rolloutDelayMs: 30 });
  const eso = new FakeEsoController({ kubernetes: kube, vault });
  let backend: VaultKvBackend;
  let cluster: KubernetesSecrets;
  const events: RotationEvent[] = [];
  const bundle: SecretBundle = {
    service: 'api-gateway',
    name: 'app',
    path: 'devmentor/api-gateway',
    properties: { JWT_SECRET: 'JWT_SECRET', REDIS_URL: 'REDIS_URL' },
    externalSecret: { namespace: NS, name: 'api-gateway-secrets' },
    consumers: [{ namespace: NS, deployment: 'api-gateway' }],
    maxAgeSeconds: 3600,
  };
  const secretValue = (key: string) => {
    const data = kube.get('Secret', NS, 'api-gateway-secrets')?.data?.[key];
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  };
  const rotator = (overrides: Partial<ConstructorParameters<typeof Rotator>[0]> = {}) =>
    new Rotator({
      backend,
      cluster,
      pollMs: 20,
      syncTimeoutMs: 10_000,
      rolloutTimeoutMs: 10_000,
      audit: (e) => events.push(e),
      ...overrides,
    });

  before(async () => {
    await vault.listen();
    await kube.listen();
    backend = new VaultKvBackend(new VaultClient({ address: vault.url, token: vault.rootToken }));
    cluster = new KubernetesSecrets({ apiUrl: kube.url, token: TOKEN });
    vault.writePolicy('eso', [{ path: 'secret/data/devmentor/*', capabilities: ['read'] }]);
    vault.writeKubernetesRole('devmentor', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['external-secrets'],
      audience: 'vault',
      policies: ['eso'],
    });
    await backend.write(bundle.path, { JWT_SECRET: 'jwt-v1', REDIS_URL: 'redis://redis:6379' }, { cas: 0 });
    kube.apply({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ClusterSecretStore',
      metadata: { name: 'devmentor-vault' },
      spec: {
        provider: {
          vault: {
            server: vault.url,
            path: 'secret',
            version: 'v2',
            auth: {
              kubernetes: {
                mountPath: 'kubernetes',
                role: 'devmentor',
                serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences: ['vault'] },
              },
            },
          },
        },
      },
    });
    kube.apply({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'api-gateway-secrets', namespace: NS },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'devmentor-vault', kind: 'ClusterSecretStore' },
        target: { name: 'api-gateway-secrets', creationPolicy: 'Owner' },
        data: [
          { secretKey: 'JWT_SECRET', remoteRef: { key: 'devmentor/api-gateway', property: 'JWT_SECRET' } },
          { secretKey: 'REDIS_URL', remoteRef: { key: 'devmentor/api-gateway', property: 'REDIS_URL' } },
        ],
      },
    });
    kube.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api-gateway', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'api-gateway' } },
        template: {
          metadata: { labels: { app: 'api-gateway' } },
          spec: { containers: [{ name: 'app', image: 'api-gateway:1' }] },
        },
      },
    });
    eso.start(25);
    await eventually(() => secretValue('JWT_SECRET') === 'jwt-v1', 10_000, 'initial sync');
  });

  after(async () => {
    await eso.stop();
    await kube.close();
    await vault.close();
  });

  it("reads the Secret as metadata only, without ESO's data hash", async () => {
    const meta = await cluster.getSecretMetadata(NS, 'api-gateway-secrets');
    assert.equal(meta.exists, true);
    assert.equal(meta.managedByEso, true);
    assert.equal(meta.owner, 'api-gateway-secrets');
    assert.equal('reconcile.external-secrets.io/data-hash' in meta.annotations, false);
    assert.equal(JSON.stringify(meta).includes(Buffer.from('jwt-v1').toString('base64')), false);
    assert.ok(kube.requests.some((r) => r.path.endsWith('/secrets/api-gateway-secrets') && r.status === 200));
    assert.equal((await cluster.getSecretMetadata(NS, 'nope')).exists, false);
  });

  it('status: in-sync once the consumers run pods started after the current version', async () => {
    await eventually(
      async () => (await bundleStatus(bundle, { backend, cluster })).state === 'in-sync',
      10_000,
      'in-sync',
    );
  });

  it('rotates end to end: write with CAS → force-sync → synced → rollout restart → rolled out, audited without the value', async () => {
    const progress: RotationState[] = [];
    const done = await rotator().rotate(bundle, {
      property: 'JWT_SECRET',
      value: 'jwt-v2',
      actor: 'alice',
      expectedVersion: 1,
      onProgress: (s) => progress.push(s),
    });
    assert.equal(done.status, 'completed');
    assert.deepEqual([done.previousVersion, done.version], [1, 2]);
    assert.deepEqual(
      done.history.filter((h) => h.outcome === 'succeeded').map((h) => h.step),
      ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout'],
    );
    assert.equal(secretValue('JWT_SECRET'), 'jwt-v2');
    assert.equal(secretValue('REDIS_URL'), 'redis://redis:6379', 'the other property is kept');
    const deployment = await cluster.getDeployment(NS, 'api-gateway');
    assert.equal(deployment.restartedAt, done.restartedAt);
    assert.equal(deployment.rolledOut, true);
    assert.ok(progress.length >= 10);
    assert.equal(JSON.stringify([events, progress, done]).includes('jwt-v2'), false);
    assert.ok(events.every((e) => e.actor === 'alice' && e.bundle === 'api-gateway/app'));
    assert.equal((await bundleStatus(bundle, { backend, cluster })).state, 'in-sync');
  });

  it('refuses a second rotation of the same bundle while one runs (409-style CONFLICT)', async () => {
    const r = rotator();
    const first = r.rotate(bundle, { property: 'JWT_SECRET', value: 'jwt-v3', actor: 'alice' });
    await assert.rejects(
      r.rotate(bundle, { property: 'JWT_SECRET', value: 'jwt-x', actor: 'bob' }),
      (error: unknown) => error instanceof RotationInProgressError && error.code === 'CONFLICT',
    );
    assert.equal((await first).version, 3);
  });

  it('stops at write on a concurrent Vault write (CAS), with nothing else touched', async () => {
    const restartedBefore = (await cluster.getDeployment(NS, 'api-gateway')).restartedAt;
    await assert.rejects(
      rotator().rotate(bundle, { property: 'JWT_SECRET', value: 'jwt-late', actor: 'bob', expectedVersion: 2 }),
      (error: unknown) => {
        assert.ok(error instanceof RotationStepError);
        assert.equal(error.step, 'write');
        assert.equal(error.state.error?.code, 'CAS_MISMATCH');
        return true;
      },
    );
    assert.equal((await cluster.getDeployment(NS, 'api-gateway')).restartedAt, restartedBefore);
    assert.equal(secretValue('JWT_SECRET'), 'jwt-v3');
  });

  it('stops at wait-synced when ESO fails (sealed Vault), shows error status, and resumes once Vault is back', async () => {
    let failed: RotationState | undefined;
    try {
      const rotation = rotator().rotate(bundle, {
        property: 'JWT_SECRET',
        value: 'jwt-v4',
        actor: 'carol',
        // Vault seals right after the write: ESO's sync fails.
        onProgress: (s) => {
          if (s.step === 'force-sync' && s.history.at(-1)?.outcome === 'started') vault.seal();
        },
      });
      await assert.rejects(rotation, (error: unknown) => {
        assert.ok(error instanceof RotationStepError);
        assert.equal(error.step, 'wait-synced');
        assert.match(error.message, /SecretSyncedError: could not get secret data from provider/);
        failed = error.state;
        return true;
      });
      const status = await bundleStatus(bundle, { backend, cluster });
      assert.match(status.state, /^error: SEALED/);
      // Vault back, ESO not yet retried (paused): the ExternalSecret's own error is the state.
      await eso.stop();
      vault.unseal();
      assert.equal(
        (await bundleStatus(bundle, { backend, cluster })).state,
        'error: SecretSyncedError: could not get secret data from provider',
      );
    } finally {
      vault.unseal();
      eso.start(25);
    }
    assert.ok(failed);
    assert.equal(failed.version, 4);
    const resumed = await rotator().resume(bundle, failed);
    assert.equal(resumed.status, 'completed');
    assert.equal(secretValue('JWT_SECRET'), 'jwt-v4');
  });

  it('stops at wait-rollout when a consumer stalls, then rolls back to the previous version', async () => {
    kube.stallRollouts.add(`${NS}/api-gateway`);
    let failed: RotationState | undefined;
    try {
      await assert.rejects(
        rotator().rotate(bundle, { property: 'JWT_SECRET', value: 'jwt-v5', actor: 'dave' }),
        (error: unknown) => {
          assert.ok(error instanceof RotationStepError);
          assert.equal(error.step, 'wait-rollout');
          assert.match(error.message, /ProgressDeadlineExceeded/);
          failed = error.state;
          return true;
        },
      );
      assert.equal((await bundleStatus(bundle, { backend, cluster })).state, 'stale-pods');
    } finally {
      kube.stallRollouts.delete(`${NS}/api-gateway`);
    }
    const rolledBack = await rotator().rollback(bundle, failed!, { actor: 'dave' });
    assert.equal(rolledBack.kind, 'rollback');
    assert.equal(rolledBack.status, 'completed');
    assert.equal(secretValue('JWT_SECRET'), 'jwt-v4');
    const metadata = await backend.readMetadata(bundle.path);
    assert.equal(metadata.currentVersion, 6, 'the rollback is a new version; version 5 is kept');
    assert.ok(events.some((e) => e.kind === 'rollback' && e.step === 'wait-rollout' && e.outcome === 'succeeded'));
  });

  it('refuses to rotate through an ExternalSecret with refreshInterval 0 (force-sync would be ignored)', async () => {
    kube.edit('ExternalSecret', NS, 'api-gateway-secrets', (o) => {
      o.spec = { ...o.spec, refreshInterval: '0s' };
    });
    try {
      await assert.rejects(
        rotator().rotate(bundle, { property: 'JWT_SECRET', value: 'jwt-v7', actor: 'erin' }),
        (error: unknown) =>
          error instanceof RotationStepError && error.step === 'force-sync' && /refreshInterval 0s/.test(error.message),
      );
    } finally {
      kube.edit('ExternalSecret', NS, 'api-gateway-secrets', (o) => {
        o.spec = { ...o.spec, refreshInterval: '1h' };
      });
    }
  });

  it('status: missing, syncing, error for a property absent from Vault, overdue', async () => {
    assert.equal((await bundleStatus({ ...bundle, path: 'devmentor/none' }, { backend, cluster })).state, 'missing');
    assert.equal(
      (await bundleStatus({ ...bundle, externalSecret: { namespace: NS, name: 'absent' } }, { backend, cluster }))
        .state,
      'missing',
    );
    const noProperty = await bundleStatus(
      { ...bundle, properties: { ...bundle.properties, API_KEY: 'API_KEY' } },
      { backend, cluster },
    );
    assert.equal(noProperty.state, 'error: property API_KEY missing in devmentor/api-gateway');
    await eso.stop();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100)); // refreshTime has whole seconds
      await backend.patch(bundle.path, { JWT_SECRET: 'jwt-v8' });
      assert.equal((await bundleStatus(bundle, { backend, cluster })).state, 'syncing');
    } finally {
      eso.start(25);
    }
    const later = Date.now() + 2 * 3600_000;
    const local = new LocalSecretBackend({ database: ':memory:', key: Buffer.alloc(32, 3) });
    try {
      await local.write(bundle.path, { JWT_SECRET: 'x', REDIS_URL: 'y' });
      const localBundle = { ...bundle, externalSecret: undefined, consumers: undefined } as SecretBundle;
      assert.equal((await bundleStatus(localBundle, { backend: local })).state, 'in-sync');
      assert.equal((await bundleStatus(localBundle, { backend: local, now: () => later })).state, 'overdue');
      const localRotation = await new Rotator({ backend: local }).rotate(localBundle, {
        property: 'JWT_SECRET',
        value: 'x2',
        actor: 'me',
      });
      assert.deepEqual(
        localRotation.history.filter((h) => h.outcome === 'succeeded').map((h) => h.step),
        ['write'],
      );
      assert.equal((await local.readData(bundle.path)).data.JWT_SECRET, 'x2');
    } finally {
      local.close();
    }
  });
});
