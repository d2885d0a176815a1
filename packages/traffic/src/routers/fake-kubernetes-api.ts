import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAKE Kubernetes API server for tests — no cluster runs here. It serves only Istio VirtualServices
 * (`/apis/networking.istio.io/{v1,v1beta1,v1alpha3}/namespaces/{ns}/virtualservices[/{name}]`: GET, POST, PUT),
 * with the wire behaviour the Istio router depends on:
 * - every write bumps `metadata.resourceVersion` (a string, opaque to clients);
 * - a PUT whose `metadata.resourceVersion` is not the current one → 409 `Status` reason `Conflict`;
 * - a PUT without `metadata.resourceVersion` → 422 `Invalid` (custom resources allow no unconditional update);
 * - a PUT/POST without `metadata.name`, or whose name differs from the URL → 422 / 400;
 * - a missing object → 404 `NotFound`; POST of an existing one → 409 `AlreadyExists`;
 * - with a `token`, requests without `Authorization: Bearer <token>` → 401 `Unauthorized`.
 * It does not validate the Istio schema, run admission webhooks or implement watch, patch or list.
 */

export interface KubernetesStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

type StoredObject = Record<string, unknown> & {
  metadata: { name: string; namespace: string; resourceVersion: string; [key: string]: unknown };
};

const PATH =
  /^\/apis\/networking\.istio\.io\/(v1|v1beta1|v1alpha3)\/namespaces\/([^/]+)\/virtualservices(?:\/([^/]+))?$/;

export class FakeKubernetesApi {
  private server: http.Server | undefined;
  private readonly objects = new Map<string, StoredObject>();
  private resourceVersion = 1000;
  private _url = '';
  /** Every request seen: method, path, and the resourceVersion a PUT carried. */
  readonly requests: { method: string; path: string; resourceVersion?: string }[] = [];
  /**
   * Called before a PUT is checked; lets a test make a concurrent edit land between the router's GET and PUT.
   * Return value ignored. Cleared by the test.
   */
  beforePut: ((namespace: string, name: string) => void) | undefined;

  constructor(private readonly options: { token?: string } = {}) {}

  get url(): string {
    return this._url;
  }

  async listen(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error) => send(res, 500, status(500, 'InternalError', String(error))));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this._url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this._url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Stores an object directly (test setup), as if created; returns it with its resourceVersion. */
  seed(namespace: string, object: object): StoredObject {
    const input = object as Record<string, unknown>;
    const metadata = { ...((input.metadata as Record<string, unknown>) ?? {}) } as StoredObject['metadata'];
    const stored = this.write(namespace, metadata.name, { ...input, metadata });
    return structuredClone(stored);
  }

  /** A concurrent writer (another controller, a human with kubectl): edits the object and bumps its version. */
  edit(namespace: string, name: string, change: (object: StoredObject) => void): StoredObject {
    const current = this.objects.get(`${namespace}/${name}`);
    if (!current) throw new Error(`no ${namespace}/${name}`);
    const copy = structuredClone(current);
    change(copy);
    return structuredClone(this.write(namespace, name, copy));
  }

  get(namespace: string, name: string): StoredObject | undefined {
    const object = this.objects.get(`${namespace}/${name}`);
    return object && structuredClone(object);
  }

  private write(namespace: string, name: string, object: Record<string, unknown>): StoredObject {
    this.resourceVersion += 1;
    const metadata = {
      ...((object.metadata as Record<string, unknown>) ?? {}),
      name,
      namespace,
      resourceVersion: String(this.resourceVersion),
    };
    const stored = { ...object, metadata } as StoredObject;
    this.objects.set(`${namespace}/${name}`, stored);
    return stored;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
      this.requests.push({ method: req.method ?? '', path });
      return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    const m = PATH.exec(path);
    if (!m) {
      this.requests.push({ method: req.method ?? '', path });
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const [, , namespace, name] = m as unknown as [string, string, string, string | undefined];
    const key = `${namespace}/${name}`;
    const notFound = () =>
      send(
        res,
        404,
        status(404, 'NotFound', `virtualservices.networking.istio.io "${name}" not found`, {
          name,
          group: 'networking.istio.io',
          kind: 'virtualservices',
        }),
      );

    if (req.method === 'GET' && name) {
      this.requests.push({ method: 'GET', path });
      const object = this.objects.get(key);
      return object ? send(res, 200, object) : notFound();
    }

    if (req.method === 'PUT' || req.method === 'POST') {
      const type = String(req.headers['content-type'] ?? '');
      const raw = await readBody(req);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        this.requests.push({ method: req.method, path });
        return send(res, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
      }
      const metadata = (body.metadata ?? {}) as { name?: unknown; resourceVersion?: unknown };
      this.requests.push({
        method: req.method,
        path,
        ...(typeof metadata.resourceVersion === 'string' ? { resourceVersion: metadata.resourceVersion } : {}),
      });
      if (!type.startsWith('application/json')) {
        return send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format`));
      }
      if (typeof metadata.name !== 'string' || metadata.name === '') {
        return send(
          res,
          422,
          status(
            422,
            'Invalid',
            'VirtualService.networking.istio.io "" is invalid: metadata.name: Required value: name or generateName is required',
          ),
        );
      }
      if (req.method === 'POST') {
        if (name) return send(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method'));
        if (this.objects.has(`${namespace}/${metadata.name}`)) {
          return send(
            res,
            409,
            status(409, 'AlreadyExists', `virtualservices.networking.istio.io "${metadata.name}" already exists`),
          );
        }
        return send(res, 201, this.write(namespace, metadata.name, body));
      }
      if (!name) return send(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method'));
      if (metadata.name !== name) {
        return send(
          res,
          400,
          status(
            400,
            'BadRequest',
            `the name of the object (${metadata.name}) does not match the name on the URL (${name})`,
          ),
        );
      }
      this.beforePut?.(namespace, name);
      const current = this.objects.get(key);
      if (!current) return notFound();
      if (typeof metadata.resourceVersion !== 'string' || metadata.resourceVersion === '') {
        return send(
          res,
          422,
          status(
            422,
            'Invalid',
            `virtualservices.networking.istio.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          ),
        );
      }
      if (metadata.resourceVersion !== current.metadata.resourceVersion) {
        return send(
          res,
          409,
          status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on virtualservices.networking.istio.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, group: 'networking.istio.io', kind: 'virtualservices' },
          ),
        );
      }
      return send(res, 200, this.write(namespace, name, body));
    }
    this.requests.push({ method: req.method ?? '', path });
    send(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }
}

function status(
  code: number,
  reason: string,
  message: string,
  details?: KubernetesStatus['details'],
): KubernetesStatus {
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

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
