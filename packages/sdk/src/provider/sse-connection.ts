import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseConnectionHandlers {
  onOpen(): void;
  onMessage(message: SseMessage): void;
  /** The connection failed or ended; `status` is set when the server answered with a non-200. */
  onClose(reason: string, status?: number): void;
}

export interface SseConnection {
  close(): void;
}

/**
 * One server-sent-event connection over node:http (no EventSource dependency, headers allowed), parsed by
 * `eventsource-parser`. It never reconnects by itself: the provider owns the retry policy.
 */
export function openSseConnection(
  url: string,
  headers: Record<string, string>,
  handlers: SseConnectionHandlers,
  idleTimeoutMs: number,
): SseConnection {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  let closed = false;
  let req: ClientRequest | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const finish = (reason: string, status?: number) => {
    if (closed) return;
    closed = true;
    clearTimeout(idleTimer);
    req?.destroy();
    handlers.onClose(reason, status);
  };
  // The server sends heartbeats; silence longer than this means a dead connection that TCP has not noticed.
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => finish(`no data for ${idleTimeoutMs} ms`), idleTimeoutMs);
    idleTimer.unref();
  };
  req = request(
    target,
    { method: 'GET', headers: { accept: 'text/event-stream', ...headers } },
    (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(`server answered ${res.statusCode}`, res.statusCode);
        return;
      }
      handlers.onOpen();
      touch();
      res.setEncoding('utf8');
      // Fields, multi-line data, comments and CR/LF/CRLF line ends (split across chunks too), as the HTML spec says.
      const parser = createParser({
        onEvent: (e) => handlers.onMessage({ id: e.id, event: e.event ?? 'message', data: e.data }),
      });
      res.on('data', (chunk: string) => {
        touch();
        parser.feed(chunk);
      });
      res.on('end', () => finish('stream ended'));
      res.on('error', (err) => finish(err.message));
    },
  );
  req.on('error', (err) => finish(err.message));
  req.end();
  return { close: () => finish('closed') };
}
