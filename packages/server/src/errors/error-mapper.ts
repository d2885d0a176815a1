import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isStoreUnavailable } from '../store/unavailable.js';
import { AppError } from './app-error.js';

/** One error of the route schemas' validator (Ajv's shape). */
interface SchemaError {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

const SCHEMA_KEYWORD_CODES: Record<string, string> = {
  additionalProperties: 'UNKNOWN_PROPERTY',
  required: 'MISSING_PROPERTY',
  type: 'INVALID_TYPE',
  enum: 'INVALID_VALUE',
  const: 'INVALID_VALUE',
};

/**
 * A shape error found by a route's schema, in the same terms as core's validation: VALIDATION_FAILED with every
 * problem in `details`. In a body, `path` is the JSON Pointer of the field (`/variants/on`); in a query string, path
 * parameters or headers it is the parameter's name.
 */
function fromValidation(errors: SchemaError[], context: string | undefined): AppError {
  const inBody = context === undefined || context === 'body';
  const details = errors.map((e) => {
    let pointer = e.instancePath ?? '';
    const params = e.params ?? {};
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      pointer += `/${escapePointer(params.additionalProperty)}`;
      message = inBody
        ? `unknown property "${params.additionalProperty}"`
        : `unknown parameter "${params.additionalProperty}"`;
    } else if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      pointer += `/${escapePointer(params.missingProperty)}`;
      message = `${params.missingProperty} is required`;
    } else {
      message = `${pointer === '' ? (inBody ? 'body' : context) : pointer.slice(1)} ${message}`;
    }
    const code =
      !inBody && e.keyword === 'additionalProperties'
        ? 'UNKNOWN_PARAMETER'
        : (SCHEMA_KEYWORD_CODES[e.keyword ?? ''] ?? 'SCHEMA_VIOLATION');
    // Outside the body the name of the parameter is the path (`limit`, not `/limit`), as handlers report it.
    const path = inBody ? pointer : pointer.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
    return { path, code, message };
  });
  const first = details[0] ?? { path: '', code: 'SCHEMA_VIOLATION', message: 'request does not match its schema' };
  return new AppError('VALIDATION_FAILED', first.message, { details: details.length > 0 ? details : [first] });
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

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
  if (err.validation) return fromValidation(err.validation as SchemaError[], err.validationContext);
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
  if (!appError && isStoreUnavailable(err)) {
    // The database is down or restarting: not a bug, and the client should retry (another replica may answer).
    req.log.warn({ error: loggableError(err), route: req.routeOptions.url ?? 'unmatched' }, 'database unavailable');
    appError = new AppError('UNAVAILABLE', 'the database is unavailable; retry shortly', { cause: err });
  }
  if (!appError) {
    req.log.error({ error: loggableError(err), route: req.routeOptions.url ?? 'unmatched' }, 'unhandled error');
    appError = new AppError('INTERNAL', 'internal error; the server log has details', { cause: err });
  }
  return reply.code(appError.status).type('application/json').send(appError.toJSON());
}
