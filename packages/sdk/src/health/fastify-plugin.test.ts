import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InMemoryProvider } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import { createClientToken } from '@runtime-control/testkit';
import Fastify from 'fastify';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { runtimeControlHealthPlugin } from './fastify-plugin.js';
import type { FlagHealth } from './flag-health.js';

const ADMIN = 'rc-sdk-fastify-health-admin-token-012345';
const SENTINEL = 'SENTINEL-fastify-health-52ab';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

describe('runtimeControlHealthPlugin', () => {
  let server: RunningServer;
  let dataDir: string;
  let provider: RuntimeControlProvider;
  let token: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-fastify-health-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    for (const flag of [
      {
        key: 'billing.vendor-key-hint',
        type: 'string',
        sensitive: true,
        variants: { secret: SENTINEL },
        defaultVariant: 'secret',
      },
      {
        key: 'beta',
        type: 'boolean',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        overrides: { 'u-9': 'on' },
      },
    ]) {
      const { overrides, ...rest } = flag;
      const res = await fetch(`${server.url}/api/admin/flags`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({
          ...rest,
          environments: { development: { state: 'ENABLED', overrides }, production: { state: 'ENABLED' } },
        }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    token = await createClientToken(server.url, ADMIN, 'development');
    provider = new RuntimeControlProvider({ url: server.url, token });
    await provider.initialize();
  });
  after(async () => {
    await provider.onClose();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('GET /health/flags: 200 with evaluated values for ?user= or x-user-id, sensitive values withheld', async () => {
    const app = Fastify();
    await app.register(runtimeControlHealthPlugin, { provider });
    const byQuery = await app.inject({ method: 'GET', url: '/health/flags?user=u-9' });
    assert.equal(byQuery.statusCode, 200);
    assert.equal(byQuery.headers['cache-control'], 'no-store');
    assert.ok(!byQuery.body.includes(SENTINEL));
    const body = byQuery.json<FlagHealth>();
    assert.deepEqual(body.provider, { name: 'runtime-control', status: 'READY' });
    assert.deepEqual(
      body.flags.find((f) => f.key === 'beta'),
      { key: 'beta', value: true, variant: 'on', reason: 'TARGETING_MATCH' },
    );
    assert.deepEqual(
      body.flags.find((f) => f.key === 'billing.vendor-key-hint'),
      {
        key: 'billing.vendor-key-hint',
        variant: 'secret',
        reason: 'STATIC',
        sensitive: true,
      },
    );
    const byHeader = await app.inject({ method: 'GET', url: '/health/flags', headers: { 'x-user-id': 'u-9' } });
    assert.equal(byHeader.json<FlagHealth>().flags.find((f) => f.key === 'beta')?.value, true);
    const anonymous = await app.inject({ method: 'GET', url: '/health/flags' });
    assert.equal(anonymous.json<FlagHealth>().flags.find((f) => f.key === 'beta')?.value, false);
    await app.close();
  });

  it('503 with the body while the provider is NOT_READY; a custom path and context', async () => {
    const cold = new RuntimeControlProvider({ url: server.url, token });
    const app = Fastify();
    await app.register(runtimeControlHealthPlugin, {
      provider: cold,
      path: '/debug/flags',
      context: () => ({ targetingKey: 'fixed' }),
    });
    const res = await app.inject({ method: 'GET', url: '/debug/flags' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json<FlagHealth>().provider.status, 'NOT_READY');
    assert.equal((await app.inject({ method: 'GET', url: '/health/flags' })).statusCode, 404);
    await app.close();
  });

  it('works with InMemoryProvider for the given keys', async () => {
    const app = Fastify();
    const memory = new InMemoryProvider({
      f: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false },
    });
    await app.register(runtimeControlHealthPlugin, { provider: memory, keys: ['f'] });
    const res = await app.inject({ method: 'GET', url: '/health/flags' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json<FlagHealth>().flags, [{ key: 'f', value: true, variant: 'on', reason: 'STATIC' }]);
    await app.close();
  });
});
