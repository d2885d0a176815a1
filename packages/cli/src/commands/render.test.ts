import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { manifestYaml, renderUnleashManifests } from '@runtime-control/unleash';
import { runCli, withTempDir } from '../test-support.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DEVMENTOR = join(ROOT, 'examples/devmentor/platform.yaml');
const FIXTURES = join(ROOT, 'packages/traffic/src/platform/fixtures');

describe('rctl render', () => {
  it('writes the DevMentor manifests and dashboard and says what it wrote', async () => {
    await withTempDir(async (dir) => {
      const run = await runCli(['render', DEVMENTOR, '--out', 'out/istio'], { cwd: dir });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      const written = (await readdir(join(dir, 'out/istio'))).sort();
      assert.deepEqual(written, [
        'cluster-secret-store.yaml',
        'deployment-env-ai-gateway-v2.yaml',
        'deployment-env-ai-gateway.yaml',
        'deployment-env-api-gateway.yaml',
        'deployment-env-auth-service.yaml',
        'deployment-env-project-service.yaml',
        'destination-rules.yaml',
        'external-secrets.yaml',
        'gateway.yaml',
        'grafana-dashboard-canary.json',
        'grafana-dashboards.yaml',
        'monitors.yaml',
        'peer-authentications.yaml',
        'prometheus-rules.yaml',
        'service-entries.yaml',
        'sidecars.yaml',
        'virtual-services.yaml',
      ]);
      assert.match(run.stdout, /^wrote out\/istio\/virtual-services\.yaml \(1 VirtualService\)$/m);
      assert.match(run.stdout, /^wrote out\/istio\/destination-rules\.yaml \(6 DestinationRule\)$/m);
      assert.match(run.stdout, /^12 Istio resources and 1 dashboard in 7 files; checks passed/m);
      assert.match(run.stdout, /^wrote out\/istio\/external-secrets\.yaml \(4 ExternalSecret\)$/m);
      assert.match(
        run.stdout,
        /^5 External Secrets resources \(external-secrets\.io\/v1\) and 5 Deployment env patches in 7 files; secrets checks passed, valid against ESO's schemas$/m,
      );
      const vs = await readFile(join(dir, 'out/istio/virtual-services.yaml'), 'utf8');
      assert.match(vs, /^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService$/m);
      assert.match(vs, /- name: ai-gateway-testers\n[\s\S]*- name: ai-gateway\n/);
      const dashboard = JSON.parse(await readFile(join(dir, 'out/istio/grafana-dashboard-canary.json'), 'utf8'));
      assert.equal(dashboard.schemaVersion, 39);
      assert.match(run.stdout, /^wrote out\/istio\/monitors\.yaml \(1 ServiceMonitor, 5 PodMonitor\)$/m);
      assert.match(run.stdout, /^wrote out\/istio\/prometheus-rules\.yaml \(1 PrometheusRule, 7 alerts\)$/m);
      assert.match(
        run.stdout,
        /^7 monitoring resources \(monitoring\.coreos\.com\/v1\) and 5 Grafana dashboard ConfigMaps in 3 files; valid against prometheus-operator's CRD schemas$/m,
      );
      const boards = await readFile(join(dir, 'out/istio/grafana-dashboards.yaml'), 'utf8');
      assert.equal(boards.match(/^ {4}grafana_dashboard: "1"$/gm)?.length, 5);
    });
  });

  for (const [fixture, code] of [
    ['subset-matches-no-deployment.yaml', 'SUBSET_MATCHES_NO_DEPLOYMENT'],
    ['weights-not-100.yaml', 'WEIGHTS_NOT_100'],
    ['header-route-after-weighted.yaml', 'HEADER_ROUTE_AFTER_WEIGHTED_ROUTE'],
    ['namespace-injection-disabled.yaml', 'NAMESPACE_INJECTION_DISABLED'],
    ['egress-host-not-approved.yaml', 'EGRESS_HOST_NOT_APPROVED'],
  ] as const) {
    it(`refuses to write when ${code} fails (exit 1)`, async () => {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, fixture), await readFile(join(FIXTURES, fixture), 'utf8'));
        const run = await runCli(['render', fixture, '--out', 'out'], { cwd: dir });
        assert.equal(run.code, 1);
        assert.match(run.stderr, new RegExp(`^${fixture.replaceAll('.', '\\.')}:\\d+: \\[${code}\\] `, 'm'));
        assert.match(run.stderr, /1 problem found by the troubleshooting checks; nothing was written\./);
        assert.equal(run.stdout, '');
        assert.deepEqual(await readdir(dir), [fixture], 'no output directory was created');
      });
    });
  }

  for (const [fixture, code, line] of [
    ['secrets-kv-data-path.yaml', 'KV_DATA_IN_PATH', 30],
    ['secrets-refresh-zero-with-rotation.yaml', 'REFRESH_DISABLED_WITH_ROTATION', 46],
    ['secrets-env-not-provided.yaml', 'ENV_NOT_PROVIDED', 50],
    ['secrets-store-auth-incomplete.yaml', 'STORE_AUTH_INCOMPLETE', 36],
  ] as const) {
    it(`refuses to write when the secrets check ${code} fails, at ${fixture}:${line} with its fix`, async () => {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, fixture), await readFile(join(FIXTURES, fixture), 'utf8'));
        const run = await runCli(['render', fixture, '--out', 'out'], { cwd: dir });
        assert.equal(run.code, 1, run.stderr);
        const lines = run.stderr.trim().split('\n');
        assert.equal(lines.length, 2, run.stderr);
        assert.match(lines[0]!, new RegExp(`^${fixture.replaceAll('.', '\\.')}:${line}: \\[${code}\\] .+ Fix: .+\\.$`));
        assert.equal(lines[1], `rctl: ${fixture}: 1 problem found by the troubleshooting checks; nothing was written.`);
        assert.deepEqual(await readdir(dir), [fixture], 'no output directory was created');
      });
    });
  }

  it('with --manifests, refuses hand-written v1beta1 External Secrets manifests at their line', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'k8s/eso'), { recursive: true });
      await writeFile(
        join(dir, 'k8s/eso/api-gateway.yaml'),
        '# from the runbook\n---\napiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: { name: api-gateway-secrets }\n',
      );
      await writeFile(join(dir, 'k8s/ok.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n');
      const run = await runCli(['render', DEVMENTOR, '--out', 'out', '--manifests', 'k8s'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^k8s\/eso\/api-gateway\.yaml:3: \[ESO_API_VERSION_UNSERVED\] ExternalSecret "api-gateway-secrets" uses external-secrets\.io\/v1beta1, .* Fix: set apiVersion: external-secrets\.io\/v1 /m,
      );
      assert.match(run.stderr, /rctl: k8s: 1 problem in hand-written manifests; nothing was written\./);
      assert.deepEqual((await readdir(dir)).sort(), ['k8s']);
      const missing = await runCli(['render', DEVMENTOR, '--out', 'out', '--manifests', 'nope'], { cwd: dir });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read --manifests nope: ENOENT/);
      await writeFile(
        join(dir, 'k8s/eso/api-gateway.yaml'),
        'apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: { name: api-gateway-secrets }\n',
      );
      const fixed = await runCli(['render', DEVMENTOR, '--out', 'out', '--manifests', 'k8s'], { cwd: dir });
      assert.equal(fixed.code, 0, fixed.stderr);
    });
  });

  it('reports parse errors as file:line: [CODE] message', async () => {
    await withTempDir(async (dir) => {
      const text = (await readFile(DEVMENTOR, 'utf8')).replace('weight: 100 }', 'weight: "100" }');
      await writeFile(join(dir, 'platform.yaml'), text);
      const run = await runCli(['render', 'platform.yaml', '--out', 'out'], { cwd: dir });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^platform\.yaml:\d+: \[INVALID_TYPE\] route "ai-gateway" weight must be an integer/m);
    });
  });

  it('needs --out and a readable file; prints help', async () => {
    await withTempDir(async (dir) => {
      const noOut = await runCli(['render', DEVMENTOR], { cwd: dir });
      assert.equal(noOut.code, 2);
      assert.match(noOut.stderr, /missing --out DIR/);
      const missing = await runCli(['render', 'missing.yaml', '--out', 'out'], { cwd: dir });
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr.trim(), 'rctl: cannot read missing.yaml: ENOENT');
      const help = await runCli(['render', '--help'], { cwd: dir });
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: rctl render PLATFORM_FILE --out DIR/);
      const main = await runCli(['--help'], { cwd: dir });
      assert.match(main.stdout, /^ {2}render FILE /m);
    });
  });

  it('render unleash --bridge-url: the seed Job also manages the webhook addon, its secret mounted read-only', async () => {
    await withTempDir(async (dir) => {
      const flags = join(ROOT, 'examples/devmentor/flags.yaml');
      const run = await runCli(
        ['render', 'unleash', '--flags', flags, '--out', 'out', '--bridge-url', 'http://runtime-control:4400'],
        { cwd: dir },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^wrote out\/unleash-seed-job\.yaml \(Job\)$/m);
      const job = await readFile(join(dir, 'out/unleash-seed-job.yaml'), 'utf8');
      const flagsYaml = await readFile(flags, 'utf8');
      // Exactly what the renderer (whose output the unleash package validates against the Kubernetes schemas) gives.
      assert.equal(
        job,
        manifestYaml(renderUnleashManifests({ flagsYaml, bridgeUrl: 'http://runtime-control:4400' })[3]!.manifest),
      );
      assert.match(
        job,
        /- --bridge-url\n\s+- http:\/\/runtime-control:4400\n\s+- --webhook-secret-file\n\s+- \/secrets-webhook\/secret\n/,
      );
      assert.match(job, /- name: webhook-secret\n\s+mountPath: \/secrets-webhook\n\s+readOnly: true\n/);
      assert.match(job, /secretName: runtime-control-unleash-webhook\n\s+items:\n\s+- key: secret\n\s+path: secret\n/);
      // Unleash 8 may call the bridge's in-cluster host (a private ClusterIP) because the Deployment allow-lists it.
      const deployment = await readFile(join(dir, 'out/unleash-deployment.yaml'), 'utf8');
      assert.match(deployment, /- name: UNLEASH_ALLOW_LIST_INTEGRATION\n\s+value: runtime-control\n/);
      assert.match(deployment, /image: unleashorg\/unleash-server:8\.2\.0\n/);

      const named = await runCli(
        [
          'render',
          'unleash',
          '--flags',
          flags,
          '--out',
          'named',
          '--bridge-url',
          'https://rc.example',
          '--webhook-secret-name',
          'rc-hook',
        ],
        { cwd: dir },
      );
      assert.equal(named.code, 0, named.stderr);
      assert.match(await readFile(join(dir, 'named/unleash-seed-job.yaml'), 'utf8'), /secretName: rc-hook\n/);

      // Without --bridge-url the Job is as before.
      const plain = await runCli(['render', 'unleash', '--flags', flags, '--out', 'plain'], { cwd: dir });
      assert.equal(plain.code, 0, plain.stderr);
      assert.doesNotMatch(await readFile(join(dir, 'plain/unleash-seed-job.yaml'), 'utf8'), /webhook|bridge/);
      assert.doesNotMatch(await readFile(join(dir, 'plain/unleash-deployment.yaml'), 'utf8'), /UNLEASH_ALLOW/);

      for (const [args, pattern] of [
        [['--bridge-url', 'runtime-control:4400'], /--bridge-url must be .*http\(s\) URL/],
        [['--bridge-url', 'ftp://rc'], /--bridge-url must be/],
        [['--bridge-url', 'http://user:pw@rc:4400'], /--bridge-url must be/],
        [['--webhook-secret-name', 'rc-hook'], /--webhook-secret-name goes with --bridge-url/],
        [['--bridge-url', 'http://rc:4400', '--webhook-secret-name', 'Not_A_Name'], /--webhook-secret-name must be/],
      ] as const) {
        const bad = await runCli(['render', 'unleash', '--flags', flags, '--out', 'bad', ...args], { cwd: dir });
        assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
        assert.match(bad.stderr, pattern);
      }
      assert.deepEqual((await readdir(dir)).sort(), ['named', 'out', 'plain'], 'nothing written on a usage error');
    });
  });
});
