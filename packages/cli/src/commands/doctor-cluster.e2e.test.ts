import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, FakeKubernetes } from '@runtime-control/testkit';
import { main } from '../index.js';
import type { DoctorCheck } from './doctor.js';

/**
 * `rctl doctor --cluster` against a FAKE Kubernetes API (testkit's FakeKubernetes; no cluster runs here): a healthy
 * namespace passes, and each live §7 failure is found from a fixture — a subset whose labels select no Deployment,
 * weights that do not add up to 100, a namespace without injection, a pod without its sidecar.
 */

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ADMIN = 'rc-doctor-cluster-admin-token-0123456789';
const KUBE_TOKEN = 'fake-kube-token';
const NS = 'devmentor';

function healthy(kube: FakeKubernetes): void {
  kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio-injection': 'enabled' } } });
  for (const version of ['v1', 'v2']) {
    // The fake runs no sidecar injector: the template carries istio-proxy as injected pods would, and the fake's
    // rollout creates the pods from it.
    kube.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `ai-gateway-${version}`, namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'ai-gateway', version } },
        template: {
          metadata: { labels: { app: 'ai-gateway', version } },
          spec: {
            containers: [
              { name: 'ai-gateway', image: `ai-gateway:${version}` },
              { name: 'istio-proxy', image: 'proxyv2' },
            ],
          },
        },
      },
    });
  }
  kube.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'ai-gateway', namespace: NS },
    spec: {
      host: 'ai-gateway',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
  });
  kube.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'ai-gateway', namespace: NS },
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
  });
}

describe('rctl doctor --cluster (fake Kubernetes API)', () => {
  let dataDir: string;
  let server: { url: string; close(): Promise<void> };
  let kube: FakeKubernetes;

  async function doctor(extra: string[] = []) {
    let stdout = '';
    let stderr = '';
    const code = await main(['doctor', '--cluster', '--namespace', NS, '--json', ...extra], {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: {
        RC_URL: server.url,
        RC_TOKEN: ADMIN,
        RC_KUBERNETES_API_URL: kube.url,
        RC_KUBERNETES_TOKEN: KUBE_TOKEN,
        USER: 'doctor-test',
      },
      cwd: REPO_ROOT,
    });
    assert.ok(stdout.length > 0, stderr);
    const report = JSON.parse(stdout) as { ok: boolean; checks: DoctorCheck[] };
    return { code, report, failed: report.checks.filter((c) => c.status === 'fail') };
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rctl-doctor-cluster-'));
    const { startServer } = await import('@runtime-control/server');
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
  });
  beforeEach(async () => {
    await kube?.close();
    kube = new FakeKubernetes({ token: KUBE_TOKEN });
    await kube.listen();
    healthy(kube);
  });
  after(async () => {
    await kube?.close();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a healthy namespace passes; the cluster was only read', async () => {
    const run = await doctor();
    assert.deepEqual(run.failed, []);
    assert.equal(run.code, 0);
    assert.deepEqual(
      run.report.checks.filter((c) => c.name === 'cluster').map((c) => [c.section, c.status]),
      [
        ['traffic', 'pass'],
        ['sidecars', 'pass'],
      ],
    );
    assert.ok(kube.requests.length > 0);
    assert.deepEqual(
      kube.requests.filter((r) => r.method !== 'GET'),
      [],
      'doctor never writes to the cluster',
    );
  });

  it('a Deployment relabelled by hand: the subset selects nothing', async () => {
    kube.edit('Deployment', NS, 'ai-gateway-v2', (d) => {
      (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels.version =
        'canary';
    });
    const run = await doctor();
    assert.equal(run.code, 1);
    assert.deepEqual(
      run.failed.map((c) => [c.section, c.name]),
      [['traffic', 'LIVE_SUBSET_MATCHES_NO_DEPLOYMENT']],
    );
    assert.match(
      run.failed[0]?.evidence ?? '',
      /DestinationRule devmentor\/ai-gateway: subset "v2" selects version=v2/,
    );
  });

  it('weights edited by hand to 90/5', async () => {
    kube.edit('VirtualService', NS, 'ai-gateway', (vs) => {
      (vs.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route[1]!.weight = 5;
    });
    const run = await doctor();
    assert.deepEqual(
      run.failed.map((c) => c.name),
      ['LIVE_WEIGHTS_NOT_100'],
    );
  });

  it('injection off, and a pod that started without its sidecar', async () => {
    const pod = await eventually(
      () => kube.list('Pod', NS).find((p) => p.metadata.name.startsWith('ai-gateway-v1')),
      5000,
      'the fake rolled the Deployment out',
    );
    kube.edit('Pod', NS, pod.metadata.name, (p) => {
      (p.spec as { containers: { name: string }[] }).containers = [{ name: 'ai-gateway' }];
    });
    let run = await doctor();
    assert.deepEqual(
      run.failed.map((c) => [c.section, c.name]),
      [['sidecars', 'LIVE_POD_WITHOUT_SIDECAR']],
    );
    assert.match(
      run.failed[0]?.evidence ?? '',
      new RegExp(`^Pod devmentor/${pod.metadata.name}: running without istio-proxy \\(started \\d{4}-\\d\\d-\\d\\dT`),
    );
    kube.edit('Namespace', undefined, NS, (n) => {
      n.metadata.labels = {};
    });
    run = await doctor();
    assert.deepEqual(
      run.failed.map((c) => c.name),
      ['LIVE_NAMESPACE_INJECTION_DISABLED'],
    );
  });

  it('a namespace that does not exist and a wrong cluster token are failures with a fix, not crashes', async () => {
    const missing = await doctor(['--namespace', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.failed[0]?.evidence ?? '', /namespace nope: 404/);
    await kube.close();
    kube = new FakeKubernetes({ token: 'another-token' });
    await kube.listen();
    const denied = await doctor();
    assert.equal(denied.code, 1);
    assert.match(denied.failed[0]?.evidence ?? '', /401/);
  });
});
