import { serviceNameIssue } from '@runtime-control/traffic/canary';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { param } from '../http-util.js';
import { canarySchemas as schemas } from './canary-schemas.js';
import type { CanaryService } from './canary-service.js';

/** `/api/admin/canaries`: start, list, status with decisions, and pause/resume/promote/abort. */
export async function canaryController(app: FastifyInstance, { canaries }: { canaries: CanaryService }): Promise<void> {
  canaries.open();
  app.addHook('onClose', async () => canaries.close());

  const service = (req: Parameters<typeof param>[0]): string => {
    const name = param(req, 'service');
    const problem = serviceNameIssue(name);
    if (problem) throw new AppError('VALIDATION_FAILED', problem.message, { path: 'service' });
    return name;
  };

  app.post('/canaries', { schema: schemas.start }, async (req, reply) =>
    reply.code(201).send(await canaries.start(req.body, req.actor!)),
  );
  app.get('/canaries', { schema: schemas.list }, async () => ({ canaries: await canaries.list() }));
  app.get('/canaries/:service', { schema: schemas.get }, async (req) => canaries.get(service(req)));
  app.post('/canaries/:service/promote', { schema: schemas.promote }, async (req) => {
    const query = req.query as Record<string, unknown>;
    for (const key of Object.keys(query)) {
      if (key !== 'full') throw new AppError('VALIDATION_FAILED', `unknown query parameter "${key}"`, { path: key });
    }
    const full = query.full;
    if (full !== undefined && full !== 'true' && full !== 'false') {
      throw new AppError('VALIDATION_FAILED', 'full must be true or false', { path: 'full' });
    }
    return canaries.command(service(req), 'promote', req.actor!, { full: full === 'true' });
  });
  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(`/canaries/:service/${action}`, { schema: schemas[action] }, async (req) =>
      canaries.command(service(req), action, req.actor!),
    );
  }
}
