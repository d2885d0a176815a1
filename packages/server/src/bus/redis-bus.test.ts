import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { eventually, requireTestRedisUrl, serviceOrFail } from '@runtime-control/testkit';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { type BusSignal, type ChangeMessage, MAX_SIGNAL_PAYLOAD_BYTES } from './change-bus.js';
import { CHANGE_CHANNEL, RedisBus, SIGNAL_CHANNEL } from './redis-bus.js';

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

  it('delivers a published signal to another bus and to itself, exactly once', async () => {
    const a = await newBus();
    const b = await newBus();
    const atA: BusSignal[] = [];
    const atB: BusSignal[] = [];
    a.onSignal((s) => atA.push(s));
    b.onSignal((s) => atB.push(s));
    const o = origin('signal');
    const sent: BusSignal = {
      topic: 'bus-test',
      payload: { flag: 'x', eventId: 123, nested: [1, 'ü'] },
      origin: o,
    };
    await a.publishSignal(sent);
    const got = await eventually(async () => atB.find((s) => s.origin === o), 3000, 'bus B receives the signal');
    assert.deepEqual(got, sent);
    await eventually(async () => atA.some((s) => s.origin === o), 3000, 'bus A receives its own signal');
    // A marker after it: once the marker is in, any duplicate of the first would have been delivered too.
    const marker = origin('signal-marker');
    await a.publishSignal({ topic: 'marker', payload: {}, origin: marker });
    await eventually(
      async () => atA.some((s) => s.origin === marker) && atB.some((s) => s.origin === marker),
      3000,
      'the marker arrives on both buses',
    );
    assert.equal(atA.filter((s) => s.origin === o).length, 1, 'delivered once to A');
    assert.equal(atB.filter((s) => s.origin === o).length, 1, 'delivered once to B');
  });

  it('ignores malformed signals with a warning and keeps delivering', async () => {
    const { logger, lines } = capturingLogger();
    const bus = await newBus(logger);
    const received: BusSignal[] = [];
    bus.onSignal((s) => received.push(s));
    const raw = newClient();
    const o = origin('malformed-signal');
    const oversized = { p: 'a'.repeat(MAX_SIGNAL_PAYLOAD_BYTES) };
    await raw.publish(SIGNAL_CHANNEL, 'not json {');
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'Bad Topic', payload: {}, origin: o }));
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'ok', payload: [1, 2], origin: o }));
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'ok', payload: 'text', origin: o }));
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'ok', payload: oversized, origin: o }));
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'ok', payload: { n: 1 }, origin: o }));
    await eventually(async () => received.some((s) => s.origin === o), 3000, 'the valid signal arrives');
    assert.deepEqual(
      received.filter((s) => s.origin === o),
      [{ topic: 'ok', payload: { n: 1 }, origin: o }],
    );
    const warnings = lines().filter((l) => l.msg === 'ignoring malformed signal on redis');
    assert.ok(warnings.length >= 5, `expected 5 malformed-signal warnings, got ${warnings.length}`);
  });

  it('refuses to publish an oversized or invalid signal (logged, not sent)', async () => {
    const { logger, lines } = capturingLogger();
    const bus = await newBus(logger);
    const received: BusSignal[] = [];
    bus.onSignal((s) => received.push(s));
    const o = origin('refused');
    await bus.publishSignal({ topic: 'big', payload: { p: 'a'.repeat(MAX_SIGNAL_PAYLOAD_BYTES) }, origin: o });
    await bus.publishSignal({ topic: 'Not-Valid', payload: {}, origin: o });
    await bus.publishSignal({ topic: 'ok', payload: { after: true }, origin: o });
    await eventually(async () => received.some((s) => s.origin === o), 3000, 'the valid signal arrives');
    assert.deepEqual(
      received.filter((s) => s.origin === o),
      [{ topic: 'ok', payload: { after: true }, origin: o }],
    );
    const refusals = lines().filter((l) => l.msg === 'refusing to publish signal');
    assert.equal(refusals.length, 2);
    assert.equal(lines().filter((l) => l.msg === 'ignoring malformed signal on redis').length, 0, 'nothing was sent');
  });

  it('keeps changes and signals apart', async () => {
    const { logger, lines } = capturingLogger();
    const a = await newBus();
    const b = await newBus(logger);
    const changes: ChangeMessage[] = [];
    const signals: BusSignal[] = [];
    b.onMessage((m) => changes.push(m));
    b.onSignal((s) => signals.push(s));
    const o = origin('apart');
    // Each also looks valid to the other parser, so only the channel keeps them apart.
    await a.publishSignal({ topic: 'hint', payload: { revision: 5 }, origin: o });
    await a.publish({ revision: 5, committedAt: 1, origin: o });
    const raw = newClient();
    await raw.publish(CHANGE_CHANNEL, JSON.stringify({ topic: 'hint', payload: {}, origin: o, revision: 6 }));
    await raw.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'hint', payload: {}, origin: o, revision: 7 }));
    // Publish order is kept per connection: wait for the last of each kind, then check nothing crossed.
    await eventually(async () => changes.some((m) => m.origin === o && m.revision === 6), 3000, 'changes arrive');
    await eventually(async () => signals.filter((s) => s.origin === o).length >= 2, 3000, 'signals arrive');
    assert.deepEqual(
      changes.filter((m) => m.origin === o).map((m) => m.revision),
      [5, 6],
    );
    assert.deepEqual(
      signals.filter((s) => s.origin === o),
      [
        { topic: 'hint', payload: { revision: 5 }, origin: o },
        { topic: 'hint', payload: {}, origin: o },
      ],
    );
    for (const c of changes) assert.equal((c as unknown as Record<string, unknown>).topic, undefined);
    const malformed = lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('ignoring malformed'));
    assert.equal(malformed.length, 0);
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
    // Signals ride the same subscriber connection and are re-subscribed with it.
    const signals: BusSignal[] = [];
    bus.onSignal((sig) => signals.push(sig));
    await eventually(
      async () => {
        await publisher.publish(SIGNAL_CHANNEL, JSON.stringify({ topic: 'after-kill', payload: {}, origin: o }));
        return signals.some((sig) => sig.origin === o);
      },
      5000,
      'signals are delivered after the reconnect',
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
    // Nor does publishSignal(): a lost hint costs latency only.
    await bus.publishSignal({ topic: 'unleash-refresh', payload: {}, origin: origin('unreachable') });
  });
});
