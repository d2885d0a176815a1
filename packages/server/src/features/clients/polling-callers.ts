import type { IncomingHttpHeaders } from 'node:http';
import type { EnvironmentView } from '../../state/replica-state.js';
import { peerField } from '../../streams/sse-hub.js';

/** Distinct polling callers one replica remembers; a caller beyond this is counted, not listed (bounds memory). */
export const MAX_POLLING_CALLERS = 5000;
/**
 * A caller not seen for this long is forgotten. OFREP providers poll every 30 s by default (flagd's web and server
 * OFREP providers), so five minutes keeps a caller that skipped a few polls and drops one that is gone.
 */
export const POLLING_CALLER_EXPIRY_MS = 5 * 60_000;
/** Calls turned away while the map was full are reported over this trailing window. */
export const OVERFLOW_WINDOW_MS = 60_000;
const OVERFLOW_BUCKETS = 6;

/**
 * How many events happened in the trailing window, in buckets of window/n: adding and reading never allocate, and
 * reading does not reset (every reader — the periodic report, the API — sees the same count).
 */
class TrailingCount {
  private readonly counts: number[];
  /** The bucket number (time ÷ bucket length) each slot currently counts. */
  private readonly slotBucket: number[];
  private readonly bucketMs: number;

  constructor(
    windowMs: number,
    private readonly buckets: number,
  ) {
    this.bucketMs = windowMs / buckets;
    this.counts = new Array<number>(buckets).fill(0);
    this.slotBucket = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
  }

  add(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    const slot = bucket % this.buckets;
    if (this.slotBucket[slot] !== bucket) {
      this.slotBucket[slot] = bucket;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  total(now: number): number {
    const oldest = Math.floor(now / this.bucketMs) - this.buckets + 1;
    let sum = 0;
    for (let i = 0; i < this.buckets; i++) if (this.slotBucket[i]! >= oldest) sum += this.counts[i]!;
    return sum;
  }
}

/** One OFREP caller that evaluates without a stream, as it said who it is (headers) and as last answered. */
export interface PollingCaller {
  environment: string;
  /** The flag set its token is limited to (null: the whole environment); its revisions are that view's. */
  flagSet: string | null;
  tokenId: string;
  app: string | undefined;
  instance: string | undefined;
  agent: string | undefined;
  firstSeen: number;
  lastSeen: number;
  /** The revision of the view (environment, or its set) its last answer was computed from. */
  lastRevision: number;
}

export interface PollingCallersOptions {
  max?: number;
  expiryMs?: number;
  now?: () => number;
}

/**
 * OFREP callers that poll (evaluate single flags or the bulk endpoint) instead of holding a stream: the clients view
 * lists them beside the streams, so "is the service calling us at all?" has an answer for every OFREP client, not
 * only those on SSE. `seen` runs on the evaluation hot path: per request it reads four headers, builds one key and
 * updates one map entry; the headers are checked and trimmed for display only when a caller is first seen.
 */
export class PollingCallers {
  /**
   * By token id, then by what the caller says. A token belongs to one environment, so it is not part of the key; the
   * token id is the stored token's own string, whose hash V8 keeps, so the outer lookup costs no hashing.
   */
  private readonly byToken = new Map<string, Map<string, PollingCaller>>();
  private size = 0;
  private readonly max: number;
  private readonly expiryMs: number;
  private readonly now: () => number;
  /** Calls not remembered because the map was full of live ones, over the last OVERFLOW_WINDOW_MS. */
  private readonly overflow = new TrailingCount(OVERFLOW_WINDOW_MS, OVERFLOW_BUCKETS);
  /** When a full map was last swept: at most once a second, so a flood of new callers costs no scan per request. */
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: PollingCallersOptions = {}) {
    this.max = options.max ?? MAX_POLLING_CALLERS;
    this.expiryMs = options.expiryMs ?? POLLING_CALLER_EXPIRY_MS;
    this.now = options.now ?? Date.now;
  }

  seen(
    tokenId: string,
    view: Pick<EnvironmentView, 'name' | 'flagSet' | 'revision'>,
    headers: IncomingHttpHeaders,
  ): void {
    const app = headers['x-rc-app'];
    const instance = headers['x-rc-instance'];
    const agent = headers['user-agent'];
    // Usually only a User-Agent, or no header at all: then no string is built per request (an empty User-Agent and
    // none are one unnamed caller). Header values hold no newline, so a joined key cannot equal a bare one; a
    // repeated header (an array) stringifies with commas, still one caller.
    const key =
      app === undefined && instance === undefined && (agent === undefined || typeof agent === 'string')
        ? (agent ?? '')
        : `${agent}\n${app}\n${instance}`;
    const now = this.now();
    let callers = this.byToken.get(tokenId);
    const known = callers?.get(key);
    if (known !== undefined) {
      known.lastSeen = now;
      known.lastRevision = view.revision;
      return;
    }
    if (this.size >= this.max) {
      if (now - this.lastSweep < 1000 || !this.forgetExpired(now)) {
        this.overflow.add(now);
        return;
      }
      callers = this.byToken.get(tokenId);
    }
    if (callers === undefined) {
      callers = new Map();
      this.byToken.set(tokenId, callers);
    }
    callers.set(key, {
      environment: view.name,
      flagSet: view.flagSet,
      tokenId,
      app: peerField(app),
      instance: peerField(instance),
      agent: peerField(agent),
      firstSeen: now,
      lastSeen: now,
      lastRevision: view.revision,
    });
    this.size++;
  }

  /**
   * Live callers (expired ones are forgotten here), and how many calls of callers that could not be remembered came
   * in over the last minute. Reading resets nothing, so the periodic report and an API call see the same count.
   */
  list(): { callers: PollingCaller[]; overflow: number } {
    const now = this.now();
    this.forgetExpired(now);
    const callers: PollingCaller[] = [];
    for (const byKey of this.byToken.values()) callers.push(...byKey.values());
    return { callers, overflow: this.overflow.total(now) };
  }

  /** Drops callers not seen within the expiry; true when that made room. */
  private forgetExpired(now: number): boolean {
    this.lastSweep = now;
    const before = this.size;
    for (const [tokenId, callers] of this.byToken) {
      for (const [key, caller] of callers) {
        if (now - caller.lastSeen > this.expiryMs) {
          callers.delete(key);
          this.size--;
        }
      }
      if (callers.size === 0) this.byToken.delete(tokenId);
    }
    return this.size < before;
  }
}
