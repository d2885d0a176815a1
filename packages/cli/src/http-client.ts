import type { Evaluators, Flag, FlagState, JsonObject, JsonValue, Rollout } from '@runtime-control/core';

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

export interface FlagList {
  revision: number;
  flags: Flag[];
}

export interface FlagWithEtag {
  flag: Flag;
  etag: string | undefined;
}

export type CreateFlagResult = { status: 'created'; flag: Flag } | { status: 'exists' };

export interface EnvironmentPatch {
  state?: FlagState;
  targeting?: JsonObject | null;
  rollout?: Rollout | null;
  overrides?: Record<string, string>;
}

export interface EvaluatedFlag {
  key: string;
  value?: JsonValue;
  variant?: string;
  reason: string;
  sensitive?: boolean;
  errorCode?: string;
}

export interface EvaluationResult {
  environment: string;
  revision: number;
  flags: EvaluatedFlag[];
}

export interface TokenInfo {
  id: string;
  name: string;
  kind: 'admin' | 'client';
  environment: string | null;
  createdAt: string;
  revokedAt?: string | null;
}

export interface CreatedToken extends TokenInfo {
  /** The secret; the server shows it only in the create response. */
  token: string;
}

export interface CreateTokenRequest {
  kind: 'admin' | 'client';
  environment?: string;
  name?: string;
}

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
/** `GET /api/admin/integrations/unleash`. */
export interface UnleashBridgeStatus {
  enabled: boolean;
  webhook: { enabled: boolean };
  watch:
    | { enabled: false }
    | {
        enabled: true;
        url: string;
        intervalMs: number;
        state: 'starting' | 'watching' | 'failing' | 'stopped';
        lastEventId: number | null;
        lastError: string | null;
        polls: number;
      };
  hintsSent: { webhook: number; watch: number; relay: number };
  clients: number;
}

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
    return (await this.request('GET', '/api/admin/flags')).body as FlagList;
  }

  async getFlag(key: string): Promise<FlagWithEtag> {
    const res = await this.request('GET', `/api/admin/flags/${segment(key)}`);
    return { flag: res.body as Flag, etag: res.headers.get('etag') ?? undefined };
  }

  /** Creates a flag; an existing key is reported as `exists` (the server changes nothing in that case). */
  async createFlag(flag: Flag): Promise<CreateFlagResult> {
    const res = await this.request('POST', '/api/admin/flags', { body: flag, allowStatus: [409] });
    if (res.status === 409) {
      const code = errorBody(res.body)?.code;
      if (code !== undefined && code !== 'FLAG_EXISTS') throw toApiError(res);
      return { status: 'exists' };
    }
    return { status: 'created', flag: res.body as Flag };
  }

  async replaceFlag(flag: Flag, ifMatch?: string): Promise<FlagWithEtag> {
    const headers: Record<string, string> = ifMatch ? { 'if-match': ifMatch } : {};
    const res = await this.request('PUT', `/api/admin/flags/${segment(flag.key)}`, { body: flag, headers });
    return { flag: res.body as Flag, etag: res.headers.get('etag') ?? undefined };
  }

  async patchEnvironment(key: string, environment: string, patch: EnvironmentPatch): Promise<Flag> {
    const path = `/api/admin/flags/${segment(key)}/environments/${segment(environment)}`;
    return (await this.request('PATCH', path, { body: patch })).body as Flag;
  }

  async setOverride(key: string, environment: string, targetingKey: string, variant: string): Promise<Flag> {
    const path = `/api/admin/flags/${segment(key)}/environments/${segment(environment)}/overrides/${segment(targetingKey)}`;
    return (await this.request('PUT', path, { body: { variant } })).body as Flag;
  }

  async removeOverride(key: string, environment: string, targetingKey: string): Promise<Flag> {
    const path = `/api/admin/flags/${segment(key)}/environments/${segment(environment)}/overrides/${segment(targetingKey)}`;
    return (await this.request('DELETE', path)).body as Flag;
  }

  async listEvaluators(): Promise<Evaluators> {
    return evaluatorsFromBody((await this.request('GET', '/api/admin/evaluators')).body);
  }

  async putEvaluator(name: string, logic: JsonObject): Promise<void> {
    await this.request('PUT', `/api/admin/evaluators/${segment(name)}`, { body: logic });
  }

  async listEnvironments(): Promise<string[]> {
    const body = (await this.request('GET', '/api/admin/environments')).body as { environments?: string[] };
    return body.environments ?? [];
  }

  async evaluate(environment: string, context: JsonObject): Promise<EvaluationResult> {
    return (await this.request('POST', '/api/admin/evaluate', { body: { environment, context } }))
      .body as EvaluationResult;
  }

  async createToken(request: CreateTokenRequest): Promise<CreatedToken> {
    return (await this.request('POST', '/api/admin/tokens', { body: request })).body as CreatedToken;
  }

  async listTokens(): Promise<TokenInfo[]> {
    const body = (await this.request('GET', '/api/admin/tokens')).body as { tokens?: TokenInfo[] };
    return body.tokens ?? [];
  }

  async revokeToken(id: string): Promise<void> {
    await this.request('DELETE', `/api/admin/tokens/${segment(id)}`);
  }

  async unleashBridgeStatus(): Promise<UnleashBridgeStatus> {
    return (await this.request('GET', '/api/admin/integrations/unleash')).body as UnleashBridgeStatus;
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
