import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchema } from 'fastify';
import { adminGuard, clientGuard } from './auth/auth-hooks.js';
import { mapError } from './errors/error-mapper.js';
import { adminStreamController } from './features/admin-stream/admin-stream-controller.js';
import { auditController } from './features/audit/audit-controller.js';
import { canaryController } from './features/canaries/canary-controller.js';
import { streamController } from './features/client-stream/stream-controller.js';
import { clientsController } from './features/clients/clients-controller.js';
import { consolePlugin } from './features/console/console-plugin.js';
import { debugController } from './features/debug/debug-controller.js';
import { evaluatorController } from './features/evaluators/evaluator-controller.js';
import { flagController } from './features/flags/flag-controller.js';
import { healthController } from './features/health/health-controller.js';
import { ofrepController } from './features/ofrep/ofrep-controller.js';
import { indexRouteSchema, registerOpenApi, serveOpenApi } from './features/openapi/openapi-document.js';
import { schemaFileController } from './features/schemas/schema-file-controller.js';
import { secretsController } from './features/secrets/secrets-controller.js';
import { tokenController } from './features/tokens/token-controller.js';
import { unleashBridgeController } from './features/unleash-bridge/unleash-bridge-controller.js';
import { parseJsonBody } from './http/json-input.js';
import { installRequestHooks, notFoundHandler } from './http/request-hooks.js';
import { RequestLogController, withLazyRequestLoggers } from './http/request-logger.js';
import type { Runtime } from './runtime.js';
import { compileValidator } from './schemas/validation.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/**
 * Builds the HTTP app over a runtime. It never listens: `startServer` does, and tests call `app.inject`.
 * Closing the app closes the runtime (timers, streams, bus, store).
 */
declare module 'fastify' {
  interface FastifyInstance {
    routeList: { method: string; url: string; schema?: FastifySchema }[];
  }
}

const CORS_ALLOWED_HEADERS =
  'Authorization, Content-Type, X-API-Key, If-None-Match, If-Match, Last-Event-ID, X-RC-Actor';

export async function buildApp(rt: Runtime): Promise<FastifyInstance> {
  const app = Fastify({
    // Request loggers made only when something is logged (http/request-logger.ts).
    loggerInstance: withLazyRequestLoggers(rt.logger as FastifyBaseLogger),
    logController: new RequestLogController(rt.logger as FastifyBaseLogger),
    bodyLimit: rt.config.bodyLimitBytes,
    return503OnClosing: true,
    // Closing ends idle keep-alive connections at once and lets requests in flight finish (streams are handed over
    // in preClose below; RC_SHUTDOWN_TIMEOUT_MS bounds the rest).
    forceCloseConnections: 'idle',
  });

  // Our own JSON parser (http/json-input.ts): empty body is no body, `__proto__` keys refused, depth, string and
  // number limits checked once here so nothing behind it meets input it cannot handle.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(String(body)));
    } catch (err) {
      done(err as Error);
    }
  });
  // Every route's parameter check and request-duration metric (http/request-hooks.ts says why per route).
  installRequestHooks(app, rt.metrics.httpDuration);
  app.setErrorHandler((err, req, reply) => mapError(err, req, reply));
  // Route schemas (features/*/*-schemas.ts) validate without changing the input; shape errors reach mapError.
  app.setValidatorCompiler(compileValidator);
  await registerOpenApi(app, version);
  // Every route's method, URL and schema, so tests can check that no route goes without schemas or documentation.
  const routes: { method: string; url: string; schema?: FastifySchema }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: r.url, schema: r.schema });
  });
  app.decorate('routeList', routes);
  app.setNotFoundHandler(notFoundHandler(rt.metrics.httpDuration));

  // CORS: only origins listed in RC_CORS_ORIGINS get Access-Control-* headers (none when it is unset); a preflight
  // from one is answered here, before any guard (browsers send no credentials on preflights). SSE streams take the
  // response over and set the header themselves (SseHub.open), by the same list.
  // Without a listed origin the hook would do nothing, so it is not installed: no hook to run on every request.
  const corsOrigins = new Set(rt.config.corsOrigins);
  if (corsOrigins.size > 0) {
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (typeof origin !== 'string') return;
      if (!corsOrigins.has(origin)) {
        reply.header('vary', 'Origin');
        return;
      }
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
          .header('access-control-allow-headers', CORS_ALLOWED_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      }
      reply.header('access-control-expose-headers', 'ETag, X-RC-Revision');
    });
  }

  const guardDeps = { adminToken: rt.adminToken, state: rt.state };
  const requireAdmin = adminGuard(guardDeps);
  const requireClient = clientGuard(guardDeps);

  await app.register(
    async (scope) => {
      // onRequest: the token is checked before a body is read or parsed.
      scope.addHook('onRequest', requireAdmin);
      await flagController(scope, { flags: rt.flags, state: rt.state, environments: rt.config.environments });
      await evaluatorController(scope, { evaluators: rt.evaluators });
      await tokenController(scope, { tokens: rt.tokens });
      await auditController(scope, { store: rt.store });
      await debugController(scope, { environments: rt.config.environments, state: rt.state, metrics: rt.metrics });
      await canaryController(scope, { canaries: rt.canaries });
      await clientsController(scope, { clients: rt.clients });
      await secretsController(scope, { secrets: rt.secrets });
      await adminStreamController(scope, { sse: rt.sse });
    },
    { prefix: '/api/admin' },
  );

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', requireClient);
      await streamController(scope, { state: rt.state, sse: rt.sse });
    },
    { prefix: '/api/client' },
  );

  await ofrepController(
    app,
    {
      config: rt.config,
      adminToken: rt.adminToken,
      store: rt.store,
      state: rt.state,
      metrics: rt.metrics,
      sse: rt.sse,
      pollingCallers: rt.pollingCallers,
    },
    requireClient,
  );
  await unleashBridgeController(
    app,
    { unleashBridge: rt.unleashBridge, config: rt.config, sse: rt.sse },
    requireClient,
    requireAdmin,
  );
  await healthController(app, {
    store: rt.store,
    bus: rt.bus,
    state: rt.state,
    metrics: rt.metrics,
    lifecycle: rt.lifecycle,
    metricsToken: rt.config.metricsToken,
  });
  await schemaFileController(app);

  serveOpenApi(app);
  app.get('/api', { schema: indexRouteSchema }, async () => ({
    name: 'Runtime Control',
    version,
    revision: rt.state.revision,
    environments: rt.config.environments,
    storage: rt.store.kind,
    bus: rt.bus.kind,
    links: {
      openapi: '/api/openapi.json',
      admin: '/api/admin/flags',
      ofrep: '/ofrep/v1/evaluate/flags',
      snapshot: '/api/client/snapshot',
      stream: '/api/client/stream',
      health: '/health',
      ready: '/health/ready',
      metrics: '/metrics',
    },
    console: 'The web console is served at / (sign in with an admin token).',
  }));
  // The web console at `/` (features/console): its files, and its page for any other GET outside the API.
  await consolePlugin(app);

  // Closing, step 1 (before the listener closes): streams get their `reconnect` frame and end, so they neither hold
  // the close up nor look like a lost connection to their clients. Requests still running when the bound passes
  // are cut, so a close always finishes.
  let cutInFlight: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    rt.lifecycle.beginDrain();
    const handedOver = rt.sse.drain('replica shutting down');
    if (handedOver > 0) rt.logger.info({ streams: handedOver }, 'streams handed over (reconnect frame sent)');
    cutInFlight = setTimeout(() => app.server.closeAllConnections(), rt.config.shutdownTimeoutMs);
    cutInFlight.unref();
  });
  app.addHook('onClose', async () => {
    clearTimeout(cutInFlight);
    await rt.clients.close();
    rt.unleashBridge.close();
    rt.sse.close();
    rt.sync.close();
    await rt.bus.close();
    await rt.store.close();
  });
  return app;
}
