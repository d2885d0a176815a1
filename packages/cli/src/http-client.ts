import type { Evaluators, Flag, JsonObject } from '@runtime-control/core';
import type { paths } from '@runtime-control/core/http-api';

/** An error the CLI reports to the user as one message; `exitCode` is 1 for failures and 2 for usage errors. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export interface ApiErrorDetail {
  path: string;
  code: string;
  message: string;
}

/** A request the server answered with an error body (`{ error: { code, message, path?, details? } }`). */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly serverMessage: string;
  readonly path: string | undefined;
  readonly details: ApiErrorDetail[];

  constructor(status: number, code: string, serverMessage: string, path?: string, details: ApiErrorDetail[] = []) {
    super(formatApiError(status, code, serverMessage, path, details));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
    this.path = path;
    this.details = details;
  }
}

function formatApiError(
  status: number,
  code: string,
  message: string,
  path: string | undefined,
  details: ApiErrorDetail[],
): string {
  if (status === 401 || status === 403) {
    return `the server rejected the token (${code}): ${message}. Set RC_TOKEN or --token to an admin token.`;
  }
  const lines = [`${code}: ${message}${path ? ` (at ${path})` : ''}`];
  // The first detail usually repeats the top-level message; list them all only when there are several.
  if (details.length > 1) {
    for (const d of details) lines.push(`  ${d.path || '/'}: ${d.message} [${d.code}]`);
  }
  return lines.join('\n');
}

export interface AdminClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:4400`. */
  url: string;
  token: string | undefined;
  /** Sent as `X-RC-Actor` so the audit log names the human behind a change. */
  actor: string;
  timeoutMs?: number;
}

/** The JSON body `method` on `path` answers with `status`, as the server's route schemas declare it. */
export type ResponseBody<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: infer R;
}
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer B } }
      ? B
      : never
    : never
  : never;

/** The JSON body `method` on `path` takes. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** `GET /api/admin/flags`, its flags typed as core's Flag (see asFlag). */
export type FlagList = Omit<ResponseBody<'/api/admin/flags', 'get', 200>, 'flags'> & { flags: Flag[] };
export type ApiFlag = ResponseBody<'/api/admin/flags/{key}', 'get', 200>;

export interface FlagWithEtag {
  flag: Flag;
  etag: string | undefined;
}

export type CreateFlagResult = { status: 'created'; flag: Flag } | { status: 'exists' };

export type EnvironmentPatch = RequestBody<'/api/admin/flags/{key}/environments/{env}', 'patch'>;
export type EvaluationResult = ResponseBody<'/api/admin/evaluate', 'post', 200>;
export type EvaluatedFlag = EvaluationResult['flags'][number];
export type TokenInfo = ResponseBody<'/api/admin/tokens', 'get', 200>['tokens'][number];
/** A created token; `token` (the secret) is shown only in the create response. */
export type CreatedToken = ResponseBody<'/api/admin/tokens', 'post', 201>;
export type CreateTokenRequest = RequestBody<'/api/admin/tokens', 'post'>;
/** `GET /api/admin/integrations/unleash`. */
export type UnleashBridgeStatus = ResponseBody<'/api/admin/integrations/unleash', 'get', 200>;
export type ClientsView = ResponseBody<'/api/admin/clients', 'get', 200>;
export type AuditView = ResponseBody<'/api/admin/audit', 'get', 200>;
/** `GET /api/admin/secrets`: every bundle's status (never a value). */
export type SecretsView = ResponseBody<'/api/admin/secrets', 'get', 200>;
export type SecretBundleView = ResponseBody<'/api/admin/secrets/{service}/{bundle}', 'get', 200>;
export type SecretRotationView = ResponseBody<'/api/admin/secrets/{service}/{bundle}/rotations/{id}', 'get', 200>;
export type RotateSecretRequest = RequestBody<'/api/admin/secrets/{service}/{bundle}/rotate', 'post'>;
export type DefineSecretBundleRequest = RequestBody<'/api/admin/secrets/{service}/{bundle}', 'put'>;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** The methods the API serves at `path` (a path template of the OpenAPI document). */
type MethodOf<P extends keyof paths> = { [M in Method]: paths[P][M] extends undefined ? never : M }[Method];

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses returned to the caller instead of raised as ApiError. */
  allowStatus?: number[];
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

const NETWORK_ERROR_DESCRIPTIONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** Finds the system error code of a failed `fetch` (undici wraps it in `cause`, sometimes in an AggregateError). */
function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const candidate = current as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof candidate.code === 'string') return candidate.code;
    if (Array.isArray(candidate.errors) && candidate.errors.length > 0) {
      current = candidate.errors[0];
      continue;
    }
    current = candidate.cause;
  }
  return undefined;
}

/** The innermost error of a `cause` chain: undici's own message ("fetch failed") says nothing useful. */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (cause === undefined || cause === null) break;
    current = cause;
  }
  return current;
}

export function unreachableServerError(url: string, error: unknown): CliError {
  const code = networkErrorCode(error);
  const rootMessage = (rootCause(error) as Error | null)?.message ?? String(error);
  let reason: string;
  if ((error as { name?: string } | null)?.name === 'TimeoutError') reason = 'the request timed out';
  else if (code) reason = NETWORK_ERROR_DESCRIPTIONS[code] ?? code;
  // fetch refuses some ports outright (the WHATWG "bad port" list, e.g. 1, 25, 6000) without connecting.
  else if (rootMessage === 'bad port')
    reason = `fetch refuses to connect to port ${new URL(url).port} (a blocked port)`;
  else reason = rootMessage;
  return new CliError(
    `cannot reach the Runtime Control server at ${url}: ${reason}. Start it with "rctl up" or set --url/RC_URL.`,
  );
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/** Typed client for the admin API (docs/api.md). Every failure becomes a CliError with a message for humans. */
export class AdminClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly actor: string;
  private readonly timeoutMs: number;

  constructor(options: AdminClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.actor = options.actor;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async listFlags(): Promise<FlagList> {
    return (await this.call('/api/admin/flags', 'get')).body as FlagList;
  }

  async getFlag(key: string): Promise<FlagWithEtag> {
    const res = await this.call('/api/admin/flags/{key}', 'get', { key });
    return { flag: asFlag(res.body as ApiFlag), etag: res.headers.get('etag') ?? undefined };
  }

  /** Creates a flag; an existing key is reported as `exists` (the server changes nothing in that case). */
  async createFlag(flag: Flag): Promise<CreateFlagResult> {
    const body: RequestBody<'/api/admin/flags', 'post'> = flag;
    const res = await this.call('/api/admin/flags', 'post', {}, { body, allowStatus: [409] });
    if (res.status === 409) {
      const code = errorBody(res.body)?.code;
      if (code !== undefined && code !== 'FLAG_EXISTS') throw toApiError(res);
      return { status: 'exists' };
    }
    return { status: 'created', flag: asFlag(res.body as ResponseBody<'/api/admin/flags', 'post', 201>) };
  }

  /**
   * Creates, in one transaction, each flag whose key does not exist yet (`POST /api/admin/flag-batches`): all or
   * none. Keys that exist are left as they are and returned in `existing`.
   */
  async createFlags(flags: readonly Flag[]): Promise<{ revision: number; created: string[]; existing: string[] }> {
    const body: RequestBody<'/api/admin/flag-batches', 'post'> = { flags: [...flags] };
    const res = await this.call('/api/admin/flag-batches', 'post', {}, { body });
    return res.body as ResponseBody<'/api/admin/flag-batches', 'post', 200>;
  }

  async replaceFlag(flag: Flag, ifMatch?: string): Promise<FlagWithEtag> {
    const headers: Record<string, string> = ifMatch ? { 'if-match': ifMatch } : {};
    const body: RequestBody<'/api/admin/flags/{key}', 'put'> = flag;
    const res = await this.call('/api/admin/flags/{key}', 'put', { key: flag.key }, { body, headers });
    return {
      flag: asFlag(res.body as ResponseBody<'/api/admin/flags/{key}', 'put', 200>),
      etag: res.headers.get('etag') ?? undefined,
    };
  }

  /** Puts back the flag as it was after the change at `revision` (audited as a revert). */
  async revertFlag(key: string, revision: number): Promise<FlagWithEtag> {
    const body: RequestBody<'/api/admin/flags/{key}/revert', 'post'> = { revision };
    const res = await this.call('/api/admin/flags/{key}/revert', 'post', { key }, { body });
    return {
      flag: asFlag(res.body as ResponseBody<'/api/admin/flags/{key}/revert', 'post', 200>),
      etag: res.headers.get('etag') ?? undefined,
    };
  }

  async patchEnvironment(key: string, environment: string, patch: EnvironmentPatch): Promise<Flag> {
    const res = await this.call(
      '/api/admin/flags/{key}/environments/{env}',
      'patch',
      { key, env: environment },
      { body: patch },
    );
    return asFlag(res.body as ResponseBody<'/api/admin/flags/{key}/environments/{env}', 'patch', 200>);
  }

  async setOverride(key: string, environment: string, targetingKey: string, variant: string): Promise<Flag> {
    const path = '/api/admin/flags/{key}/environments/{env}/overrides/{targetingKey}';
    const body: RequestBody<typeof path, 'put'> = { variant };
    const res = await this.call(path, 'put', { key, env: environment, targetingKey }, { body });
    return asFlag(res.body as ResponseBody<typeof path, 'put', 200>);
  }

  async removeOverride(key: string, environment: string, targetingKey: string): Promise<Flag> {
    const path = '/api/admin/flags/{key}/environments/{env}/overrides/{targetingKey}';
    const res = await this.call(path, 'delete', { key, env: environment, targetingKey });
    return asFlag(res.body as ResponseBody<typeof path, 'delete', 200>);
  }

  async listEvaluators(): Promise<Evaluators> {
    return evaluatorsFromBody((await this.call('/api/admin/evaluators', 'get')).body);
  }

  async putEvaluator(name: string, logic: JsonObject): Promise<void> {
    const body: RequestBody<'/api/admin/evaluators/{name}', 'put'> = logic;
    await this.call('/api/admin/evaluators/{name}', 'put', { name }, { body });
  }

  async listEnvironments(): Promise<string[]> {
    const body = (await this.call('/api/admin/environments', 'get')).body as Partial<
      ResponseBody<'/api/admin/environments', 'get', 200>
    >;
    return body.environments ?? [];
  }

  async evaluate(environment: string, context: JsonObject): Promise<EvaluationResult> {
    const body: RequestBody<'/api/admin/evaluate', 'post'> = { environment, context };
    return (await this.call('/api/admin/evaluate', 'post', {}, { body })).body as EvaluationResult;
  }

  async createToken(request: CreateTokenRequest): Promise<CreatedToken> {
    return (await this.call('/api/admin/tokens', 'post', {}, { body: request })).body as CreatedToken;
  }

  async listTokens(): Promise<TokenInfo[]> {
    const body = (await this.call('/api/admin/tokens', 'get')).body as Partial<
      ResponseBody<'/api/admin/tokens', 'get', 200>
    >;
    return body.tokens ?? [];
  }

  async revokeToken(id: string): Promise<void> {
    await this.call('/api/admin/tokens/{id}', 'delete', { id });
  }

  /** Who is connected, on every replica (`GET /api/admin/clients`). */
  async listAudit(query: Record<string, string>): Promise<AuditView> {
    const params = new URLSearchParams(query);
    const suffix = params.size > 0 ? `?${params}` : '';
    return (await this.request('GET', `/api/admin/audit${suffix}`)).body as AuditView;
  }

  async listClients(filter: { environment?: string; app?: string } = {}): Promise<ClientsView> {
    const query = new URLSearchParams();
    if (filter.environment !== undefined) query.set('environment', filter.environment);
    if (filter.app !== undefined) query.set('app', filter.app);
    const suffix = query.size > 0 ? `?${query}` : '';
    return (await this.request('GET', `/api/admin/clients${suffix}`)).body as ClientsView;
  }

  async listSecrets(): Promise<SecretsView> {
    return (await this.call('/api/admin/secrets', 'get')).body as SecretsView;
  }

  async getSecretBundle(service: string, bundle: string): Promise<SecretBundleView> {
    return (await this.call('/api/admin/secrets/{service}/{bundle}', 'get', { service, bundle }))
      .body as SecretBundleView;
  }

  /** Starts a rotation (202); the body may carry a supplied value, which the answer never repeats. */
  async rotateSecret(service: string, bundle: string, request: RotateSecretRequest): Promise<SecretRotationView> {
    return (
      await this.call('/api/admin/secrets/{service}/{bundle}/rotate', 'post', { service, bundle }, { body: request })
    ).body as SecretRotationView;
  }

  /** Defines or replaces a bundle (local backend, no platform file): names and policy, never a value. */
  async defineSecretBundle(
    service: string,
    bundle: string,
    request: DefineSecretBundleRequest,
  ): Promise<{ created: boolean; bundle: SecretBundleView }> {
    const res = await this.call('/api/admin/secrets/{service}/{bundle}', 'put', { service, bundle }, { body: request });
    return { created: res.status === 201, bundle: res.body as SecretBundleView };
  }

  async getSecretRotation(service: string, bundle: string, id: string): Promise<SecretRotationView> {
    return (await this.call('/api/admin/secrets/{service}/{bundle}/rotations/{id}', 'get', { service, bundle, id }))
      .body as SecretRotationView;
  }

  async unleashBridgeStatus(): Promise<UnleashBridgeStatus> {
    return (await this.call('/api/admin/integrations/unleash', 'get')).body as UnleashBridgeStatus;
  }

  /** A request to a route of the OpenAPI document: `{name}` in its path template is filled from `params`. */
  private call<P extends keyof paths, M extends MethodOf<P>>(
    path: P,
    method: M,
    params: Record<string, string> = {},
    options: RequestOptions = {},
  ): Promise<RawResponse> {
    const url = String(path).replace(/\{(\w+)\}/g, (_, name: string) => segment(params[name] ?? ''));
    return this.request(method.toUpperCase(), url, options);
  }

  private async request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-rc-actor': this.actor };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, options.headers);
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw unreachableServerError(this.url, error);
    }
    const text = await response.text();
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const raw: RawResponse = { status: response.status, headers: response.headers, body };
    if (response.ok || options.allowStatus?.includes(response.status)) return raw;
    throw toApiError(raw, !this.token);
  }
}

/**
 * A flag as the server answered it. The response schema types variant values as any JSON (`unknown`); they are
 * core's JsonValue, which is what the server stores.
 */
function asFlag(flag: ApiFlag): Flag {
  return flag as Flag;
}

function errorBody(body: unknown): { code?: string; message?: string; path?: string; details?: unknown } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  return typeof error === 'object' && error !== null ? (error as Record<string, string>) : undefined;
}

function toApiError(res: RawResponse, noTokenConfigured = false): CliError {
  const error = errorBody(res.body);
  if (!error || typeof error.code !== 'string') {
    // Not a Runtime Control error body: a proxy, or something else listening on that port.
    const snippet = typeof res.body === 'string' ? res.body.slice(0, 200) : JSON.stringify(res.body ?? '');
    return new CliError(`the server answered HTTP ${res.status}${snippet ? `: ${snippet}` : ''}`);
  }
  const details = Array.isArray(error.details) ? (error.details as ApiErrorDetail[]) : [];
  const apiError = new ApiError(res.status, error.code, error.message ?? '', error.path, details);
  if (res.status === 401 && noTokenConfigured) {
    return new CliError(
      `the server requires an admin token and none was sent (${error.code}): ${error.message ?? ''}. ` +
        'Set RC_TOKEN or --token to an admin token (the server writes a development one to ' +
        '<data dir>/admin-token, by default .runtime-control/admin-token).',
    );
  }
  return apiError;
}

/** Accepts `{ evaluators: {name: logic} }`, `{ evaluators: [{name, logic}] }` or a bare map. */
function evaluatorsFromBody(body: unknown): Evaluators {
  const container = body as { evaluators?: unknown } | null;
  const payload = container && typeof container === 'object' && 'evaluators' in container ? container.evaluators : body;
  if (Array.isArray(payload)) {
    const result: Evaluators = {};
    for (const entry of payload as { name: string; logic: JsonObject }[]) result[entry.name] = entry.logic;
    return result;
  }
  return (payload ?? {}) as Evaluators;
}
