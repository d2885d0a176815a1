import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { secretsSchemas as schemas } from './secrets-schemas.js';
import type { SecretsService } from './secrets-service.js';

/**
 * `/api/admin/secrets` (admin scope): status of every bundle, and rotations (start, progress, resume, rollback).
 * No route returns a value; a supplied value goes into the rotation and nowhere else.
 */
export async function secretsController(scope: FastifyInstance, { secrets }: { secrets: SecretsService }) {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  secrets.startMetricsRefresh();
  app.addHook('onClose', async () => secrets.close());

  app.get('/secrets', { schema: schemas.list }, async () => secrets.list());
  app.get('/secrets/:service/:bundle', { schema: schemas.get }, async (req) =>
    secrets.get(req.params.service, req.params.bundle),
  );
  app.put('/secrets/:service/:bundle', { schema: schemas.define }, async (req, reply) => {
    const { created, view } = await secrets.define(req.params.service, req.params.bundle, req.body);
    return reply.code(created ? 201 : 200).send(view);
  });
  app.delete('/secrets/:service/:bundle', { schema: schemas.undefine }, async (req, reply) => {
    await secrets.undefine(req.params.service, req.params.bundle);
    return reply.code(204).send();
  });
  app.post('/secrets/:service/:bundle/rotate', { schema: schemas.rotate }, async (req, reply) =>
    reply.code(202).send(await secrets.rotate(req.params.service, req.params.bundle, req.body ?? {}, req.actor!.name)),
  );
  app.get('/secrets/:service/:bundle/rotations', { schema: schemas.rotations }, async (req) =>
    secrets.rotations(req.params.service, req.params.bundle),
  );
  app.get('/secrets/:service/:bundle/rotations/:id', { schema: schemas.rotation }, async (req) =>
    secrets.rotation(req.params.service, req.params.bundle, req.params.id),
  );
  app.post('/secrets/:service/:bundle/rotations/:id/resume', { schema: schemas.resume }, async (req, reply) =>
    reply
      .code(202)
      .send(
        await secrets.resume(req.params.service, req.params.bundle, req.params.id, req.body ?? {}, req.actor!.name),
      ),
  );
  app.post('/secrets/:service/:bundle/rotations/:id/rollback', { schema: schemas.rollback }, async (req, reply) =>
    reply.code(202).send(await secrets.rollback(req.params.service, req.params.bundle, req.params.id, req.actor!.name)),
  );
}
