import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import type { ReplicaState } from '../state/replica-state.js';
import type { Actor } from '../store/store.js';
import { bindStreamOwner } from '../streams/streams.js';
import { hashEquals, hashToken, KnownTokenHashes, tokenFromHeaders } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireAdmin`. */
    actor?: Actor;
    /** Set by `requireAdmin` for an admin API token (not the root token): its id, so its streams close on revoke. */
    adminTokenId?: string;
    /** Set by `requireClient`: the environment the client token is scoped to. */
    clientEnvironment?: string;
    /** Set by `requireClient`: the flag set the client token is limited to; null: its whole environment. */
    clientFlagSet?: string | null;
    /** Set by `requireClient`: which token it is (id and hash, never the secret). */
    clientToken?: { readonly id: string; readonly hash: string };
  }
}

/** The audit actor of the root admin token (RC_ADMIN_TOKEN). API tokens may not take this name (see token-service). */
export const ROOT_ACTOR = 'admin';

/**
 * Token names an API token cannot have because its audit records would read like the root token's: "admin", or
 * "admin (…)" (the root token with an X-RC-Actor header), in any case; also "admin#…", the form below.
 */
export function isReservedTokenName(name: string): boolean {
  return /^\s*admin\s*($|\(|#)/i.test(name);
}

/** An API token's audit actor: its name, or for a legacy token with a reserved name, the name and its id prefix. */
export function tokenActorName(token: { id: string; name: string }): string {
  // "#" is not allowed in X-RC-Actor, so "admin#1a2b3c4d" cannot be produced by the root token.
  return isReservedTokenName(token.name) ? `${token.name}#${token.id.slice(0, 8)}` : token.name;
}

const ACTOR_HEADER_PATTERN = /^[\w .@+-]{1,100}$/;

/** What the guards use: the root admin token and the live tokens this replica knows. */
export interface GuardDeps {
  adminToken: string;
  state: Pick<ReplicaState, 'tokenByHash'>;
}

export function adminGuard(rt: GuardDeps) {
  // Hash once at start-up; each request then hashes the presented token once and compares hashes.
  const adminHash = hashToken(rt.adminToken);
  // A hit means this exact token was known before: its hash is reused and compared to the root's by value.
  const known = new KnownTokenHashes();
  return async function requireAdmin(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = tokenFromHeaders(req.headers);
    if (!token) throw new AppError('UNAUTHORIZED', 'missing token: send "Authorization: Bearer <admin token>"');
    let name: string;
    const cached = known.get(token);
    const presented = cached ?? hashToken(token);
    if (cached === undefined ? hashEquals(presented, adminHash) : cached === adminHash) {
      if (cached === undefined) known.remember(token, presented);
      name = ROOT_ACTOR;
    } else {
      const stored = rt.state.tokenByHash(presented);
      if (!stored) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
      if (stored.kind !== 'admin') {
        throw new AppError('WRONG_TOKEN_KIND', 'a client token cannot use the admin API; use an admin token');
      }
      if (cached === undefined) known.remember(token, presented);
      name = tokenActorName(stored);
      req.adminTokenId = stored.id;
    }
    const human = req.headers['x-rc-actor'];
    req.actor = {
      name: typeof human === 'string' && ACTOR_HEADER_PATTERN.test(human) ? `${name} (${human})` : name,
    };
  };
}

export interface ClientGuardOptions {
  /**
   * Whether the request may become a stream, so the token is bound to it for the per-token stream limit (default
   * true). Routes that never stream (OFREP evaluation) say false: the binding is a WeakMap entry per request, which
   * costs as much as the rest of the guard.
   */
  streams?: boolean;
}

export function clientGuard(rt: GuardDeps, options: ClientGuardOptions = {}) {
  const check = clientTokenCheck(rt, options);
  return async function requireClient(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    check(req);
  };
}

/**
 * The client token check itself, synchronous: throws the AppError a refusal answers with, else marks the request.
 * `clientGuard` runs it as an async hook; a hot route runs it inside its own callback hook (http/request-hooks.ts).
 */
export function clientTokenCheck(rt: GuardDeps, { streams = true }: ClientGuardOptions = {}) {
  const adminHash = hashToken(rt.adminToken);
  // Only client tokens that resolved to a live client token are remembered (never the root admin token), so a hit
  // needs no comparison with the root's hash; the live-token lookup below still runs on every request.
  const known = new KnownTokenHashes();
  return function checkClient(req: FastifyRequest): void {
    const token = tokenFromHeaders(req.headers);
    if (!token) throw new AppError('UNAUTHORIZED', 'missing token: send "Authorization: Bearer <client token>"');
    const cached = known.get(token);
    const presented = cached ?? hashToken(token);
    if (cached === undefined && hashEquals(presented, adminHash)) {
      throw new AppError('WRONG_TOKEN_KIND', 'an admin token cannot be used by clients; create a client token');
    }
    const stored = rt.state.tokenByHash(presented);
    if (!stored) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    if (stored.kind !== 'client' || !stored.environment) {
      throw new AppError('WRONG_TOKEN_KIND', 'an admin token cannot be used by clients; create a client token');
    }
    if (cached === undefined) known.remember(token, presented);
    req.clientEnvironment = stored.environment;
    req.clientFlagSet = stored.flagSet;
    // The stored token itself (read-only here), not a copy per request.
    req.clientToken = stored;
    if (streams) bindStreamOwner(req.raw, { tokenId: stored.id });
  };
}
