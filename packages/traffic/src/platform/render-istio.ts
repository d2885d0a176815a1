/**
 * Platform file → Istio manifests (`networking.istio.io/v1`, `security.istio.io/v1`), one YAML file per kind, in
 * the order of the platform file so that rendering the same file twice gives the same bytes.
 */
import { stringify } from 'yaml';
import { type CanaryDashboardOptions, renderCanaryDashboard } from '../dashboard/canary-dashboard.js';
import type { ApprovedEgressHost, Platform, PlatformRoute, RouteMatch } from './platform-model.js';

export const NETWORKING_API_VERSION = 'networking.istio.io/v1';
export const SECURITY_API_VERSION = 'security.istio.io/v1';

export interface ManifestMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

/** A Kubernetes custom resource as plain JSON data. */
export interface IstioManifest {
  apiVersion: string;
  kind: string;
  metadata: ManifestMetadata;
  spec: Record<string, unknown>;
}

/** One file `rctl render` writes. */
export interface RenderedFile {
  /** Relative to the output directory. */
  name: string;
  content: string;
  /** What the file holds, e.g. `2 DestinationRule` or `1 dashboard`. */
  summary: string;
}

function metadata(platform: Platform, name: string, namespace: string): ManifestMetadata {
  return {
    name,
    namespace,
    labels: { 'app.kubernetes.io/managed-by': 'rctl', 'runtime-control/platform': platform.name },
  };
}

/** `api.openai.com` → `api-openai-com`: a resource name for an external host. */
export function egressResourceName(host: string): string {
  return host.replace(/\./g, '-').slice(0, 63).replace(/-+$/, '');
}

export function renderGateway(platform: Platform): IstioManifest {
  const { gateway } = platform;
  const servers: Record<string, unknown>[] = [
    { port: { number: gateway.port, name: 'http', protocol: 'HTTP' }, hosts: gateway.hosts },
  ];
  if (gateway.tls) {
    servers.push({
      port: { number: gateway.tls.port, name: 'https', protocol: 'HTTPS' },
      hosts: gateway.hosts,
      tls: { mode: 'SIMPLE', credentialName: gateway.tls.credentialName },
    });
  }
  return {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'Gateway',
    metadata: metadata(platform, gateway.name, gateway.namespace),
    spec: { selector: gateway.selector, servers },
  };
}

function renderMatch(match: RouteMatch): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (match.uri) result.uri = match.uri;
  if (match.headers && Object.keys(match.headers).length > 0) result.headers = match.headers;
  return result;
}

function renderHttpRoute(platform: Platform, route: PlatformRoute): Record<string, unknown> {
  const http: Record<string, unknown> = { name: route.name };
  if (route.match.length > 0) http.match = route.match.map(renderMatch);
  http.route = route.destinations.map((d) => {
    // The parser has checked that every destination names a declared service.
    const service = platform.services.find((s) => s.name === d.service)!;
    const destination: Record<string, unknown> = { host: service.host, port: { number: service.port } };
    if (d.subset !== undefined) destination.subset = d.subset;
    return d.weight === undefined ? { destination } : { destination, weight: d.weight };
  });
  return http;
}

/** The gateway's VirtualService: `routes` in file order (Istio uses the first match). */
export function renderVirtualService(platform: Platform): IstioManifest {
  const { gateway } = platform;
  return {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'VirtualService',
    metadata: metadata(platform, gateway.virtualService, gateway.namespace),
    spec: {
      hosts: gateway.hosts,
      gateways: [gateway.name],
      http: platform.routes.map((route) => renderHttpRoute(platform, route)),
    },
  };
}

/** One DestinationRule per service with versions, a subset per version. */
export function renderServiceDestinationRules(platform: Platform): IstioManifest[] {
  return platform.services
    .filter((s) => Object.keys(s.versions).length > 0)
    .map((service) => ({
      apiVersion: NETWORKING_API_VERSION,
      kind: 'DestinationRule',
      metadata: metadata(platform, service.name, service.namespace),
      spec: {
        host: service.host,
        subsets: Object.entries(service.versions).map(([name, labels]) => ({ name, labels })),
      },
    }));
}

export function renderServiceEntry(platform: Platform, egress: ApprovedEgressHost): IstioManifest {
  const ports = egress.tlsOrigination
    ? [
        // The application speaks plain HTTP to httpPort; the sidecar sends it to `port` over TLS (see the
        // DestinationRule), so it can apply HTTP routing and telemetry to the call.
        { number: egress.httpPort, name: 'http-port', protocol: 'HTTP', targetPort: egress.port },
        { number: egress.port, name: 'https-port', protocol: 'HTTPS' },
      ]
    : [{ number: egress.port, name: `${egress.protocol.toLowerCase()}-port`, protocol: egress.protocol }];
  return {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'ServiceEntry',
    metadata: metadata(platform, egressResourceName(egress.host), platform.egress.namespace),
    spec: { hosts: [egress.host], location: 'MESH_EXTERNAL', resolution: 'DNS', ports },
  };
}

/** TLS origination: the sidecar opens TLS (SIMPLE) on the plain HTTP port of the ServiceEntry. */
export function renderTlsOriginationRule(platform: Platform, egress: ApprovedEgressHost): IstioManifest {
  return {
    apiVersion: NETWORKING_API_VERSION,
    kind: 'DestinationRule',
    metadata: metadata(platform, egressResourceName(egress.host), platform.egress.namespace),
    spec: {
      host: egress.host,
      trafficPolicy: {
        portLevelSettings: [{ port: { number: egress.httpPort }, tls: { mode: 'SIMPLE', sni: egress.host } }],
      },
    },
  };
}

export function renderPeerAuthentications(platform: Platform): IstioManifest[] {
  return platform.namespaces.map((namespace) => ({
    apiVersion: SECURITY_API_VERSION,
    kind: 'PeerAuthentication',
    metadata: metadata(platform, 'default', namespace.name),
    spec: { mtls: { mode: namespace.mtls } },
  }));
}

/** With REGISTRY_ONLY, a namespace-wide Sidecar lets workloads reach only mesh services and approved hosts. */
export function renderSidecars(platform: Platform): IstioManifest[] {
  if (platform.egress.outboundPolicy !== 'REGISTRY_ONLY') return [];
  const namespaces = platform.namespaces.filter((n) => platform.services.some((s) => s.namespace === n.name));
  return namespaces.map((namespace) => ({
    apiVersion: NETWORKING_API_VERSION,
    kind: 'Sidecar',
    metadata: metadata(platform, 'default', namespace.name),
    spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
  }));
}

/** Every Istio resource of the platform, grouped by the file it is written to. */
export function renderIstioManifests(platform: Platform): { file: string; manifests: IstioManifest[] }[] {
  const approved = platform.egress.approved;
  return [
    { file: 'gateway.yaml', manifests: [renderGateway(platform)] },
    { file: 'virtual-services.yaml', manifests: [renderVirtualService(platform)] },
    {
      file: 'destination-rules.yaml',
      manifests: [
        ...renderServiceDestinationRules(platform),
        ...approved.filter((e) => e.tlsOrigination).map((e) => renderTlsOriginationRule(platform, e)),
      ],
    },
    { file: 'service-entries.yaml', manifests: approved.map((e) => renderServiceEntry(platform, e)) },
    { file: 'peer-authentications.yaml', manifests: renderPeerAuthentications(platform) },
    { file: 'sidecars.yaml', manifests: renderSidecars(platform) },
  ].filter((group) => group.manifests.length > 0);
}

/** Multi-document YAML, one document per manifest. */
export function manifestsToYaml(platform: Platform, manifests: readonly IstioManifest[]): string {
  const header = `# Rendered by "rctl render" from platform "${platform.name}"; change the platform file, not this file.\n`;
  return header + manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

function countByKind(manifests: readonly IstioManifest[]): string {
  const counts = new Map<string, number>();
  for (const m of manifests) counts.set(m.kind, (counts.get(m.kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}

export const DASHBOARD_FILE = 'grafana-dashboard-canary.json';

/** Everything `rctl render` writes: the Istio manifests and the canary dashboard. */
export function renderPlatform(
  platform: Platform,
  dashboard: Partial<CanaryDashboardOptions> = {},
): { files: RenderedFile[]; manifests: IstioManifest[] } {
  const groups = renderIstioManifests(platform);
  const files: RenderedFile[] = groups.map((g) => ({
    name: g.file,
    content: manifestsToYaml(platform, g.manifests),
    summary: countByKind(g.manifests),
  }));
  const canaryService = platform.services.find((s) => Object.keys(s.versions).length > 1) ?? platform.services[0];
  const json = renderCanaryDashboard({
    namespace: canaryService?.namespace ?? platform.namespaces[0]?.name ?? 'default',
    service: canaryService?.name ?? '',
    services: platform.services.map((s) => s.name),
    title: `${platform.name}: canary`,
    uid: `rc-canary-${platform.name}`.slice(0, 40),
    ...dashboard,
  });
  files.push({ name: DASHBOARD_FILE, content: `${JSON.stringify(json, null, 2)}\n`, summary: '1 Grafana dashboard' });
  return { files, manifests: groups.flatMap((g) => g.manifests) };
}
