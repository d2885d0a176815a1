import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'admin' | 'client';

/** Tokens carry their kind in a prefix so a misplaced one is recognisable in an incident (not for authorization). */
export function generateToken(kind: TokenKind): string {
  return `rc_${kind}_${randomBytes(32).toString('base64url')}`;
}

// `crypto.hash` digests a string in one call, several times faster than a Hash object for short inputs, with the
// same digests. It exists from Node 20.12 on; `engines` allows any Node 20, hence the fallback.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** The digest of a string, in `encoding`: one call where Node has it, a Hash object otherwise. */
export function digestOf(algorithm: 'sha1' | 'sha256', data: string, encoding: 'hex' | 'base64url'): string {
  return oneShot ? oneShot(algorithm, data, encoding) : createHash(algorithm).update(data).digest(encoding);
}

export function hashToken(token: string): string {
  return digestOf('sha256', token, 'hex');
}

/** Compares two SHA-256 hex digests in constant time. */
export function hashEquals(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/**
 * The SHA-256 of tokens that proved known (the admin token or a stored one), so a client polling with the same token
 * does not hash it on every request (hashing is a large part of an OFREP evaluation's cost). Only the hash is cached:
 * whether that hash is still a live token is looked up on every request, so a revocation applies at once. Tokens
 * that matched nothing are never remembered, so random guesses cannot grow or churn it; it is bounded all the same
 * (cleared when full, then refilled by the tokens in use). It lives in memory only and is never logged.
 */
export class KnownTokenHashes {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly capacity = 4096) {}

  /** The cached hash of a token seen before as known, or undefined. */
  get(token: string): string | undefined {
    return this.hashes.get(token);
  }

  remember(token: string, hash: string): void {
    if (this.hashes.size >= this.capacity) this.hashes.clear();
    this.hashes.set(token, hash);
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const WHITESPACE = /\s/;

/** `Authorization: Bearer <t>` or OFREP's alternative `X-API-Key: <t>`. */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    // The usual `Bearer <token>` is sliced without a regex match (its array and capture cost as much as the token
    // lookup); any other spelling (case, spacing, trailing blanks) takes the pattern.
    if (auth.startsWith('Bearer ')) {
      const token = auth.slice(7);
      if (token.length > 0 && !WHITESPACE.test(token)) return token;
    }
    const m = BEARER.exec(auth);
    if (m) return m[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  return undefined;
}
