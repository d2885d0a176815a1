import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { defaultHealthContext, flagHealth, flagHealthStatusCode } from './flag-health.js';

const ADMIN = 'rc-sdk-flag-health-admin-token-01234567';
const SEED = new URL('../../../../examples/devmentor/flags.yaml', import.meta.url).pathname;
const SENTINEL = 'SENTINEL-health-7d1a';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

describe('flagHealth with a RuntimeControlProvider', () => {
  let server: RunningServer;
  let dataDir: string;
  let provider: RuntimeControlProvider;
  let token: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-flag-health-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seedFile: SEED,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    const created = await fetch(`${server.url}/api/admin/flags`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        key: 'billing.vendor-key-hint',
        type: 'string',
        sensitive: true,
        variants: { secret: SENTINEL },
        defaultVariant: 'secret',
        environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
      }),
    });
    assert.equal(created.status, 201);
    await fetch(`${server.url}/api/admin/flags/cache.ttl-seconds/environments/development`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ state: 'DISABLED' }),
    });
    const res = await fetch(`${server.url}/api/admin/tokens`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ kind: 'client', environment: 'development' }),
    });
    token = ((await res.json()) as { token: string }).token;
    provider = new RuntimeControlProvider({ url: server.url, token });
    await provider.initialize();
  });
  after(async () => {
    await provider.onClose();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('evaluates every flag for the context; sensitive values and made-up defaults are left out', async () => {
    const health = await flagHealth(provider, { targetingKey: 'u-alice' });
    assert.deepEqual(health.provider, { name: 'runtime-control', status: 'READY' });
    assert.equal(typeof health.revision, 'number');
    assert.equal(flagHealthStatusCode(health), 200);
    const byKey = Object.fromEntries(health.flags.map((f) => [f.key, f]));
    assert.deepEqual(Object.keys(byKey), provider.flagKeys());
    assert.deepEqual(byKey['new-ui-enabled'], {
      key: 'new-ui-enabled',
      value: true,
      variant: 'on',
      reason: 'TARGETING_MATCH',
    });
    assert.equal(byKey['ai-gateway.request-timeout-ms']?.value, 15000);
    assert.equal((byKey['ai-gateway.routing']?.value as { fallback: string } | undefined)?.fallback, 'local');
    assert.deepEqual(byKey['billing.vendor-key-hint'], {
      key: 'billing.vendor-key-hint',
      variant: 'secret',
      reason: 'STATIC',
      sensitive: true,
    });
    assert.deepEqual(byKey['cache.ttl-seconds'], { key: 'cache.ttl-seconds', reason: 'DISABLED' });
    assert.ok(!JSON.stringify(health).includes(SENTINEL));
  });

  it('shows only the requested keys; an unknown key reports FLAG_NOT_FOUND', async () => {
    const health = await flagHealth(provider, {}, { keys: ['ai-safety-pii', 'nope'] });
    assert.deepEqual(health.flags, [
      { key: 'ai-safety-pii', value: true, variant: 'on', reason: 'STATIC' },
      { key: 'nope', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' },
    ]);
  });

  it('reports NOT_READY (503) for a provider that has no flags yet', async () => {
    const cold = new RuntimeControlProvider({ url: server.url, token });
    const health = await flagHealth(cold, {});
    assert.deepEqual([health.provider.status, health.revision, health.flags], ['NOT_READY', null, []]);
    assert.equal(flagHealthStatusCode(health), 503);
  });
});

describe('flagHealth with another provider', () => {
  it('evaluates the given keys, finding each flag type', async () => {
    const memory = new InMemoryProvider({
      flag: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false },
      color: { variants: { red: 'red' }, defaultVariant: 'red', disabled: false },
      limit: { variants: { low: 5 }, defaultVariant: 'low', disabled: false },
      shape: { variants: { a: { sides: 3 } }, defaultVariant: 'a', disabled: false },
      off: { variants: { on: true }, defaultVariant: 'on', disabled: true },
    });
    await OpenFeature.setProviderAndWait(memory);
    try {
      const health = await flagHealth(memory, {}, { keys: ['flag', 'color', 'limit', 'shape', 'off', 'missing'] });
      assert.deepEqual(health.provider, { name: 'in-memory', status: 'READY' });
      assert.deepEqual(
        health.flags.map((f) => [f.key, f.value, f.reason, f.errorCode]),
        [
          ['flag', true, 'STATIC', undefined],
          ['color', 'red', 'STATIC', undefined],
          ['limit', 5, 'STATIC', undefined],
          ['shape', { sides: 3 }, 'STATIC', undefined],
          ['off', undefined, 'DISABLED', undefined],
          ['missing', undefined, 'ERROR', 'FLAG_NOT_FOUND'],
        ],
      );
      assert.deepEqual((await flagHealth(memory)).flags, [], 'it cannot list its flags');
    } finally {
      await OpenFeature.close();
    }
  });

  it('reads the targeting key from ?user= or x-user-id', () => {
    assert.deepEqual(defaultHealthContext({ user: 'u-1' }, { 'x-user-id': 'u-2' }), { targetingKey: 'u-1' });
    assert.deepEqual(defaultHealthContext({}, { 'x-user-id': 'u-2' }), { targetingKey: 'u-2' });
    assert.deepEqual(defaultHealthContext(undefined, {}), {});
  });
});
