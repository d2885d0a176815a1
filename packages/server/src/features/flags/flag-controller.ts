import { isPlainObject } from '@runtime-control/core';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
import { param, sendFlag, writeOptions } from '../http-util.js';
import { flagSchemas as schemas } from './flag-schemas.js';
import type { EnvironmentPatch } from './flag-service.js';

const PATCH_FIELDS = new Set(['state', 'targeting', 'rollout', 'overrides']);

/** `/api/admin/flags…` — registered inside the admin scope, so every route requires an admin token. */
export async function flagController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/flags', { schema: schemas.list }, async () => {
    const flags = await rt.flags.list();
    // Stored flags this replica cannot load are listed apart, with why, so they can be fixed (PUT) or deleted.
    const broken = rt.state.brokenRecords();
    const response: Record<string, unknown> = {
      revision: rt.state.revision,
      flags: flags.filter((s) => !s.unreadable).map((s) => s.flag),
    };
    if (broken.length > 0) response.unloadable = broken;
    return response;
  });

  app.get('/flags/:key', { schema: schemas.get }, async (req, reply) =>
    sendFlag(reply, await rt.flags.get(param(req, 'key'))),
  );

  app.post('/flags', { schema: schemas.create }, async (req, reply) =>
    sendFlag(reply, await rt.flags.create(req.body, req.actor!), 201),
  );

  app.put('/flags/:key', { schema: schemas.replace }, async (req, reply) =>
    sendFlag(reply, await rt.flags.replace(param(req, 'key'), req.body, req.actor!, writeOptions(req))),
  );

  app.delete('/flags/:key', { schema: schemas.delete }, async (req, reply) => {
    await rt.flags.delete(param(req, 'key'), req.actor!, writeOptions(req));
    return reply.code(204).send();
  });

  app.patch('/flags/:key/environments/:env', { schema: schemas.patchEnvironment }, async (req, reply) => {
    const body = req.body;
    if (!isPlainObject(body) || Object.keys(body).length === 0) {
      throw new AppError(
        'VALIDATION_FAILED',
        'body must be an object with any of state, targeting, rollout, overrides',
        {
          path: '',
        },
      );
    }
    const unknown = Object.keys(body).filter((k) => !PATCH_FIELDS.has(k));
    if (unknown.length > 0) {
      throw new AppError('VALIDATION_FAILED', `unknown property "${unknown[0]}"`, {
        details: unknown.map((k) => ({ path: `/${k}`, code: 'UNKNOWN_PROPERTY', message: `unknown property "${k}"` })),
      });
    }
    const stored = await rt.flags.patchEnvironment(
      param(req, 'key'),
      param(req, 'env'),
      body as EnvironmentPatch,
      req.actor!,
      writeOptions(req),
    );
    return sendFlag(reply, stored);
  });

  app.put(
    '/flags/:key/environments/:env/overrides/:targetingKey',
    { schema: schemas.setOverride },
    async (req, reply) => {
      const body = req.body;
      if (!isPlainObject(body) || typeof body.variant !== 'string') {
        throw new AppError('VALIDATION_FAILED', 'body must be {"variant": "<variant name>"}', { path: '/variant' });
      }
      const stored = await rt.flags.setOverride(
        param(req, 'key'),
        param(req, 'env'),
        param(req, 'targetingKey'),
        body.variant,
        req.actor!,
        writeOptions(req),
      );
      return sendFlag(reply, stored);
    },
  );

  app.delete(
    '/flags/:key/environments/:env/overrides/:targetingKey',
    { schema: schemas.removeOverride },
    async (req, reply) => {
      const stored = await rt.flags.setOverride(
        param(req, 'key'),
        param(req, 'env'),
        param(req, 'targetingKey'),
        undefined,
        req.actor!,
        writeOptions(req),
      );
      return sendFlag(reply, stored);
    },
  );

  app.get('/environments', { schema: schemas.environments }, async () => ({ environments: rt.config.environments }));
}
