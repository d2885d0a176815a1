import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors/app-error.js';
import type { ServerMetrics } from '../metrics/metrics.js';

/** Streams that carry flag changes of one environment. */
export type FlagStreamKind = 'sdk' | 'ofrep';
/**
 * `unleash`: refresh hints for UnleashProviders (features/unleash-bridge), not tied to our flag changes.
 * `admin`: the console's live view (`/api/admin/stream`), every environment; not a client of flags, so not listed
 * in the clients view.
 */
export type StreamKind = FlagStreamKind | 'unleash' | 'admin';

/** The `environment` of an admin stream (and of its `rc_sse_clients` series): it follows every environment. */
export const ALL_ENVIRONMENTS = '*';

/** The token a stream was opened with: revoking it closes the stream, and it bounds the token's open streams. */
export interface StreamOwner {
  tokenId: string;
}

export interface Client {
  res: ServerResponse;
  environment: string;
  /** The flag set its token is limited to (its frames carry only that set); null: the whole environment. */
  flagSet: string | null;
  kind: StreamKind;
  owner: StreamOwner | undefined;
  /** Refused (429) or ended: nothing more is written. */
  closed: boolean;
  /** Who is at the other end, as it said (headers), for the clients view. */
  peer: StreamPeer;
  /** The last revision of its environment this stream was sent (flag streams). */
  lastRevision: number | undefined;
  /** A client stream that asked for `delta` frames (`?format=delta`) instead of whole-document `change` frames. */
  deltas: boolean;
}

/** One change's frames: each flag stream kind's, and the client stream's delta form. */
export interface ChangeFrames {
  sdk: string;
  sdkDelta: string;
  ofrep: string;
}

/** What a client says about itself: `X-RC-App`, `X-RC-Instance` and `User-Agent` (the SDK sends all three). */
export interface StreamPeer {
  app: string | undefined;
  instance: string | undefined;
  agent: string | undefined;
  connectedAt: number;
}

/** One open stream, as the clients view lists it. */
export interface StreamConnection extends StreamPeer {
  kind: Exclude<StreamKind, 'admin'>;
  environment: string;
  flagSet: string | null;
  tokenId: string | undefined;
  lastRevision: number | undefined;
}

const PEER_FIELD_MAX = 120;

/** A header value fit to show: printable ASCII, at most PEER_FIELD_MAX chars; anything else is dropped. */
export function peerField(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (trimmed.length === 0 || !/^[\x20-\x7e]+$/.test(trimmed)) return undefined;
  return trimmed.length > PEER_FIELD_MAX ? `${trimmed.slice(0, PEER_FIELD_MAX - 1)}…` : trimmed;
}

function peerOf(req: IncomingMessage | undefined): StreamPeer {
  const headers = req?.headers ?? {};
  return {
    app: peerField(headers['x-rc-app']),
    instance: peerField(headers['x-rc-instance']),
    agent: peerField(headers['user-agent']),
    connectedAt: Date.now(),
  };
}

export interface SseHubOptions {
  heartbeatMs: number;
  /** Open streams one token may hold (per replica); more get 429 RATE_LIMITED. */
  maxStreamsPerToken: number;
  /** Origins echoed in `Access-Control-Allow-Origin`; any other origin gets no CORS header. */
  corsOrigins: readonly string[];
}

/**
 * The token behind each request, set by the client guard on the raw request, so a stream opened by any controller
 * (including ones that only pass the response to `open`) is tied to its token.
 */
const requestOwners = new WeakMap<IncomingMessage, StreamOwner>();

export function bindStreamOwner(req: IncomingMessage, owner: StreamOwner): void {
  requestOwners.set(req, owner);
}

/**
 * Fan-out of environment changes to connected SSE clients. Each event is serialized once per environment and
 * written to every socket; a client whose socket buffer is full is dropped (it reconnects and resumes) rather than
 * let one slow reader hold memory for everyone.
 */
export class SseHub {
  private readonly clients = new Set<Client>();
  private readonly byToken = new Map<string, Set<Client>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly corsOrigins: ReadonlySet<string>;
  /** Set by `drain`: new streams are refused (503) so clients connect to another replica. */
  private draining = false;
  private static readonly MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

  constructor(
    private readonly metrics: ServerMetrics,
    private readonly options: SseHubOptions,
  ) {
    this.corsOrigins = new Set(options.corsOrigins);
    this.heartbeat = setInterval(() => this.broadcastRaw(': heartbeat\n\n'), options.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Open streams of one token on this replica. */
  streamsOf(tokenId: string): number {
    return this.byToken.get(tokenId)?.size ?? 0;
  }

  /**
   * Throws 503 UNAVAILABLE while draining, 429 RATE_LIMITED when `owner` already holds the most streams allowed;
   * call before taking over a reply.
   */
  assertCapacity(owner: StreamOwner | undefined): void {
    if (this.draining) {
      throw new AppError('UNAVAILABLE', 'this replica is shutting down; connect again (another replica will answer)');
    }
    if (owner && this.streamsOf(owner.tokenId) >= this.options.maxStreamsPerToken) {
      throw new AppError(
        'RATE_LIMITED',
        `this token already has ${this.options.maxStreamsPerToken} open streams (RC_MAX_STREAMS_PER_TOKEN); close one first`,
      );
    }
  }

  /**
   * Takes over the response: writes SSE headers and keeps the socket until the client leaves, the hub closes or the
   * owner's token is revoked. The owner defaults to the token the client guard saw on this request. Beyond the
   * token's stream limit it answers 429 itself and returns a closed client (sending to it does nothing).
   */
  open(
    res: ServerResponse,
    environment: string,
    kind: StreamKind,
    owner?: StreamOwner,
    flagSet: string | null = null,
  ): Client {
    const tokenOwner = owner ?? (res.req ? requestOwners.get(res.req) : undefined);
    const origin = res.req?.headers.origin;
    const cors: Record<string, string> =
      typeof origin === 'string' && this.corsOrigins.has(origin)
        ? { 'access-control-allow-origin': origin, vary: 'Origin' }
        : {};
    const client: Client = {
      res,
      environment,
      flagSet,
      kind,
      owner: tokenOwner,
      closed: false,
      peer: peerOf(res.req),
      lastRevision: undefined,
      deltas: false,
    };
    try {
      this.assertCapacity(tokenOwner);
    } catch (err) {
      const error = err as AppError;
      res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', ...cors });
      res.end(JSON.stringify(error.toJSON()));
      client.closed = true;
      return client;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers proxied responses unless told otherwise, which would hold events back.
      'x-accel-buffering': 'no',
      ...cors,
    });
    res.socket?.setNoDelay(true);
    if (res.req?.method === 'HEAD') {
      // HEAD: the headers are the whole answer (Node would hold them back until a body write that never comes).
      res.end();
      client.closed = true;
      return client;
    }
    res.write('retry: 1000\n\n');
    this.clients.add(client);
    if (tokenOwner) {
      let set = this.byToken.get(tokenOwner.tokenId);
      if (!set) {
        set = new Set();
        this.byToken.set(tokenOwner.tokenId, set);
      }
      set.add(client);
    }
    this.metrics.sseClients.inc({ environment, stream: kind });
    res.on('close', () => this.remove(client));
    return client;
  }

  /** Ends every stream opened with `tokenId` (its token was revoked); returns how many. */
  closeToken(tokenId: string): number {
    const set = this.byToken.get(tokenId);
    if (!set) return 0;
    const clients = [...set];
    for (const c of clients) {
      c.closed = true;
      c.res.end();
      this.remove(c);
    }
    return clients.length;
  }

  send(client: Client, frame: string): void {
    if (client.closed || client.res.writableEnded) return;
    if (client.res.writableLength > SseHub.MAX_BUFFERED_BYTES) {
      client.res.destroy();
      return;
    }
    client.res.write(frame);
  }

  /**
   * Sends each flag stream of `environment` limited to `flagSet` (null: the streams of the whole environment) its
   * kind's frame of `revision`. A set-limited stream gets only its set's frames, never the environment's.
   */
  publish(environment: string, flagSet: string | null, frames: ChangeFrames, revision: number): void {
    for (const c of this.clients) {
      if ((c.kind === 'sdk' || c.kind === 'ofrep') && c.environment === environment && c.flagSet === flagSet) {
        this.send(c, c.kind === 'ofrep' ? frames.ofrep : c.deltas ? frames.sdkDelta : frames.sdk);
        c.lastRevision = revision;
      }
    }
  }

  /** Every open stream with who is at the other end (for the clients view). */
  connections(): StreamConnection[] {
    return [...this.clients]
      .filter((c): c is Client & { kind: StreamConnection['kind'] } => c.kind !== 'admin')
      .map((c) => ({
        ...c.peer,
        kind: c.kind,
        environment: c.environment,
        flagSet: c.flagSet,
        tokenId: c.owner?.tokenId,
        lastRevision: c.lastRevision,
      }));
  }

  /** Sends one frame to every client of a stream kind, whatever its environment; returns how many got it. */
  broadcast(kind: StreamKind, frame: string): number {
    let count = 0;
    for (const c of this.clients) {
      if (c.kind !== kind) continue;
      this.send(c, frame);
      count++;
    }
    return count;
  }

  /** Connected clients of a stream kind. */
  count(kind: StreamKind): number {
    let n = 0;
    for (const c of this.clients) if (c.kind === kind) n++;
    return n;
  }

  private broadcastRaw(frame: string): void {
    for (const c of this.clients) this.send(c, frame);
  }

  private remove(client: Client): void {
    if (this.clients.delete(client)) {
      this.metrics.sseClients.dec({ environment: client.environment, stream: client.kind });
    }
    if (client.owner) {
      const set = this.byToken.get(client.owner.tokenId);
      if (set?.delete(client) && set.size === 0) this.byToken.delete(client.owner.tokenId);
    }
  }

  /**
   * Hands every stream over: sends each `finalFrame` (the `reconnect` frame) and ends it, and refuses streams from
   * then on. Returns how many streams were open.
   */
  drain(finalFrame: string): number {
    this.draining = true;
    const clients = [...this.clients];
    for (const c of clients) {
      this.send(c, finalFrame);
      c.closed = true;
      c.res.end();
      this.remove(c);
    }
    return clients.length;
  }

  close(): void {
    this.draining = true;
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.byToken.clear();
  }
}
