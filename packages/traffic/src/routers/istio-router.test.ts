import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FakeKubernetesApi } from './fake-kubernetes-api.js';
import { applySplitToVirtualService, IstioRouter, pinRouteName, type VirtualServiceObject } from './istio-router.js';
import { RouterError } from './traffic-router.js';

/** The runbook's VirtualService: ai-gateway under /api/ai with subsets v1/v2, plus an unrelated route. */
function runbookVirtualService(): VirtualServiceObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'devmentor-routes', namespace: 'devmentor-app' },
    spec: {
      hosts: ['devmentor.local'],
      gateways: ['devmentor-gateway'],
      http: [
        {
          match: [{ uri: { prefix: '/api/auth' } }],
          route: [{ destination: { host: 'auth-service.devmentor-app.svc.cluster.local' } }],
        },
        {
          match: [{ uri: { prefix: '/api/ai' } }],
          route: [
            { destination: { host: 'ai-gateway.devmentor-app.svc.cluster.local', subset: 'v1' }, weight: 100 },
            { destination: { host: 'ai-gateway.devmentor-app.svc.cluster.local', subset: 'v2' }, weight: 0 },
          ],
        },
      ],
    },
  };
}

const AI = 'ai-gateway.devmentor-app.svc.cluster.local';

describe('applySplitToVirtualService', () => {
  it('changes only the weights of the service route', () => {
    const vs = runbookVirtualService();
    const next = applySplitToVirtualService(vs, 'ai-gateway', { v1: 90, v2: 10 });
    assert.deepEqual(
      next.spec.http?.[1]?.route?.map((d) => [d.destination.subset, d.weight]),
      [
        ['v1', 90],
        ['v2', 10],
      ],
    );
    assert.deepEqual(next.spec.http?.[0], vs.spec.http?.[0]);
    assert.equal(vs.spec.http?.[1]?.route?.[0]?.weight, 100, 'the input is not modified');
  });

  it('adds a missing subset destination and zeroes subsets not named', () => {
    const vs = runbookVirtualService();
    vs.spec.http![1]!.route = [{ destination: { host: AI, subset: 'v0' }, weight: 100 }];
    const next = applySplitToVirtualService(vs, 'ai-gateway', { v1: 95, v2: 5 });
    assert.deepEqual(
      next.spec.http?.[1]?.route?.map((d) => [d.destination.subset, d.weight]),
      [
        ['v0', 0],
        ['v1', 95],
        ['v2', 5],
      ],
    );
  });

  it('puts the pin route first, with the weighted route match ANDed with the header, and removes it again', () => {
    const pinned = applySplitToVirtualService(
      runbookVirtualService(),
      'ai-gateway',
      { v1: 95, v2: 5 },
      {
        header: 'x-user',
        values: ['alice', 'bob'],
        version: 'v2',
      },
    );
    const pin = pinned.spec.http?.[1];
    assert.equal(pin?.name, pinRouteName('ai-gateway'));
    assert.deepEqual(pin?.match, [
      { uri: { prefix: '/api/ai' }, headers: { 'x-user': { exact: 'alice' } } },
      { uri: { prefix: '/api/ai' }, headers: { 'x-user': { exact: 'bob' } } },
    ]);
    assert.deepEqual(pin?.route, [{ destination: { host: AI, subset: 'v2' }, weight: 100 }]);
    assert.equal(pinned.spec.http?.length, 3);
    const again = applySplitToVirtualService(pinned, 'ai-gateway', { v1: 100, v2: 0 });
    assert.equal(again.spec.http?.length, 2);
    assert.ok(!again.spec.http?.some((r) => r.name === pinRouteName('ai-gateway')));
  });

  it('refuses a VirtualService without a subset route to the service, and bad weights', () => {
    assert.throws(
      () => applySplitToVirtualService(runbookVirtualService(), 'project-service', { v1: 90, v2: 10 }),
      (e) => e instanceof RouterError && e.code === 'INVALID',
    );
    assert.throws(
      () => applySplitToVirtualService(runbookVirtualService(), 'ai-gateway', { v1: 90, v2: 20 }),
      /sum to 100/,
    );
  });
});

describe('IstioRouter against the fake Kubernetes API', () => {
  const api = new FakeKubernetesApi({ token: 'test-token' });
  let router: IstioRouter;
  const ref = { service: 'ai-gateway', namespace: 'devmentor-app', virtualService: 'devmentor-routes' };

  before(async () => {
    await api.listen();
    router = new IstioRouter({ apiUrl: api.url, token: 'test-token' });
  });
  after(() => api.close());
  beforeEach(() => {
    api.seed('devmentor-app', runbookVirtualService());
    api.beforePut = undefined;
    api.requests.length = 0;
  });

  it('sets weights by GET then PUT carrying the resourceVersion it read', async () => {
    const before = api.get('devmentor-app', 'devmentor-routes')!;
    await router.setWeights(ref, { v1: 95, v2: 5 });
    const after = api.get('devmentor-app', 'devmentor-routes')!;
    assert.equal(Number(after.metadata.resourceVersion), Number(before.metadata.resourceVersion) + 1);
    assert.deepEqual(
      api.requests.map((r) => [r.method, r.resourceVersion]),
      [
        ['GET', undefined],
        ['PUT', before.metadata.resourceVersion],
      ],
    );
    const route = (after.spec as VirtualServiceObject['spec']).http?.[1]?.route;
    assert.deepEqual(
      route?.map((d) => d.weight),
      [95, 5],
    );
  });

  it('does not write when the split is already in force', async () => {
    await router.setWeights(ref, { v1: 95, v2: 5 });
    api.requests.length = 0;
    await router.setWeights(ref, { v1: 95, v2: 5 });
    assert.deepEqual(
      api.requests.map((r) => r.method),
      ['GET'],
    );
  });

  it('on 409 Conflict re-reads and re-applies to the fresh object, keeping the concurrent edit', async () => {
    let edits = 0;
    api.beforePut = (ns, name) => {
      if (edits++ > 0) return;
      // Someone adds a retry policy between our GET and our PUT.
      api.edit(ns, name, (o) => {
        const spec = o.spec as VirtualServiceObject['spec'];
        spec.http![1]!.retries = { attempts: 3 };
      });
    };
    const conflictsBefore = router.conflicts;
    await router.setWeights(ref, { v1: 90, v2: 10 });
    assert.equal(router.conflicts, conflictsBefore + 1);
    const stored = api.get('devmentor-app', 'devmentor-routes')!;
    const weighted = (stored.spec as VirtualServiceObject['spec']).http![1]!;
    assert.deepEqual(weighted.retries, { attempts: 3 }, 'the concurrent edit survived');
    assert.deepEqual(
      weighted.route?.map((d) => d.weight),
      [90, 10],
    );
    assert.deepEqual(
      api.requests.map((r) => r.method),
      ['GET', 'PUT', 'GET', 'PUT'],
    );
  });

  it('gives up with a CONFLICT error after the bounded number of attempts', async () => {
    const stubborn = new IstioRouter({ apiUrl: api.url, token: 'test-token', maxAttempts: 3 });
    api.beforePut = (ns, name) => {
      api.edit(ns, name, (o) => {
        o.metadata.labels = { touched: String(Date.now()) };
      });
    };
    await assert.rejects(
      stubborn.setWeights(ref, { v1: 50, v2: 50 }),
      (e) => e instanceof RouterError && e.code === 'CONFLICT' && /Conflict/.test(e.message),
    );
    assert.equal(api.requests.filter((r) => r.method === 'PUT').length, 3);
  });

  it('reports a missing VirtualService and a rejected token clearly', async () => {
    await assert.rejects(
      router.setWeights({ ...ref, virtualService: 'nope' }, { v1: 100, v2: 0 }),
      (e) => e instanceof RouterError && e.code === 'NOT_FOUND' && /NotFound/.test(e.message),
    );
    const wrongToken = new IstioRouter({ apiUrl: api.url, token: 'wrong' });
    await assert.rejects(
      wrongToken.setWeights(ref, { v1: 100, v2: 0 }),
      (e) => e instanceof RouterError && e.code === 'REJECTED',
    );
  });

  it('the fake refuses a PUT without resourceVersion (422) and a stale one (409) with Kubernetes Status bodies', async () => {
    const current = api.get('devmentor-app', 'devmentor-routes')!;
    const url = `${api.url}/apis/networking.istio.io/v1/namespaces/devmentor-app/virtualservices/devmentor-routes`;
    const headers = { authorization: 'Bearer test-token', 'content-type': 'application/json' };
    const { resourceVersion, ...withoutVersion } = current.metadata;
    const missing = await fetch(url, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ ...current, metadata: withoutVersion }),
    });
    assert.equal(missing.status, 422);
    assert.equal(((await missing.json()) as { reason: string }).reason, 'Invalid');
    const stale = await fetch(url, {
      method: 'PUT',
      headers,
      body: JSON.stringify({
        ...current,
        metadata: { ...current.metadata, resourceVersion: String(Number(resourceVersion) - 1) },
      }),
    });
    assert.equal(stale.status, 409);
    assert.deepEqual(Object.keys((await stale.json()) as object).sort(), [
      'apiVersion',
      'code',
      'details',
      'kind',
      'message',
      'metadata',
      'reason',
      'status',
    ]);
  });
});
