/**
 * The platform file's model: what runs where on the mesh (namespaces, the ingress gateway, services with their
 * versions and Deployments, ordered routes, approved egress) — the input of `rctl render`. Arrays keep the file's
 * order so a JSON Pointer built from indices (`/routes/2`) leads back to the line a problem came from.
 */

import type {
  EGRESS_PROTOCOLS,
  MTLS_MODES,
  OUTBOUND_POLICIES,
  PlatformSecretsData,
  STRING_MATCH_KINDS,
} from '@runtime-control/core';

// The enumerations are declared once, with the platform file's JSON Schema (core's platform-file-schema.ts).
export { EGRESS_PROTOCOLS, MTLS_MODES, OUTBOUND_POLICIES, STRING_MATCH_KINDS } from '@runtime-control/core';

export type MtlsMode = (typeof MTLS_MODES)[number];
export type EgressProtocol = (typeof EGRESS_PROTOCOLS)[number];
export type OutboundPolicy = (typeof OUTBOUND_POLICIES)[number];

export type Labels = Record<string, string>;

export interface PlatformNamespace {
  name: string;
  /** The namespace's labels as they are (or will be) in the cluster, e.g. `istio-injection: enabled`. */
  labels: Labels;
  /** Rendered as the namespace-wide PeerAuthentication `default`. */
  mtls: MtlsMode;
}

export interface GatewayTls {
  /** Kubernetes Secret (in the ingress gateway's namespace) holding the certificate. */
  credentialName: string;
  port: number;
}

export interface PlatformGateway {
  name: string;
  namespace: string;
  /** Pod labels of the ingress gateway deployment; default `{istio: ingressgateway}`. */
  selector: Labels;
  hosts: string[];
  /** Plain HTTP port of the gateway server. */
  port: number;
  tls?: GatewayTls;
  /** Name of the VirtualService holding `routes`; default `<gateway name>-routes`. */
  virtualService: string;
}

export interface PlatformDeployment {
  name: string;
  /** Pod template labels; a subset reaches these pods only if all its labels are here. */
  labels: Labels;
  /** The container that gets env vars from secrets bundles; default the Deployment name. */
  container: string;
}

export interface PlatformService {
  name: string;
  namespace: string;
  /** Fully qualified host; default `<name>.<namespace>.svc.cluster.local`. */
  host: string;
  port: number;
  /** Version (subset) name → the pod labels that select it, e.g. `v1: {version: v1}`. Keeps file order. */
  versions: Record<string, Labels>;
  deployments: PlatformDeployment[];
}

export type StringMatchKind = (typeof STRING_MATCH_KINDS)[number];

/** Istio's StringMatch: exactly one of exact, prefix, regex. */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** One match block: its conditions are ANDed; the blocks of one route are ORed. */
export interface RouteMatch {
  uri?: StringMatch;
  /** Lowercase header name → condition. */
  headers?: Record<string, StringMatch>;
}

export interface RouteDestination {
  /** Name of a service in `services`. */
  service: string;
  /** A version of that service; absent sends to all its pods. */
  subset?: string;
  /** Percent; required when a route has several destinations. */
  weight?: number;
}

export interface PlatformRoute {
  /** Rendered as the HTTPRoute `name`, so a router can find the route it must edit. */
  name: string;
  /** Empty: matches every request. */
  match: RouteMatch[];
  destinations: RouteDestination[];
}

export interface ApprovedEgressHost {
  host: string;
  port: number;
  protocol: EgressProtocol;
  /**
   * The sidecar originates TLS: applications call `http://host:<httpPort>` and the sidecar connects to `port` with
   * TLS (ServiceEntry HTTP port with `targetPort`, DestinationRule `portLevelSettings[].tls.mode: SIMPLE`).
   */
  tlsOrigination: boolean;
  /** Plain HTTP port the application uses when `tlsOrigination` is true; default 80. */
  httpPort: number;
}

export interface EgressRequest {
  /** Name of a service in `services`. */
  from: string;
  host: string;
  /** Defaults to any port of an approved host with that name. */
  port?: number;
}

export interface PlatformEgress {
  /** Namespace the ServiceEntries and their DestinationRules go to. */
  namespace: string;
  outboundPolicy: OutboundPolicy;
  approved: ApprovedEgressHost[];
  requests: EgressRequest[];
}

export interface Platform {
  name: string;
  namespaces: PlatformNamespace[];
  gateway: PlatformGateway;
  services: PlatformService[];
  routes: PlatformRoute[];
  egress: PlatformEgress;
  /**
   * The `secrets` section as written (checked across fields: services, consumers, names, env vars); rendered and
   * checked by `@runtime-control/secrets`, which applies its defaults.
   */
  secrets?: PlatformSecretsData;
}

/** Value of the label `istio-injection` that enables automatic sidecar injection. */
export const INJECTION_LABEL = 'istio-injection';

export function defaultServiceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

export function stringMatchValue(match: StringMatch): { kind: StringMatchKind; value: string } {
  if ('exact' in match) return { kind: 'exact', value: match.exact };
  if ('prefix' in match) return { kind: 'prefix', value: match.prefix };
  return { kind: 'regex', value: match.regex };
}

/** A route that splits traffic between several destinations by weight. */
export function isWeightedRoute(route: PlatformRoute): boolean {
  return route.destinations.length > 1 || route.destinations.some((d) => d.weight !== undefined && d.weight < 100);
}

export function hasHeaderMatch(route: PlatformRoute): boolean {
  return route.match.some((m) => m.headers !== undefined && Object.keys(m.headers).length > 0);
}

/** What the canary controller needs to shift one service's traffic through Istio. */
export interface ServiceCanaryRoute {
  service: string;
  namespace: string;
  /** VirtualService holding the weighted route, in the gateway's namespace. */
  virtualService: string;
  virtualServiceNamespace: string;
  /** The HTTPRoute `name` of the weighted route. */
  routeName: string;
  /** Index of the weighted route in the VirtualService's `http` list. */
  routeIndex: number;
  /** Version name → labels, as declared for the service. */
  versions: Record<string, Labels>;
  /** Current weights by version (0 for versions the route does not name). */
  weights: Record<string, number>;
  /** Routes before the weighted one that pin requests to a version by header. */
  pinRoutes: { name: string; index: number; version: string | undefined }[];
}

/**
 * The weighted route of a service: the first route whose destinations are all subsets of that service and that
 * splits by weight (or, failing that, the first route to the service). Undefined when no route reaches it.
 */
export function canaryRouteFor(platform: Platform, serviceName: string): ServiceCanaryRoute | undefined {
  const service = platform.services.find((s) => s.name === serviceName);
  if (!service) return undefined;
  const onlyThisService = (r: PlatformRoute) =>
    r.destinations.length > 0 && r.destinations.every((d) => d.service === serviceName);
  let routeIndex = platform.routes.findIndex((r) => onlyThisService(r) && isWeightedRoute(r));
  if (routeIndex < 0) routeIndex = platform.routes.findIndex((r) => onlyThisService(r) && !hasHeaderMatch(r));
  const route = platform.routes[routeIndex];
  if (!route) return undefined;
  const weights: Record<string, number> = {};
  for (const version of Object.keys(service.versions)) weights[version] = 0;
  for (const d of route.destinations) {
    if (d.subset !== undefined) weights[d.subset] = (weights[d.subset] ?? 0) + (d.weight ?? 100);
  }
  const pinRoutes = platform.routes
    .map((r, index) => ({ r, index }))
    .filter(({ r, index }) => index < routeIndex && onlyThisService(r) && hasHeaderMatch(r))
    .map(({ r, index }) => ({ name: r.name, index, version: r.destinations[0]?.subset }));
  return {
    service: service.name,
    namespace: service.namespace,
    virtualService: platform.gateway.virtualService,
    virtualServiceNamespace: platform.gateway.namespace,
    routeName: route.name,
    routeIndex,
    versions: service.versions,
    weights,
    pinRoutes,
  };
}
