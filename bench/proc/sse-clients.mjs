// A group of SSE clients in one process. Each client records, per counted event (`change` unless the connect message
// names others, e.g. `delta`), the time its frame was complete (wall clock, comparable across processes) and the
// frame's size in bytes as it came over the wire: `{ [id]: ms }`, `{ [id]: bytes }`.
import http from 'node:http';
import { now, serve, sleep } from '../lib.mjs';

const clients = [];
let unexpectedCloses = 0;
let closing = false;

function open(url, headers, timeoutMs, events) {
  return new Promise((resolveOpen, reject) => {
    const client = { received: new Map(), bytes: new Map(), buf: '', ready: false, res: undefined };
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no first event within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      client.res = res;
      res.socket.setNoDelay(true);
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const t = now();
        client.buf += chunk;
        let end = client.buf.indexOf('\n\n');
        while (end >= 0) {
          const frame = client.buf.slice(0, end);
          client.buf = client.buf.slice(end + 2);
          let id;
          let event;
          // Only the head of a frame matters (id, event); data can be long.
          for (const line of frame.slice(0, 200).split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
          }
          if (events.includes(event) && id !== undefined && !client.received.has(id)) {
            client.received.set(id, t);
            // + 2: the blank line that ends the frame.
            client.bytes.set(id, Buffer.byteLength(frame) + 2);
          }
          if (event && !client.ready) {
            client.ready = true;
            clearTimeout(timer);
            resolveOpen(client);
          }
          end = client.buf.indexOf('\n\n');
        }
      });
      res.on('close', () => {
        if (!closing) unexpectedCloses++;
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!client.ready) reject(err);
      else if (!closing) unexpectedCloses++;
    });
    client.req = req;
  });
}

serve({
  /** { url, headers, count, concurrency, events? } → { connected, failed, firstError } */
  async connect(m) {
    let failed = 0;
    let firstError;
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < m.count) {
        nextIndex++;
        try {
          clients.push(await open(m.url, m.headers, m.openTimeoutMs ?? 15_000, m.events ?? ['change']));
        } catch (err) {
          failed++;
          firstError ??= err.message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(m.concurrency, m.count) }, worker));
    return { connected: clients.length, failed, firstError };
  },
  /** Waits (bounded) until every client has every id in `ids`; returns per-client receive times and frame sizes. */
  async collect(m) {
    const deadline = now() + m.waitMs;
    const complete = () => clients.every((c) => m.ids.every((id) => c.received.has(id)));
    while (!complete() && now() < deadline) await sleep(20);
    return {
      clients: clients.map((c) =>
        Object.fromEntries(m.ids.filter((id) => c.received.has(id)).map((id) => [id, c.received.get(id)])),
      ),
      bytes: clients.map((c) =>
        Object.fromEntries(m.ids.filter((id) => c.bytes.has(id)).map((id) => [id, c.bytes.get(id)])),
      ),
      unexpectedCloses,
    };
  },
  async close() {
    closing = true;
    for (const c of clients) c.req.destroy();
    return { closed: clients.length };
  },
});
