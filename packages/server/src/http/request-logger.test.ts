import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { lazyRequestLogger } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level, redact: { paths: ['token'], censor: '[redacted]' } },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger: logger as unknown as FastifyBaseLogger, lines };
}

describe('lazyRequestLogger', () => {
  it('logs what the pino child would, with the request bindings, and nothing below the level', () => {
    const { logger, lines } = capture('warn');
    const log = lazyRequestLogger(logger, { reqId: 'req-7' }, {});
    log.info('not logged');
    log.debug({ a: 1 }, 'not logged either');
    assert.equal(lines.length, 0);
    assert.equal(log.level, 'warn');
    log.warn({ token: 'secret-value', n: 1 }, 'slow %s', 'thing');
    log.error(new Error('boom'), 'failed');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.reqId, 'req-7');
    assert.equal(lines[0]!.msg, 'slow thing');
    assert.equal(lines[0]!.token, '[redacted]');
    assert.equal(lines[1]!.reqId, 'req-7');
    assert.equal((lines[1]!.err as { message: string }).message, 'boom');
  });

  it('follows the parent level until it is made, and makes children with the bindings', () => {
    const { logger, lines } = capture('warn');
    const log = lazyRequestLogger(logger, { reqId: 'req-8' }, {});
    logger.level = 'info';
    log.info('now logged');
    log.child({ part: 'x' }).info('from a child');
    assert.deepEqual(
      lines.map((l) => [l.reqId, l.part, l.msg]),
      [
        ['req-8', undefined, 'now logged'],
        ['req-8', 'x', 'from a child'],
      ],
    );
  });

  it('makes the child at once for a route with its own level', () => {
    const { logger, lines } = capture('warn');
    const log = lazyRequestLogger(logger, { reqId: 'req-9' }, { level: 'debug' });
    log.debug('logged at the route level');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.reqId, 'req-9');
  });
});
