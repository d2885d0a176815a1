import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { param } from '../http-util.js';

export async function tokenController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.post('/tokens', async (req, reply) => reply.code(201).send(await rt.tokens.create(req.body, req.actor!)));
  app.get('/tokens', async () => ({ tokens: await rt.tokens.list() }));
  app.delete('/tokens/:id', async (req, reply) => {
    await rt.tokens.revoke(param(req, 'id'), req.actor!);
    return reply.code(204).send();
  });
}
