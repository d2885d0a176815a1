import { type ClientRequest, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/** One dispatched server-sent event. */
export interface SseEvent {
  /** The `id:` field of this event's block, if it had one (the stream's last event id is `SseClient.lastEventId`). */
  id?: string;
  /** The `event:` field, or `message` when the block had none (as EventSource does). */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** Epoch milliseconds (sub-millisecond precision) when the event was parsed; for latency measurements. */
  receivedAt: number;
}

export interface OpenSseOptions {
  headers?: Record<string, string>;
  /** Sent as `Last-Event-ID` to resume a stream. */
  lastEventId?: string | number;
  /** How long to wait for the response headers (default 5000 ms). */
  connectTimeoutMs?: number;
}

export interface WaitForOptions {
  /** Only consider events at this index of `events` and later (default 0: events already received count too). */
  fromIndex?: number;
}

export interface SseClient {
  readonly url: string;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every dispatched event, in order. */
  readonly events: SseEvent[];
  /** Comment lines (`: heartbeat`) received. */
  readonly comments: number;
  /** The stream's last event id (EventSource semantics: persists across events without an `id:` field). */
  readonly lastEventId: string;
  /** The `retry:` value the server last sent, if any. */
  readonly retryMs: number | undefined;
  /** True once the stream ended, failed or was closed. */
  readonly closed: boolean;
  /** Why the stream ended, if the server ended it or the connection failed. */
  readonly closeReason: string | undefined;
  /** Resolves with the first event (from `fromIndex`) matching `predicate`; rejects on timeout or stream end. */
  waitFor(predicate: (e: SseEvent) => boolean, timeoutMs?: number, options?: WaitForOptions): Promise<SseEvent>;
  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  onEvent(listener: (e: SseEvent) => void): () => void;
  close(): void;
}

/**
 * Parses `event.data` as JSON (every event of this server carries JSON). This client knows the SSE wire format only;
 * the frame types (`ChangeFrameData`, `OfrepRefetchFrameData`, …) are declared in `@runtime-control/core`
 * (stream-frames.ts) and given as `T` by the tests, which may import core: testkit itself imports no workspace
 * package.
 */
export function eventJson<T = Record<string, unknown>>(e: SseEvent): T {
  return JSON.parse(e.data) as T;
}

function describeEvent(e: SseEvent): string {
  const data = e.data.length > 160 ? `${e.data.slice(0, 160)}…` : e.data;
  return `  ${e.id !== undefined ? `id=${e.id} ` : ''}event=${e.event} data=${data}`;
}

/**
 * A small server-sent-events client over `node:http` for tests and the benchmark: `eventsource-parser` parses the
 * stream as the HTML spec describes (fields, multi-line data, comments, CR/LF/CRLF line ends, a leading BOM) and
 * the client keeps everything it saw.
 * Resolves once the response headers arrived with status 200; rejects with the status and body otherwise.
 */
export function openSse(url: string, options: OpenSseOptions = {}): Promise<SseClient> {
  const target = new URL(url);
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<SseClient>((resolve, reject) => {
    // A dedicated connection per stream: the global keep-alive agent must not hand this socket to anyone else.
    const req: ClientRequest = request(target, { method: 'GET', headers, agent: false });
    const connectTimer = setTimeout(() => {
      req.destroy(new Error(`no response from ${url} within ${options.connectTimeoutMs ?? 5000} ms`));
    }, options.connectTimeoutMs ?? 5000);

    req.on('error', (err) => {
      clearTimeout(connectTimer);
      reject(new Error(`SSE request to ${url} failed: ${err.message}`));
    });

    req.on('response', (res: IncomingMessage) => {
      clearTimeout(connectTimer);
      res.setEncoding('utf8');
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        let body = '';
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => reject(new Error(`SSE ${url} answered ${status}: ${body.slice(0, 500)}`)));
        res.on('error', () => reject(new Error(`SSE ${url} answered ${status}`)));
        return;
      }
      resolve(new StreamClient(url, req, res));
    });
    req.end();
  });
}

interface Waiter {
  predicate: (e: SseEvent) => boolean;
  fromIndex: number;
  resolve: (e: SseEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class StreamClient implements SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  lastEventId = '';
  retryMs: number | undefined;
  closed = false;
  closeReason: string | undefined;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  private readonly parser: EventSourceParser = createParser({
    onEvent: (message) => this.dispatch(message),
    onComment: () => {
      this.comments += 1;
    },
    onRetry: (ms) => {
      this.retryMs = ms;
    },
  });
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(e: SseEvent) => void>();

  constructor(
    readonly url: string,
    private readonly req: ClientRequest,
    private readonly res: IncomingMessage,
  ) {
    this.status = res.statusCode ?? 0;
    this.headers = res.headers;
    res.on('data', (chunk: string) => this.parser.feed(chunk));
    res.on('end', () => this.finish('the server ended the stream'));
    res.on('error', (err) => this.finish(`stream error: ${err.message}`));
    res.on('close', () => this.finish('the connection closed'));
  }

  waitFor(predicate: (e: SseEvent) => boolean, timeoutMs = 5000, options: WaitForOptions = {}): Promise<SseEvent> {
    const fromIndex = options.fromIndex ?? 0;
    let seen: SseEvent | undefined;
    try {
      seen = this.events.slice(fromIndex).find(predicate);
    } catch (err) {
      return Promise.reject(err);
    }
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(this.failure(`stream closed (${this.closeReason})`, fromIndex));
    return new Promise<SseEvent>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        fromIndex,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.failure(`no matching event within ${timeoutMs} ms`, fromIndex));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  onEvent(listener: (e: SseEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.finish('closed by the client');
    this.res.destroy();
    this.req.destroy();
  }

  private failure(why: string, fromIndex: number): Error {
    const seen = this.events.slice(fromIndex);
    const list = seen.length > 0 ? seen.map(describeEvent).join('\n') : '  (none)';
    return new Error(
      `SSE ${this.url}: ${why}; ${seen.length} event(s) seen${fromIndex > 0 ? ` from index ${fromIndex}` : ''}, ` +
        `${this.comments} comment(s):\n${list}`,
    );
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.failure(`stream closed before a matching event (${reason})`, w.fromIndex));
    }
    this.waiters.clear();
  }

  private dispatch(message: EventSourceMessage): void {
    const event: SseEvent = {
      event: message.event ?? 'message',
      data: message.data,
      receivedAt: performance.timeOrigin + performance.now(),
    };
    if (message.id !== undefined) {
      event.id = message.id;
      this.lastEventId = message.id;
    }
    this.events.push(event);
    for (const l of this.listeners) l(event);
    const index = this.events.length - 1;
    for (const w of this.waiters) {
      if (index < w.fromIndex) continue;
      let matched: boolean;
      try {
        matched = w.predicate(event);
      } catch (err) {
        // A predicate that throws (e.g. JSON.parse of an unexpected event) fails its own wait, not the stream.
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.reject(new Error(`SSE ${this.url}: waitFor predicate threw on ${describeEvent(event).trim()}: ${err}`));
        continue;
      }
      if (matched) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(event);
      }
    }
  }
}
