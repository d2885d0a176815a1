import type { Logger } from '@openfeature/server-sdk';
// Type-only: the frames are declared once in core (stream-frames.ts); the SDK has no runtime dependency on it.
import type { UnleashBridgeEvent, UnleashRefreshFrameData } from '@runtime-control/core';
import { backoffDelay } from '../provider/backoff.js';
import { openSseConnection, type SseConnection } from '../provider/sse-connection.js';

/** Where the Runtime Control server's Unleash bridge is: its base URL and a client token (any environment). */
export interface UnleashBridgeOptions {
  url: string;
  token: string;
}

export const UNLEASH_BRIDGE_STREAM_PATH = '/api/integrations/unleash/stream';

/** What the stream says: a change (naming a flag, or not: fetch everything), or `ready` after each (re)connect. */
export type BridgeHint = { kind: 'change'; feature: string | undefined } | { kind: 'ready' };

/**
 * The flag a hint names, if any: `unleash-refresh` events carry `{"feature": "<name>" | null, "type": …,
 * "eventId": …}`; a hint without a usable name means "fetch everything".
 */
export function hintedFeature(data: string): string | undefined {
  try {
    // Checked, not trusted: a hint without a usable name means "fetch everything".
    const hint = JSON.parse(data) as { [K in keyof UnleashRefreshFrameData]?: unknown };
    return typeof hint.feature === 'string' && hint.feature.length > 0 ? hint.feature : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Follows the bridge's SSE stream and calls `onRefresh` for every `unleash-refresh` hint (with the flag it names)
 * and once per (re)connect (`ready`, no flag: fetch everything), which covers hints sent while the connection was
 * down. Reconnects with capped, jittered backoff;
 * nothing here is needed for correctness: without the stream the Unleash client simply keeps polling.
 */
export class UnleashBridgeClient {
  private connection: SseConnection | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;
  private connectedOnce = false;

  constructor(
    private readonly options: UnleashBridgeOptions,
    private readonly onRefresh: (hint: BridgeHint) => void,
    private readonly logger: Logger,
  ) {}

  /** True while the stream is open. */
  connected = false;

  start(): void {
    if (this.closed || this.connection) return;
    const url = `${this.options.url.replace(/\/+$/, '')}${UNLEASH_BRIDGE_STREAM_PATH}`;
    this.connection = openSseConnection(
      url,
      { authorization: `Bearer ${this.options.token}` },
      {
        onOpen: () => {
          this.connected = true;
          this.attempt = 0;
          if (!this.connectedOnce) this.logger.info(`unleash: refresh bridge connected (${url})`);
          this.connectedOnce = true;
        },
        onMessage: (message) => {
          if (message.event === ('unleash-refresh' satisfies UnleashBridgeEvent)) {
            this.onRefresh({ kind: 'change', feature: hintedFeature(message.data) });
          } else if (message.event === ('ready' satisfies UnleashBridgeEvent)) {
            this.onRefresh({ kind: 'ready' });
          }
        },
        onClose: (reason, status) => {
          this.connected = false;
          this.connection = undefined;
          if (this.closed) return;
          const delay = backoffDelay(this.attempt++, 500, status === undefined ? 10_000 : 60_000);
          this.logger.warn(
            `unleash: refresh bridge ${reason}${status === 404 ? ' (bridge disabled on the server?)' : ''}; ` +
              `polling continues, reconnecting in ${delay} ms`,
          );
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.start();
          }, delay);
          this.retryTimer.unref();
        },
      },
      // The server sends a heartbeat every 15 s by default; three missed ones mean a dead connection.
      45_000,
    );
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.connection?.close();
    this.connection = undefined;
  }
}
