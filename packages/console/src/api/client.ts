import type { components, paths } from '@runtime-control/core/http-api';
import createClient, { type Middleware } from 'openapi-fetch';

export type Flag = components['schemas']['Flag'];
export type FlagEnvironment = Flag['environments'][string];
export type TokenInfo = components['schemas']['TokenInfo'];
export type CreatedToken = components['schemas']['CreatedToken'];
export type AuditRecord = components['schemas']['AuditRecord'];
export type EvaluationResult = components['schemas']['EvaluationResult'];
export type ConnectedClient = components['schemas']['ConnectedClient'];
export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = NonNullable<ErrorBody['error']['details']>[number];

/** The admin token lives in session storage only: gone when the tab closes, never in a cookie (no CSRF surface). */
const TOKEN_KEY = 'rc.adminToken';

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An API error: the status and the API's `{ error: { code, message, path, details } }`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly path: string | undefined;
  readonly details: ErrorDetail[];
  constructor(status: number, body: unknown) {
    const e = (body as Partial<ErrorBody> | undefined)?.error;
    super(e?.message ?? `request failed with status ${status}`);
    this.status = status;
    this.code = e?.code ?? 'UNKNOWN';
    this.path = e?.path;
    this.details = e?.details ?? [];
  }
}

/** Called when the server refuses the token (401): the app signs out. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}
/** For requests made outside the API client (the live stream): the server refused the token. */
export function notifyUnauthorized(): void {
  onUnauthorized();
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    // The audit log names the console as the actor's tool ("admin (console)" for the root token).
    if (!request.headers.has('x-rc-actor')) request.headers.set('x-rc-actor', 'console');
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) onUnauthorized();
    return response;
  },
};

/** The typed client over the types generated from the server's OpenAPI document (`@runtime-control/core/http-api`). */
export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? '' });
api.use(auth);

/** Unwraps an openapi-fetch result: the data, or an ApiError carrying the API's error body. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<{ data: T; response: Response }> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, error);
  return { data: data as T, response };
}

/** The ETag of a flag read (`"N"`, N the revision of its last write), for If-Match on the next write. */
export function etagOf(response: Response): string | undefined {
  return response.headers.get('etag') ?? undefined;
}
