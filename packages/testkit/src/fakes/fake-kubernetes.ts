import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAKE Kubernetes API server for the secrets tests — no cluster runs here. It serves the objects the secrets
 * pillar touches, with the API server's wire behaviour for them:
 *
 * - `external-secrets.io/v1` ExternalSecrets (namespaced) and ClusterSecretStores (cluster), with a `status`
 *   subresource; `v1beta1` is not served (ESO ≥ 0.17), and with `esoInstalled: false` no ESO resource is;
 * - core `v1` Secrets and Pods, `apps/v1` Deployments (with `status`); core `v1` Namespaces and Istio's
 *   `networking.istio.io/v1` DestinationRules and VirtualServices as plain stored objects (for `rctl doctor --cluster`);
 * - GET object (as `PartialObjectMetadata`, metadata only, when the Accept header asks for it), GET list (namespaced or across namespaces; `labelSelector` with `k=v` / `k!=v` / `k` terms),
 *   POST (201; 409 `AlreadyExists`), PUT (409 `Conflict` when `metadata.resourceVersion` is stale; custom resources
 *   refuse a PUT without one with 422), PATCH (`application/merge-patch+json`; `strategic-merge-patch+json` is
 *   applied as a merge patch, which is what it does for the maps used here; a `resourceVersion` in the patch is a
 *   precondition → 409), DELETE;
 * - every write bumps the global `resourceVersion` (a string, opaque to clients); `metadata.generation` moves only
 *   when `spec` changes (Secrets: `data`/`stringData`); writes to the main resource keep `status`, writes to
 *   `/status` change only `status`;
 * - errors are `Status` objects (`kind: Status`, `status: Failure`, `reason`, `code`, `message`);
 * - with a `token`, requests without `Authorization: Bearer <token>` get 401.
 *
 * Deployments roll out by themselves (see `rolloutDelayMs`): when `spec.template` changes (as `kubectl rollout
 * restart` does with its `kubectl.kubernetes.io/restartedAt` annotation), after the delay their pods are replaced by
 * new ones (`status.startTime` = then) and `status` reports the new generation observed and every replica updated and
 * ready; `stallRollouts` makes them stop at `ProgressDeadlineExceeded` instead. No watch, no admission webhooks, no
 * schema validation, no server-side apply, no JSON patch.
 */

export interface KubernetesStatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    [key: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: string;
  object: KubeObject;
}

interface ResourceType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  custom: boolean;
  status: boolean;
  eso: boolean;
}

const RESOURCES: ResourceType[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    custom: false,
    status: false,
    eso: false,
  },
  // Istio's routing kinds, served as plain stored objects (no schema validation, no webhooks), for read-only checks.
  {
    group: 'networking.istio.io',
    version: 'v1',
    resource: 'destinationrules',
    kind: 'DestinationRule',
    namespaced: true,
    custom: true,
    status: false,
    eso: false,
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    resource: 'virtualservices',
    kind: 'VirtualService',
    namespaced: true,
    custom: true,
    status: false,
    eso: false,
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    kind: 'Secret',
    namespaced: true,
    custom: false,
    status: false,
    eso: false,
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    namespaced: true,
    custom: false,
    status: false,
    eso: false,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    custom: false,
    status: true,
    eso: false,
  },
  {
    group: 'external-secrets.io',
    version: 'v1',
    resource: 'externalsecrets',
    kind: 'ExternalSecret',
    namespaced: true,
    custom: true,
    status: true,
    eso: true,
  },
  {
    group: 'external-secrets.io',
    version: 'v1',
    resource: 'clustersecretstores',
    kind: 'ClusterSecretStore',
    namespaced: false,
    custom: true,
    status: true,
    eso: true,
  },
];

export interface FakeKubernetesOptions {
  token?: string;
  /** ESO's CRDs are installed (default true); without them every external-secrets.io path is 404. */
  esoInstalled?: boolean;
  /** How long a Deployment takes to roll out after its template changed; 0 (next tick) when omitted. */
  rolloutDelayMs?: number;
  now?: () => number;
}

export class FakeKubernetes {
  private server: http.Server | undefined;
  private _url = '';
  private resourceVersion = 5000;
  private readonly objects = new Map<string, KubeObject>();
  private readonly events = new EventEmitter();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;
  /** Deployments (`namespace/name`) whose rollouts never complete. */
  readonly stallRollouts = new Set<string>();
  /** Method, path and status of every request; never a body or a header. */
  readonly requests: { method: string; path: string; status: number }[] = [];
  esoInstalled: boolean;
  rolloutDelayMs: number;

  constructor(private readonly options: FakeKubernetesOptions = {}) {
    this.esoInstalled = options.esoInstalled ?? true;
    this.rolloutDelayMs = options.rolloutDelayMs ?? 0;
    this.now = options.now ?? Date.now;
    this.events.setMaxListeners(50);
  }

  get url(): string {
    return this._url;
  }

  async listen(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) =>
        this.reply(req, res, 500, failure(500, 'InternalError', error instanceof Error ? error.message : 'error')),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this._url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this._url;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Called after every write (the stand-in for a watch); returns the unsubscribe function. */
  onChange(listener: (change: KubeChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Test setup: creates or replaces an object directly (kind and apiVersion decide the resource). */
  apply(object: Record<string, unknown>): KubeObject {
    const type = typeOf(object);
    const meta = (object.metadata ?? {}) as { name?: string; namespace?: string };
    const key = keyOf(type, meta.namespace, meta.name ?? '');
    const existing = this.objects.get(key);
    return structuredClone(
      existing ? this.update(type, existing, object, 'main') : this.create(type, meta.namespace, object),
    );
  }

  /** Test inspection: a copy of an object, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) throw new Error(`unknown kind ${kind}`);
    const object = this.objects.get(keyOf(type, namespace, name));
    return object && structuredClone(object);
  }

  /** Test inspection: copies of every object of a kind (in a namespace). */
  list(kind: string, namespace?: string): KubeObject[] {
    return [...this.objects.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace))
      .map((o) => structuredClone(o));
  }

  /** A concurrent writer (a human with kubectl, another controller): mutates the object, bumping its version. */
  edit(kind: string, namespace: string | undefined, name: string, change: (object: KubeObject) => void): KubeObject {
    const type = RESOURCES.find((r) => r.kind === kind)!;
    const current = this.objects.get(keyOf(type, namespace, name));
    if (!current) throw new Error(`no ${kind} ${namespace}/${name}`);
    const copy = structuredClone(current);
    change(copy);
    return structuredClone(this.update(type, current, copy, 'main', true));
  }

  /** For controllers living in the test process (the ESO simulation): writes `status` through the subresource. */
  writeStatus(kind: string, namespace: string | undefined, name: string, status: Record<string, unknown>): KubeObject {
    const type = RESOURCES.find((r) => r.kind === kind)!;
    const current = this.objects.get(keyOf(type, namespace, name));
    if (!current) throw new Error(`no ${kind} ${namespace}/${name}`);
    return structuredClone(this.update(type, current, { ...current, status }, 'status'));
  }

  /** For in-process controllers: deletes an object. */
  remove(kind: string, namespace: string | undefined, name: string): void {
    const type = RESOURCES.find((r) => r.kind === kind)!;
    const key = keyOf(type, namespace, name);
    const current = this.objects.get(key);
    if (!current) return;
    this.objects.delete(key);
    this.emit('DELETED', type, current);
  }

  // ------------------------------------------------------------------ storage

  private nextVersion(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private create(type: ResourceType, namespace: string | undefined, input: Record<string, unknown>): KubeObject {
    const meta = { ...((input.metadata ?? {}) as Record<string, unknown>) };
    const object = {
      ...structuredClone(input),
      apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
      kind: type.kind,
      metadata: {
        ...meta,
        name: String(meta.name),
        ...(type.namespaced ? { namespace } : {}),
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        generation: 1,
        creationTimestamp: kubeTime(this.now()),
      },
    } as KubeObject;
    if (type.kind === 'Secret') normaliseSecret(object);
    this.objects.set(keyOf(type, namespace, object.metadata.name), object);
    this.emit('ADDED', type, object);
    if (type.kind === 'Deployment') this.scheduleRollout(object);
    return object;
  }

  private update(
    type: ResourceType,
    current: KubeObject,
    input: Record<string, unknown>,
    part: 'main' | 'status',
    keepStatus = false,
  ): KubeObject {
    const next = structuredClone(input) as KubeObject;
    const meta = (next.metadata ?? {}) as KubeObject['metadata'];
    let updated: KubeObject;
    if (part === 'status') {
      updated = { ...structuredClone(current), status: next.status ?? {} };
    } else {
      updated = {
        ...next,
        apiVersion: current.apiVersion,
        kind: current.kind,
        metadata: {
          ...meta,
          name: current.metadata.name,
          ...(type.namespaced ? { namespace: current.metadata.namespace } : {}),
          uid: current.metadata.uid,
          creationTimestamp: current.metadata.creationTimestamp,
          generation: current.metadata.generation,
          resourceVersion: current.metadata.resourceVersion,
        },
      };
      if (type.status && !keepStatus) updated.status = structuredClone(current.status);
      if (type.kind === 'Secret') normaliseSecret(updated);
      const specChanged =
        type.kind === 'Secret'
          ? JSON.stringify(updated.data) !== JSON.stringify(current.data)
          : JSON.stringify(updated.spec) !== JSON.stringify(current.spec);
      if (specChanged) updated.metadata.generation = current.metadata.generation + 1;
    }
    updated.metadata.resourceVersion = this.nextVersion();
    this.objects.set(keyOf(type, current.metadata.namespace, current.metadata.name), updated);
    this.emit('MODIFIED', type, updated);
    if (
      type.kind === 'Deployment' &&
      part === 'main' &&
      JSON.stringify((updated.spec as { template?: unknown } | undefined)?.template) !==
        JSON.stringify((current.spec as { template?: unknown } | undefined)?.template)
    ) {
      this.scheduleRollout(updated);
    }
    return updated;
  }

  private emit(type: KubeChange['type'], resource: ResourceType, object: KubeObject): void {
    this.events.emit('change', { type, resource: resource.resource, object: structuredClone(object) });
  }

  private scheduleRollout(deployment: KubeObject): void {
    const namespace = deployment.metadata.namespace!;
    const name = deployment.metadata.name;
    const generation = deployment.metadata.generation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const type = RESOURCES.find((r) => r.kind === 'Deployment')!;
      const current = this.objects.get(keyOf(type, namespace, name));
      if (!current || current.metadata.generation !== generation) return;
      const spec = (current.spec ?? {}) as {
        replicas?: number;
        template?: { metadata?: { labels?: Record<string, string> }; spec?: Record<string, unknown> };
      };
      const replicas = spec.replicas ?? 1;
      if (this.stallRollouts.has(`${namespace}/${name}`)) {
        this.update(
          type,
          current,
          { ...current, status: rolloutStatus(current, replicas, false, this.now()) },
          'status',
        );
        return;
      }
      for (const pod of this.list('Pod', namespace)) {
        if (pod.metadata.ownerReferences?.some((o) => o.uid === current.metadata.uid))
          this.remove('Pod', namespace, pod.metadata.name);
      }
      const hash = randomBytes(5).toString('hex').slice(0, 10);
      const podType = RESOURCES.find((r) => r.kind === 'Pod')!;
      for (let i = 0; i < replicas; i++) {
        this.create(podType, namespace, {
          metadata: {
            name: `${name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`,
            labels: { ...(spec.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: current.metadata.uid, controller: true },
            ],
          },
          // As a ReplicaSet does: the pod's spec is the template's (no admission webhooks, so no injected sidecar).
          spec: structuredClone(spec.template?.spec ?? {}),
          status: { phase: 'Running', startTime: kubeTime(this.now()) },
        });
      }
      this.update(type, current, { ...current, status: rolloutStatus(current, replicas, true, this.now()) }, 'status');
    }, this.rolloutDelayMs);
    this.timers.add(timer);
  }

  // ------------------------------------------------------------------ HTTP

  private reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown): void {
    this.requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, status });
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-kubernetes');
    const raw = await readBody(req);
    const method = req.method ?? 'GET';
    if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.reply(req, res, 401, failure(401, 'Unauthorized', 'Unauthorized'));
    }
    const route = parsePath(url.pathname);
    if (!route || (route.type.eso && !this.esoInstalled)) {
      return this.reply(req, res, 404, failure(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const { type, namespace, name, subresource } = route;
    const what = `${type.resource}${type.group ? `.${type.group}` : ''}`;
    const notFound = () =>
      this.reply(
        req,
        res,
        404,
        failure(404, 'NotFound', `${what} "${name}" not found`, { name, group: type.group, kind: type.resource }),
      );

    if (method === 'GET' && !name) {
      const selector = url.searchParams.get('labelSelector');
      const items = [...this.objects.values()].filter(
        (o) =>
          o.kind === type.kind &&
          (namespace === undefined || o.metadata.namespace === namespace) &&
          matchesSelector(o.metadata.labels ?? {}, selector),
      );
      return this.reply(req, res, 200, {
        apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
        kind: `${type.kind}List`,
        metadata: { resourceVersion: String(this.resourceVersion) },
        items,
      });
    }
    const key = name ? keyOf(type, namespace, name) : '';
    const current = name ? this.objects.get(key) : undefined;
    if (method === 'GET') {
      if (!current) return notFound();
      // `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`: metadata only, no data or spec.
      if (/as=PartialObjectMetadata\b/.test(String(req.headers.accept ?? ''))) {
        return this.reply(req, res, 200, {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: current.metadata,
        });
      }
      return this.reply(req, res, 200, current);
    }
    if (method === 'DELETE') {
      if (!current) return notFound();
      this.remove(type.kind, namespace, name!);
      return this.reply(req, res, 200, {
        ...failure(200, '', ''),
        status: 'Success',
        details: { name, kind: type.resource },
      });
    }

    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return this.reply(req, res, 400, failure(400, 'BadRequest', 'the body of the request was in an unknown format'));
    }
    const meta = (body.metadata ?? {}) as { name?: unknown; resourceVersion?: unknown };
    const conflict = () =>
      this.reply(
        req,
        res,
        409,
        failure(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { name, group: type.group, kind: type.resource },
        ),
      );

    if (method === 'POST') {
      if (name)
        return this.reply(
          req,
          res,
          405,
          failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
      if (typeof meta.name !== 'string' || meta.name === '') {
        return this.reply(
          req,
          res,
          422,
          failure(
            422,
            'Invalid',
            `${type.kind}.${type.group || 'core'} "" is invalid: metadata.name: Required value: name or generateName is required`,
          ),
        );
      }
      if (this.objects.has(keyOf(type, namespace, meta.name))) {
        return this.reply(
          req,
          res,
          409,
          failure(409, 'AlreadyExists', `${what} "${meta.name}" already exists`, {
            name: meta.name,
            group: type.group,
            kind: type.resource,
          }),
        );
      }
      return this.reply(req, res, 201, this.create(type, namespace, body));
    }

    if (!name)
      return this.reply(
        req,
        res,
        405,
        failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
      );
    if (!current) return notFound();
    if (subresource === 'status' && !type.status) return notFound();
    const part = subresource === 'status' ? 'status' : 'main';

    if (method === 'PUT') {
      if (meta.name !== name) {
        return this.reply(
          req,
          res,
          400,
          failure(
            400,
            'BadRequest',
            `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
          ),
        );
      }
      if (typeof meta.resourceVersion !== 'string' || meta.resourceVersion === '') {
        if (type.custom) {
          return this.reply(
            req,
            res,
            422,
            failure(
              422,
              'Invalid',
              `${what} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
            ),
          );
        }
      } else if (meta.resourceVersion !== current.metadata.resourceVersion) {
        return conflict();
      }
      return this.reply(req, res, 200, this.update(type, current, body, part));
    }

    if (method === 'PATCH') {
      const contentType = String(req.headers['content-type'] ?? '');
      if (
        !contentType.startsWith('application/merge-patch+json') &&
        !contentType.startsWith('application/strategic-merge-patch+json')
      ) {
        return this.reply(
          req,
          res,
          415,
          failure(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`,
          ),
        );
      }
      if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== current.metadata.resourceVersion) {
        return conflict();
      }
      const merged = mergePatch(structuredClone(current), body) as Record<string, unknown>;
      return this.reply(req, res, 200, this.update(type, current, merged, part));
    }
    return this.reply(
      req,
      res,
      405,
      failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
    );
  }
}

function parsePath(
  path: string,
):
  | { type: ResourceType; namespace: string | undefined; name: string | undefined; subresource: string | undefined }
  | undefined {
  const m =
    /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
      path,
    );
  if (!m) return undefined;
  const [, coreVersion, group, groupVersion, namespace, resource, name, subresource] = m;
  const version = coreVersion ?? groupVersion;
  const type = RESOURCES.find((r) => r.group === (group ?? '') && r.version === version && r.resource === resource);
  if (!type) return undefined;
  if (!type.namespaced && namespace !== undefined) return undefined;
  if (type.namespaced && namespace === undefined && name !== undefined) return undefined;
  return { type, namespace, name, subresource };
}

function typeOf(object: Record<string, unknown>): ResourceType {
  const type = RESOURCES.find(
    (r) => r.kind === object.kind && (r.group ? `${r.group}/${r.version}` : r.version) === object.apiVersion,
  );
  if (!type)
    throw new Error(`the fake Kubernetes API does not serve ${String(object.apiVersion)} ${String(object.kind)}`);
  return type;
}

function keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.resource}/${type.namespaced ? namespace : ''}/${name}`;
}

/** `stringData` is write-only: merged into `data` (base64) as the API server does. */
function normaliseSecret(object: KubeObject): void {
  const stringData = object.stringData as Record<string, string> | undefined;
  if (stringData) {
    object.data = { ...(object.data ?? {}) };
    for (const [k, v] of Object.entries(stringData)) object.data[k] = Buffer.from(v).toString('base64');
    delete object.stringData;
  }
  object.type ??= 'Opaque';
}

function rolloutStatus(deployment: KubeObject, replicas: number, complete: boolean, now: number) {
  const time = kubeTime(now);
  return {
    observedGeneration: deployment.metadata.generation,
    replicas,
    updatedReplicas: complete ? replicas : 0,
    readyReplicas: complete ? replicas : 0,
    availableReplicas: complete ? replicas : 0,
    ...(complete ? {} : { unavailableReplicas: replicas }),
    conditions: [
      {
        type: 'Available',
        status: complete ? 'True' : 'False',
        reason: complete ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        lastUpdateTime: time,
        lastTransitionTime: time,
      },
      {
        type: 'Progressing',
        status: complete ? 'True' : 'False',
        reason: complete ? 'NewReplicaSetAvailable' : 'ProgressDeadlineExceeded',
        message: complete
          ? `ReplicaSet "${deployment.metadata.name}" has successfully progressed.`
          : `ReplicaSet "${deployment.metadata.name}" has timed out progressing.`,
        lastUpdateTime: time,
        lastTransitionTime: time,
      },
    ],
  };
}

function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (t === '') return true;
    const neq = /^([^!=]+)!=(.*)$/.exec(t);
    if (neq) return labels[neq[1]!.trim()] !== neq[2]!.trim();
    const eq = /^([^=]+)==?(.*)$/.exec(t);
    if (eq) return labels[eq[1]!.trim()] === eq[2]!.trim();
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

/** Kubernetes timestamps: RFC 3339, whole seconds. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function failure(
  code: number,
  reason: string,
  message: string,
  details?: KubernetesStatusBody['details'],
): KubernetesStatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
