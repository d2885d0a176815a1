import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import { createClientToken } from '@runtime-control/testkit';
import { pino } from 'pino';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { LoggingHook, SENSITIVE_PLACEHOLDER, type StructuredLogger } from './logging-hook.js';

const ADMIN = 'rc-sdk-logging-hook-admin-token-01234567';
const SENTINEL = 'SENTINEL-9f3c1e-do-not-log';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

/** A real pino logger at debug level writing JSON lines into an array. */
function capturedPino(): { logger: StructuredLogger; lines: () => Record<string, unknown>[]; raw: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return {
    logger,
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('LoggingHook with a RuntimeControlProvider and a sensitive flag', () => {
  let server: RunningServer;
  let dataDir: string;
  let provider: RuntimeControlProvider;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-logging-hook-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
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
        variants: { secret: SENTINEL, other: `${SENTINEL}-2` },
        defaultVariant: 'secret',
        environments: {
          development: { state: 'ENABLED', overrides: { 'u-2': 'other' } },
          production: { state: 'ENABLED' },
        },
      }),
    });
    assert.equal(created.status, 201, await created.text());
    const plain = await fetch(`${server.url}/api/admin/flags`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        key: 'greeting',
        type: 'string',
        variants: { hello: 'hello-world' },
        defaultVariant: 'hello',
        environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
      }),
    });
    assert.equal(plain.status, 201, await plain.text());
    const token = await createClientToken(server.url, ADMIN, 'development');
    provider = new RuntimeControlProvider({ url: server.url, token });
    await OpenFeature.setProviderAndWait('logging-hook-test', provider);
  });
  after(async () => {
    await OpenFeature.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('never logs a sensitive value, on success or on error; logs non-sensitive values at debug', async () => {
    const capture = capturedPino();
    const client = OpenFeature.getClient('logging-hook-test');
    const hooks = [new LoggingHook({ logger: capture.logger })];
    const secret = await client.getStringValue('billing.vendor-key-hint', 'code-default', {}, { hooks });
    assert.equal(secret, SENTINEL, 'the evaluation itself still returns the value');
    await client.getStringValue('billing.vendor-key-hint', 'code-default', { targetingKey: 'u-2' }, { hooks });
    await client.getBooleanValue('billing.vendor-key-hint', false, {}, { hooks }); // TYPE_MISMATCH
    await client.getStringValue('greeting', 'x', {}, { hooks });

    assert.ok(!capture.raw().includes(SENTINEL), `the sentinel leaked:\n${capture.raw()}`);
    const lines = capture.lines();
    assert.equal(lines.length, 4);
    const [first, , mismatch, greeting] = lines;
    assert.deepEqual(
      [first?.level, first?.flagKey, first?.variant, first?.reason, first?.value],
      [20, 'billing.vendor-key-hint', 'secret', 'DEFAULT', SENSITIVE_PLACEHOLDER],
    );
    assert.deepEqual(
      [mismatch?.level, mismatch?.errorCode, mismatch?.errorMessage],
      [40, 'TYPE_MISMATCH', SENSITIVE_PLACEHOLDER],
    );
    assert.deepEqual([greeting?.level, greeting?.value, greeting?.variant], [20, 'hello-world', 'hello']);
  });

  it('logs no context attribute; the targeting key only when asked', async () => {
    const client = OpenFeature.getClient('logging-hook-test');
    const ctx = { targetingKey: 'u-777', email: 'jane@example.com', plan: 'gold' };
    const quiet = capturedPino();
    await client.getStringValue('greeting', 'x', ctx, { hooks: [new LoggingHook({ logger: quiet.logger })] });
    assert.doesNotMatch(quiet.raw(), /u-777|jane@example\.com|gold/);
    const withKey = capturedPino();
    await client.getStringValue('greeting', 'x', ctx, {
      hooks: [new LoggingHook({ logger: withKey.logger, includeTargetingKey: true })],
    });
    assert.equal(withKey.lines()[0]?.targetingKey, 'u-777');
    assert.doesNotMatch(withKey.raw(), /jane@example\.com|gold/);
  });

  it('logs a missing flag at warn with its error code, and can leave values out entirely', async () => {
    const client = OpenFeature.getClient('logging-hook-test');
    const capture = capturedPino();
    const hooks = [new LoggingHook({ logger: capture.logger, includeValues: false })];
    await client.getBooleanValue('no-such-flag', true, {}, { hooks });
    await client.getStringValue('greeting', 'x', {}, { hooks });
    const [missing, greeting] = capture.lines();
    assert.deepEqual([missing?.level, missing?.errorCode, missing?.flagKey], [40, 'FLAG_NOT_FOUND', 'no-such-flag']);
    assert.equal(greeting?.value, undefined);
    assert.equal(greeting?.provider, 'runtime-control');
  });
});

describe('LoggingHook with any provider', () => {
  it('works with InMemoryProvider and never throws into the evaluation when the logger throws', async () => {
    await OpenFeature.setProviderAndWait(
      'logging-hook-memory',
      new InMemoryProvider({ f: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false } }),
    );
    const throwing: StructuredLogger = {
      debug: () => {
        throw new Error('disk full');
      },
      info: () => {},
      warn: () => {},
      error: () => {},
    };
    const client = OpenFeature.getClient('logging-hook-memory');
    const details = await client.getBooleanDetails('f', false, {}, { hooks: [new LoggingHook({ logger: throwing })] });
    assert.deepEqual([details.value, details.errorCode], [true, undefined]);
  });
});
