import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'admin' | 'client';

/** Tokens carry their kind in a prefix so a misplaced one is recognisable in an incident (not for authorization). */
export function generateToken(kind: TokenKind): string {
  return `rc_${kind}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compares two SHA-256 hex digests in constant time. */
export function hashEquals(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** `Authorization: Bearer <t>` or OFREP's alternative `X-API-Key: <t>`. */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  return undefined;
}
