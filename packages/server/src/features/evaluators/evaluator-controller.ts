import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { etagOf, writeOptions } from '../http-util.js';
import { evaluatorSchemas as schemas } from './evaluator-schemas.js';

export async function evaluatorController(scope: FastifyInstance, rt: Runtime): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/evaluators', { schema: schemas.list }, async () => ({
    evaluators: Object.fromEntries((await rt.evaluators.list()).map((e) => [e.name, e.logic])),
  }));

  app.get('/evaluators/:name', { schema: schemas.get }, async (req, reply) => {
    const e = await rt.evaluators.get(req.params.name);
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.put('/evaluators/:name', { schema: schemas.put }, async (req, reply) => {
    const e = await rt.evaluators.put(req.params.name, req.body, req.actor!, writeOptions(req));
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.delete('/evaluators/:name', { schema: schemas.delete }, async (req, reply) => {
    await rt.evaluators.delete(req.params.name, req.actor!, writeOptions(req));
    return reply.code(204).send();
  });
}
