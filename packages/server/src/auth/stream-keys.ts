import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Runtime } from '../runtime.js';
import type { StoredToken } from '../store/store.js';

/**
 * OFREP stream keys. An EventSource cannot send headers, so the bulk evaluation advertises a stream URL carrying a
 * key instead of the token: `<token id>.<HMAC(server secret, token hash)>`. The key is different for every token,
 * works only while its token is live (it is checked against the replica's live tokens on every connect, and the
 * token's open streams close when it is revoked), and reveals neither the token nor its hash. The server secret is
 * derived from the admin token, which every replica shares, so rotating the admin token rotates every key.
 */

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function secretOf(rt: Runtime): Buffer {
  return createHmac('sha256', rt.adminToken).update('rc:ofrep-stream-key:v1').digest();
}

const secrets = new WeakMap<Runtime, Buffer>();

function mac(rt: Runtime, tokenHash: string): Buffer {
  let secret = secrets.get(rt);
  if (!secret) {
    secret = secretOf(rt);
    secrets.set(rt, secret);
  }
  return createHmac('sha256', secret).update(`ofrep-sse:${tokenHash}`).digest();
}

export function streamKeyFor(rt: Runtime, token: { id: string; hash: string }): string {
  return `${token.id}.${mac(rt, token.hash).toString('base64url')}`;
}

/** The live client token a stream key belongs to, or undefined (unknown, malformed, forged or revoked). */
export async function tokenOfStreamKey(rt: Runtime, key: string): Promise<StoredToken | undefined> {
  const dot = key.indexOf('.');
  if (dot < 0) return undefined;
  const id = key.slice(0, dot);
  if (!TOKEN_ID.test(id)) return undefined;
  const presented = Buffer.from(key.slice(dot + 1), 'base64url');
  const stored = await rt.store.getToken(id);
  if (!stored || stored.revokedAt) return undefined;
  // Live on this replica: a revocation this replica applied refuses the key even if the store read raced it.
  const live = rt.state.tokenByHash(stored.hash);
  if (!live || live.id !== id || live.kind !== 'client' || !live.environment) return undefined;
  const expected = mac(rt, live.hash);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined;
  return live;
}
