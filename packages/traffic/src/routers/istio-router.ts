import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import {
  type PinRoute,
  type RouteRef,
  RouterError,
  type TrafficRouter,
  type VersionWeights,
  weightsIssue,
} from './traffic-router.js';

/**
 * Sets canary weights in an Istio VirtualService through the Kubernetes API: GET, change only the weights of the
 * service's weighted route (and our pin route), PUT with the `metadata.resourceVersion` that was read. A concurrent
 * edit makes the PUT fail with 409 Conflict; we then re-read and re-apply the weight change to the fresh object, a
 * bounded number of times — never overwriting someone else's edit with a stale copy. (Merge patch would replace the
 * whole `http` array; that is why this is read-modify-replace.)
 *
 * The route shape is the runbook's: one `http[]` entry whose destinations are the service host with `subset: v1`
 * and `subset: v2` (DestinationRule subsets).
 */

export interface IstioRouterOptions {
  /** A loaded KubeConfig; default: `loadFromDefault()` (in-cluster service account or ~/.kube/config). */
  kubeConfig?: KubeConfig;
  /** Overrides the API server URL (`RC_KUBERNETES_API_URL`); with `token`, no kubeconfig is read at all. */
  apiUrl?: string;
  token?: string;
  /** Namespace when the route names none. Default `default`. */
  namespace?: string;
  /** `v1` (Istio ≥ 1.22), `v1beta1` or `v1alpha3`. Default `v1`. */
  apiVersion?: string;
  /** Attempts when the PUT meets a 409 Conflict. Default 5. */
  maxAttempts?: number;
}

export interface HttpRouteDestination {
  destination: { host: string; subset?: string; port?: { number?: number } };
  weight?: number;
  [key: string]: unknown;
}

export interface HttpRoute {
  name?: string;
  match?: Record<string, unknown>[];
  route?: HttpRouteDestination[];
  [key: string]: unknown;
}

export interface VirtualServiceObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec: { hosts?: string[]; http?: HttpRoute[]; [key: string]: unknown };
}

const GROUP = 'networking.istio.io';
const PLURAL = 'virtualservices';

/** The name of the route we put before the weighted one for pinned users; we only ever touch routes we named. */
export const pinRouteName = (service: string): string => `rc-canary-pin-${service}`;

const hostMatches = (host: string, service: string): boolean => host === service || host.startsWith(`${service}.`);

/**
 * The VirtualService with the split applied (a new object; the input is not changed). Throws RouterError INVALID
 * when the service has no weighted route in it.
 */
export function applySplitToVirtualService(
  vs: VirtualServiceObject,
  service: string,
  weights: VersionWeights,
  pins?: PinRoute,
): VirtualServiceObject {
  const problem = weightsIssue(weights);
  if (problem) throw new RouterError(problem, 'INVALID');
  const next = structuredClone(vs);
  const http = [...(next.spec.http ?? [])].filter((r) => r.name !== pinRouteName(service));
  const index = http.findIndex(
    (r) =>
      Array.isArray(r.route) &&
      r.route.some((d) => hostMatches(d.destination?.host ?? '', service) && d.destination?.subset !== undefined),
  );
  if (index < 0) {
    throw new RouterError(
      `VirtualService ${vs.metadata.namespace ?? ''}/${vs.metadata.name} has no http route to "${service}" with subsets`,
      'INVALID',
    );
  }
  const weighted = structuredClone(http[index]!);
  const destinations = weighted.route!;
  const host = destinations.find((d) => hostMatches(d.destination.host, service))!.destination.host;
  for (const d of destinations) {
    if (!hostMatches(d.destination.host, service)) continue;
    // A subset we were not told about gets nothing: the split is exactly the one asked for.
    d.weight = weights[d.destination.subset ?? ''] ?? 0;
  }
  for (const [version, weight] of Object.entries(weights)) {
    if (!destinations.some((d) => hostMatches(d.destination.host, service) && d.destination.subset === version)) {
      destinations.push({ destination: { host, subset: version }, weight });
    }
  }
  http[index] = weighted;
  if (pins && pins.values.length > 0) {
    // First match wins: the pin route goes right before the weighted one, and only catches what that one would
    // (each of its match blocks, ANDed with the header), so pinned users see v2 on the same paths only.
    const blocks = weighted.match && weighted.match.length > 0 ? weighted.match : [{}];
    const match = pins.values.flatMap((value) =>
      blocks.map((block) => ({
        ...block,
        headers: { ...((block.headers as Record<string, unknown>) ?? {}), [pins.header]: { exact: value } },
      })),
    );
    http.splice(index, 0, {
      name: pinRouteName(service),
      match,
      route: [{ destination: { host, subset: pins.version }, weight: 100 }],
    });
  }
  next.spec.http = http;
  return next;
}

export class IstioRouter implements TrafficRouter {
  readonly kind = 'istio';
  private api: Promise<CustomObjectsApi> | undefined;
  private readonly namespace: string;
  private readonly apiVersion: string;
  private readonly maxAttempts: number;
  /** PUTs that met a 409 and were retried on a fresh read (for tests and logs). */
  conflicts = 0;

  constructor(private readonly options: IstioRouterOptions = {}) {
    this.namespace = options.namespace ?? 'default';
    this.apiVersion = options.apiVersion ?? 'v1';
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /**
   * The Kubernetes client is loaded on first use: it is large (about 0.9 s and 60 MB to import), and most servers
   * never route through Istio, so `rctl up` should not pay for it.
   */
  private client(): Promise<CustomObjectsApi> {
    this.api ??= import('@kubernetes/client-node').then(({ CustomObjectsApi: Api, KubeConfig: Config }) => {
      const options = this.options;
      const kc = options.kubeConfig ?? new Config();
      if (!options.kubeConfig) {
        if (options.apiUrl && options.token !== undefined) {
          kc.loadFromOptions({
            // The client refuses plain http unless TLS verification is marked off; there is no TLS to verify then.
            clusters: [{ name: 'rc', server: options.apiUrl, skipTLSVerify: options.apiUrl.startsWith('http://') }],
            users: [{ name: 'rc', token: options.token }],
            contexts: [{ name: 'rc', cluster: 'rc', user: 'rc' }],
            currentContext: 'rc',
          });
        } else {
          kc.loadFromDefault();
          if (options.apiUrl) {
            const cluster = kc.getCurrentCluster();
            kc.loadFromOptions({
              clusters: [{ ...(cluster ?? { name: 'rc', skipTLSVerify: false }), server: options.apiUrl }],
              users: kc.getUsers(),
              contexts: kc.getContexts(),
              currentContext: kc.getCurrentContext(),
            });
          }
        }
      }
      return kc.makeApiClient(Api);
    });
    return this.api;
  }

  async get(namespace: string, name: string): Promise<VirtualServiceObject> {
    try {
      const api = await this.client();
      return (await api.getNamespacedCustomObject({
        group: GROUP,
        version: this.apiVersion,
        namespace,
        plural: PLURAL,
        name,
      })) as VirtualServiceObject;
    } catch (error) {
      throw toRouterError(error, `GET VirtualService ${namespace}/${name}`);
    }
  }

  async setWeights(route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void> {
    const namespace = route.namespace ?? this.namespace;
    const name = route.virtualService ?? route.service;
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(namespace, name);
      const next = applySplitToVirtualService(current, route.service, weights, pins);
      if (JSON.stringify(next.spec) === JSON.stringify(current.spec)) return; // already in force
      if (!current.metadata.resourceVersion) {
        throw new RouterError(`VirtualService ${namespace}/${name} came back without a resourceVersion`, 'INVALID');
      }
      try {
        // `next` still carries the resourceVersion we read: the API server refuses the PUT if anyone wrote since.
        await (await this.client()).replaceNamespacedCustomObject({
          group: GROUP,
          version: this.apiVersion,
          namespace,
          plural: PLURAL,
          name,
          body: next,
        });
        return;
      } catch (error) {
        if (isApiException(error) && error.code === 409 && attempt < this.maxAttempts) {
          this.conflicts += 1;
          continue;
        }
        throw toRouterError(error, `PUT VirtualService ${namespace}/${name}`);
      }
    }
  }
}

/** The client's ApiException, recognised by shape so the client module can load lazily. */
function isApiException(error: unknown): error is { code: number; body: unknown } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    'body' in error
  );
}

/** Kubernetes answers errors with a `Status` object; keep its reason and message. */
function toRouterError(error: unknown, what: string): RouterError {
  if (isApiException(error)) {
    const status = parseStatus(error.body);
    const message = `${what}: HTTP ${error.code}${status?.reason ? ` ${status.reason}` : ''}: ${status?.message ?? 'no message'}`;
    const code =
      error.code === 404
        ? 'NOT_FOUND'
        : error.code === 409
          ? 'CONFLICT'
          : error.code === 422 || error.code === 400
            ? 'INVALID'
            : error.code === 401 || error.code === 403
              ? 'REJECTED'
              : 'UNAVAILABLE';
    return new RouterError(message, code, { cause: error });
  }
  if (error instanceof RouterError) return error;
  return new RouterError(`${what}: ${(error as Error).message}`, 'UNAVAILABLE', { cause: error });
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { message: value as string };
    }
  }
  return typeof value === 'object' && value !== null ? (value as { reason?: string; message?: string }) : undefined;
}
