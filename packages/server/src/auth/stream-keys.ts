import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReplicaState } from '../state/replica-state.js';
import type { Store, StoredToken } from '../store/store.js';

/**
 * OFREP stream keys. An EventSource cannot send headers, so the bulk evaluation advertises a stream URL carrying a
 * key instead of the token: `<token id>.<HMAC(server secret, token hash)>`. The key is different for every token,
 * works only while its token is live (it is checked against the replica's live tokens on every connect, and the
 * token's open streams close when it is revoked), and reveals neither the token nor its hash. The server secret is
 * derived from the admin token, which every replica shares, so rotating the admin token rotates every key.
 */

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Keys remembered per token hash (cleared when full): one per client token in use. */
const KEY_CACHE_SIZE = 4096;

export interface StreamKeyDeps {
  /** The admin token in force: the server secret is derived from it. */
  adminToken: string;
  store: Pick<Store, 'getToken'>;
  state: Pick<ReplicaState, 'tokenByHash'>;
}

export class StreamKeys {
  private readonly secret: Buffer;
  // A token's key never changes (it is a function of the secret and the token's id and hash), and every bulk
  // evaluation advertises it: computing the HMAC once per token instead of once per request saves a few
  // microseconds of every bulk evaluation. Whether the token is live is checked when the key is used, not here.
  private readonly keys = new Map<string, string>();

  constructor(private readonly deps: StreamKeyDeps) {
    this.secret = createHmac('sha256', deps.adminToken).update('rc:ofrep-stream-key:v1').digest();
  }

  private mac(tokenHash: string): Buffer {
    return createHmac('sha256', this.secret).update(`ofrep-sse:${tokenHash}`).digest();
  }

  keyFor(token: { id: string; hash: string }): string {
    let key = this.keys.get(token.hash);
    if (key === undefined) {
      key = `${token.id}.${this.mac(token.hash).toString('base64url')}`;
      if (this.keys.size >= KEY_CACHE_SIZE) this.keys.clear();
      this.keys.set(token.hash, key);
    }
    return key;
  }

  /** The live client token a stream key belongs to, or undefined (unknown, malformed, forged or revoked). */
  async tokenOf(key: string): Promise<StoredToken | undefined> {
    const dot = key.indexOf('.');
    if (dot < 0) return undefined;
    const id = key.slice(0, dot);
    if (!TOKEN_ID.test(id)) return undefined;
    const presented = Buffer.from(key.slice(dot + 1), 'base64url');
    const stored = await this.deps.store.getToken(id);
    if (!stored || stored.revokedAt) return undefined;
    // Live on this replica: a revocation this replica applied refuses the key even if the store read raced it.
    const live = this.deps.state.tokenByHash(stored.hash);
    if (!live || live.id !== id || live.kind !== 'client' || !live.environment) return undefined;
    const expected = this.mac(live.hash);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined;
    return live;
  }
}
