import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import type { ReconnectFrameData } from '@runtime-control/core';
import { eventJson, eventually, openSse, Resources, sleep } from '@runtime-control/testkit';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../testing/test-app.js';

/**
 * Graceful shutdown of one replica: readiness turns 503 first, streams get a final `reconnect` frame, requests in
 * flight finish, new streams are refused, and closing is bounded by RC_SHUTDOWN_TIMEOUT_MS. (The rolling restart of
 * two replicas with a live SDK client is in the SDK's provider tests.)
 */

/** A keep-alive GET that resolves with status and body, or rejects when the connection is cut. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A test app with a slow route (to hold a request in flight), listening on a free loopback port. */
async function listeningApp(env: Record<string, string>, slowMs: number): Promise<{ t: TestApp; url: string }> {
  const t = await createTestApp(env);
  (t.app as FastifyInstance).get('/test/slow', async () => {
    await sleep(slowMs);
    return { finished: true };
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  assert.ok(address && typeof address === 'object');
  return { t, url: `http://127.0.0.1:${address.port}` };
}

describe('graceful shutdown of a replica', () => {
  const cleanup = new Resources();
  after(() => cleanup.closeAll());

  it('streams get a final reconnect frame and end; a request in flight finishes; then the listener is closed', async () => {
    const { t, url } = await listeningApp({}, 600);
    cleanup.add(() => t.close());
    const client = await t.clientHeaders('production');
    const stream = await openSse(`${url}/api/client/stream`, { headers: client });
    cleanup.add(() => stream.close());
    assert.equal(stream.status, 200);
    await stream.waitFor((e) => e.event === 'snapshot', 5000);

    const inFlight = get(`${url}/test/slow`);
    await sleep(100);
    const closing = t.app.close();
    const reconnect = await stream.waitFor((e) => e.event === 'reconnect', 5000);
    assert.deepEqual(eventJson<ReconnectFrameData>(reconnect), { reason: 'replica shutting down' });
    await eventually(() => stream.closed, 2000, 'the stream ends after its reconnect frame', 10);
    assert.equal(stream.events[stream.events.length - 1]?.event, 'reconnect', 'reconnect is the last frame');

    const finished = await inFlight;
    assert.equal(finished.status, 200, 'the request in flight was not cut');
    assert.deepEqual(JSON.parse(finished.body), { finished: true });
    await closing;
    await assert.rejects(get(`${url}/health`), 'the listener is closed');
    assert.equal(t.rt.lifecycle.draining, true);
  });

  it('readiness answers 503 "draining" once draining starts, while everything else is still served', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    const before = await t.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(before.statusCode, 200);
    assert.equal(before.json().status, 'ok');

    t.rt.lifecycle.beginDrain();
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().status, 'draining');
    assert.equal(ready.json().checks.database.status, 'ok', 'the checks still say what they found');
    const live = await t.app.inject({ method: 'GET', url: '/health' });
    assert.equal(live.statusCode, 200, 'liveness stays 200: a draining replica must not be restarted');
    const flags = await t.app.inject({ method: 'GET', url: '/api/admin/flags', headers: t.admin });
    assert.equal(flags.statusCode, 200, 'requests routed here before the load balancer noticed are served');
  });

  it('after the streams were handed over, a new stream is refused with 503 UNAVAILABLE (connect elsewhere)', async () => {
    const t = await createTestApp();
    cleanup.add(() => t.close());
    const client = await t.clientHeaders('production');
    t.rt.sse.drain('replica shutting down');
    for (const url of ['/api/client/stream', '/ofrep/v1/sse']) {
      const res = await t.app.inject({ method: 'GET', url, headers: client });
      assert.equal(res.statusCode, 503, `${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'UNAVAILABLE');
      assert.match(res.json().error.message, /shutting down/);
    }
  });

  it('RC_SHUTDOWN_TIMEOUT_MS bounds closing: a request still running then is cut', async () => {
    const { t, url } = await listeningApp({ RC_SHUTDOWN_TIMEOUT_MS: '300' }, 30_000);
    const inFlight = get(`${url}/test/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(100);
    const started = Date.now();
    await t.close();
    const took = Date.now() - started;
    assert.equal(await inFlight, 'cut');
    // Generous: the bound is 300 ms; this only proves close does not wait for the 30 s request.
    assert.ok(took < 10_000, `close took ${took} ms`);
  });

  it('RunningServer.shutdown reports each step and stays idempotent with close', async () => {
    const { startServer } = await import('../server.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = await mkdtemp(join(tmpdir(), 'rc-shutdown-'));
    cleanup.add(() => rm(dataDir, { recursive: true, force: true }));
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN, RC_LOG_LEVEL: 'silent', RC_DRAIN_DELAY_MS: '400' },
      print: () => {},
      defaultMetrics: false,
    });
    const lines: string[] = [];
    const stopping = server.shutdown((line) => lines.push(line));
    // During the drain delay: not ready, still answering.
    const ready = await get(`${server.url}/health/ready`);
    assert.equal(ready.status, 503);
    assert.equal(JSON.parse(ready.body).status, 'draining');
    const live = await get(`${server.url}/health`);
    assert.equal(live.status, 200);
    await Promise.all([stopping, server.close()]);
    assert.match(lines[0] ?? '', /draining: \/health\/ready answers 503; serving 400 ms more/);
    assert.match(lines.join('\n'), /stopped/);
    await assert.rejects(get(`${server.url}/health`));
  });
});
