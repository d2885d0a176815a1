import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  FakeEsoController,
  FakeKubernetes,
  FakeVault,
  type KubeObject,
  sleep,
} from '@runtime-control/testkit';

/**
 * The fake Kubernetes API and the simulated ESO controller behave as the real ones do where the secrets pillar
 * depends on it: resourceVersion conflicts and the Status envelope, generation vs annotation changes, the status
 * subresource, rollouts; ESO's refresh rules (force-sync annotation, interval, refreshInterval 0), its status
 * fields and conditions, and the classic misconfigurations failing as they do in a cluster.
 */

const NS = 'devmentor-app';
const ES_PATH = `/apis/external-secrets.io/v1/namespaces/${NS}/externalsecrets`;

describe('FakeKubernetes: the API server wire behaviour', () => {
  const kube = new FakeKubernetes({ token: 'kube-token' });
  let url = '';
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: 'Bearer kube-token', 'content-type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & KubeObject };
  };
  const es = (name: string) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: NS, labels: { app: 'api-gateway' } },
    spec: { refreshInterval: '1h', secretStoreRef: { name: 'vault', kind: 'ClusterSecretStore' } },
  });

  before(async () => {
    url = await kube.listen();
  });
  after(() => kube.close());

  it('creates, refuses duplicates with AlreadyExists, and answers 401 without the token', async () => {
    const created = await call('POST', ES_PATH, es('api-gateway'));
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.generation, 1);
    assert.match(created.body.metadata.resourceVersion, /^\d+$/);
    const again = await call('POST', ES_PATH, es('api-gateway'));
    assert.equal(again.status, 409);
    assert.deepEqual(
      { kind: again.body.kind, status: again.body.status, reason: again.body.reason, code: again.body.code },
      { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409 },
    );
    const anonymous = await fetch(`${url}${ES_PATH}/api-gateway`);
    assert.equal(anonymous.status, 401);
  });

  it('answers 409 Conflict on a stale resourceVersion and 422 on a custom-resource PUT without one', async () => {
    const current = (await call('GET', `${ES_PATH}/api-gateway`)).body;
    const ok = await call('PUT', `${ES_PATH}/api-gateway`, {
      ...current,
      spec: { ...current.spec, refreshInterval: '30m' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.metadata.generation, 2);
    const stale = await call('PUT', `${ES_PATH}/api-gateway`, current);
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    assert.match(
      String(stale.body.message),
      /^Operation cannot be fulfilled on externalsecrets.external-secrets.io "api-gateway": the object has been modified/,
    );
    const { resourceVersion: _, ...metadata } = current.metadata;
    assert.equal((await call('PUT', `${ES_PATH}/api-gateway`, { ...current, metadata })).status, 422);
    const patchStale = await call(
      'PATCH',
      `${ES_PATH}/api-gateway`,
      { metadata: { resourceVersion: current.metadata.resourceVersion, annotations: { a: 'b' } } },
      'application/merge-patch+json',
    );
    assert.equal(patchStale.status, 409);
    assert.equal(
      (await call('PATCH', `${ES_PATH}/api-gateway`, { metadata: {} }, 'application/json-patch+json')).status,
      415,
    );
  });

  it('moves generation on spec changes only, keeps status out of main writes and spec out of /status writes', async () => {
    const before = (await call('GET', `${ES_PATH}/api-gateway`)).body;
    const annotated = await call(
      'PATCH',
      `${ES_PATH}/api-gateway`,
      { metadata: { annotations: { 'force-sync': '1' } }, status: { refreshTime: 'x' } },
      'application/merge-patch+json',
    );
    assert.equal(annotated.body.metadata.generation, before.metadata.generation);
    assert.notEqual(annotated.body.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.equal(annotated.body.status, undefined);
    const status = await call(
      'PATCH',
      `${ES_PATH}/api-gateway/status`,
      { spec: { refreshInterval: '0s' }, status: { refreshTime: '2026-12-01T10:00:00Z' } },
      'application/merge-patch+json',
    );
    assert.equal(status.body.status?.refreshTime, '2026-12-01T10:00:00Z');
    assert.equal(status.body.spec?.refreshInterval, '30m');
    assert.equal(status.body.metadata.generation, before.metadata.generation);
  });

  it('serves external-secrets.io/v1 only (v1beta1 is unserved), lists by label, and hides ESO without its CRDs', async () => {
    assert.equal((await call('GET', `/apis/external-secrets.io/v1beta1/namespaces/${NS}/externalsecrets`)).status, 404);
    const listed = await call('GET', `${ES_PATH}?labelSelector=app%3Dapi-gateway`);
    assert.equal(listed.body.kind, 'ExternalSecretList');
    assert.equal((listed.body.items as unknown[]).length, 1);
    const none = await call('GET', `${ES_PATH}?labelSelector=app%3Dother`);
    assert.equal((none.body.items as unknown[]).length, 0);
    assert.equal((await call('GET', '/apis/external-secrets.io/v1/externalsecrets')).status, 200);
    kube.esoInstalled = false;
    try {
      const missing = await call('GET', ES_PATH);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.message, 'the server could not find the requested resource');
    } finally {
      kube.esoInstalled = true;
    }
  });

  it('turns Secret stringData into base64 data', async () => {
    const created = await call('POST', `/api/v1/namespaces/${NS}/secrets`, {
      metadata: { name: 'hand-made' },
      stringData: { A: 'b' },
    });
    assert.deepEqual(created.body.data, { A: Buffer.from('b').toString('base64') });
    assert.equal(created.body.stringData, undefined);
    assert.equal(created.body.type, 'Opaque');
  });

  it('rolls a Deployment out when its template changes (rollout restart), or stalls it on request', async () => {
    const path = `/apis/apps/v1/namespaces/${NS}/deployments`;
    await call('POST', path, {
      metadata: { name: 'api-gateway' },
      spec: { replicas: 2, template: { metadata: { labels: { app: 'api-gateway' } }, spec: {} } },
    });
    const first = await eventually(
      () =>
        kube.list('Pod', NS).filter((p) => p.metadata.labels?.app === 'api-gateway').length === 2 &&
        kube.list('Pod', NS),
      5000,
      'first rollout',
    );
    const restartedAt = new Date().toISOString();
    const patched = await call(
      'PATCH',
      `${path}/api-gateway`,
      { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } },
      'application/strategic-merge-patch+json',
    );
    assert.equal(patched.body.metadata.generation, 2);
    const done = await eventually(
      () => {
        const d = kube.get('Deployment', NS, 'api-gateway')!;
        return d.status?.observedGeneration === 2 && d.status.updatedReplicas === 2 && d;
      },
      5000,
      'restart rollout',
    );
    assert.equal(done.status?.readyReplicas, 2);
    const pods = (await call('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dapi-gateway`)).body
      .items as KubeObject[];
    assert.equal(pods.length, 2);
    for (const p of pods) assert.ok(!first.some((f) => f.metadata.name === p.metadata.name), 'old pods are replaced');

    kube.stallRollouts.add(`${NS}/api-gateway`);
    await call(
      'PATCH',
      `${path}/api-gateway`,
      { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'later' } } } } },
      'application/merge-patch+json',
    );
    await eventually(
      () =>
        (kube.get('Deployment', NS, 'api-gateway')!.status?.conditions as { reason: string }[] | undefined)?.some(
          (c) => c.reason === 'ProgressDeadlineExceeded',
        ),
      5000,
      'stalled rollout',
    );
  });
});

describe('FakeEsoController: syncs from the fake Vault as ESO does', () => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => clock;
  const vault = new FakeVault({ now });
  const kube = new FakeKubernetes({ now });
  const eso = new FakeEsoController({ kubernetes: kube, vault, now });

  const store = (name: string, vaultSpec: Record<string, unknown> = {}, audiences = ['vault']) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ClusterSecretStore',
    metadata: { name },
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
              serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences },
            },
          },
          ...vaultSpec,
        },
      },
    },
  });
  const externalSecret = (name: string, storeName: string, refreshInterval: string) => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: NS },
    spec: {
      refreshInterval,
      secretStoreRef: { name: storeName, kind: 'ClusterSecretStore' },
      target: { name, creationPolicy: 'Owner' },
      data: [{ secretKey: 'JWT_SECRET', remoteRef: { key: 'devmentor/api-gateway', property: 'JWT_SECRET' } }],
    },
  });
  const ready = (name: string) =>
    ((kube.get('ExternalSecret', NS, name)?.status?.conditions ?? []) as Record<string, string>[]).find(
      (c) => c.type === 'Ready',
    );
  const secretValue = (name: string) => {
    const data = kube.get('Secret', NS, name)?.data?.JWT_SECRET;
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  };
  const forceSync = (name: string) =>
    kube.edit('ExternalSecret', NS, name, (o) => {
      o.metadata.annotations = { ...(o.metadata.annotations ?? {}), 'force-sync': String(clock) };
    });

  before(async () => {
    await vault.listen();
    await kube.listen();
    vault.writePolicy('eso', [{ path: 'secret/data/devmentor/*', capabilities: ['read'] }]);
    vault.writeKubernetesRole('devmentor', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['external-secrets'],
      audience: 'vault',
      policies: ['eso'],
    });
    vault.put('secret', 'devmentor/api-gateway', { JWT_SECRET: 'value-1', REDIS_URL: 'redis://r' });
    kube.apply(store('devmentor-vault'));
    eso.start(20);
  });
  after(async () => {
    await eso.stop();
    await kube.close();
    await vault.close();
  });

  it('syncs a new ExternalSecret: Secret with ESO label/annotation/owner, Ready SecretSynced, refreshTime, syncedResourceVersion', async () => {
    kube.apply(externalSecret('api-gateway', 'devmentor-vault', '1h'));
    await eventually(() => ready('api-gateway')?.status === 'True', 5000, 'first sync');
    const es = kube.get('ExternalSecret', NS, 'api-gateway')!;
    assert.deepEqual(
      { reason: ready('api-gateway')?.reason, message: ready('api-gateway')?.message },
      { reason: 'SecretSynced', message: 'secret synced' },
    );
    assert.equal(es.status?.refreshTime, '2026-12-01T10:00:00Z');
    assert.match(String(es.status?.syncedResourceVersion), /^1-[0-9a-f]{56}$/);
    assert.deepEqual(es.status?.binding, { name: 'api-gateway' });
    const secret = kube.get('Secret', NS, 'api-gateway')!;
    assert.equal(secretValue('api-gateway'), 'value-1');
    assert.equal(secret.metadata.labels?.['reconcile.external-secrets.io/managed'], 'true');
    assert.match(String(secret.metadata.annotations?.['reconcile.external-secrets.io/data-hash']), /^[0-9a-f]{56}$/);
    assert.equal(secret.metadata.ownerReferences?.[0]?.uid, es.metadata.uid);
    await eventually(
      () =>
        (
          (kube.get('ClusterSecretStore', undefined, 'devmentor-vault')?.status?.conditions ?? []) as {
            reason: string;
          }[]
        )[0]?.reason === 'Valid',
      5000,
      'store validated',
    );
  });

  it('does not refresh within the interval, refreshes on a force-sync annotation, and on the interval', async () => {
    vault.put('secret', 'devmentor/api-gateway', { JWT_SECRET: 'value-2', REDIS_URL: 'redis://r' });
    clock += 5_000;
    await sleep(100);
    assert.equal(secretValue('api-gateway'), 'value-1', 'no refresh within refreshInterval');
    forceSync('api-gateway');
    await eventually(() => secretValue('api-gateway') === 'value-2', 5000, 'force-sync refresh');
    await eventually(
      () => kube.get('ExternalSecret', NS, 'api-gateway')?.status?.refreshTime === '2026-12-01T10:00:05Z',
      5000,
      'refreshTime after the force-sync',
    );
    vault.put('secret', 'devmentor/api-gateway', { JWT_SECRET: 'value-3', REDIS_URL: 'redis://r' });
    clock += 3_600_000;
    await eventually(() => secretValue('api-gateway') === 'value-3', 5000, 'interval refresh');
  });

  it('ignores force-sync after the first sync when refreshInterval is 0', async () => {
    kube.apply(externalSecret('once', 'devmentor-vault', '0s'));
    await eventually(() => secretValue('once') === 'value-3', 5000, 'first sync of refreshInterval 0');
    vault.put('secret', 'devmentor/api-gateway', { JWT_SECRET: 'value-4', REDIS_URL: 'redis://r' });
    clock += 5_000;
    forceSync('once');
    await sleep(150);
    assert.equal(secretValue('once'), 'value-3');
    assert.equal(ready('once')?.status, 'True');
  });

  it('fails with SecretSyncedError for path kv/data with v2, a wrong audience, a sealed Vault, an unmanaged Secret', async () => {
    kube.apply(store('double-data', { path: 'secret/data' }));
    kube.apply(externalSecret('double-data', 'double-data', '1h'));
    kube.apply(store('no-audience', {}, ['https://kubernetes.default.svc']));
    kube.apply(externalSecret('no-audience', 'no-audience', '1h'));
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hand-made', namespace: NS }, data: {} });
    kube.apply(externalSecret('hand-made', 'devmentor-vault', '1h'));
    for (const name of ['double-data', 'no-audience']) {
      await eventually(() => ready(name)?.status === 'False', 5000, `${name} fails`);
      assert.deepEqual(
        { reason: ready(name)?.reason, message: ready(name)?.message },
        { reason: 'SecretSyncedError', message: 'could not get secret data from provider' },
      );
      assert.equal(kube.get('Secret', NS, name), undefined);
    }
    await eventually(
      () =>
        (
          (kube.get('ClusterSecretStore', undefined, 'no-audience')?.status?.conditions ?? []) as { reason: string }[]
        )[0]?.reason === 'ValidationFailed',
      5000,
      'store validation fails',
    );
    await eventually(() => ready('hand-made')?.message === 'could not update Secret', 5000, 'unmanaged Secret');

    const before = kube.get('ExternalSecret', NS, 'api-gateway')!.status!;
    vault.seal();
    try {
      clock += 5_000;
      forceSync('api-gateway');
      await eventually(() => ready('api-gateway')?.status === 'False', 5000, 'sealed Vault fails the sync');
      const after = kube.get('ExternalSecret', NS, 'api-gateway')!.status!;
      assert.equal(after.refreshTime, before.refreshTime, 'a failed sync keeps the last refreshTime');
      assert.equal(after.syncedResourceVersion, before.syncedResourceVersion);
      assert.equal(secretValue('api-gateway'), 'value-3');
    } finally {
      vault.unseal();
    }
    await eventually(() => ready('api-gateway')?.status === 'True', 5000, 'recovers once unsealed (requeue)');
    assert.equal(secretValue('api-gateway'), 'value-4');
    assert.ok(eso.syncs.some((s) => s.outcome === 'failed' && s.name === 'double-data'));
  });
});
