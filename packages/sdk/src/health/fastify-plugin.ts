import type { EvaluationContext, Provider } from '@openfeature/server-sdk';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { defaultHealthContext, flagHealth, flagHealthStatusCode } from './flag-health.js';

export interface RuntimeControlHealthPluginOptions {
  provider: Provider;
  /** Default `/health/flags`. */
  path?: string;
  /** The context to evaluate with (default: `targetingKey` from `?user=` or the `x-user-id` header). */
  context?: (request: FastifyRequest) => EvaluationContext;
  /** Only these flags (default: every flag the provider holds). */
  keys?: readonly string[];
}

/**
 * `GET /health/flags`: the service's flags as evaluated for a context, sensitive values withheld; 503 (with the
 * same body) while the provider is ERROR, FATAL or NOT_READY. Fastify is only a type import here, so the SDK loads
 * without it.
 */
export const runtimeControlHealthPlugin: FastifyPluginAsync<RuntimeControlHealthPluginOptions> = async (
  app,
  options,
) => {
  const contextOf =
    options.context ?? ((request: FastifyRequest) => defaultHealthContext(request.query, request.headers));
  app.get(options.path ?? '/health/flags', async (request, reply) => {
    const health = await flagHealth(options.provider, contextOf(request), { keys: options.keys });
    reply.code(flagHealthStatusCode(health)).header('cache-control', 'no-store');
    return health;
  });
};
