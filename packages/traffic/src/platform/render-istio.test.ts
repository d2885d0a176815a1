import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { GrafanaDashboard } from '../dashboard/canary-dashboard.js';
import { parsePlatformFile } from './platform-file.js';
import { DASHBOARD_FILE, type IstioManifest, renderPlatform } from './render-istio.js';
import { validateManifests } from './validate-schemas.js';

const DEVMENTOR = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);

function devmentor() {
  const result = parsePlatformFile(readFileSync(DEVMENTOR, 'utf8'), 'platform.yaml');
  assert.ok(result.ok);
  return result.value.platform;
}

function find(manifests: IstioManifest[], kind: string, name: string): IstioManifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `${kind} ${name} not rendered`);
  return found;
}

describe('renderPlatform (DevMentor)', () => {
  const { files, manifests } = renderPlatform(devmentor());

  it('writes one file per kind plus the dashboard, in a fixed order', () => {
    assert.deepEqual(
      files.map((f) => [f.name, f.summary]),
      [
        ['gateway.yaml', '1 Gateway'],
        ['virtual-services.yaml', '1 VirtualService'],
        ['destination-rules.yaml', '6 DestinationRule'],
        ['service-entries.yaml', '2 ServiceEntry'],
        ['peer-authentications.yaml', '1 PeerAuthentication'],
        ['sidecars.yaml', '1 Sidecar'],
        [DASHBOARD_FILE, '1 Grafana dashboard'],
      ],
    );
    assert.ok(
      manifests.every((m) => m.apiVersion === 'networking.istio.io/v1' || m.apiVersion === 'security.istio.io/v1'),
    );
  });

  it('is deterministic', () => {
    assert.deepEqual(renderPlatform(devmentor()).files, files);
  });

  it('writes YAML that reads back as the manifests', () => {
    const fromFiles = files
      .filter((f) => f.name.endsWith('.yaml'))
      .flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS() as unknown));
    assert.deepEqual(fromFiles, manifests);
  });

  it('binds the gateway to devmentor.local', () => {
    const gateway = find(manifests, 'Gateway', 'devmentor-gateway');
    assert.deepEqual(gateway.spec, {
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['devmentor.local'] }],
    });
  });

  it('keeps route order: the header pin before the weighted ai-gateway route, "/" last', () => {
    const vs = find(manifests, 'VirtualService', 'devmentor-routes');
    assert.equal(vs.metadata.namespace, 'devmentor-app');
    assert.deepEqual(vs.spec.hosts, ['devmentor.local']);
    assert.deepEqual(vs.spec.gateways, ['devmentor-gateway']);
    const http = vs.spec.http as {
      name: string;
      match: unknown[];
      route: { destination: { subset: string }; weight?: number }[];
    }[];
    assert.deepEqual(
      http.map((h) => h.name),
      ['ai-gateway-testers', 'ai-gateway', 'auth-service', 'project-service', 'api-gateway'],
    );
    assert.deepEqual(http[0]!.match, [{ uri: { prefix: '/api/ai' }, headers: { 'x-user': { exact: 'tester' } } }]);
    assert.deepEqual(
      http[1]!.route.map((r) => [r.destination.subset, r.weight]),
      [
        ['v1', 100],
        ['v2', 0],
      ],
    );
    assert.deepEqual(http[1]!.route[0], {
      destination: { host: 'ai-gateway.devmentor-app.svc.cluster.local', port: { number: 8080 }, subset: 'v1' },
      weight: 100,
    });
    assert.equal(http[2]!.route[0]!.weight, undefined, 'a sole destination needs no weight');
  });

  it('renders a DestinationRule with v1/v2 subsets per service', () => {
    const dr = find(manifests, 'DestinationRule', 'ai-gateway');
    assert.deepEqual(dr.spec, {
      host: 'ai-gateway.devmentor-app.svc.cluster.local',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    });
  });

  it('renders approved egress with TLS origination (ServiceEntry + portLevelSettings SIMPLE)', () => {
    const se = find(manifests, 'ServiceEntry', 'api-openai-com');
    assert.deepEqual(se.spec, {
      hosts: ['api.openai.com'],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
      ports: [
        { number: 80, name: 'http-port', protocol: 'HTTP', targetPort: 443 },
        { number: 443, name: 'https-port', protocol: 'HTTPS' },
      ],
    });
    const dr = find(manifests, 'DestinationRule', 'api-openai-com');
    assert.deepEqual(dr.spec, {
      host: 'api.openai.com',
      trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', sni: 'api.openai.com' } }] },
    });
    find(manifests, 'ServiceEntry', 'api-anthropic-com');
  });

  it('renders mTLS per namespace and the REGISTRY_ONLY sidecar', () => {
    const pa = find(manifests, 'PeerAuthentication', 'default');
    assert.equal(pa.apiVersion, 'security.istio.io/v1');
    assert.deepEqual(pa.spec, { mtls: { mode: 'PERMISSIVE' } });
    assert.deepEqual(find(manifests, 'Sidecar', 'default').spec, { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  });

  it('validates against the Istio CRD schemas', () => {
    assert.deepEqual(validateManifests(manifests), []);
  });

  it('writes the canary dashboard for the service with two versions', () => {
    const file = files.find((f) => f.name === DASHBOARD_FILE)!;
    const dashboard = JSON.parse(file.content) as GrafanaDashboard;
    assert.equal(dashboard.schemaVersion, 39);
    assert.equal(dashboard.uid, 'rc-canary-devmentor');
    const service = dashboard.templating.list.find((v) => v.name === 'service')!;
    assert.equal(service.current.value, 'ai-gateway');
    const namespace = dashboard.templating.list.find((v) => v.name === 'namespace')!;
    assert.equal(namespace.current.value, 'devmentor-app');
    const panels = dashboard.panels.filter((p) => p.type === 'timeseries');
    assert.deepEqual(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
    for (const title of [
      'Request rate',
      'Success rate',
      'Error rate',
      'p50',
      'p95',
      'p99',
      'Current weights',
      'Flag evaluations',
    ]) {
      assert.ok(
        panels.some((p) => p.title.includes(title)),
        `no panel "${title}"`,
      );
    }
  });
});

describe('renderPlatform (variants)', () => {
  it('adds an HTTPS server with the TLS credential, and no Sidecar under ALLOW_ANY', () => {
    const platform = devmentor();
    platform.gateway.tls = { credentialName: 'devmentor-tls', port: 443 };
    platform.egress.outboundPolicy = 'ALLOW_ANY';
    const { manifests, files } = renderPlatform(platform);
    const servers = find(manifests, 'Gateway', 'devmentor-gateway').spec.servers as unknown[];
    assert.deepEqual(servers[1], {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['devmentor.local'],
      tls: { mode: 'SIMPLE', credentialName: 'devmentor-tls' },
    });
    assert.ok(!files.some((f) => f.name === 'sidecars.yaml'));
    assert.deepEqual(validateManifests(manifests), []);
  });
});
