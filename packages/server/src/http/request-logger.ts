import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type LogCall = (...args: unknown[]) => void;

function isEnabled(logger: FastifyBaseLogger, level: Level): boolean {
  const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return typeof check === 'function' ? check.call(logger, level) : true;
}

/**
 * A request's logger (`req.log`) that makes its pino child only when something is logged at an enabled level.
 * Fastify gives every request a child logger carrying its request id; pino builds a child by serializing the
 * bindings and setting up redaction, which costs a few microseconds — as much as the evaluation itself on the OFREP
 * routes, where at the usual `warn` level nothing is logged for a request that succeeds. A request that does log
 * gets exactly the child Fastify would have made (same bindings, same options, made from the same parent).
 */
class LazyRequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly make: () => FastifyBaseLogger,
  ) {}

  private get logger(): FastifyBaseLogger {
    this.made ??= this.make();
    return this.made;
  }

  private log(level: Level, args: unknown[]): void {
    if (this.made === undefined && !isEnabled(this.parent, level)) return;
    (this.logger[level] as LogCall).apply(this.logger, args);
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  trace(...args: unknown[]): void {
    this.log('trace', args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', args);
  }
  info(...args: unknown[]): void {
    this.log('info', args);
  }
  warn(...args: unknown[]): void {
    this.log('warn', args);
  }
  error(...args: unknown[]): void {
    this.log('error', args);
  }
  fatal(...args: unknown[]): void {
    this.log('fatal', args);
  }
  silent(): void {}

  isLevelEnabled(level: Level): boolean {
    return isEnabled(this.made ?? this.parent, level);
  }

  bindings(): Bindings {
    return (this.logger as unknown as { bindings(): Bindings }).bindings();
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}

/**
 * The logger to give Fastify (`loggerInstance`): `logger` itself, except that a child made without options — what
 * Fastify makes for every request — is lazy (above). A child with options (a level, serializers: Fastify's own
 * root logger, a route's log level) is made at once and makes lazy children in turn. The laziness sits in the logger
 * rather than in a route's `childLoggerFactory` because Fastify checks the logger a custom factory returns on every
 * request (an array and a closure each time), which cost as much as what the laziness saves.
 */
export function withLazyRequestLoggers(
  logger: FastifyBaseLogger,
  makeChild: FastifyBaseLogger['child'] = logger.child,
): FastifyBaseLogger {
  // pino makes a child as `Object.create(parent)`, so children of `wrapped` inherit its `child` below; a child made
  // here gets pino's own `child` back (or a wrapper of its own), so its children carry its bindings.
  const wrapped = Object.create(logger) as FastifyBaseLogger;
  wrapped.child = function child(bindings: Bindings, options?: ChildLoggerOptions) {
    if (options !== undefined && Object.keys(options).length > 0) {
      return withLazyRequestLoggers(makeChild.call(wrapped, bindings, options), makeChild);
    }
    // `wrapped` is the parent: a level set on it (the app's `log.level`) is the request loggers' level too.
    const make = () => {
      const made = makeChild.call(wrapped, bindings, options);
      made.child = makeChild;
      return made;
    };
    return new LazyRequestLogger(wrapped, make) as unknown as FastifyBaseLogger;
  } as FastifyBaseLogger['child'];
  return wrapped;
}

/**
 * Fastify's per-request log lines ("incoming request", "request completed", both at info), written only when the
 * server logs at info or below. Fastify builds their arguments (`{ req }`, `{ res, responseTime }`) and calls the
 * request logger for every request even when the level drops them, which on the OFREP routes cost as much as the
 * metrics; here the root logger's level (read per request, so a level changed at run time is followed) is asked
 * first. Every other line Fastify writes (errors, stream errors, 503 while closing) is left as it is.
 */
export class RequestLogController extends LogController {
  constructor(private readonly root: FastifyBaseLogger) {
    super();
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (isEnabled(this.root, 'info')) super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error || isEnabled(this.root, 'info')) super.requestCompleted(error, request, reply);
  }
}
