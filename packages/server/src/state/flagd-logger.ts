import type { Logger as OpenFeatureLogger } from '@openfeature/core';
import type { Logger } from 'pino';

/** flagd-core logs to the console by default; route it through our structured logger at debug level. */
export function flagdLogger(logger: Logger): OpenFeatureLogger {
  const child = logger.child({ component: 'flagd-core' });
  const log =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      child[level === 'error' || level === 'warn' ? 'debug' : level]({ args: args.map(String) }, 'flagd-core');
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
