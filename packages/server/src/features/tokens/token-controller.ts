import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { tokenSchemas as schemas } from './token-schemas.js';
import type { TokenService } from './token-service.js';

export async function tokenController(scope: FastifyInstance, { tokens }: { tokens: TokenService }): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/tokens', { schema: schemas.create }, async (req, reply) =>
    reply.code(201).send(await tokens.create(req.body, req.actor!)),
  );
  app.get('/tokens', { schema: schemas.list }, async () => ({ tokens: await tokens.list() }));
  app.delete('/tokens/:id', { schema: schemas.revoke }, async (req, reply) => {
    await tokens.revoke(req.params.id, req.actor!);
    return reply.code(204).send();
  });
}
