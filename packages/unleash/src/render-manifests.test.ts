import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { manifestYaml, renderUnleashManifests, WEBHOOK_SECRET_FILE } from './render-manifests.js';

const flagsYaml = readFileSync(new URL('../../../examples/devmentor/flags.yaml', import.meta.url), 'utf8');

/** Validates with kubernetes-models (the Kubernetes OpenAPI schemas compiled to validators). */
function validate(manifest: Record<string, unknown>): void {
  const byKind: Record<string, (m: never) => { validate(): void }> = {
    Deployment: (m) => new Deployment(m),
    Service: (m) => new Service(m),
    ConfigMap: (m) => new ConfigMap(m),
    Job: (m) => new Job(m),
  };
  const build = byKind[String(manifest.kind)];
  assert.ok(build, `no validator for ${String(manifest.kind)}`);
  build(manifest as never).validate();
}

describe('renderUnleashManifests', () => {
  const rendered = renderUnleashManifests({ flagsYaml });

  it('renders Deployment, Service, ConfigMap and seed Job, each valid against the Kubernetes schemas', () => {
    assert.deepEqual(
      rendered.map((r) => r.manifest.kind),
      ['Deployment', 'Service', 'ConfigMap', 'Job'],
    );
    for (const r of rendered) {
      // Validate what is written: the YAML, read back.
      validate(parse(manifestYaml(r.manifest)) as Record<string, unknown>);
    }
  });

  it('catches an invalid manifest (the validator is not a no-op)', () => {
    const job = structuredClone(rendered[3]!.manifest) as { spec: { backoffLimit: unknown } };
    job.spec.backoffLimit = 'six';
    assert.throws(() => validate(job as unknown as Record<string, unknown>), /backoffLimit/);
  });

  it('reads the database URL and admin token from the Secret, serves on 4242 with /health probes', () => {
    const yaml = manifestYaml(rendered[0]!.manifest);
    const deployment = parse(yaml);
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(deployment.metadata.namespace, 'devmentor-app');
    assert.deepEqual(container.ports, [{ name: 'http', containerPort: 4242 }]);
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    assert.deepEqual(env.DATABASE_URL.valueFrom, { secretKeyRef: { name: 'unleash-secrets', key: 'database-url' } });
    assert.deepEqual(env.INIT_ADMIN_API_TOKENS.valueFrom, {
      secretKeyRef: { name: 'unleash-secrets', key: 'admin-token' },
    });
    assert.equal(container.readinessProbe.httpGet.path, '/health');
    assert.equal(container.livenessProbe.httpGet.path, '/health');
    assert.doesNotMatch(yaml, /postgres:\/\//);
  });

  it('the Job seeds the mounted flags file with the mounted token file, and the ConfigMap holds the file', () => {
    const job = rendered[3]!.manifest as {
      spec: { backoffLimit: number; ttlSecondsAfterFinished: number; template: { spec: unknown } };
    };
    assert.equal(job.spec.backoffLimit, 6);
    assert.equal(job.spec.ttlSecondsAfterFinished, 3600);
    const pod = job.spec.template.spec as {
      containers: { command: string[] }[];
      volumes: { name: string; secret?: { items: { key: string; path: string }[] } }[];
    };
    assert.deepEqual(pod.containers[0]!.command.slice(1), [
      'seed',
      '/config/flags.yaml',
      '--target',
      'unleash',
      '--unleash-url',
      'http://unleash:4242',
      '--token-file',
      '/secrets/unleash-admin-token',
    ]);
    assert.deepEqual(pod.volumes[1]!.secret!.items, [{ key: 'admin-token', path: 'unleash-admin-token' }]);
    const configMap = rendered[2]!.manifest as { data: Record<string, string> };
    assert.equal(configMap.data['flags.yaml'], flagsYaml);
  });

  it('defaults to the unleash-server 8 image the suites test', () => {
    const container = parse(manifestYaml(rendered[0]!.manifest)).spec.template.spec.containers[0];
    assert.equal(container.image, 'unleashorg/unleash-server:8.2.0');
    // Without a bridge, Unleash keeps its default: addons may call public addresses only.
    assert.ok(!container.env.some((e: { name: string }) => e.name.startsWith('UNLEASH_ALLOW')));
  });

  it("with bridgeUrl, Unleash allow-lists exactly the bridge's host (Unleash 8 refuses private addresses otherwise)", () => {
    for (const [bridgeUrl, host] of [
      ['http://runtime-control:4400', 'runtime-control'],
      ['https://RC.Example:8443/base/', 'rc.example'],
      [
        'http://runtime-control.devmentor-app.svc.cluster.local:4400',
        'runtime-control.devmentor-app.svc.cluster.local',
      ],
      ['http://10.0.0.7:4400', '10.0.0.7'],
    ]) {
      const deployment = parse(manifestYaml(renderUnleashManifests({ flagsYaml, bridgeUrl })[0]!.manifest));
      const env = deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[];
      assert.deepEqual(
        env.filter((e) => e.name.startsWith('UNLEASH_ALLOW')),
        [{ name: 'UNLEASH_ALLOW_LIST_INTEGRATION', value: host }],
        bridgeUrl,
      );
    }
  });

  it('takes namespace and images', () => {
    const custom = renderUnleashManifests({
      flagsYaml,
      namespace: 'flags',
      unleashImage: 'registry.local/unleash:7.5.1',
      rctlImage: 'registry.local/rctl:1',
    });
    for (const r of custom) assert.equal((r.manifest.metadata as { namespace: string }).namespace, 'flags');
    assert.match(manifestYaml(custom[0]!.manifest), /registry\.local\/unleash:7\.5\.1/);
    assert.match(manifestYaml(custom[3]!.manifest), /registry\.local\/rctl:1/);
  });

  it('with bridgeUrl, the Job also manages the webhook addon with the secret mounted apart from the admin token', () => {
    const withBridge = renderUnleashManifests({ flagsYaml, bridgeUrl: 'http://runtime-control:4400' });
    for (const r of withBridge) validate(parse(manifestYaml(r.manifest)) as Record<string, unknown>);
    const pod = (withBridge[3]!.manifest as { spec: { template: { spec: unknown } } }).spec.template.spec as {
      containers: { command: string[]; volumeMounts: { name: string; mountPath: string; readOnly: boolean }[] }[];
      volumes: { name: string; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
    };
    const container = pod.containers[0]!;
    assert.deepEqual(container.command.slice(-6), [
      '--token-file',
      '/secrets/unleash-admin-token',
      '--bridge-url',
      'http://runtime-control:4400',
      '--webhook-secret-file',
      '/secrets-webhook/secret',
    ]);
    assert.equal(WEBHOOK_SECRET_FILE, '/secrets-webhook/secret');
    assert.deepEqual(container.volumeMounts, [
      { name: 'flags', mountPath: '/config', readOnly: true },
      { name: 'admin-token', mountPath: '/secrets', readOnly: true },
      { name: 'webhook-secret', mountPath: '/secrets-webhook', readOnly: true },
    ]);
    // Every file the command reads lies in exactly one mount, and no mount is nested in another.
    const mounts = container.volumeMounts.map((m) => m.mountPath);
    for (const a of mounts) for (const b of mounts) if (a !== b) assert.ok(!a.startsWith(`${b}/`), `${a} in ${b}`);
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
    assert.deepEqual(volumes['webhook-secret']!.secret, {
      secretName: 'runtime-control-unleash-webhook',
      items: [{ key: 'secret', path: 'secret' }],
    });
    assert.deepEqual(volumes['admin-token']!.secret!.items, [{ key: 'admin-token', path: 'unleash-admin-token' }]);
    for (const m of container.volumeMounts) assert.ok(volumes[m.name], `volume ${m.name}`);

    const named = renderUnleashManifests({ flagsYaml, bridgeUrl: 'https://rc.example', webhookSecretName: 'rc-hook' });
    validate(parse(manifestYaml(named[3]!.manifest)) as Record<string, unknown>);
    assert.match(manifestYaml(named[3]!.manifest), /secretName: rc-hook\n/);
    // Without bridgeUrl nothing about the webhook is rendered.
    assert.doesNotMatch(manifestYaml(rendered[3]!.manifest), /webhook|bridge/);
  });
});
