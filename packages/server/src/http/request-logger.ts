import type { FastifyBaseLogger } from 'fastify';
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
    private readonly childBindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.childBindings, this.options);
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
 * A route's `childLoggerFactory` (hot routes): the request logger is made on first use. A route with its own log
 * level gets pino's child at once, as Fastify would make it.
 */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (options.level !== undefined) return logger.child(bindings, options);
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
