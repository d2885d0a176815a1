// Anchor: a minimal plain `node:http` SSE broadcaster. GET /stream → SSE (a `snapshot` event first); POST /broadcast
// → writes one `change` frame (same shape and size as our server's: revision, changed keys, the flagd config) to every
// client, then answers with `ETag: "<revision>"`, as our PATCH does. Usage: node sse-anchor-server.mjs <port>
// with ANCHOR_CONFIG_JSON = the flagd configuration to embed.
import http from 'node:http';

const port = Number(process.argv[2]);
const config = process.env.ANCHOR_CONFIG_JSON ?? '{"flags":{}}';
const clients = new Set();
let revision = 100;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/stream')) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.socket.setNoDelay(true);
    res.write(`retry: 1000\n\nid: ${revision}\nevent: snapshot\ndata: ${config}\n\n`);
    clients.add(res);
    res.on('close', () => clients.delete(res));
  } else if (req.method === 'POST' && req.url === '/broadcast') {
    req.resume();
    req.on('end', () => {
      revision++;
      const frame = `id: ${revision}\nevent: change\ndata: {"revision":${revision},"changed":["new-ui-enabled"],"config":${config}}\n\n`;
      for (const c of clients) c.write(frame);
      res.writeHead(200, { etag: `"${revision}"`, 'content-type': 'application/json' });
      res.end(`{"revision":${revision}}`);
    });
  } else if (req.url === '/health/ready') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(port, '127.0.0.1');
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
process.on('disconnect', () => process.exit(0));
