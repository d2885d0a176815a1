import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SecretBackend } from './backend.js';
import type { SecretBundle } from './bundle.js';
import { BackendUnavailableError } from './errors.js';
import { LocalSecretBackend } from './local-backend.js';
import { RotationInProgressError, type RotationState, RotationStepError, Rotator } from './rotation.js';
import { SqliteRotationStore } from './rotation-store.js';

const dir = mkdtempSync(join(tmpdir(), 'rc-rotation-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bundle: SecretBundle = {
  service: 'api-gateway',
  name: 'app',
  path: 'devmentor/api-gateway',
  properties: { JWT_SECRET: 'JWT_SECRET' },
};

/** The local backend, with a gate on patch (to hold a rotation mid-step) and a one-shot failure. */
function gatedBackend(inner: LocalSecretBackend) {
  let release: (() => void) | undefined;
  let failNext = false;
  const backend: SecretBackend = Object.assign(Object.create(inner) as SecretBackend, {
    patch: async (...args: Parameters<SecretBackend['patch']>) => {
      if (failNext) {
        failNext = false;
        throw new BackendUnavailableError('UNAVAILABLE', 'store briefly unavailable', {
          operation: 'patch',
          backend: 'local',
        });
      }
      if (release === undefined) return inner.patch(...args);
      await new Promise<void>((resolve) => {
        const r = release!;
        release = () => {
          r();
          resolve();
        };
      });
      return inner.patch(...args);
    },
  });
  return {
    backend,
    hold: () => {
      release = () => {};
    },
    release: () => {
      const r = release;
      release = undefined;
      r?.();
    },
    failOnce: () => {
      failNext = true;
    },
  };
}

describe('SqliteRotationStore: rotation states across processes and restarts', () => {
  const local = new LocalSecretBackend({ database: join(dir, 'secrets.db'), key: Buffer.alloc(32, 9) });
  const file = join(dir, 'rotations.db');
  after(() => local.close());

  it('lets one of two processes rotate a bundle at a time (CONFLICT across processes), then the other', async () => {
    await local.write(bundle.path, { JWT_SECRET: 'v1' }, { cas: 0 });
    const gate = gatedBackend(local);
    const storeA = new SqliteRotationStore(file);
    const storeB = new SqliteRotationStore(file);
    try {
      const a = new Rotator({ backend: gate.backend, store: storeA });
      const b = new Rotator({ backend: local, store: storeB });
      gate.hold();
      const first = a.rotate(bundle, { property: 'JWT_SECRET', value: 'v2', actor: 'alice' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await assert.rejects(
        b.rotate(bundle, { property: 'JWT_SECRET', value: 'v2b', actor: 'bob' }),
        (error: unknown) => error instanceof RotationInProgressError && error.code === 'CONFLICT',
      );
      const running = await storeB.list('api-gateway/app');
      assert.equal(running[0]?.status, 'running');
      gate.release();
      const done = await first;
      assert.equal(done.status, 'completed');
      const stored = await storeB.get(done.id);
      assert.deepEqual(stored, done);
      const second = await b.rotate(bundle, { property: 'JWT_SECRET', value: 'v3', actor: 'bob' });
      assert.equal(second.version, 3);
      assert.deepEqual(
        (await storeA.list('api-gateway/app')).map((s) => s.actor),
        ['bob', 'alice'],
      );
    } finally {
      storeA.close();
      storeB.close();
    }
  });

  it('keeps a failed rotation so a new process can resume it', async () => {
    const gate = gatedBackend(local);
    const store = new SqliteRotationStore(file);
    let failed: RotationState | undefined;
    try {
      gate.failOnce();
      await assert.rejects(
        new Rotator({ backend: gate.backend, store }).rotate(bundle, {
          property: 'JWT_SECRET',
          value: 'v4',
          actor: 'carol',
        }),
        (error: unknown) => {
          assert.ok(error instanceof RotationStepError);
          failed = error.state;
          return true;
        },
      );
    } finally {
      store.close();
    }
    const restarted = new SqliteRotationStore(file);
    try {
      const stored = await restarted.get(failed!.id);
      assert.equal(stored?.status, 'failed');
      assert.equal(stored?.error?.code, 'UNAVAILABLE');
      assert.equal(JSON.stringify(stored).includes('v4'), false, 'a state holds no value');
      const resumed = await new Rotator({ backend: local, store: restarted }).resume(bundle, stored!, { value: 'v4' });
      assert.equal(resumed.status, 'completed');
      assert.equal((await restarted.get(failed!.id))?.status, 'completed');
      assert.equal((await local.readData(bundle.path)).data.JWT_SECRET, 'v4');
    } finally {
      restarted.close();
    }
  });

  it('takes over a running rotation whose process stopped saving (stale), not a live one', async () => {
    let clock = Date.now();
    const store = new SqliteRotationStore(join(dir, 'stale.db'), () => clock);
    try {
      const state = (id: string): RotationState => ({
        id,
        bundle: 'x/y',
        property: 'P',
        actor: 'a',
        kind: 'rotation',
        startedAt: new Date(clock).toISOString(),
        status: 'running',
        step: 'write',
        history: [],
      });
      await store.claim(state('one'), 60_000);
      clock += 30_000;
      await assert.rejects(store.claim(state('two'), 60_000), RotationInProgressError);
      clock += 31_000;
      await store.claim(state('two'), 60_000);
      assert.deepEqual((await store.list('x/y')).map((s) => [s.id, s.status]).sort(), [
        ['one', 'running'],
        ['two', 'running'],
      ]);
    } finally {
      store.close();
    }
  });
});
