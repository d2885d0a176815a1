import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { InProcessBus } from '../bus/in-process-bus.js';
import { createMetrics } from '../metrics/metrics.js';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ChangeSync } from './change-sync.js';
import { ReplicaState } from './replica-state.js';

/** The same store, counting `changesSince` calls (the re-read a bus message can cause). */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'changesSince') {
        return (revision: number) => {
          reads++;
          return target.changesSince(revision);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: wrapped, reads: () => reads };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ChangeSync', () => {
  const closers: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('a replica does not re-read the store for its own bus message; another replica reads once', async () => {
    const shared = await createSqliteStore(':memory:');
    closers.push(() => shared.close());
    const bus = new InProcessBus();
    closers.push(() => bus.close());
    const logger = pino({ level: 'silent' });
    const replica = async (id: string) => {
      const c = counting(shared);
      const state = new ReplicaState(c.store, ['production'], logger);
      await state.load();
      // A long reconciliation interval: only the write and the bus message may trigger a read here.
      const sync = new ChangeSync(state, bus, createMetrics({ defaultMetrics: false }), logger, id, 3_600_000);
      sync.start();
      closers.push(() => sync.close());
      return { state, sync, reads: c.reads };
    };
    const writer = await replica('replica-a');
    const other = await replica('replica-b');
    const readsBefore = { writer: writer.reads(), other: other.reads() };

    for (let i = 1; i <= 3; i++) {
      const stored = await shared.createFlag(
        {
          key: `flag-${i}`,
          type: 'boolean',
          variants: { on: true, off: false },
          defaultVariant: 'off',
          environments: { production: { state: 'ENABLED' } },
        },
        { name: 'test' },
      );
      await writer.sync.afterWrite(stored.revision);
      assert.equal(writer.state.revision, stored.revision);
      await until(() => other.state.revision === stored.revision, `replica-b to apply revision ${stored.revision}`);
      // Let any catch-up the messages scheduled run before counting.
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(writer.reads() - readsBefore.writer, i, `the writer read once per write (write ${i})`);
      assert.equal(other.reads() - readsBefore.other, i, `the other replica read once per message (write ${i})`);
    }
  });
});
