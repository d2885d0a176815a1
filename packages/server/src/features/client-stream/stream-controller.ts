import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
import { sseFrame } from './sse-hub.js';

/** The in-process SDK endpoints: a flagd snapshot of the token's environment and its change stream. */
export async function streamController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/snapshot', async (req, reply) => {
    const view = rt.state.view(req.clientEnvironment!);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const etag = `"${view.etag}"`;
    reply.header('etag', etag).header('x-rc-revision', String(view.revision)).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/json').send(view.configJson);
  });

  app.get('/stream', (req, reply) => {
    const env = req.clientEnvironment!;
    const view = rt.state.view(env);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const lastEventId = Number(req.headers['last-event-id']);
    const token = req.clientToken!;
    // Checked again synchronously before taking the reply over, so a revocation applied meanwhile is not missed.
    if (!rt.state.tokenByHash(token.hash)) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    const owner = { tokenId: token.id };
    rt.sse.assertCapacity(owner);
    reply.hijack();
    const client = rt.sse.open(reply.raw, env, 'sdk', owner);
    const resumeKeys =
      Number.isInteger(lastEventId) && lastEventId >= 0 ? rt.state.changedSince(env, lastEventId) : undefined;
    if (resumeKeys === undefined) {
      rt.sse.send(client, sseFrame('snapshot', view.configJson, rt.state.revision));
    } else if (resumeKeys.length > 0) {
      rt.sse.send(client, changeFrame(view.revision, resumeKeys, view.configJson));
    } else {
      // Up to date: confirm where the client stands so it knows the stream is live.
      rt.sse.send(client, sseFrame('ready', JSON.stringify({ revision: Math.max(lastEventId, view.revision) })));
    }
  });
}

export function changeFrame(revision: number, changed: string[], configJson: string): string {
  return sseFrame(
    'change',
    `{"revision":${revision},"changed":${JSON.stringify(changed)},"config":${configJson}}`,
    revision,
  );
}
