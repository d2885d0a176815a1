import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '@runtime-control/server';
import { openSse } from '@runtime-control/testkit';
import { RuntimeControlProvider } from './runtime-control-provider.js';

/**
 * Client-stream deltas (issue 15): the SDK asks for `?format=delta`, applies each `delta` to its copy of the server's
 * document, and takes a snapshot when a delta shows it missed a change. Against a real server (SQLite).
 */

const ADMIN = 'rc-sdk-deltas-admin-token-0123456789';
const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A small deterministic PRNG (mulberry32), so a failure replays with the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('client stream deltas (SDK against a real server)', () => {
  let server: RunningServer;
  let dataDir: string;
  let token: string;
  const providers: RuntimeControlProvider[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, etag: res.headers.get('etag') };
  };
  const snapshot = async () =>
    (await (
      await fetch(`${server.url}/api/client/snapshot`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { flags: Record<string, { state: string }> };
  const revision = async () => (await api('GET', '/api/admin/flags')).body.revision as number;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-sdk-deltas-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    token = (await api('POST', '/api/admin/tokens', { kind: 'client', environment: 'development' })).body.token;
  });
  after(async () => {
    for (const p of providers) await p.onClose();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('after 1,000 random changes the SDK holds exactly a fresh snapshot, having received deltas only', async () => {
    const provider = new RuntimeControlProvider({ url: server.url, token, reconnectInitialMs: 50 });
    providers.push(provider);
    await provider.initialize();
    // A second stream with the SDK's format, to see what it was sent.
    const wire = await openSse(`${server.url}/api/client/stream?format=delta`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await wire.waitFor((e) => e.event === 'snapshot', 5000);

    const next = random(15);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const keys: string[] = [];
    const evaluators = ['testers', 'staff'];
    await api('PUT', '/api/admin/evaluators/testers', { in: [{ var: 'targetingKey' }, ['u-1', 'u-2']] });
    await api('PUT', '/api/admin/evaluators/staff', { ends_with: [{ var: 'email' }, '@example.com'] });
    let writes = 0;
    while (writes < 1000) {
      const roll = next();
      let res: { status: number };
      if (keys.length < 5 || roll < 0.25) {
        const key = `f-${writes}`;
        const targeting = next() < 0.5 ? { if: [{ $ref: pick(evaluators) }, 'on', null] } : undefined;
        res = await api('POST', '/api/admin/flags', {
          key,
          type: 'boolean',
          variants: { on: true, off: false },
          defaultVariant: next() < 0.2 ? null : 'off',
          metadata: { owner: pick(['web', 'api', 'data']) },
          environments: {
            development: { state: next() < 0.8 ? 'ENABLED' : 'DISABLED', ...(targeting ? { targeting } : {}) },
            production: { state: 'ENABLED' },
          },
        });
        if (res.status === 201) keys.push(key);
      } else if (roll < 0.65) {
        res = await api('PATCH', `/api/admin/flags/${pick(keys)}/environments/development`, {
          state: next() < 0.5 ? 'ENABLED' : 'DISABLED',
        });
      } else if (roll < 0.75) {
        res = await api('PATCH', `/api/admin/flags/${pick(keys)}/environments/production`, { state: 'DISABLED' });
      } else if (roll < 0.85) {
        const key = keys.splice(Math.floor(next() * keys.length), 1)[0]!;
        res = await api('DELETE', `/api/admin/flags/${key}`);
      } else {
        const name = pick(evaluators);
        res = await api('PUT', `/api/admin/evaluators/${name}`, {
          in: [{ var: 'targetingKey' }, [`u-${Math.floor(next() * 100)}`]],
        });
      }
      assert.ok(res.status < 300, `write ${writes}: ${res.status} ${JSON.stringify(res)}`);
      writes++;
    }
    const last = await revision();
    await until('the SDK to reach the last revision', () => (provider.currentRevision ?? 0) >= last);
    await until(
      'the wire stream to reach it',
      () => wire.lastEventId === String(last) || Number(wire.lastEventId) >= last,
    );
    assert.deepEqual(JSON.parse(provider.configurationJson()!), await snapshot());
    const events = wire.events.map((e) => e.event);
    assert.equal(events[0], 'snapshot');
    assert.ok(
      events.slice(1).every((e) => e === 'delta'),
      `only deltas after the snapshot: ${[...new Set(events)]}`,
    );
    assert.ok(events.length > 100, 'development changed often');
    wire.close();
  });

  it('resumes with Last-Event-ID as one delta of what was missed (changed and removed flags), then follows', async () => {
    for (const key of ['keep', 'drop']) {
      await api('POST', '/api/admin/flags', {
        key: `resume-${key}`,
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        environments: { development: { state: 'ENABLED' } },
      });
    }
    const held = await revision();
    await api('PATCH', '/api/admin/flags/resume-keep/environments/development', { state: 'DISABLED' });
    await api('DELETE', '/api/admin/flags/resume-drop');
    const resumed = await openSse(`${server.url}/api/client/stream?format=delta`, {
      headers: { authorization: `Bearer ${token}` },
      lastEventId: held,
    });
    const first = await resumed.waitFor(() => true, 5000);
    resumed.close();
    assert.equal(first.event, 'delta');
    const delta = JSON.parse(first.data);
    assert.equal(delta.base, held);
    assert.deepEqual(Object.keys(delta.flags), ['resume-keep']);
    assert.equal(delta.flags['resume-keep'].state, 'DISABLED');
    assert.deepEqual(delta.removed, ['resume-drop']);
    assert.ok(Object.hasOwn(delta.top, '$evaluators'), 'a resume states every top-level entry');
    // Without ?format=delta the same resume is a whole-document `change` (older clients).
    const full = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${token}` },
      lastEventId: held,
    });
    const fullFirst = await full.waitFor(() => true, 5000);
    full.close();
    assert.equal(fullFirst.event, 'change');
    assert.equal(
      (await fetch(`${server.url}/api/client/stream?format=xml`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
      400,
    );
  });

  it('a delta is as large as the change, whatever the flag count; a whole-document change grows with it', async () => {
    const sizes = async () => {
      const delta = await openSse(`${server.url}/api/client/stream?format=delta`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const full = await openSse(`${server.url}/api/client/stream`, { headers: { authorization: `Bearer ${token}` } });
      await delta.waitFor((e) => e.event === 'snapshot', 5000);
      await full.waitFor((e) => e.event === 'snapshot', 5000);
      const from = { delta: delta.events.length, full: full.events.length };
      await api('PATCH', '/api/admin/flags/size-probe/environments/development', {
        state: (await snapshot()).flags['size-probe']?.state === 'ENABLED' ? 'DISABLED' : 'ENABLED',
      });
      const d = await delta.waitFor((e) => e.event === 'delta', 5000, { fromIndex: from.delta });
      const f = await full.waitFor((e) => e.event === 'change', 5000, { fromIndex: from.full });
      delta.close();
      full.close();
      return { delta: d.data.length, full: f.data.length };
    };
    await api('POST', '/api/admin/flags', {
      key: 'size-probe',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      environments: { development: { state: 'ENABLED' } },
    });
    const small = await sizes();
    for (let i = 0; i < 300; i++) {
      const res = await api('POST', '/api/admin/flags', {
        key: `bulk-${i}`,
        type: 'string',
        variants: { a: `value-${i}-a`, b: `value-${i}-b` },
        defaultVariant: 'a',
        environments: { development: { state: 'ENABLED', targeting: { if: [{ $ref: 'testers' }, 'b', null] } } },
      });
      assert.equal(res.status, 201);
    }
    const large = await sizes();
    assert.ok(large.full > small.full + 300 * 50, `the whole document grew: ${small.full} → ${large.full} bytes`);
    assert.ok(Math.abs(large.delta - small.delta) < 64, `the delta did not: ${small.delta} → ${large.delta} bytes`);
  });
});

describe('RuntimeControlProvider and a delta it cannot apply', () => {
  it('takes a snapshot (a connection without Last-Event-ID) when a delta starts after what it holds; skips old ones', async () => {
    const doc = (value: boolean) => ({
      flags: { f: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: value ? 'on' : 'off' } },
    });
    const requests: { url: string; lastEventId: string | undefined }[] = [];
    const server = http.createServer((req, res) => {
      requests.push({ url: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (requests.length === 1) {
        res.write(`id: 5\nevent: snapshot\ndata: ${JSON.stringify(doc(false))}\n\n`);
        // Already held (revision ≤ 5): skipped. Then one that starts at 7 while the client holds 5: a gap.
        const stale = { revision: 4, base: 3, etag: 'x', flags: { f: doc(true).flags.f }, removed: [], top: {} };
        res.write(`id: 4\nevent: delta\ndata: ${JSON.stringify(stale)}\n\n`);
        const gap = { revision: 8, base: 7, etag: 'y', flags: {}, removed: ['f'], top: {} };
        setTimeout(() => res.write(`id: 8\nevent: delta\ndata: ${JSON.stringify(gap)}\n\n`), 100);
      } else {
        res.write(`id: 8\nevent: snapshot\ndata: ${JSON.stringify(doc(true))}\n\n`);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new RuntimeControlProvider({ url, token: 't', reconnectInitialMs: 20, handoverGraceMs: 500 });
    try {
      await provider.initialize();
      assert.equal(
        (await provider.resolveBooleanEvaluation('f', true, {})).value,
        false,
        'the stale delta was skipped',
      );
      await until('a second connection', () => requests.length >= 2, 5000);
      await until('the snapshot', () => provider.currentRevision === 8, 5000);
      assert.deepEqual(
        requests.map((r) => [r.url, r.lastEventId]),
        [
          ['/api/client/stream?format=delta', undefined],
          ['/api/client/stream?format=delta', undefined],
        ],
        'the reconnect asked for a snapshot, not a resume',
      );
      assert.equal((await provider.resolveBooleanEvaluation('f', false, {})).value, true, 'serving the snapshot');
    } finally {
      await provider.onClose();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
