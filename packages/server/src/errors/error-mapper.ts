import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';

/** Fastify's own errors (body parsing, limits, content types) translated to our codes. */
function fromFastify(err: FastifyError): AppError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BODY_TOO_LARGE', 'request body is too large (RC_BODY_LIMIT_BYTES)', { path: '' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', { path: 'Content-Type' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'body is empty but Content-Type is application/json', { path: '' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('BAD_REQUEST', 'Content-Length does not match the body', { path: 'Content-Length' });
    default:
      break;
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError('MALFORMED_JSON', `body is not valid JSON: ${err.message}`, { path: '' });
  }
  if (err.validation) {
    return new AppError('VALIDATION_FAILED', err.message, { path: err.validationContext ?? '' });
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError('BAD_REQUEST', err.message);
  }
  return undefined;
}

/**
 * What of an unexpected error may be logged. A database error's message and detail can quote the values of the
 * request (a sensitive variant, a token name), so for those only the class and codes are kept; for anything else the
 * message and stack (our own code's words) are kept, cut short.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const e = err as Error & { code?: unknown; severity?: unknown; routine?: unknown };
  if (e.severity !== undefined || e.routine !== undefined || e.constructor?.name === 'DatabaseError') {
    return { type: e.constructor?.name ?? 'DatabaseError', sqlstate: e.code, routine: e.routine };
  }
  if (typeof e.code === 'string' && /^SQLITE_/.test(e.code)) return { type: 'SqliteError', code: e.code };
  return {
    type: e.constructor?.name ?? e.name,
    message: e.message.slice(0, 200),
    stack: e.stack?.split('\n').slice(1, 8).join('\n'),
  };
}

/** The one place where errors become HTTP responses. Anything unknown is a 500 and is logged as a bug. */
export function mapError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  let appError = err instanceof AppError ? err : fromFastify(err as FastifyError);
  if (!appError) {
    req.log.error({ error: loggableError(err), route: req.routeOptions.url ?? 'unmatched' }, 'unhandled error');
    appError = new AppError('INTERNAL', 'internal error; the server log has details', { cause: err });
  }
  return reply.code(appError.status).type('application/json').send(appError.toJSON());
}
