import type { FastifyInstance } from 'fastify';
import type { Streams } from '../../streams/streams.js';
import { adminStreamSchemas as schemas } from './admin-stream-schemas.js';

/**
 * `GET /api/admin/stream` (admin scope): the console's live view. Each replica applies every change (its own writes,
 * other replicas' over the bus or the store), so a console connected to any replica sees a change made anywhere —
 * by the CLI, another tab or another replica — as soon as that replica has applied it.
 */
export async function adminStreamController(
  scope: FastifyInstance,
  { sse }: { sse: Pick<Streams, 'openAdminStream'> },
) {
  scope.get('/stream', { schema: schemas.stream }, (req, reply) => {
    sse.openAdminStream(reply, req.adminTokenId === undefined ? undefined : { tokenId: req.adminTokenId });
  });
}
