import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { openSseConnection, type SseMessage } from './sse-connection.js';

describe('openSseConnection', () => {
  let server: Server | undefined;
  after(() => server?.close());

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server?.close();
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  }

  it('parses events split across chunks, CRLF, multi-line data and comments, and sends headers', async () => {
    let seenHeaders: Record<string, unknown> = {};
    const url = await serve((req, res) => {
      seenHeaders = req.headers;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': hello\n\nid: 7\nevent: snap');
      setTimeout(() => res.write('shot\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: change\ndata: x\n\n'), 20);
      setTimeout(() => res.end(), 40);
    });
    const messages: SseMessage[] = [];
    const closed = new Promise<string>((resolve) => {
      openSseConnection(
        url,
        { authorization: 'Bearer t', 'last-event-id': '6' },
        { onOpen() {}, onMessage: (m) => messages.push(m), onClose: resolve },
        5000,
      );
    });
    assert.equal(await closed, 'stream ended');
    assert.deepEqual(messages, [
      { id: '7', event: 'snapshot', data: '{"a":\n1}' },
      { id: undefined, event: 'change', data: 'x' },
    ]);
    assert.equal(seenHeaders.authorization, 'Bearer t');
    assert.equal(seenHeaders['last-event-id'], '6');
  });

  it('reports a non-200 status and an idle connection', async () => {
    let url = await serve((_req, res) => {
      res.writeHead(401).end();
    });
    const status = await new Promise<number | undefined>((resolve) => {
      openSseConnection(url, {}, { onOpen() {}, onMessage() {}, onClose: (_r, s) => resolve(s) }, 5000);
    });
    assert.equal(status, 401);
    url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    const reason = await new Promise<string>((resolve) => {
      openSseConnection(url, {}, { onOpen() {}, onMessage() {}, onClose: resolve }, 100);
    });
    assert.match(reason, /no data for 100 ms/);
  });
});
