import type { EvaluationContext, Provider } from '@openfeature/server-sdk';
import type { NextFunction, Request, Response } from 'express';
import { defaultHealthContext, flagHealth, flagHealthStatusCode } from './flag-health.js';

export interface RuntimeControlHealthOptions {
  provider: Provider;
  /** The context to evaluate with (default: `targetingKey` from `?user=` or the `x-user-id` header). */
  context?: (request: Request) => EvaluationContext;
  /** Only these flags (default: every flag the provider holds). */
  keys?: readonly string[];
}

/**
 * An Express handler for a flags health view — mount it yourself, e.g.
 * `app.get('/health/flags', runtimeControlHealth({ provider }))`. Same body and status codes as the Fastify plugin.
 * Express is only a type import here, so the SDK loads without it.
 */
export function runtimeControlHealth(
  options: RuntimeControlHealthOptions,
): (request: Request, response: Response, next: NextFunction) => void {
  const contextOf = options.context ?? ((request: Request) => defaultHealthContext(request.query, request.headers));
  return (request, response, next) => {
    let context: EvaluationContext;
    try {
      context = contextOf(request);
    } catch (err) {
      next(err);
      return;
    }
    flagHealth(options.provider, context, { keys: options.keys }).then((health) => {
      response.status(flagHealthStatusCode(health)).set('cache-control', 'no-store').json(health);
    }, next);
  };
}
