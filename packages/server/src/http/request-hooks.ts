import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  onResponseHookHandler,
  preValidationHookHandler,
} from 'fastify';
import { AppError } from '../errors/app-error.js';
import { mapError } from '../errors/error-mapper.js';
import type { RequestDurations } from '../metrics/metrics.js';
import { requestParametersProblem } from './json-input.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route runs the per-request hooks itself (`fusedRequestHooks`); `installRequestHooks` leaves it alone. */
    fusedRequestHooks?: boolean;
  }
}

/** The `route` label of requests no route matched. */
export const UNMATCHED_ROUTE = 'unmatched';

type Durations = Pick<RequestDurations, 'routeRecorder'>;

/** Records a request's duration under one route template. */
function durationRecorder(durations: Durations, route: string) {
  const record = durations.routeRecorder(route);
  return (req: FastifyRequest, reply: FastifyReply): void =>
    record(req.method, reply.statusCode, reply.elapsedTime / 1000);
}

function asArray<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/**
 * What every request gets besides its route's own hooks: one value per query parameter and only strings both stores
 * can hold in queries and path parameters (before validation), and `rc_http_request_duration_seconds` (after the
 * response). They are attached to each route as it is declared (an onRoute hook) rather than as global hooks, so
 * that a route declared with `fusedRequestHooks` can do the same inside its own guard and handler: each hook stage
 * Fastify runs costs closures and calls per request, on the OFREP evaluation routes as much as the flag evaluation.
 * The route template is taken once here, not from `req.routeOptions` (which builds an object per read).
 * Callback hooks, not async ones: an async hook costs a promise per request.
 */
export function installRequestHooks(app: FastifyInstance, durations: Durations): void {
  const checkParameters: preValidationHookHandler = (req, _reply, done) => {
    done(requestParametersProblem(req.query, req.params));
  };
  app.addHook('onRoute', (route) => {
    if (route.config?.fusedRequestHooks === true) return;
    const record = durationRecorder(durations, route.url);
    const measure: onResponseHookHandler = (req, reply, done) => {
      record(req, reply);
      done();
    };
    // New arrays: the options object of a GET route is copied for its HEAD route, arrays included.
    route.preValidation = [checkParameters, ...asArray(route.preValidation)];
    route.onResponse = [measure, ...asArray(route.onResponse)];
  });
}

/** The not-found handler: the error body of a 404, and its duration under the `unmatched` route. */
export function notFoundHandler(durations: Durations) {
  const record = durationRecorder(durations, UNMATCHED_ROUTE);
  return (req: FastifyRequest, reply: FastifyReply): void => {
    mapError(new AppError('NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}`), req, reply);
    record(req, reply);
  };
}

/**
 * The per-request hooks of `installRequestHooks` fused into a hot route's own stages: its guard and the parameter
 * check in one onRequest hook, the duration recorded by the handler once it has sent its answer (`sent`) and by the
 * route's error handler for every refusal. `guard` throws the AppError a refusal answers with. Spread the result
 * into the route options and call `sent(req, reply)` at the end of the handler.
 */
export function fusedRequestHooks(durations: Durations, route: string, guard: (req: FastifyRequest) => void) {
  const record = durationRecorder(durations, route);
  const onRequest: onRequestHookHandler = (req, _reply, done) => {
    try {
      guard(req);
    } catch (err) {
      done(err as FastifyError);
      return;
    }
    done(requestParametersProblem(req.query, req.params));
  };
  return {
    config: { fusedRequestHooks: true },
    onRequest,
    errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
      mapError(err, req, reply);
      record(req, reply);
    },
    sent: record,
  };
}
