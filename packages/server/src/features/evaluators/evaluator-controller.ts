import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { etagOf, param, writeOptions } from '../http-util.js';
import { evaluatorSchemas as schemas } from './evaluator-schemas.js';

export async function evaluatorController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/evaluators', { schema: schemas.list }, async () => ({
    evaluators: Object.fromEntries((await rt.evaluators.list()).map((e) => [e.name, e.logic])),
  }));

  app.get('/evaluators/:name', { schema: schemas.get }, async (req, reply) => {
    const e = await rt.evaluators.get(param(req, 'name'));
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.put('/evaluators/:name', { schema: schemas.put }, async (req, reply) => {
    const e = await rt.evaluators.put(param(req, 'name'), req.body, req.actor!, writeOptions(req));
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.delete('/evaluators/:name', { schema: schemas.delete }, async (req, reply) => {
    await rt.evaluators.delete(param(req, 'name'), req.actor!, writeOptions(req));
    return reply.code(204).send();
  });
}
