import { OpenFeature } from '@openfeature/server-sdk';
import { LoggingHook, type RuntimeControlProvider } from '@runtime-control/sdk';
import { runtimeControlHealthPlugin } from '@runtime-control/sdk/health';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { verifyJwt } from './service-secrets.js';

export interface ApiGatewayOptions {
  provider: RuntimeControlProvider;
  /** Served on /metrics; give the registry of the provider's PrometheusHook (see createServiceProvider). */
  registry: Registry;
  /** Fastify's logger option (default off). */
  logger?: FastifyServerOptions['logger'];
  /**
   * JWT_SECRET and REDIS_URL from the environment (`rctl exec --service api-gateway`): with them, `GET /api/me`
   * verifies auth-service's tokens and `/health/secrets` says they are set (never what they are).
   */
  secrets?: { jwtSecret: string; redisUrl: URL };
}

/** The OpenFeature domain of this service: its clients use this service's provider even beside other services. */
export const API_GATEWAY_DOMAIN = 'api-gateway';

/** `?user=` or the `x-user-id` header; undefined for an anonymous request. */
export function userOf(request: FastifyRequest): string | undefined {
  const fromQuery = (request.query as { user?: unknown }).user;
  if (typeof fromQuery === 'string' && fromQuery) return fromQuery;
  const header = request.headers['x-user-id'];
  return typeof header === 'string' && header ? header : undefined;
}

/**
 * DevMentor's api-gateway: decides per user whether to serve the new UI (`new-ui-enabled`, through the OpenFeature
 * client as the runbook's integration sketch does), and exposes /health/flags and /metrics.
 */
export async function buildApiGateway(options: ApiGatewayOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  // Resolves once the provider has its first snapshot (or failed: evaluations then give code defaults).
  await OpenFeature.setProviderAndWait(API_GATEWAY_DOMAIN, options.provider).catch((err: Error) => {
    app.log.warn({ err: err.message }, 'runtime-control provider not ready; serving code defaults');
  });
  const flags = OpenFeature.getClient(API_GATEWAY_DOMAIN);
  flags.addHooks(new LoggingHook({ logger: app.log }));

  app.get('/api/ui', async (request) => {
    const user = userOf(request);
    const newUi = await flags.getBooleanValue('new-ui-enabled', false, user ? { targetingKey: user } : {});
    return { ui: newUi ? 'new' : 'classic', user: user ?? null };
  });

  const secrets = options.secrets;
  if (secrets) {
    app.get('/api/me', async (request, reply) => {
      const header = request.headers.authorization;
      const user = header?.startsWith('Bearer ') ? verifyJwt(header.slice(7), secrets.jwtSecret) : undefined;
      if (!user) {
        return reply
          .code(401)
          .send({ error: { code: 'UNAUTHORIZED', message: 'a valid token from auth-service POST /api/login' } });
      }
      return { user };
    });
    // Names and the Redis endpoint's scheme only: the URL carries a password.
    app.get('/health/secrets', async () => ({
      secrets: { JWT_SECRET: 'set', REDIS_URL: secrets.redisUrl.protocol.replace(':', '') },
    }));
  }

  await app.register(runtimeControlHealthPlugin, { provider: options.provider });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  return app;
}
