import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { RequestLogController, withLazyRequestLoggers } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level, redact: { paths: ['token'], censor: '[redacted]' } },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger: logger as unknown as FastifyBaseLogger, lines };
}

describe('withLazyRequestLoggers', () => {
  it('logs what the pino child would, with the request bindings, and nothing below the level', () => {
    const { logger, lines } = capture('warn');
    const log = withLazyRequestLoggers(logger).child({ reqId: 'req-7' }, {});
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
    const log = withLazyRequestLoggers(logger).child({ reqId: 'req-8' }, {});
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

  it('keeps the bindings of every generation, lazy or made at once', () => {
    const { logger, lines } = capture('info');
    const root = withLazyRequestLoggers(logger);
    const withOptions = root.child({ app: 'a' }, { level: 'debug' });
    const request = withOptions.child({ reqId: 'req-10' }, {});
    request.debug('from the request');
    request.child({ part: 'y' }).info('from its child');
    root.child({ reqId: 'req-11' }).child({ part: 'z' }).child({ deeper: true }).warn('three down');
    assert.deepEqual(
      lines.map((l) => [l.app, l.reqId, l.part, l.deeper, l.msg]),
      [
        ['a', 'req-10', undefined, undefined, 'from the request'],
        ['a', 'req-10', 'y', undefined, 'from its child'],
        [undefined, 'req-11', 'z', true, 'three down'],
      ],
    );
  });

  it("is Fastify's request logger: each request's lines carry its id, at the app's level", async () => {
    const { logger, lines } = capture('warn');
    const app = Fastify({
      loggerInstance: withLazyRequestLoggers(logger),
      logController: new RequestLogController(logger),
    });
    app.get('/log', async (req) => {
      req.log.info('quiet at warn');
      req.log.warn('heard');
      return {};
    });
    await app.inject({ url: '/log' });
    await app.inject({ url: '/log' });
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['heard', 'heard'],
    );
    assert.ok(typeof lines[0]!.reqId === 'string' && lines[0]!.reqId !== lines[1]!.reqId);
    app.log.level = 'info';
    await app.inject({ url: '/log' });
    assert.deepEqual(
      lines.slice(2).map((l) => l.msg),
      ['quiet at warn', 'heard'],
    );
  });

  it('makes the child at once for a route with its own level', () => {
    const { logger, lines } = capture('warn');
    const log = withLazyRequestLoggers(logger).child({ reqId: 'req-9' }, { level: 'debug' });
    log.debug('logged at the route level');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.reqId, 'req-9');
  });
});

describe('RequestLogController', () => {
  async function appLogging(level: string) {
    const { logger, lines } = capture(level);
    const app = Fastify({ loggerInstance: logger, logController: new RequestLogController(logger) });
    app.get('/ok', async () => ({ ok: true }));
    return { app, lines, logger };
  }

  it('writes no per-request lines when the level drops them, and both at info', async () => {
    const quiet = await appLogging('warn');
    await quiet.app.inject({ url: '/ok' });
    assert.deepEqual(quiet.lines, []);
    const chatty = await appLogging('info');
    await chatty.app.inject({ url: '/ok' });
    assert.deepEqual(
      chatty.lines.map((l) => l.msg),
      ['incoming request', 'request completed'],
    );
    assert.equal(chatty.lines[0]!.reqId, chatty.lines[1]!.reqId);
  });

  it('follows a level changed at run time', async () => {
    const { app, lines, logger } = await appLogging('warn');
    logger.level = 'info';
    await app.inject({ url: '/ok' });
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['incoming request', 'request completed'],
    );
  });
});
