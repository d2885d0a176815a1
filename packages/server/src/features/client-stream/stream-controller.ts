import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
import { streamSchemas as schemas } from './stream-schemas.js';

/** The in-process SDK endpoints: a flagd snapshot of the token's environment and its change stream. */
export async function streamController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/snapshot', { schema: schemas.snapshot }, async (req, reply) => {
    const view = rt.state.view(req.clientEnvironment!);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const etag = `"${view.etag}"`;
    reply.header('etag', etag).header('x-rc-revision', String(view.revision)).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/json').send(view.configJson);
  });

  app.get('/stream', { schema: schemas.stream }, (req, reply) => {
    const env = req.clientEnvironment!;
    if (!rt.state.view(env)) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const lastEventId = Number(req.headers['last-event-id']);
    const token = req.clientToken!;
    // Checked again synchronously before taking the reply over, so a revocation applied meanwhile is not missed.
    if (!rt.state.tokenByHash(token.hash)) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    rt.sse.openClientStream(reply, env, { tokenId: token.id }, lastEventId);
  });
}
