import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAKE Vault server for tests — no Vault or OpenBao server can be installed here. It speaks the HTTP API
 * (`/v1/...`) of a KV version 2 engine, the Kubernetes auth method and the token store, with the wire behaviour
 * documented for Vault (api-docs/secret/kv/kv-v2, api-docs/auth/kubernetes, the KV plugin's path_data.go):
 *
 * - every status ≥ 400 answers `{"errors":[...]}`;
 * - a missing, unknown or expired token → 403 `permission denied` (token in `X-Vault-Token` or `Authorization:
 *   Bearer`); a token whose policies do not grant the capability → 403 as well;
 * - `GET <mount>/data/<path>[?version=N]`: an unknown secret or version → 404 `{"errors":[]}`; a deleted or destroyed
 *   version → **404 with a body carrying `data: {data: null, metadata}`**;
 * - `POST`/`PUT <mount>/data/<path>` `{data, options: {cas}}`: creates version N+1, answers its metadata only;
 *   `cas` different from the current version → 400 `check-and-set parameter did not match the current version`;
 *   no `cas` while `cas_required` → 400 `check-and-set parameter required for this call`; `max_versions` trims;
 * - `PATCH <mount>/data/<path>` (`application/merge-patch+json`): 404 when the secret or its current version is
 *   gone, CAS as for writes, otherwise a JSON merge patch of the current version into a new one;
 * - `GET <mount>/subkeys/<path>`: the keys with `null` leaves, nested objects kept (`depth` honoured);
 * - `GET`/`POST`/`DELETE <mount>/metadata/<path>`; `GET ?list=true` answers `data.keys`, and an empty list is
 *   **404 `{"errors":[]}`** (Vault also takes the `LIST` verb, which node:http cannot parse: the fake, and so the
 *   client, use the documented `?list=true` form);
 * - `DELETE <mount>/data/<path>`, `POST <mount>/delete|undelete|destroy/<path>` `{versions}` → 204;
 * - `POST auth/<k8s mount>/login` `{role, jwt}`: the JWT must be one this fake issued (`issueServiceAccountJwt`, the
 *   stand-in for Kubernetes' TokenReview), not expired, its service account and namespace bound to the role, and its
 *   audience the role's (a role without an audience refuses every login, as Vault 1.21+ does);
 * - `POST auth/token/renew-self` `{increment}` extends a renewable token up to its max TTL; `GET lookup-self`;
 * - `GET sys/health`: 200, or 503 with `sealed: true` while sealed; every other path answers 503
 *   `{"errors":["Vault is sealed"]}` while sealed.
 *
 * It keeps everything in memory, has no namespaces, no response wrapping, no leases other than tokens, and its
 * policies are path prefixes with capabilities (not HCL globs). It never logs: `requests` records method, path and
 * status only, never a body or a token.
 */

export type FakeVaultCapability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo';

export interface FakeVaultPolicyRule {
  /** Path under `/v1/` this rule applies to; a trailing `*` makes it a prefix (`secret/data/devmentor/*`). */
  path: string;
  capabilities: FakeVaultCapability[];
}

export interface FakeVaultKubernetesRole {
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  /** The audience the JWT must carry; without one every login fails (Vault 1.21+). */
  audience?: string;
  policies: string[];
  /** Token TTL and max TTL in seconds (Vault's `token_ttl`, `token_max_ttl`). */
  ttlSeconds?: number;
  maxTtlSeconds?: number;
}

export interface FakeVaultOptions {
  /** The root token (`-dev-root-token-id`); it has every capability and never expires. */
  rootToken?: string;
  /** KV v2 mounts; `secret` (as `vault server -dev` mounts it) when omitted. */
  kvMounts?: string[];
  /** Kubernetes auth mounts; `kubernetes` when omitted. */
  kubernetesAuthMounts?: string[];
  /** The clock, for token TTLs and timestamps (tests move it). */
  now?: () => number;
}

interface VersionRecord {
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
  data: Record<string, unknown> | null;
}

interface SecretRecord {
  createdTime: string;
  updatedTime: string;
  currentVersion: number;
  oldestVersion: number;
  casRequired: boolean;
  maxVersions: number;
  deleteVersionAfter: string;
  customMetadata: Record<string, string> | null;
  versions: Map<number, VersionRecord>;
}

interface TokenRecord {
  accessor: string;
  policies: string[];
  root: boolean;
  renewable: boolean;
  /** Absolute expiry (ms), or 0 for never. */
  expiresAt: number;
  ttlSeconds: number;
  maxExpiresAt: number;
  issuedAt: number;
  metadata: Record<string, string>;
}

interface IssuedJwt {
  namespace: string;
  serviceAccount: string;
  audiences: string[];
  expiresAt: number;
}

/** One injected failure: the next request matching `method`/`path` answers `status` with `errors`. */
export interface FakeVaultFault {
  method?: string;
  /** Matched against the path after `/v1/` (a RegExp or an exact string). */
  path: string | RegExp;
  status: number;
  errors?: string[];
  /** Answer a body that is not JSON (a proxy's HTML error page, a truncated reply). */
  rawBody?: string;
  /** How many matching requests fail; 1 when omitted. */
  times?: number;
}

export interface FakeVaultRequest {
  method: string;
  path: string;
  status: number;
}

const DEFAULT_MAX_VERSIONS = 10;

export class FakeVault {
  private server: http.Server | undefined;
  private _url = '';
  private sealed = false;
  private readonly now: () => number;
  private readonly kvMounts: Set<string>;
  private readonly kubernetesMounts: Set<string>;
  private readonly secrets = new Map<string, SecretRecord>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly policies = new Map<string, FakeVaultPolicyRule[]>();
  private readonly roles = new Map<string, FakeVaultKubernetesRole>();
  private readonly jwts = new Map<string, IssuedJwt>();
  private readonly faults: (FakeVaultFault & { remaining: number })[] = [];
  /** Every request: method, path after `/v1/`, status. Never a body, a header or a token. */
  readonly requests: FakeVaultRequest[] = [];
  readonly rootToken: string;

  constructor(options: FakeVaultOptions = {}) {
    this.now = options.now ?? Date.now;
    this.rootToken = options.rootToken ?? `hvs.root-${randomBytes(12).toString('hex')}`;
    this.kvMounts = new Set(options.kvMounts ?? ['secret']);
    this.kubernetesMounts = new Set(options.kubernetesAuthMounts ?? ['kubernetes']);
    this.tokens.set(this.rootToken, {
      accessor: randomUUID(),
      policies: ['root'],
      root: true,
      renewable: false,
      expiresAt: 0,
      ttlSeconds: 0,
      maxExpiresAt: 0,
      issuedAt: this.now(),
      metadata: {},
    });
  }

  get url(): string {
    return this._url;
  }

  async listen(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => this.send(req, res, 500, { errors: ['internal error'] }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this._url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this._url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
  }

  /** Adds or replaces a policy (`vault policy write NAME`), as path-prefix rules. */
  writePolicy(name: string, rules: FakeVaultPolicyRule[]): void {
    this.policies.set(name, rules);
  }

  /** `vault write auth/kubernetes/role/NAME ...`. */
  writeKubernetesRole(name: string, role: FakeVaultKubernetesRole, mount = 'kubernetes'): void {
    this.roles.set(`${mount}/${name}`, role);
  }

  /** A token with the given policies (`vault token create -policy=... -ttl=...`). */
  createToken(options: {
    policies: string[];
    ttlSeconds?: number;
    maxTtlSeconds?: number;
    renewable?: boolean;
  }): string {
    return this.issueToken(options.policies, options.ttlSeconds ?? 3600, options.maxTtlSeconds ?? 0, {
      renewable: options.renewable ?? true,
    });
  }

  /** `vault token revoke`. */
  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  /**
   * A service-account JWT as the Kubernetes API would issue it (a projected token with an audience); the fake accepts
   * at login only JWTs it issued, which stands in for Vault's TokenReview call.
   */
  issueServiceAccountJwt(options: {
    namespace: string;
    serviceAccount: string;
    audiences?: string[];
    ttlSeconds?: number;
  }): string {
    const exp = Math.floor(this.now() / 1000) + (options.ttlSeconds ?? 3600);
    const audiences = options.audiences ?? ['https://kubernetes.default.svc'];
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const jwt = `${b64({ alg: 'RS256', kid: 'fake' })}.${b64({
      aud: audiences,
      exp,
      iss: 'https://kubernetes.default.svc',
      sub: `system:serviceaccount:${options.namespace}:${options.serviceAccount}`,
    })}.${randomBytes(32).toString('base64url')}`;
    this.jwts.set(jwt, {
      namespace: options.namespace,
      serviceAccount: options.serviceAccount,
      audiences,
      expiresAt: exp * 1000,
    });
    return jwt;
  }

  /** Makes the next matching request(s) fail (a proxy, a network fault, an overloaded Vault). */
  failNext(fault: FakeVaultFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** Test inspection: the metadata of a secret as `vault kv metadata get` shows it, or undefined. */
  metadata(mount: string, path: string): Record<string, unknown> | undefined {
    const secret = this.secrets.get(`${mount}/${path}`);
    return secret && metadataBody(secret);
  }

  /** Test inspection: one version's data (a copy), or undefined when missing, deleted or destroyed. */
  peek(mount: string, path: string, version?: number): Record<string, unknown> | undefined {
    const secret = this.secrets.get(`${mount}/${path}`);
    const record = secret?.versions.get(version ?? secret.currentVersion);
    return record?.data && !record.deletionTime ? structuredClone(record.data) : undefined;
  }

  /** Test setup: writes a version directly (no token, no CAS), as `vault kv put` with the root token would. */
  put(mount: string, path: string, data: Record<string, unknown>): number {
    return this.writeVersion(mount, path, structuredClone(data)).version;
  }

  /** Test setup: the mount's or one secret's `cas_required` (`vault kv metadata put -cas-required`). */
  setCasRequired(mount: string, path: string, required: boolean): void {
    this.ensureSecret(mount, path).casRequired = required;
  }

  // ---------------------------------------------------------------- HTTP

  private send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body?: unknown, raw?: string) {
    this.requests.push({
      method: req.method ?? '',
      path: (req.url ?? '').replace(/^\/v1\//, '').split('?')[0]!,
      status,
    });
    if (status === 204) {
      res.writeHead(204).end();
      return;
    }
    if (raw !== undefined) {
      res.writeHead(status, { 'content-type': 'text/html' }).end(raw);
      return;
    }
    const text = JSON.stringify(body ?? {});
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-vault');
    const method = (req.method ?? 'GET').toUpperCase();
    const rawBody = await readBody(req);
    if (!url.pathname.startsWith('/v1/')) return this.send(req, res, 404, { errors: [] });
    const path = url.pathname.slice('/v1/'.length);

    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path)),
    );
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
      return this.send(req, res, fault.status, { errors: fault.errors ?? [] }, fault.rawBody);
    }

    if (path === 'sys/health') {
      const body = {
        initialized: true,
        sealed: this.sealed,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.now() / 1000),
        version: '1.21.0+fake',
        cluster_name: 'fake-vault',
      };
      return this.send(req, res, this.sealed ? 503 : 200, body);
    }
    if (this.sealed) return this.send(req, res, 503, { errors: ['Vault is sealed'] });

    let body: Record<string, unknown> = {};
    if (rawBody.length > 0) {
      try {
        const parsed: unknown = JSON.parse(rawBody);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return this.send(req, res, 400, { errors: ['failed to parse JSON input: invalid character'] });
      }
    }

    const segments = path.split('/');
    if (segments[0] === 'auth' && segments[2] === 'login' && segments.length === 3) {
      if (!this.kubernetesMounts.has(segments[1]!)) return this.noHandler(req, res, path);
      if (method !== 'POST' && method !== 'PUT') return this.send(req, res, 405, { errors: [] });
      return this.kubernetesLogin(req, res, segments[1]!, body);
    }

    const token = tokenOf(req);
    const tokenRecord = token === undefined ? undefined : this.liveToken(token);
    if (!tokenRecord || token === undefined) return this.send(req, res, 403, { errors: ['permission denied'] });

    if (path === 'auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      return this.renewSelf(req, res, token, tokenRecord, body);
    }
    if (path === 'auth/token/lookup-self' && method === 'GET') {
      return this.send(req, res, 200, { data: this.tokenData(tokenRecord) });
    }

    const mount = segments[0]!;
    const kind = segments[1];
    const secretPath = segments.slice(2).join('/');
    if (!this.kvMounts.has(mount) || kind === undefined) return this.noHandler(req, res, path);
    const isList = method === 'LIST' || (method === 'GET' && url.searchParams.get('list') === 'true');
    const capability = capabilityFor(method, isList);
    if (!capability) return this.send(req, res, 405, { errors: [] });
    if (!this.allowed(tokenRecord, path, capability)) {
      return this.send(req, res, 403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
    }
    if (kind === 'metadata' && isList) return this.list(req, res, mount, secretPath);
    if (secretPath === '') return this.noHandler(req, res, path);

    switch (kind) {
      case 'data':
        if (method === 'GET') return this.readData(req, res, mount, secretPath, url.searchParams.get('version'));
        if (method === 'POST' || method === 'PUT') return this.writeData(req, res, mount, secretPath, body);
        if (method === 'PATCH') return this.patchData(req, res, mount, secretPath, body);
        if (method === 'DELETE') return this.deleteLatest(req, res, mount, secretPath);
        break;
      case 'subkeys':
        if (method === 'GET') return this.subkeys(req, res, mount, secretPath, url.searchParams);
        break;
      case 'metadata':
        if (method === 'GET') {
          const secret = this.secrets.get(`${mount}/${secretPath}`);
          return secret
            ? this.send(req, res, 200, { data: metadataBody(secret) })
            : this.send(req, res, 404, { errors: [] });
        }
        if (method === 'POST' || method === 'PUT') return this.writeMetadata(req, res, mount, secretPath, body);
        if (method === 'DELETE') {
          this.secrets.delete(`${mount}/${secretPath}`);
          return this.send(req, res, 204);
        }
        break;
      case 'delete':
      case 'undelete':
      case 'destroy':
        if (method === 'POST' || method === 'PUT') return this.changeVersions(req, res, mount, secretPath, kind, body);
        break;
    }
    return this.send(req, res, 405, { errors: [] });
  }

  private noHandler(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
    return this.send(req, res, 404, { errors: [`no handler for route "${path}". route entry not found.`] });
  }

  // ---------------------------------------------------------------- auth

  private liveToken(token: string): TokenRecord | undefined {
    const record = this.tokens.get(token);
    if (!record) return undefined;
    if (record.expiresAt !== 0 && record.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return undefined;
    }
    return record;
  }

  private allowed(token: TokenRecord, path: string, capability: FakeVaultCapability): boolean {
    if (token.root) return true;
    for (const name of token.policies) {
      for (const rule of this.policies.get(name) ?? []) {
        const matches = rule.path.endsWith('*') ? path.startsWith(rule.path.slice(0, -1)) : rule.path === path;
        if (!matches) continue;
        if (rule.capabilities.includes(capability)) return true;
        if (capability === 'update' && rule.capabilities.includes('create')) return true;
      }
    }
    return false;
  }

  private issueToken(
    policies: string[],
    ttlSeconds: number,
    maxTtlSeconds: number,
    extra: { renewable: boolean; metadata?: Record<string, string> },
  ): string {
    const token = `hvs.${randomBytes(18).toString('base64url')}`;
    const now = this.now();
    this.tokens.set(token, {
      accessor: randomUUID(),
      policies: ['default', ...policies],
      root: false,
      renewable: extra.renewable,
      expiresAt: ttlSeconds > 0 ? now + ttlSeconds * 1000 : 0,
      ttlSeconds,
      maxExpiresAt: maxTtlSeconds > 0 ? now + maxTtlSeconds * 1000 : 0,
      issuedAt: now,
      metadata: extra.metadata ?? {},
    });
    return token;
  }

  private authBody(token: string, record: TokenRecord) {
    return {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: null,
      warnings: null,
      auth: {
        client_token: token,
        accessor: record.accessor,
        policies: record.policies,
        token_policies: record.policies,
        metadata: record.metadata,
        lease_duration: this.remainingSeconds(record),
        renewable: record.renewable,
        entity_id: randomUUID(),
        token_type: 'service',
        orphan: true,
      },
    };
  }

  private remainingSeconds(record: TokenRecord): number {
    return record.expiresAt === 0 ? 0 : Math.max(0, Math.round((record.expiresAt - this.now()) / 1000));
  }

  private tokenData(record: TokenRecord) {
    return {
      accessor: record.accessor,
      creation_time: Math.floor(record.issuedAt / 1000),
      creation_ttl: record.ttlSeconds,
      expire_time: record.expiresAt === 0 ? null : new Date(record.expiresAt).toISOString(),
      explicit_max_ttl: 0,
      id: '',
      meta: record.metadata,
      policies: record.policies,
      renewable: record.renewable,
      ttl: this.remainingSeconds(record),
      type: 'service',
    };
  }

  private kubernetesLogin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    body: Record<string, unknown>,
  ) {
    const roleName = body.role;
    const jwt = body.jwt;
    if (typeof roleName !== 'string' || roleName === '') return this.send(req, res, 400, { errors: ['missing role'] });
    if (typeof jwt !== 'string' || jwt === '') return this.send(req, res, 400, { errors: ['missing jwt'] });
    const role = this.roles.get(`${mount}/${roleName}`);
    if (!role) return this.send(req, res, 400, { errors: [`invalid role name "${roleName}"`] });
    const issued = this.jwts.get(jwt);
    if (!issued || issued.expiresAt <= this.now()) return this.send(req, res, 403, { errors: ['permission denied'] });
    if (
      !role.boundServiceAccountNames.includes('*') &&
      !role.boundServiceAccountNames.includes(issued.serviceAccount)
    ) {
      return this.send(req, res, 403, { errors: ['service account name not authorized'] });
    }
    if (
      !role.boundServiceAccountNamespaces.includes('*') &&
      !role.boundServiceAccountNamespaces.includes(issued.namespace)
    ) {
      return this.send(req, res, 403, { errors: ['namespace not authorized'] });
    }
    if (role.audience === undefined || !issued.audiences.includes(role.audience)) {
      return this.send(req, res, 403, {
        errors: ['invalid audience (aud) claim: audience claim does not match any expected audience'],
      });
    }
    const token = this.issueToken(role.policies, role.ttlSeconds ?? 3600, role.maxTtlSeconds ?? 0, {
      renewable: true,
      metadata: {
        role: roleName,
        service_account_name: issued.serviceAccount,
        service_account_namespace: issued.namespace,
        service_account_secret_name: '',
        service_account_uid: randomUUID(),
      },
    });
    return this.send(req, res, 200, this.authBody(token, this.tokens.get(token)!));
  }

  private renewSelf(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    token: string,
    record: TokenRecord,
    body: Record<string, unknown>,
  ) {
    if (!record.renewable) return this.send(req, res, 400, { errors: ['lease is not renewable'] });
    const increment = parseDuration(body.increment) ?? record.ttlSeconds;
    let expiresAt = this.now() + increment * 1000;
    if (record.maxExpiresAt !== 0) expiresAt = Math.min(expiresAt, record.maxExpiresAt);
    record.expiresAt = expiresAt;
    const reply = this.authBody(token, record);
    const warnings =
      record.maxExpiresAt !== 0 && expiresAt === record.maxExpiresAt
        ? [`TTL of "${increment}s" exceeded the effective max_ttl; TTL value is capped accordingly`]
        : null;
    return this.send(req, res, 200, { ...reply, warnings });
  }

  // ---------------------------------------------------------------- KV v2

  private timestamp(): string {
    // Vault prints RFC 3339 with nanoseconds.
    return new Date(this.now()).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  }

  private ensureSecret(mount: string, path: string): SecretRecord {
    const key = `${mount}/${path}`;
    let secret = this.secrets.get(key);
    if (!secret) {
      const now = this.timestamp();
      secret = {
        createdTime: now,
        updatedTime: now,
        currentVersion: 0,
        oldestVersion: 0,
        casRequired: false,
        maxVersions: 0,
        deleteVersionAfter: '0s',
        customMetadata: null,
        versions: new Map(),
      };
      this.secrets.set(key, secret);
    }
    return secret;
  }

  private writeVersion(mount: string, path: string, data: Record<string, unknown>) {
    const secret = this.ensureSecret(mount, path);
    const now = this.timestamp();
    const version = secret.currentVersion + 1;
    secret.versions.set(version, { createdTime: now, deletionTime: '', destroyed: false, data });
    secret.currentVersion = version;
    secret.updatedTime = now;
    if (secret.oldestVersion === 0) secret.oldestVersion = version;
    const max = secret.maxVersions > 0 ? secret.maxVersions : DEFAULT_MAX_VERSIONS;
    while (secret.versions.size > max) {
      secret.versions.delete(secret.oldestVersion);
      secret.oldestVersion += 1;
    }
    return { version, record: secret.versions.get(version)!, secret };
  }

  private casError(secret: SecretRecord | undefined, options: unknown): string | undefined {
    const cas = (options as { cas?: unknown } | undefined)?.cas;
    if (cas === undefined || cas === null) {
      return secret?.casRequired ? 'check-and-set parameter required for this call' : undefined;
    }
    const n = typeof cas === 'string' ? Number(cas) : cas;
    if (typeof n !== 'number' || !Number.isInteger(n))
      return 'check-and-set parameter did not match the current version';
    return n === (secret?.currentVersion ?? 0)
      ? undefined
      : 'check-and-set parameter did not match the current version';
  }

  private readData(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    versionParam: string | null,
  ) {
    const secret = this.secrets.get(`${mount}/${path}`);
    if (!secret) return this.send(req, res, 404, { errors: [] });
    const version = versionParam && versionParam !== '0' ? Number(versionParam) : secret.currentVersion;
    const record = secret.versions.get(version);
    if (!record) return this.send(req, res, 404, { errors: [] });
    const metadata = versionMetadata(secret, version, record);
    if (record.deletionTime !== '' || record.destroyed || record.data === null) {
      return this.send(req, res, 404, envelope({ data: null, metadata }));
    }
    return this.send(req, res, 200, envelope({ data: structuredClone(record.data), metadata }));
  }

  private writeData(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    body: Record<string, unknown>,
  ) {
    const data = body.data;
    if (data === undefined || data === null) return this.send(req, res, 400, { errors: ['no data provided'] });
    if (typeof data !== 'object' || Array.isArray(data)) {
      return this.send(req, res, 400, { errors: ['error parsing data: not a JSON object'] });
    }
    const problem = this.casError(this.secrets.get(`${mount}/${path}`), body.options);
    if (problem) return this.send(req, res, 400, { errors: [problem] });
    const { version, record, secret } = this.writeVersion(
      mount,
      path,
      structuredClone(data as Record<string, unknown>),
    );
    return this.send(req, res, 200, envelope(versionMetadata(secret, version, record)));
  }

  private patchData(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    body: Record<string, unknown>,
  ) {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/merge-patch+json')) {
      return this.send(req, res, 415, { errors: ['PATCH requires Content-Type application/merge-patch+json'] });
    }
    const secret = this.secrets.get(`${mount}/${path}`);
    const current = secret?.versions.get(secret.currentVersion);
    if (!secret || !current || current.deletionTime !== '' || current.destroyed || current.data === null) {
      return this.send(req, res, 404, { errors: [] });
    }
    const patch = body.data;
    if (patch === undefined || patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      return this.send(req, res, 400, { errors: ['no data provided'] });
    }
    const problem = this.casError(secret, body.options);
    if (problem) return this.send(req, res, 400, { errors: [problem] });
    const merged = mergePatch(structuredClone(current.data), patch) as Record<string, unknown>;
    const { version, record } = this.writeVersion(mount, path, merged);
    return this.send(req, res, 200, envelope(versionMetadata(secret, version, record)));
  }

  private deleteLatest(req: http.IncomingMessage, res: http.ServerResponse, mount: string, path: string) {
    const secret = this.secrets.get(`${mount}/${path}`);
    const record = secret?.versions.get(secret.currentVersion);
    if (record && record.deletionTime === '') record.deletionTime = this.timestamp();
    return this.send(req, res, 204);
  }

  private changeVersions(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    kind: 'delete' | 'undelete' | 'destroy',
    body: Record<string, unknown>,
  ) {
    const versions = body.versions;
    if (!Array.isArray(versions) || versions.length === 0) {
      return this.send(req, res, 400, { errors: ['no version number provided'] });
    }
    const secret = this.secrets.get(`${mount}/${path}`);
    for (const v of versions) {
      const record = secret?.versions.get(Number(v));
      if (!record) continue;
      if (kind === 'delete' && record.deletionTime === '' && !record.destroyed) record.deletionTime = this.timestamp();
      if (kind === 'undelete' && !record.destroyed) record.deletionTime = '';
      if (kind === 'destroy') {
        record.destroyed = true;
        record.data = null;
      }
    }
    return this.send(req, res, 204);
  }

  private subkeys(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    params: URLSearchParams,
  ) {
    const secret = this.secrets.get(`${mount}/${path}`);
    if (!secret) return this.send(req, res, 404, { errors: [] });
    const versionParam = params.get('version');
    const version = versionParam && versionParam !== '0' ? Number(versionParam) : secret.currentVersion;
    const record = secret.versions.get(version);
    if (!record) return this.send(req, res, 404, { errors: [] });
    const metadata = versionMetadata(secret, version, record);
    if (record.deletionTime !== '' || record.destroyed || record.data === null) {
      return this.send(req, res, 404, envelope({ subkeys: null, metadata }));
    }
    const depth = Number(params.get('depth') ?? 0);
    return this.send(req, res, 200, envelope({ subkeys: subkeysOf(record.data, depth, 1), metadata }));
  }

  private list(req: http.IncomingMessage, res: http.ServerResponse, mount: string, prefix: string) {
    const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    const keys = new Set<string>();
    for (const key of this.secrets.keys()) {
      if (!key.startsWith(`${mount}/`)) continue;
      const path = key.slice(mount.length + 1);
      if (!path.startsWith(base)) continue;
      const rest = path.slice(base.length);
      const slash = rest.indexOf('/');
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return this.send(req, res, 404, { errors: [] });
    return this.send(req, res, 200, envelope({ keys: [...keys].sort() }));
  }

  private writeMetadata(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    mount: string,
    path: string,
    body: Record<string, unknown>,
  ) {
    const secret = this.ensureSecret(mount, path);
    if (typeof body.cas_required === 'boolean') secret.casRequired = body.cas_required;
    if (typeof body.max_versions === 'number') secret.maxVersions = body.max_versions;
    if (body.custom_metadata && typeof body.custom_metadata === 'object') {
      secret.customMetadata = { ...(body.custom_metadata as Record<string, string>) };
    }
    secret.updatedTime = this.timestamp();
    return this.send(req, res, 204);
  }
}

function envelope(data: unknown) {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'kv',
  };
}

function versionMetadata(secret: SecretRecord, version: number, record: VersionRecord) {
  return {
    created_time: record.createdTime,
    custom_metadata: secret.customMetadata,
    deletion_time: record.deletionTime,
    destroyed: record.destroyed,
    version,
  };
}

function metadataBody(secret: SecretRecord) {
  const versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }> = {};
  for (const [n, v] of secret.versions) {
    versions[String(n)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
  }
  return {
    cas_required: secret.casRequired,
    created_time: secret.createdTime,
    current_version: secret.currentVersion,
    custom_metadata: secret.customMetadata,
    delete_version_after: secret.deleteVersionAfter,
    max_versions: secret.maxVersions,
    oldest_version: secret.oldestVersion,
    updated_time: secret.updatedTime,
    versions,
  };
}

function subkeysOf(data: Record<string, unknown>, maxDepth: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    const nested = v !== null && typeof v === 'object' && !Array.isArray(v);
    out[k] =
      nested && (maxDepth === 0 || depth < maxDepth)
        ? subkeysOf(v as Record<string, unknown>, maxDepth, depth + 1)
        : null;
  }
  return out;
}

/** RFC 7396 JSON merge patch. */
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

function capabilityFor(method: string, isList: boolean): FakeVaultCapability | undefined {
  if (isList) return 'list';
  switch (method) {
    case 'GET':
      return 'read';
    case 'POST':
    case 'PUT':
      // Vault asks `create` for a new path and `update` for an existing one; the fake accepts either for both.
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return undefined;
  }
}

function tokenOf(req: http.IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  return undefined;
}

/** Vault durations: a number of seconds or a Go-style string (`30s`, `15m`, `1h`). */
function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.floor(value);
  if (typeof value !== 'string' || value === '') return undefined;
  const m = /^(\d+)(s|m|h)?$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : n;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
