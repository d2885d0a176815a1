import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClusterSnapshot,
  checkLiveSidecars,
  checkLiveSubsets,
  checkLiveWeights,
  runClusterChecks,
} from './cluster-checks.js';

/** A healthy DevMentor namespace: injection on, v1/v2 Deployments labelled as the subsets select, 90/10 weights. */
function healthy(): ClusterSnapshot {
  const deployment = (name: string, version: string) => ({
    metadata: { name, namespace: 'devmentor' },
    spec: { template: { metadata: { labels: { app: 'ai-gateway', version } } } },
  });
  const pod = (name: string, containers: string[]) => ({
    metadata: { name, namespace: 'devmentor' },
    spec: { containers: containers.map((c) => ({ name: c })) },
    status: { phase: 'Running', startTime: '2026-12-01T10:00:00Z' },
  });
  return {
    namespaces: [{ metadata: { name: 'devmentor', labels: { 'istio-injection': 'enabled' } } }],
    deployments: [deployment('ai-gateway-v1', 'v1'), deployment('ai-gateway-v2', 'v2')],
    pods: [
      pod('ai-gateway-v1-abc', ['ai-gateway', 'istio-proxy']),
      pod('ai-gateway-v2-def', ['ai-gateway', 'istio-proxy']),
    ],
    destinationRules: [
      {
        metadata: { name: 'ai-gateway', namespace: 'devmentor' },
        spec: {
          host: 'ai-gateway',
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        },
      },
    ],
    virtualServices: [
      {
        metadata: { name: 'ai-gateway', namespace: 'devmentor' },
        spec: {
          hosts: ['ai-gateway'],
          http: [
            {
              name: 'split',
              route: [
                { destination: { host: 'ai-gateway', subset: 'v1' }, weight: 90 },
                { destination: { host: 'ai-gateway', subset: 'v2' }, weight: 10 },
              ],
            },
          ],
        },
      },
    ],
  };
}

describe('live cluster checks (runbook §7)', () => {
  it('a healthy namespace passes every check', () => {
    assert.deepEqual(runClusterChecks(healthy()), []);
  });

  it('traffic not splitting: a subset whose labels select no Deployment (a hand-edited label)', () => {
    const s = healthy();
    s.deployments[1]!.spec!.template!.metadata!.labels = { app: 'ai-gateway', version: 'v2-canary' };
    const issues = checkLiveSubsets(s);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.code, 'LIVE_SUBSET_MATCHES_NO_DEPLOYMENT');
    assert.equal(issues[0]?.resource, 'DestinationRule devmentor/ai-gateway');
    assert.match(
      issues[0]?.evidence ?? '',
      /subset "v2" selects version=v2, but no Deployment .*ai-gateway-v2 \(app=ai-gateway,version=v2-canary\)/,
    );
  });

  it('a Deployment in another namespace does not satisfy a subset', () => {
    const s = healthy();
    s.deployments[1]!.metadata.namespace = 'other';
    assert.equal(checkLiveSubsets(s).length, 1);
  });

  it('traffic not splitting: live weights that do not add up to 100', () => {
    const s = healthy();
    s.virtualServices[0]!.spec!.http![0]!.route![1]!.weight = 5;
    const issues = checkLiveWeights(s);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.evidence, 'http[0] "split" weights v1 90 + v2 5 = 95');
  });

  it('sidecars missing: the namespace label, and running pods without istio-proxy', () => {
    const unlabelled = healthy();
    unlabelled.namespaces[0]!.metadata.labels = {};
    const [ns] = checkLiveSidecars(unlabelled);
    assert.equal(ns?.code, 'LIVE_NAMESPACE_INJECTION_DISABLED');
    assert.match(ns?.fix ?? '', /kubectl label namespace devmentor istio-injection=enabled --overwrite/);

    const bare = healthy();
    bare.pods[1]!.spec!.containers = [{ name: 'ai-gateway' }];
    const [pod] = checkLiveSidecars(bare);
    assert.equal(pod?.code, 'LIVE_POD_WITHOUT_SIDECAR');
    assert.equal(pod?.resource, 'Pod devmentor/ai-gateway-v2-def');

    const native = healthy();
    native.pods[1]!.spec = {
      containers: [{ name: 'ai-gateway' }],
      initContainers: [{ name: 'istio-proxy', restartPolicy: 'Always' }],
    };
    assert.deepEqual(checkLiveSidecars(native), [], 'a native sidecar (init container, restartPolicy Always) counts');

    const pending = healthy();
    pending.pods[1]!.spec!.containers = [{ name: 'ai-gateway' }];
    pending.pods[1]!.status = { phase: 'Pending' };
    assert.deepEqual(checkLiveSidecars(pending), [], 'only running pods are judged');
  });

  it('label lookups are own properties: a subset asking for "constructor" is not matched by every pod', () => {
    const s = healthy();
    s.destinationRules[0]!.spec!.subsets = [{ name: 'odd', labels: { constructor: 'x' } }];
    assert.equal(checkLiveSubsets(s).length, 1);
  });
});
