import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  type BusSignal,
  busSignalProblem,
  MAX_SIGNAL_PAYLOAD_BYTES,
  parseBusSignal,
  serializeBusSignal,
} from './change-bus.js';
import { InProcessBus } from './in-process-bus.js';

const valid: BusSignal = { topic: 'unleash-refresh', payload: { flag: 'x', eventId: 123 }, origin: 'replica-1' };

/** A payload whose JSON serialization is exactly `bytes` long. */
function payloadOfSize(bytes: number): Record<string, unknown> {
  const overhead = JSON.stringify({ p: '' }).length;
  const payload = { p: 'a'.repeat(bytes - overhead) };
  assert.equal(JSON.stringify(payload).length, bytes);
  return payload;
}

describe('parseBusSignal', () => {
  it('parses a valid signal', () => {
    assert.deepEqual(parseBusSignal(JSON.stringify(valid)), valid);
  });

  it('drops fields outside the contract', () => {
    assert.deepEqual(parseBusSignal(JSON.stringify({ ...valid, extra: true })), valid);
  });

  it('accepts an empty payload, nested values, and topics at the bounds', () => {
    for (const topic of ['a', '0', 'a'.repeat(64), 'unleash-refresh-2']) {
      assert.deepEqual(parseBusSignal(JSON.stringify({ ...valid, topic })), { ...valid, topic });
    }
    const nested = { ...valid, payload: { a: [1, { b: null }], c: 'ü' } };
    assert.deepEqual(parseBusSignal(JSON.stringify(nested)), nested);
    assert.deepEqual(parseBusSignal(JSON.stringify({ ...valid, payload: {} })), { ...valid, payload: {} });
  });

  it('rejects what is not a JSON object', () => {
    for (const raw of ['', 'not json {', 'null', '42', '"s"', '[]', JSON.stringify([valid])]) {
      assert.equal(parseBusSignal(raw), undefined, raw);
    }
  });

  it('rejects a bad topic', () => {
    for (const topic of [undefined, '', 'a'.repeat(65), 'Unleash', 'a_b', 'a b', 'a.b', 'é', 7, null]) {
      assert.equal(parseBusSignal(JSON.stringify({ ...valid, topic })), undefined, String(topic));
    }
  });

  it('rejects a payload that is not an object', () => {
    for (const payload of [undefined, null, [], [1], 'x', 1, true]) {
      assert.equal(parseBusSignal(JSON.stringify({ ...valid, payload })), undefined, JSON.stringify(payload));
    }
  });

  it('rejects a missing or non-string origin', () => {
    for (const origin of [undefined, '', 1, null, {}]) {
      assert.equal(parseBusSignal(JSON.stringify({ ...valid, origin })), undefined, JSON.stringify(origin));
    }
  });

  it('accepts a payload of exactly 8 KiB and rejects one byte more', () => {
    const atLimit = { ...valid, payload: payloadOfSize(MAX_SIGNAL_PAYLOAD_BYTES) };
    assert.deepEqual(parseBusSignal(JSON.stringify(atLimit)), atLimit);
    const over = { ...valid, payload: payloadOfSize(MAX_SIGNAL_PAYLOAD_BYTES + 1) };
    assert.equal(parseBusSignal(JSON.stringify(over)), undefined);
  });

  it('measures the payload in UTF-8 bytes, not characters', () => {
    // 'é' is 2 bytes: 4100 of them are under 8192 characters but over 8192 bytes.
    const payload = { p: 'é'.repeat(4100) };
    assert.ok(JSON.stringify(payload).length <= MAX_SIGNAL_PAYLOAD_BYTES);
    assert.equal(parseBusSignal(JSON.stringify({ ...valid, payload })), undefined);
  });

  it('rejects a huge raw message without parsing it', () => {
    const raw = JSON.stringify({ ...valid, origin: 'o'.repeat(100_000) });
    assert.equal(parseBusSignal(raw), undefined);
  });
});

describe('busSignalProblem / serializeBusSignal', () => {
  it('round-trips a valid signal', () => {
    assert.equal(busSignalProblem(valid), undefined);
    const wire = serializeBusSignal(valid);
    assert.ok('raw' in wire);
    assert.deepEqual(parseBusSignal(wire.raw), valid);
  });

  it('reports oversized and unserializable payloads without throwing', () => {
    const over = { ...valid, payload: payloadOfSize(MAX_SIGNAL_PAYLOAD_BYTES + 1) };
    assert.match(busSignalProblem(over) ?? '', /over 8192/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.match(busSignalProblem({ ...valid, payload: cyclic }) ?? '', /not serializable/);
    assert.match(busSignalProblem({ ...valid, payload: { n: 1n } }) ?? '', /not serializable/);
    assert.ok('problem' in serializeBusSignal({ ...valid, topic: 'Bad' }));
    assert.ok('problem' in serializeBusSignal({ ...valid, origin: 'o'.repeat(100_000) }));
  });
});

describe('InProcessBus signals', () => {
  const tick = () => new Promise((r) => setImmediate(r));

  it('delivers a signal to every signal handler, each with its own copy, and never to onMessage', async () => {
    const bus = new InProcessBus();
    const a: BusSignal[] = [];
    const b: BusSignal[] = [];
    let changes = 0;
    bus.onSignal((s) => a.push(s));
    bus.onSignal((s) => b.push(s));
    bus.onMessage(() => {
      changes += 1;
    });
    const published = bus.publishSignal(valid);
    assert.equal(a.length, 0, 'delivery is asynchronous');
    await published;
    await tick();
    assert.deepEqual(a, [valid]);
    assert.deepEqual(b, [valid]);
    assert.notEqual(a[0], b[0]);
    assert.equal(changes, 0);

    await bus.publish({ revision: 1, committedAt: 1, origin: 'x' });
    await tick();
    assert.equal(changes, 1);
    assert.equal(a.length, 1, 'changes do not reach signal handlers');
  });

  it('refuses an invalid or oversized signal with a warning, and isolates failing handlers', async () => {
    const warnings: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { level: number; msg: string };
          if (entry.level === 40) warnings.push(entry.msg);
        }
        cb();
      },
    });
    const bus = new InProcessBus(pino({ level: 'debug' }, stream));
    const got: BusSignal[] = [];
    bus.onSignal(() => {
      throw new Error('boom');
    });
    bus.onSignal((s) => got.push(s));
    await bus.publishSignal({ ...valid, payload: payloadOfSize(MAX_SIGNAL_PAYLOAD_BYTES + 1) });
    await bus.publishSignal({ ...valid, topic: 'Not Valid' });
    await bus.publishSignal(valid);
    await tick();
    assert.deepEqual(got, [valid]);
    assert.deepEqual(warnings, ['refusing to publish signal', 'refusing to publish signal', 'signal handler failed']);
  });
});
