import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { eventually, requireTestRedisUrl, serviceOrFail } from '../testing/test-services.js';
import type { ChangeMessage } from './change-bus.js';
import { CHANGE_CHANNEL, RedisBus } from './redis-bus.js';

const redisUrl = requireTestRedisUrl();

/** A logger whose JSON lines are kept for assertions. */
function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return {
    logger: pino({ level: 'debug' }, stream),
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A unique origin per test run: other suites may publish on the same channel of the shared Redis concurrently. */
const origin = (label: string) => `bus-test-${label}-${randomBytes(4).toString('hex')}`;

describe('RedisBus against RC_TEST_REDIS_URL', serviceOrFail('RC_TEST_REDIS_URL', redisUrl), () => {
  const buses: RedisBus[] = [];
  const clients: Redis[] = [];

  const newBus = async (logger = pino({ level: 'silent' })): Promise<RedisBus> => {
    const bus = new RedisBus(redisUrl!, logger);
    buses.push(bus);
    await bus.connect();
    return bus;
  };
  const newClient = (): Redis => {
    const c = new Redis(redisUrl!, { lazyConnect: false, maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  after(async () => {
    for (const b of buses) await b.close();
    for (const c of clients) c.disconnect();
  });

  it('delivers a published change to another bus (and to itself)', async () => {
    const a = await newBus();
    const b = await newBus();
    const atA: ChangeMessage[] = [];
    const atB: ChangeMessage[] = [];
    a.onMessage((m) => atA.push(m));
    b.onMessage((m) => atB.push(m));
    const o = origin('publish');
    const sent: ChangeMessage = { revision: 7, committedAt: Date.now(), origin: o };
    await a.publish(sent);
    const got = await eventually(async () => atB.find((m) => m.origin === o), 3000, 'bus B receives the change');
    assert.deepEqual(got, sent);
    // Every subscriber receives it, the publisher's own subscriber included (ChangeSync ignores applied revisions).
    await eventually(async () => atA.some((m) => m.origin === o), 3000, 'bus A receives its own change');
    assert.equal(atB.filter((m) => m.origin === o).length, 1, 'delivered exactly once');
  });

  it('ignores a malformed message and keeps delivering', async () => {
    const { logger, lines } = capturingLogger();
    const bus = await newBus(logger);
    const received: ChangeMessage[] = [];
    bus.onMessage((m) => received.push(m));
    const raw = newClient();
    const o = origin('malformed');
    await raw.publish(CHANGE_CHANNEL, 'not json {');
    await raw.publish(CHANGE_CHANNEL, JSON.stringify({ revision: -1, committedAt: 1, origin: o }));
    await raw.publish(CHANGE_CHANNEL, JSON.stringify({ revision: 'seven', origin: o }));
    await raw.publish(CHANGE_CHANNEL, JSON.stringify({ revision: 3, committedAt: 1, origin: o }));
    // Redis delivers in publish order on one connection: once the valid one is here, the others were handled.
    await eventually(async () => received.some((m) => m.origin === o), 3000, 'the valid message arrives');
    assert.deepEqual(
      received.filter((m) => m.origin === o),
      [{ revision: 3, committedAt: 1, origin: o }],
    );
    const warnings = lines().filter((l) => l.msg === 'ignoring malformed change message on redis');
    assert.ok(warnings.length >= 3, `expected 3 malformed-message warnings, got ${warnings.length}`);
  });

  it('fills in committedAt and origin when a well-formed message lacks them', async () => {
    const bus = await newBus();
    const received: ChangeMessage[] = [];
    bus.onMessage((m) => received.push(m));
    const raw = newClient();
    // A revision no real test writes, so concurrent suites on the same Redis cannot be confused with it.
    const revision = 900_000_000 + Math.floor(Math.random() * 1_000_000);
    const before = Date.now();
    await raw.publish(CHANGE_CHANNEL, JSON.stringify({ revision }));
    const m = await eventually(async () => received.find((x) => x.revision === revision), 3000, 'message arrives');
    assert.equal(m.origin, 'unknown');
    assert.ok(m.committedAt >= before && m.committedAt <= Date.now() + 1);
  });

  it('fires onReconnect after the server kills the subscriber connection, then delivers again', async () => {
    const admin = newClient();
    // Kill only this bus's subscriber (found by diffing the pub/sub client list) so suites sharing this Redis
    // are not disturbed; the effect on the bus is the same as `CLIENT KILL TYPE pubsub`.
    const pubsubIds = async () =>
      new Set(
        ((await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string)
          .split('\n')
          .filter((l) => l.includes('name=rc-subscriber'))
          .map((l) => /(?:^|\s)id=(\d+)/.exec(l)?.[1])
          .filter((id): id is string => id !== undefined),
      );
    const beforeIds = await pubsubIds();
    const bus = await newBus();
    const ours = [...(await pubsubIds())].filter((id) => !beforeIds.has(id));
    assert.equal(ours.length, 1, `expected exactly one new rc-subscriber connection, found ${ours.join(',')}`);
    let reconnects = 0;
    bus.onReconnect(() => {
      reconnects += 1;
    });
    const received: ChangeMessage[] = [];
    bus.onMessage((m) => received.push(m));
    await bus.ping();

    const killed = await admin.call('CLIENT', 'KILL', 'ID', ours[0]!);
    assert.equal(killed, 1);
    await eventually(async () => reconnects > 0, 5000, 'onReconnect fires');
    assert.equal(reconnects, 1, 'onReconnect fires once per reconnection');
    // Re-subscribed: a change published now is delivered again.
    const o = origin('after-kill');
    const publisher = newClient();
    await eventually(
      async () => {
        await publisher.publish(CHANGE_CHANNEL, JSON.stringify({ revision: 1, committedAt: 1, origin: o }));
        return received.some((m) => m.origin === o);
      },
      5000,
      'messages are delivered after the reconnect',
      200,
    );
    await bus.ping();
  });

  it('does not fire onReconnect for the first connection', async () => {
    const bus = new RedisBus(redisUrl!, pino({ level: 'silent' }));
    buses.push(bus);
    let reconnects = 0;
    bus.onReconnect(() => {
      reconnects += 1;
    });
    await bus.connect();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reconnects, 0);
  });

  it('ping() resolves when connected and rejects when disconnected', async () => {
    const never = new RedisBus(redisUrl!, pino({ level: 'silent' }));
    buses.push(never);
    await assert.rejects(never.ping(), /redis subscriber is wait/);

    const bus = await newBus();
    await bus.ping();
    await bus.close();
    await assert.rejects(bus.ping());
    // Once the subscriber socket has closed, readiness names its state.
    await eventually(
      async () =>
        bus.ping().then(
          () => false,
          (err: Error) => /redis subscriber is (end|close)/.test(err.message),
        ),
      2000,
      'ping reports the closed subscriber',
    );
  });

  it('ping() rejects while the server is unreachable (closed port)', async () => {
    // Nothing listens on port 1; the bus keeps retrying in the background and readiness must report it.
    const bus = new RedisBus('redis://127.0.0.1:1', pino({ level: 'silent' }));
    buses.push(bus);
    await assert.rejects(bus.connect());
    await assert.rejects(bus.ping(), /redis subscriber is/);
    // publish() never throws: the write it announces is already committed.
    await bus.publish({ revision: 1, committedAt: Date.now(), origin: origin('unreachable') });
  });
});
