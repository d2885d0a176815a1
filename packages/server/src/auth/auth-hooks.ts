import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import type { Runtime } from '../runtime.js';
import type { Actor } from '../store/store.js';
import { hashEquals, hashToken, tokenFromHeaders } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireAdmin`. */
    actor?: Actor;
    /** Set by `requireClient`: the environment the client token is scoped to. */
    clientEnvironment?: string;
  }
}

const ACTOR_HEADER_PATTERN = /^[\w .@+-]{1,100}$/;

export function adminGuard(rt: Runtime) {
  // Hash once at start-up; each request then hashes the presented token once and compares hashes.
  const adminHash = hashToken(rt.adminToken);
  return async function requireAdmin(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = tokenFromHeaders(req.headers);
    if (!token) throw new AppError('UNAUTHORIZED', 'missing token: send "Authorization: Bearer <admin token>"');
    let name: string;
    const presented = hashToken(token);
    if (hashEquals(presented, adminHash)) {
      name = 'admin';
    } else {
      const stored = rt.state.tokenByHash(presented);
      if (!stored) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
      if (stored.kind !== 'admin') {
        throw new AppError('WRONG_TOKEN_KIND', 'a client token cannot use the admin API; use an admin token');
      }
      name = stored.name;
    }
    const human = req.headers['x-rc-actor'];
    req.actor = {
      name: typeof human === 'string' && ACTOR_HEADER_PATTERN.test(human) ? `${name} (${human})` : name,
    };
  };
}

export function clientGuard(rt: Runtime) {
  const adminHash = hashToken(rt.adminToken);
  return async function requireClient(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = tokenFromHeaders(req.headers);
    if (!token) throw new AppError('UNAUTHORIZED', 'missing token: send "Authorization: Bearer <client token>"');
    const presented = hashToken(token);
    if (hashEquals(presented, adminHash)) {
      throw new AppError('WRONG_TOKEN_KIND', 'an admin token cannot be used by clients; create a client token');
    }
    const stored = rt.state.tokenByHash(presented);
    if (!stored) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    if (stored.kind !== 'client' || !stored.environment) {
      throw new AppError('WRONG_TOKEN_KIND', 'an admin token cannot be used by clients; create a client token');
    }
    req.clientEnvironment = stored.environment;
  };
}
