import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { param } from '../http-util.js';
import { tokenSchemas as schemas } from './token-schemas.js';

export async function tokenController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.post('/tokens', { schema: schemas.create }, async (req, reply) =>
    reply.code(201).send(await rt.tokens.create(req.body, req.actor!)),
  );
  app.get('/tokens', { schema: schemas.list }, async () => ({ tokens: await rt.tokens.list() }));
  app.delete('/tokens/:id', { schema: schemas.revoke }, async (req, reply) => {
    await rt.tokens.revoke(param(req, 'id'), req.actor!);
    return reply.code(204).send();
  });
}
