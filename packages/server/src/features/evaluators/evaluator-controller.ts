import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { etagOf, writeOptions } from '../http-util.js';
import { evaluatorSchemas as schemas } from './evaluator-schemas.js';
import type { EvaluatorService } from './evaluator-service.js';

export async function evaluatorController(
  scope: FastifyInstance,
  { evaluators }: { evaluators: EvaluatorService },
): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/evaluators', { schema: schemas.list }, async () => ({
    evaluators: Object.fromEntries((await evaluators.list()).map((e) => [e.name, e.logic])),
  }));

  app.get('/evaluators/:name', { schema: schemas.get }, async (req, reply) => {
    const e = await evaluators.get(req.params.name);
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.put('/evaluators/:name', { schema: schemas.put }, async (req, reply) => {
    const e = await evaluators.put(req.params.name, req.body, req.actor!, writeOptions(req));
    return reply.header('etag', etagOf(e.revision)).send(e.logic);
  });

  app.delete('/evaluators/:name', { schema: schemas.delete }, async (req, reply) => {
    await evaluators.delete(req.params.name, req.actor!, writeOptions(req));
    return reply.code(204).send();
  });
}
