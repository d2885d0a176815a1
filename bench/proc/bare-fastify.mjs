// Anchor server: bare Fastify (the version the server uses), no logger, no auth, no evaluation. Its routes answer
// a constant JSON object (serialized by Fastify per request, like a real route) captured from our server's
// response to the same request, so the bytes on the wire are the same. Usage: node bare-fastify.mjs <port>
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const single = JSON.parse(process.env.BARE_SINGLE_BODY ?? '{"key":"k","value":true,"variant":"on","reason":"STATIC"}');
const bulk = JSON.parse(process.env.BARE_BULK_BODY ?? '{"flags":[]}');
const app = Fastify({ logger: false });
app.post('/ofrep/v1/evaluate/flags/:key', async () => single);
app.post('/ofrep/v1/evaluate/flags', async () => bulk);
app.get('/health/ready', async () => ({ status: 'ok' }));
await app.listen({ port, host: '127.0.0.1' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.close().then(() => process.exit(0)));
process.on('disconnect', () => process.exit(0));
