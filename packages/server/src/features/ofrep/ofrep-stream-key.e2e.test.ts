import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openSse, type SseClient } from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../../server.js';
import { booleanFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

/** OFREP stream keys are bound to a live client token, differ per token, and never reach a log. */
describe('OFREP stream keys', () => {
  let server: RunningServer;
  let dataDir: string;
  const logs: string[] = [];
  const streams: SseClient[] = [];
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };

  const createToken = async (name: string) => {
    const res = await fetch(`${server.url}/api/admin/tokens`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ kind: 'client', environment: 'production', name }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; token: string };
  };
  const streamUrl = async (token: string) => {
    const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: {} }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { eventStreams: { url: string }[] }).eventStreams[0]!.url;
  };
  const keyOf = (url: string) => new URL(url).searchParams.get('key')!;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rc-stream-key-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, RC_LOG_LEVEL: 'trace' },
      logStream: new Writable({
        write(chunk, _enc, cb) {
          logs.push(chunk.toString());
          cb();
        },
      }),
      print: () => {},
      defaultMetrics: false,
    });
    const created = await fetch(`${server.url}/api/admin/flags`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify(booleanFlag('k')),
    });
    assert.equal(created.status, 201);
  });
  after(async () => {
    for (const s of streams) s.close();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is <token id>.<MAC>, different for every token of the same environment, and opens the stream', async () => {
    const one = await createToken('one');
    const two = await createToken('two');
    const keyOne = keyOf(await streamUrl(one.token));
    const keyTwo = keyOf(await streamUrl(two.token));
    assert.ok(keyOne.startsWith(`${one.id}.`), keyOne);
    assert.ok(keyTwo.startsWith(`${two.id}.`), keyTwo);
    assert.notEqual(keyOne.split('.')[1], keyTwo.split('.')[1]);
    assert.equal(keyOf(await streamUrl(one.token)), keyOne, 'stable for one token');
    for (const key of [keyOne, keyTwo]) {
      const s = await openSse(`${server.url}/ofrep/v1/sse?key=${encodeURIComponent(key)}`);
      streams.push(s);
      assert.equal(s.status, 200);
    }
  });

  it('refuses the old environment key (HMAC of the environment under the admin token), forged and swapped keys', async () => {
    const one = await createToken('three');
    const two = await createToken('four');
    const env = 'production';
    const legacy = `${Buffer.from(env).toString('base64url')}.${createHmac('sha256', TEST_ADMIN_TOKEN)
      .update(`ofrep-sse:${env}`)
      .digest('base64url')
      .slice(0, 32)}`;
    const macOfTwo = keyOf(await streamUrl(two.token)).split('.')[1]!;
    const macOfOne = keyOf(await streamUrl(one.token)).split('.')[1]!;
    for (const key of [
      legacy,
      `${one.id}.${macOfTwo}`,
      `${one.id}.${macOfOne.slice(0, -2)}`,
      `${one.id}.${'A'.repeat(macOfOne.length)}`,
      `${one.id}`,
      `not-an-id.${macOfOne}`,
      '',
    ]) {
      const res = await fetch(`${server.url}/ofrep/v1/sse?key=${encodeURIComponent(key)}`);
      assert.equal(res.status, 401, `key ${JSON.stringify(key)}`);
      const body = (await res.json()) as { error: { code: string; path?: string } };
      assert.equal(body.error.code, 'UNAUTHORIZED');
      assert.equal(body.error.path, 'key');
    }
  });

  it('a stream key and a sentinel token never appear in the logs (the request log keeps the path only)', async () => {
    const sentinel = await createToken('sentinel');
    const url = await streamUrl(sentinel.token);
    const key = keyOf(url);
    const s = await openSse(url);
    streams.push(s);
    assert.equal(s.status, 200);
    const forged = await fetch(`${server.url}/ofrep/v1/sse?key=${encodeURIComponent(`${key}x`)}`);
    assert.equal(forged.status, 401);
    await fetch(`${server.url}/api/client/snapshot?token=${sentinel.token}`, {
      headers: { 'x-api-key': sentinel.token },
    });
    await fetch(`${server.url}/ofrep/v1/evaluate/flags/k`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sentinel.token}`, 'content-type': 'application/json' },
      body: '{"context":{}}',
    });
    const revoke = await fetch(`${server.url}/api/admin/tokens/${sentinel.id}`, { method: 'DELETE', headers: admin });
    assert.equal(revoke.status, 204);
    await fetch(url);
    await new Promise((r) => setTimeout(r, 100));

    const requestLogs = logs.filter((l) => l.includes('/ofrep/v1/sse'));
    assert.ok(requestLogs.length >= 3, 'the stream requests are logged (by path)');
    const keyMac = key.split('.')[1]!;
    for (const secret of [sentinel.token, keyMac, encodeURIComponent(keyMac), TEST_ADMIN_TOKEN]) {
      const leaks = logs.filter((l) => l.includes(secret));
      assert.deepEqual(leaks, [], 'a secret reached the log');
    }
    assert.ok(!logs.some((l) => l.includes('?key=') || l.includes('?token=')), 'a query string reached the log');
  });
});
