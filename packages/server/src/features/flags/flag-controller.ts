import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ReplicaState } from '../../state/replica-state.js';
import { sendFlag, writeOptions } from '../http-util.js';
import { flagSchemas as schemas } from './flag-schemas.js';
import type { EnvironmentPatch, FlagService } from './flag-service.js';

/** `/api/admin/flags…` — registered inside the admin scope, so every route requires an admin token. */
export interface FlagRouteDeps {
  flags: FlagService;
  /** For the list: the revision it reflects and the stored flags this replica could not load. */
  state: Pick<ReplicaState, 'revision' | 'brokenRecords'>;
  environments: readonly string[];
}

export async function flagController(scope: FastifyInstance, deps: FlagRouteDeps): Promise<void> {
  const { flags, state, environments } = deps;
  // Typed from the route schemas: params, query and body as declared in flag-schemas.ts.
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/flags', { schema: schemas.list }, async () => {
    const stored = await flags.list();
    // Stored flags this replica cannot load are listed apart, with why, so they can be fixed (PUT) or deleted.
    const broken = state.brokenRecords();
    const listed = { revision: state.revision, flags: stored.filter((s) => !s.unreadable).map((s) => s.flag) };
    return broken.length > 0 ? { ...listed, unloadable: broken } : listed;
  });

  app.get('/flags/:key', { schema: schemas.get }, async (req, reply) =>
    sendFlag(reply, await flags.get(req.params.key)),
  );

  app.post('/flags', { schema: schemas.create }, async (req, reply) =>
    sendFlag(reply, await flags.create(req.body, req.actor!), 201),
  );

  // Its own path, not under /flags/{key}: no flag key can ever be taken for it.
  app.post('/flag-batches', { schema: schemas.createMany }, async (req) =>
    flags.createMany(req.body.flags as unknown[], req.actor!),
  );

  app.put('/flags/:key', { schema: schemas.replace }, async (req, reply) =>
    sendFlag(reply, await flags.replace(req.params.key, req.body, req.actor!, writeOptions(req))),
  );

  app.post('/flags/:key/revert', { schema: schemas.revert }, async (req, reply) =>
    sendFlag(reply, await flags.revert(req.params.key, req.body.revision, req.actor!, writeOptions(req))),
  );

  app.delete('/flags/:key', { schema: schemas.delete }, async (req, reply) => {
    await flags.delete(req.params.key, req.actor!, writeOptions(req));
    return reply.code(204).send();
  });

  app.patch('/flags/:key/environments/:env', { schema: schemas.patchEnvironment }, async (req, reply) => {
    // Shape (an object with some of state, targeting, rollout, overrides) checked by its schema; values by core.
    const stored = await flags.patchEnvironment(
      req.params.key,
      req.params.env,
      req.body as EnvironmentPatch,
      req.actor!,
      writeOptions(req),
    );
    return sendFlag(reply, stored);
  });

  app.put(
    '/flags/:key/environments/:env/overrides/:targetingKey',
    { schema: schemas.setOverride },
    async (req, reply) => {
      const stored = await flags.setOverride(
        req.params.key,
        req.params.env,
        req.params.targetingKey,
        req.body.variant,
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
      const stored = await flags.setOverride(
        req.params.key,
        req.params.env,
        req.params.targetingKey,
        undefined,
        req.actor!,
        writeOptions(req),
      );
      return sendFlag(reply, stored);
    },
  );

  app.get('/environments', { schema: schemas.environments }, async () => ({
    environments: [...environments],
  }));
}
