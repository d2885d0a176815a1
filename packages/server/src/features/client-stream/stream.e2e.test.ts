import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChangeFrameData, OfrepRefetchFrameData } from '@runtime-control/core';
import { eventJson, openSse, type SseClient } from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';
import { booleanFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

describe('client snapshot and change stream (SSE)', () => {
  let server: RunningServer;
  let dataDir: string;
  let clientToken: string;
  const streams: SseClient[] = [];
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
    const json = (res.status === 204 ? null : await res.json()) as any;
    return { status: res.status, etag: res.headers.get('etag'), body: json };
  };
  const connect = async (options: { lastEventId?: number } = {}) => {
    const s = await openSse(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${clientToken}` },
      ...options,
    });
    streams.push(s);
    return s;
  };
  const setState = async (key: string, env: string, state: string) => {
    const r = await api('PATCH', `/api/admin/flags/${key}/environments/${env}`, { state });
    assert.equal(r.status, 200);
    return Number(JSON.parse(r.etag!));
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-stream-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, RC_LOG_LEVEL: 'silent', RC_SSE_HEARTBEAT_MS: '200' },
      print: () => {},
    });
    assert.equal((await api('POST', '/api/admin/flags', booleanFlag('a'))).status, 201);
    assert.equal((await api('POST', '/api/admin/flags', booleanFlag('b'))).status, 201);
    clientToken = (await api('POST', '/api/admin/tokens', { kind: 'client', environment: 'production' })).body.token;
  });
  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends the snapshot first, then one change event per revision with the changed keys', async () => {
    const s = await connect();
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /text\/event-stream/);
    const snapshot = await s.waitFor((e) => e.event === 'snapshot', 2000);
    const config = eventJson<{ flags: Record<string, { state: string }> }>(snapshot);
    assert.deepEqual(Object.keys(config.flags), ['a', 'b']);
    assert.equal(Number(snapshot.id), server.runtime.state.revision);

    const revision = await setState('a', 'production', 'DISABLED');
    const change = await s.waitFor((e) => e.event === 'change', 2000);
    assert.equal(Number(change.id), revision);
    const data = eventJson<ChangeFrameData<{ flags: Record<string, { state: string }> }>>(change);
    assert.deepEqual(data.changed, ['a']);
    assert.equal(data.revision, revision);
    assert.equal(data.config.flags.a?.state, 'DISABLED');
  });

  it('does not notify a production client of a development-only change', async () => {
    const s = await connect();
    await s.waitFor((e) => e.event === 'snapshot', 2000);
    const from = s.events.length;
    await setState('b', 'development', 'DISABLED');
    const revision = await setState('b', 'production', 'DISABLED');
    const next = await s.waitFor((e) => e.event === 'change', 2000, { fromIndex: from });
    assert.equal(Number(next.id), revision, 'the first change seen must be the production one');
  });

  it('resumes with Last-Event-ID: only what changed since, or "ready" when up to date', async () => {
    const first = await connect();
    const snap = await first.waitFor((e) => e.event === 'snapshot', 2000);
    const seen = Number(snap.id);
    first.close();
    const revision = await setState('a', 'production', 'ENABLED');

    const resumed = await connect({ lastEventId: seen });
    const change = await resumed.waitFor(() => true, 2000);
    assert.equal(change.event, 'change', 'a resumed client gets a change, not a snapshot');
    assert.equal(Number(change.id), revision);
    assert.deepEqual(eventJson<ChangeFrameData>(change).changed, ['a']);

    const upToDate = await connect({ lastEventId: revision });
    const ready = await upToDate.waitFor(() => true, 2000);
    assert.equal(ready.event, 'ready');
  });

  it('sends heartbeats', async () => {
    const s = await connect();
    await s.waitFor((e) => e.event === 'snapshot', 2000);
    const start = s.comments;
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(s.comments - start >= 2, `expected heartbeats, got ${s.comments - start}`);
  });

  it('counts connected clients in rc_sse_clients', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('rc_sse_clients{environment="production",stream="sdk"}'));
    assert.ok(line, 'rc_sse_clients missing');
    assert.ok(Number(line.split(' ')[1]) >= 1);
  });

  it('serves the snapshot with an ETag and 304 for If-None-Match', async () => {
    const headers = { authorization: `Bearer ${clientToken}` };
    const res = await fetch(`${server.url}/api/client/snapshot`, { headers });
    assert.equal(res.status, 200);
    const etag = res.headers.get('etag')!;
    const body = (await res.json()) as { $schema: string };
    assert.equal(body.$schema, 'https://flagd.dev/schema/v0/flags.json');
    const again = await fetch(`${server.url}/api/client/snapshot`, { headers: { ...headers, 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('OFREP ADR-0008: the bulk response advertises an SSE stream that announces refetchEvaluation', async () => {
    const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'u' } }),
    });
    const stream = ((await res.json()) as { eventStreams: { type: string; url: string }[] }).eventStreams[0]!;
    assert.equal(stream.type, 'sse');
    assert.ok(!String(stream.url).includes(clientToken), 'the stream URL must not carry the token');
    const s = await openSse(stream.url);
    streams.push(s);
    assert.equal(s.status, 200);
    await setState('b', 'production', 'ENABLED');
    const msg = await s.waitFor((e) => e.event === 'message', 2000);
    assert.equal(eventJson<OfrepRefetchFrameData>(msg).type, 'refetchEvaluation');
    const forged = await fetch(`${server.url}/ofrep/v1/sse?key=cHJvZHVjdGlvbg.forged`);
    assert.equal(forged.status, 401);
  });
});
