import { serviceNameIssue } from '@runtime-control/traffic/canary';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
import { param } from '../http-util.js';
import { canarySchemas as schemas } from './canary-schemas.js';

/** `/api/admin/canaries`: start, list, status with decisions, and pause/resume/promote/abort. */
export async function canaryController(app: FastifyInstance, rt: Runtime): Promise<void> {
  rt.canaries.open();
  app.addHook('onClose', async () => rt.canaries.close());

  const service = (req: Parameters<typeof param>[0]): string => {
    const name = param(req, 'service');
    const problem = serviceNameIssue(name);
    if (problem) throw new AppError('VALIDATION_FAILED', problem.message, { path: 'service' });
    return name;
  };

  app.post('/canaries', { schema: schemas.start }, async (req, reply) =>
    reply.code(201).send(await rt.canaries.start(req.body, req.actor!)),
  );
  app.get('/canaries', { schema: schemas.list }, async () => ({ canaries: await rt.canaries.list() }));
  app.get('/canaries/:service', { schema: schemas.get }, async (req) => rt.canaries.get(service(req)));
  for (const action of ['pause', 'resume', 'promote', 'abort'] as const) {
    app.post(`/canaries/:service/${action}`, { schema: schemas[action] }, async (req) =>
      rt.canaries.command(service(req), action, req.actor!),
    );
  }
}
