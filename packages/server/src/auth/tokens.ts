import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'admin' | 'client';

/** Tokens carry their kind in a prefix so a misplaced one is recognisable in an incident (not for authorization). */
export function generateToken(kind: TokenKind): string {
  return `rc_${kind}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function constantTimeEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
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
