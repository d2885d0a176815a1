import {
  BackendRequestError,
  BackendUnavailableError,
  CasMismatchError,
  PermissionDeniedError,
  SealedError,
  SecretNotFoundError,
  type SecretsError,
  SecretVersionDeletedError,
} from './errors.js';
import { type SecretsLogger, silentLogger } from './logger.js';
import { checkPath } from './paths.js';
import { redact } from './redact.js';

/**
 * A thin typed client for Vault's HTTP API on `fetch` (Node 20's global; no Vault library — the popular ones log
 * payloads under DEBUG or print axios errors that carry the body and the X-Vault-Token header). It owns redaction:
 * errors are built from the operation, the path, the status and Vault's `errors` strings with every value this call
 * sent and the token removed, and the logger only ever sees operation, path, status and duration.
 *
 * This file is the transport (requests, error mapping, sys/health, Kubernetes login, token renewal); KV v2 is
 * `VaultKvBackend` on top of it.
 */

/** Where a request's token comes from: a fixed token, or a login that renews itself (`KubernetesAuth`). */
export interface VaultTokenSource {
  token(): Promise<string>;
  /** The token was refused (403): forget it so that the next `token()` logs in again. Absent for a fixed token. */
  invalidate?(): void;
}

export interface VaultClientOptions {
  /** Vault's address, e.g. `https://vault.example.com:8200` (no `/v1`). */
  address: string;
  /** A token or a token source; login and sys/health need none. */
  token?: string | VaultTokenSource;
  /** Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`). */
  namespace?: string;
  /** Per-request timeout; 10 s when omitted. */
  timeoutMs?: number;
  logger?: SecretsLogger;
  /** For tests; the global `fetch` when omitted. */
  fetch?: typeof fetch;
}

export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string | undefined;
  /** The HTTP status sys/health answered (200 active, 429 standby, 501 not initialised, 503 sealed). */
  status: number;
}

/** The `auth` block of a login or renewal. */
export interface VaultAuth {
  clientToken: string;
  accessor: string;
  policies: string[];
  leaseDurationSeconds: number;
  renewable: boolean;
  metadata: Record<string, string>;
}

export interface VaultRequest {
  /** Name of the operation for errors and logs (`readMetadata`, `kubernetesLogin`, ...). */
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'LIST';
  /** Path after `/v1/`, already encoded. */
  apiPath: string;
  /** The secret path for error messages (defaults to `apiPath`). */
  displayPath?: string;
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  /** Send a token (default true). */
  authenticated?: boolean;
  /** Values the request carries, redacted from any error text (the body's leaves, the JWT). */
  sensitive?: string[];
  /** Statuses answered as a result instead of an error (sys/health). */
  acceptStatuses?: number[];
}

export interface VaultResponse {
  status: number;
  body: unknown;
}

export const CAS_MISMATCH_MESSAGE = 'check-and-set parameter did not match the current version';
export const CAS_REQUIRED_MESSAGE = 'check-and-set parameter required for this call';

export class VaultClient {
  readonly address: string;
  private readonly tokenSource: VaultTokenSource | undefined;
  private readonly namespace: string | undefined;
  private readonly timeoutMs: number;
  private readonly logger: SecretsLogger;
  private readonly fetchImpl: typeof fetch;

  constructor(options: VaultClientOptions) {
    this.address = options.address.replace(/\/+$/, '');
    const token = options.token;
    this.tokenSource = typeof token === 'string' ? fixedToken(token) : token;
    this.namespace = options.namespace;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger ?? silentLogger;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** `GET sys/health`: never throws for sealed/standby; it answers what Vault says. */
  async health(): Promise<VaultHealth> {
    const { status, body } = await this.request({
      operation: 'health',
      method: 'GET',
      apiPath: 'sys/health',
      authenticated: false,
      acceptStatuses: [200, 429, 472, 473, 501, 503],
    });
    const b = (body ?? {}) as Record<string, unknown>;
    return {
      initialized: b.initialized === true,
      sealed: b.sealed === true,
      standby: b.standby === true,
      version: typeof b.version === 'string' ? b.version : undefined,
      status,
    };
  }

  /** `POST auth/<mount>/login {role, jwt}` (Kubernetes auth). The JWT is never logged or put in an error. */
  async kubernetesLogin(options: { role: string; jwt: string; mount?: string }): Promise<VaultAuth> {
    const mount = options.mount ?? 'kubernetes';
    const { body } = await this.request({
      operation: 'kubernetesLogin',
      method: 'POST',
      apiPath: `auth/${encodePath(mount)}/login`,
      displayPath: `auth/${mount}/login (role ${options.role})`,
      body: { role: options.role, jwt: options.jwt },
      authenticated: false,
      sensitive: [options.jwt],
    });
    return readAuth('kubernetesLogin', body);
  }

  /** `POST auth/token/renew-self {increment}` with the given token (the token source's own). */
  async renewSelf(token: string, incrementSeconds?: number): Promise<VaultAuth> {
    const { body } = await this.requestWithToken(token, {
      operation: 'renewSelf',
      method: 'POST',
      apiPath: 'auth/token/renew-self',
      body: incrementSeconds === undefined ? {} : { increment: `${incrementSeconds}s` },
    });
    return readAuth('renewSelf', body);
  }

  /** `GET auth/token/lookup-self`: TTL and policies of the current token (never the token). */
  async lookupSelf(): Promise<{
    ttlSeconds: number;
    renewable: boolean;
    policies: string[];
    expireTime: string | null;
  }> {
    const { body } = await this.request({ operation: 'lookupSelf', method: 'GET', apiPath: 'auth/token/lookup-self' });
    const data = ((body as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as Record<string, unknown>;
    return {
      ttlSeconds: typeof data.ttl === 'number' ? data.ttl : 0,
      renewable: data.renewable === true,
      policies: Array.isArray(data.policies) ? data.policies.filter((p): p is string => typeof p === 'string') : [],
      expireTime: typeof data.expire_time === 'string' ? data.expire_time : null,
    };
  }

  /**
   * One request. With a token source that can log in again, a 403 invalidates the token and the request is retried
   * once with a fresh one (a token revoked or expired under us).
   */
  async request(request: VaultRequest): Promise<VaultResponse> {
    if (request.authenticated === false) return this.send(request, undefined);
    if (!this.tokenSource) {
      throw new PermissionDeniedError('PERMISSION_DENIED', 'no Vault token configured', {
        operation: request.operation,
        path: request.displayPath ?? request.apiPath,
        backend: 'vault',
      });
    }
    const token = await this.tokenSource.token();
    try {
      return await this.send(request, token);
    } catch (error) {
      if (error instanceof PermissionDeniedError && this.tokenSource.invalidate) {
        this.tokenSource.invalidate();
        this.logger.warn(
          { operation: request.operation, path: request.displayPath ?? request.apiPath },
          'vault refused the token; logging in again',
        );
        return this.send(request, await this.tokenSource.token());
      }
      throw error;
    }
  }

  /** A request with an explicit token (renewal uses the token it renews). */
  requestWithToken(token: string, request: VaultRequest): Promise<VaultResponse> {
    return this.send(request, token);
  }

  private async send(request: VaultRequest, token: string | undefined): Promise<VaultResponse> {
    const started = Date.now();
    const displayPath = request.displayPath ?? request.apiPath;
    const sensitive = [...(request.sensitive ?? []), ...(token ? [token] : [])];
    const method = request.method === 'LIST' ? 'GET' : request.method;
    const query = new URLSearchParams(request.query ?? {});
    if (request.method === 'LIST') query.set('list', 'true');
    const qs = query.toString();
    const url = `${this.address}/v1/${request.apiPath}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers['x-vault-token'] = token;
    if (this.namespace) headers['x-vault-namespace'] = this.namespace;
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';

    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // Only the error's name and code: an undici error may hold the request (URL, headers) in its properties.
      const code = networkCode(error);
      this.logger.debug(
        { operation: request.operation, path: displayPath, error: code, durationMs: Date.now() - started },
        'vault request failed',
      );
      throw new BackendUnavailableError('UNAVAILABLE', `Vault unreachable (${code})`, {
        operation: request.operation,
        path: displayPath,
        backend: 'vault',
      });
    }
    const text = await response.text().catch(() => '');
    this.logger.debug(
      { operation: request.operation, path: displayPath, status: response.status, durationMs: Date.now() - started },
      'vault request',
    );
    let body: unknown;
    let parsed = true;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        parsed = false;
      }
    }
    const ok = response.status === 200 || response.status === 204 || request.acceptStatuses?.includes(response.status);
    if (ok && parsed) return { status: response.status, body };
    if (ok) {
      throw new BackendRequestError('BAD_RESPONSE', 'Vault answered a body that is not JSON', {
        operation: request.operation,
        path: displayPath,
        backend: 'vault',
        status: response.status,
      });
    }
    throw vaultError(request.operation, displayPath, response.status, parsed ? body : undefined, sensitive);
  }
}

/** Maps a Vault error reply (`{"errors":[...]}`, or a 404 carrying metadata) to a typed error. */
export function vaultError(
  operation: string,
  path: string,
  status: number,
  body: unknown,
  sensitive: string[],
): SecretsError {
  const raw = (body as { errors?: unknown } | undefined)?.errors;
  const errors = Array.isArray(raw)
    ? raw.filter((e): e is string => typeof e === 'string').map((e) => redact(e, sensitive).trim())
    : [];
  const details = { operation, path, backend: 'vault' as const, status, backendErrors: errors };
  const said = errors.filter((e) => e !== '').join('; ');
  if (status === 403) return new PermissionDeniedError('PERMISSION_DENIED', said || 'permission denied', details);
  if (status === 404) {
    const metadata = (body as { data?: { metadata?: Record<string, unknown> } } | undefined)?.data?.metadata;
    if (metadata && typeof metadata.version === 'number') {
      const destroyed = metadata.destroyed === true;
      const deletionTime = typeof metadata.deletion_time === 'string' ? metadata.deletion_time : undefined;
      return new SecretVersionDeletedError(
        `version ${metadata.version} is ${destroyed ? 'destroyed' : `deleted (at ${deletionTime})`}`,
        { ...details, version: metadata.version, destroyed, ...(deletionTime ? { deletionTime } : {}) },
      );
    }
    return new SecretNotFoundError('NOT_FOUND', said || 'not found', details);
  }
  if (status === 400 && errors.some((e) => e.includes(CAS_MISMATCH_MESSAGE))) {
    return new CasMismatchError('CAS_MISMATCH', CAS_MISMATCH_MESSAGE, details);
  }
  if (status === 400 && errors.some((e) => e.includes(CAS_REQUIRED_MESSAGE))) {
    return new CasMismatchError('CAS_REQUIRED', CAS_REQUIRED_MESSAGE, details);
  }
  if (status === 503 && (errors.length === 0 || errors.some((e) => /sealed/i.test(e)))) {
    return new SealedError('SEALED', said || 'Vault is sealed', details);
  }
  if (status >= 500 || status === 412 || status === 429) {
    return new BackendUnavailableError('UNAVAILABLE', said || `Vault answered ${status}`, details);
  }
  return new BackendRequestError(
    'BAD_REQUEST',
    body === undefined ? 'Vault answered a body that is not JSON' : said || `Vault answered ${status}`,
    details,
  );
}

function readAuth(operation: string, body: unknown): VaultAuth {
  const auth = (body as { auth?: Record<string, unknown> } | undefined)?.auth;
  if (!auth || typeof auth.client_token !== 'string') {
    throw new BackendRequestError('BAD_RESPONSE', 'Vault answered no auth block', { operation, backend: 'vault' });
  }
  return {
    clientToken: auth.client_token,
    accessor: typeof auth.accessor === 'string' ? auth.accessor : '',
    policies: Array.isArray(auth.policies) ? auth.policies.filter((p): p is string => typeof p === 'string') : [],
    leaseDurationSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
    renewable: auth.renewable === true,
    metadata: (auth.metadata ?? {}) as Record<string, string>,
  };
}

function fixedToken(token: string): VaultTokenSource {
  return { token: async () => token };
}

function networkCode(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string' && /^[A-Z_]+$/.test(cause.code)) return cause.code;
  return error instanceof Error && /^[A-Za-z]+$/.test(error.name) ? error.name : 'network error';
}

/** Encodes a checked secret path segment by segment (see `checkPath`). */
export function encodePath(path: string): string {
  return checkPath(path, 'vault').split('/').map(encodeURIComponent).join('/');
}
