import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Streams } from '../../streams/streams.js';
import { selectedFlagSet } from './selector.js';
import { streamSchemas as schemas } from './stream-schemas.js';

/** The in-process SDK endpoints: a flagd snapshot of the token's environment and its change stream. */
export interface ClientStreamRouteDeps {
  state: Pick<ReplicaState, 'view' | 'tokenByHash'>;
  sse: Pick<Streams, 'openClientStream'>;
}

export async function streamController(scope: FastifyInstance, deps: ClientStreamRouteDeps): Promise<void> {
  const { state, sse } = deps;
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  // Registered untyped: the snapshot goes out as the JSON text computed once per revision, not as an object to
  // serialize per request. The route schema has checked `selector`.
  scope.get('/snapshot', { schema: schemas.snapshot }, async (req, reply) => {
    const { selector } = req.query as { selector?: string };
    const view = state.view(req.clientEnvironment!, selectedFlagSet(req.clientFlagSet, selector));
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const etag = `"${view.etag}"`;
    reply.header('etag', etag).header('x-rc-revision', String(view.revision)).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/json').send(view.configJson);
  });

  app.get('/stream', { schema: schemas.stream }, (req, reply) => {
    const env = req.clientEnvironment!;
    if (!state.view(env)) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const lastEventId = Number(req.headers['last-event-id']);
    const token = req.clientToken!;
    // Checked again synchronously before taking the reply over, so a revocation applied meanwhile is not missed.
    if (!state.tokenByHash(token.hash)) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    const deltas = req.query.format === 'delta';
    const flagSet = selectedFlagSet(req.clientFlagSet, req.query.selector);
    sse.openClientStream(reply, env, { tokenId: token.id }, lastEventId, flagSet, deltas);
  });
}
