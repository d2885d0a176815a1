import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SUPPORTED_KINDS, validateManifests } from '../platform/validate-schemas.js';
import {
  CONTROL_PLANE_DEFAULTS,
  type ControlPlaneOptions,
  controlPlaneProblems,
  renderControlPlane,
} from './render-control-plane.js';

const OPTIONS: ControlPlaneOptions = {
  ...CONTROL_PLANE_DEFAULTS,
  environments: [...CONTROL_PLANE_DEFAULTS.environments],
  image: 'ghcr.io/devmentor/runtime-control:0.1.0',
  clientNamespaces: ['devmentor'],
  adminNamespaces: ['platform-ops'],
};

// biome-ignore lint/suspicious/noExplicitAny: manifests are read by path in tests
type Obj = Record<string, any>;

function byKind(manifests: Obj[], kind: string): Obj {
  const found = manifests.find((m) => m.kind === kind);
  assert.ok(found, `no ${kind}`);
  return found;
}

describe('rctl render control-plane: Runtime Control deployed like the services it serves', () => {
  const manifests = renderControlPlane(OPTIONS) as Obj[];

  it('every Kubernetes and Istio kind validates against its schema', () => {
    const checked = manifests.filter((m) => SUPPORTED_KINDS.includes(`${m.apiVersion}/${m.kind}`));
    assert.deepEqual(checked.map((m) => m.kind).sort(), [
      'AuthorizationPolicy',
      'Deployment',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    assert.deepEqual(validateManifests(checked), []);
  });

  it('the schema check is real: a broken Deployment does not validate', () => {
    const broken = structuredClone(byKind(manifests, 'Deployment'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    const issues = validateManifests([broken]);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, '/spec/template/spec/containers/0/ports/0/containerPort');
  });

  it('the Deployment: 2+ replicas, probes on /health/ready and /health, graceful drain, hardened container', () => {
    const d = byKind(manifests, 'Deployment');
    assert.ok(d.spec.replicas >= 2);
    assert.deepEqual(d.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/health/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e]));
    assert.equal(env.RC_MODE.value, 'production');
    const drainMs = Number(env.RC_DRAIN_DELAY_MS.value);
    const closeMs = Number(env.RC_SHUTDOWN_TIMEOUT_MS.value);
    assert.ok(drainMs >= 2 * c.readinessProbe.periodSeconds * 1000, 'readiness is seen failing before streams move');
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > drainMs + closeMs, 'Kubernetes waits for the drain');
    for (const name of ['RC_ADMIN_TOKEN', 'RC_DATABASE_URL', 'RC_REDIS_URL']) {
      assert.equal(env[name].value, undefined, `${name} is never a literal`);
      assert.equal(env[name].valueFrom.secretKeyRef.name, 'runtime-control-secrets');
    }
    // Everything the read-only root filesystem would refuse is a volume.
    assert.deepEqual(
      (c.volumeMounts as Obj[]).map((v) => v.mountPath).sort(),
      ['/tmp', '/var/lib/runtime-control'].sort(),
    );
    assert.equal(env.RC_DATA_DIR.value, '/var/lib/runtime-control');
  });

  it('its secrets come from Vault through ESO: the ExternalSecret names the store and the KV path without data/', () => {
    const es = byKind(manifests, 'ExternalSecret');
    assert.equal(es.apiVersion, 'external-secrets.io/v1');
    assert.deepEqual(es.spec.secretStoreRef, { kind: 'ClusterSecretStore', name: 'vault' });
    assert.equal(es.spec.target.name, 'runtime-control-secrets');
    assert.deepEqual(
      (es.spec.data as Obj[]).map((d) => [d.secretKey, d.remoteRef.key, d.remoteRef.property]),
      [
        ['admin-token', 'runtime-control/config', 'admin-token'],
        ['database-url', 'runtime-control/config', 'database-url'],
        ['redis-url', 'runtime-control/config', 'redis-url'],
      ],
    );
  });

  it('who may reach it: the NetworkPolicy admits only the named namespaces; the AuthorizationPolicy splits the APIs', () => {
    const np = byKind(manifests, 'NetworkPolicy');
    assert.deepEqual(
      (np.spec.ingress[0].from as Obj[]).map((f) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']),
      ['devmentor', 'platform-ops', 'monitoring'],
    );
    const ap = byKind(manifests, 'AuthorizationPolicy');
    const admin = (ap.spec.rules as Obj[]).find((r) => r.to[0].operation.paths.includes('/api/admin/*'));
    assert.deepEqual(admin?.from[0].source.namespaces, ['platform-ops', 'runtime-control']);
    const client = (ap.spec.rules as Obj[]).find((r) => r.to[0].operation.paths.includes('/ofrep/*'));
    assert.deepEqual(client?.from[0].source.namespaces, ['devmentor']);
    assert.ok(!client?.to[0].operation.paths.includes('/api/admin/*'), 'client namespaces cannot reach the admin API');
    assert.equal(byKind(manifests, 'PodDisruptionBudget').spec.minAvailable, 1);
  });

  it('refuses options it cannot render, naming each', () => {
    const problems = controlPlaneProblems({
      ...OPTIONS,
      replicas: 1,
      namespace: 'Bad_NS',
      clientNamespaces: [],
      vaultPath: 'kv/data/runtime-control',
      image: 'bad image',
      publicUrl: 'ftp://x',
    });
    assert.deepEqual(problems.map((p) => p.option).sort(), [
      '--client-namespaces',
      '--image',
      '--namespace',
      '--public-url',
      '--replicas',
      '--vault-path',
    ]);
    assert.throws(() => renderControlPlane({ ...OPTIONS, replicas: 1 }), /--replicas/);
  });
});
