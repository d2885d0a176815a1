import type { ServerResponse } from 'node:http';
import type { ServerMetrics } from '../../metrics/metrics.js';
import type { EnvironmentChange } from '../../state/replica-state.js';

/** Streams that carry flag changes of one environment. */
export type FlagStreamKind = 'sdk' | 'ofrep';
/** `unleash`: refresh hints for UnleashProviders (features/unleash-bridge), not tied to our flag changes. */
export type StreamKind = FlagStreamKind | 'unleash';

interface Client {
  res: ServerResponse;
  environment: string;
  kind: StreamKind;
}

/**
 * Fan-out of environment changes to connected SSE clients. Each event is serialized once per environment and
 * written to every socket; a client whose socket buffer is full is dropped (it reconnects and resumes) rather than
 * let one slow reader hold memory for everyone.
 */
export class SseHub {
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private static readonly MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

  constructor(
    private readonly metrics: ServerMetrics,
    heartbeatMs: number,
  ) {
    this.heartbeat = setInterval(() => this.broadcastRaw(': heartbeat\n\n'), heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over the response: writes SSE headers and keeps the socket until the client leaves or the hub closes. */
  open(res: ServerResponse, environment: string, kind: StreamKind, origin?: string): Client {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers proxied responses unless told otherwise, which would hold events back.
      'x-accel-buffering': 'no',
      ...(origin ? { 'access-control-allow-origin': origin } : {}),
    });
    res.socket?.setNoDelay(true);
    res.write('retry: 1000\n\n');
    const client: Client = { res, environment, kind };
    this.clients.add(client);
    this.metrics.sseClients.inc({ environment, stream: kind });
    res.on('close', () => this.remove(client));
    return client;
  }

  send(client: Client, frame: string): void {
    if (client.res.writableLength > SseHub.MAX_BUFFERED_BYTES) {
      client.res.destroy();
      return;
    }
    client.res.write(frame);
  }

  publish(change: EnvironmentChange, frames: Record<FlagStreamKind, string>): void {
    for (const c of this.clients) {
      if (c.kind !== 'unleash' && c.environment === change.environment) this.send(c, frames[c.kind]);
    }
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
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}

/** One SSE frame. `data` must not contain newlines (JSON.stringify output never does). */
export function sseFrame(event: string, data: string, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`;
}
