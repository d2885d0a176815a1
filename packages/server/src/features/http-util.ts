import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import type { StoredFlag, WriteOptions } from '../store/store.js';

export const etagOf = (revision: number): string => `"${revision}"`;

/** `If-Match: "12"` (or W/"12", or *) → precondition; any other value can never match, so it is a 412. */
export function writeOptions(req: FastifyRequest): WriteOptions {
  const raw = req.headers['if-match'];
  if (raw === undefined || raw === '*') return {};
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(String(raw));
  if (!m)
    throw new AppError('PRECONDITION_FAILED', `If-Match "${String(raw)}" matches no revision`, { path: 'If-Match' });
  return { ifRevision: Number(m[1]) };
}

export function sendFlag(reply: FastifyReply, stored: StoredFlag, status = 200): FastifyReply {
  return reply.code(status).header('etag', etagOf(stored.revision)).send(stored.flag);
}

export function param(req: FastifyRequest, name: string): string {
  return (req.params as Record<string, string>)[name] ?? '';
}
