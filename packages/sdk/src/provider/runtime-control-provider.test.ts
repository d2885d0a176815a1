import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import { RuntimeControlProvider } from './runtime-control-provider.js';

const ADMIN = 'rc-sdk-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A control plane that can be stopped and started again on the same port and data (an outage). */
class ControlPlane {
  server: RunningServer | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'rc-sdk-'));
  constructor(readonly port: number) {}
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(seed = false) {
    this.server = await startServer({
      port: this.port,
      host: '127.0.0.1',
      dataDir: this.dataDir,
      seedFile: seed ? new URL('../../../../examples/devmentor/flags.yaml', import.meta.url).pathname : undefined,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent', RC_SSE_HEARTBEAT_MS: '1000' },
      print: () => {},
    });
  }
  async stop() {
    await this.server?.close();
    this.server = undefined;
  }
  async api(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  async clientToken(environment = 'development') {
    return (await this.api('POST', '/api/admin/tokens', { kind: 'client', environment })).body.token as string;
  }
  cleanup() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Records every provider event in order. */
function recordEvents(provider: RuntimeControlProvider) {
  const seen: { type: string; flagsChanged?: string[]; at: number }[] = [];
  for (const type of [
    ProviderEvents.Ready,
    ProviderEvents.Stale,
    ProviderEvents.Error,
    ProviderEvents.ConfigurationChanged,
  ]) {
    provider.events.addHandler(type, (details) =>
      seen.push({ type, flagsChanged: details?.flagsChanged as string[] | undefined, at: Date.now() }),
    );
  }
  return seen;
}

describe('RuntimeControlProvider against a real server', () => {
  let cp: ControlPlane;
  let token: string;
  const providers: RuntimeControlProvider[] = [];
  const make = (options: Partial<ConstructorParameters<typeof RuntimeControlProvider>[0]> = {}) => {
    const p = new RuntimeControlProvider({
      url: cp.url,
      token,
      errorGracePeriodMs: 300,
      // The control plane here is one server that stops (an outage), so its `reconnect` frame finds no other replica.
      handoverGraceMs: 200,
      reconnectInitialMs: 50,
      reconnectMaxMs: 200,
      initTimeoutMs: 2000,
      cacheWaitMs: 300,
      ...options,
    });
    providers.push(p);
    return p;
  };

  before(async () => {
    cp = new ControlPlane(await freePort());
    await cp.start(true);
    token = await cp.clientToken();
  });
  after(async () => {
    for (const p of providers) await p.onClose();
    await OpenFeature.close();
    await cp.stop();
    cp.cleanup();
  });

  it('evaluates through the OpenFeature client: values, targeting, FLAG_NOT_FOUND and TYPE_MISMATCH', async () => {
    const provider = make();
    await OpenFeature.setProviderAndWait('contract', provider);
    const client = OpenFeature.getClient('contract');
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(await client.getBooleanValue('ai-safety-pii', false), true);
    const tester = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
    assert.deepEqual([tester.value, tester.variant, tester.reason], [true, 'on', 'TARGETING_MATCH']);
    const other = await client.getBooleanDetails('new-ui-enabled', true, { targetingKey: 'u-zed' });
    assert.deepEqual([other.value, other.reason], [false, 'DEFAULT']);
    assert.equal(await client.getNumberValue('ai-gateway.request-timeout-ms', 1), 15000);
    const routing = await client.getObjectValue('ai-gateway.routing', {});
    assert.equal((routing as { fallback: string }).fallback, 'local');
    const missing = await client.getBooleanDetails('no-such-flag', true);
    assert.deepEqual([missing.value, missing.errorCode], [true, 'FLAG_NOT_FOUND']);
    const mismatch = await client.getStringDetails('ai-safety-pii', 'fallback');
    assert.deepEqual([mismatch.value, mismatch.errorCode], ['fallback', 'TYPE_MISMATCH']);
  });

  it('the fast path gives the same answers as the OpenFeature client', async () => {
    const provider = make();
    await OpenFeature.setProviderAndWait('fast', provider);
    const client = OpenFeature.getClient('fast');
    for (let i = 0; i < 300; i++) {
      const ctx = { targetingKey: i % 7 === 0 ? 'u-bob' : `user-${i}` };
      assert.equal(
        provider.flags.boolean('new-ui-enabled', false, ctx),
        await client.getBooleanValue('new-ui-enabled', false, ctx),
      );
      assert.equal(
        provider.flags.number('cache.ttl-seconds', 1, ctx),
        await client.getNumberValue('cache.ttl-seconds', 1, ctx),
      );
    }
    assert.equal(provider.flags.string('ai-safety-pii', 'fb'), 'fb', 'a wrong type gives the fallback');
    assert.equal(provider.flags.boolean('nope', true), true);
    assert.deepEqual(provider.flagKeys().includes('ai-gateway.routing'), true);
    assert.equal(provider.flagType('ai-gateway.routing'), 'object');
  });

  it('returns flagd flag metadata as flagMetadata, through the OpenFeature client and the fast path alike', async () => {
    const metadata = { owner: 'team-web', ticket: 'WEB-1234', expiresOn: 20270301, temporary: true };
    const created = await cp.api('POST', '/api/admin/flags', {
      key: 'sdk-metadata-flag',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      metadata,
      environments: { development: { state: 'ENABLED' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const provider = make();
    await OpenFeature.setProviderAndWait('metadata', provider);
    const details = await OpenFeature.getClient('metadata').getBooleanDetails('sdk-metadata-flag', false);
    assert.deepEqual([details.value, details.flagMetadata], [true, metadata]);
    assert.deepEqual(provider.evaluate('boolean', 'sdk-metadata-flag', false, {}).flagMetadata, metadata);
  });

  it('a flag without a default variant gives the code default with reason DEFAULT and no variant, as flagd does', async () => {
    const created = await cp.api('POST', '/api/admin/flags', {
      key: 'sdk-no-default',
      type: 'string',
      variants: { eu: 'eu-west', us: 'us-east' },
      defaultVariant: null,
      environments: {
        development: { state: 'ENABLED', targeting: { if: [{ '==': [{ var: 'country' }, 'US'] }, 'us', null] } },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const provider = make();
    await OpenFeature.setProviderAndWait('no-default', provider);
    const client = OpenFeature.getClient('no-default');
    const fallback = await client.getStringDetails('sdk-no-default', 'code-default', {
      targetingKey: 'u',
      country: 'DE',
    });
    assert.deepEqual([fallback.value, fallback.reason, fallback.variant], ['code-default', 'DEFAULT', undefined]);
    const matched = await client.getStringDetails('sdk-no-default', 'code-default', {
      targetingKey: 'u',
      country: 'US',
    });
    assert.deepEqual([matched.value, matched.reason, matched.variant], ['us-east', 'TARGETING_MATCH', 'us']);
    assert.equal(provider.flags.string('sdk-no-default', 'fast-path-default', { country: 'DE' }), 'fast-path-default');
  });

  it('emits CONFIGURATION_CHANGED with the changed keys when a flag changes, and evaluates the new value', async () => {
    const provider = make();
    await OpenFeature.setProviderAndWait('changes', provider);
    const events = recordEvents(provider);
    const start = Date.now();
    const res = await cp.api('PUT', '/api/admin/flags/new-ui-enabled/environments/development/overrides/u-123', {
      variant: 'on',
    });
    assert.equal(res.status, 200);
    const ms = await until('u-123 to see the new value', () =>
      provider.flags.boolean('new-ui-enabled', false, { targetingKey: 'u-123' }),
    );
    assert.ok(Date.now() - start < 1000, `took ${ms} ms`);
    const change = events.find((e) => e.type === ProviderEvents.ConfigurationChanged);
    assert.deepEqual(change?.flagsChanged, ['new-ui-enabled']);
    assert.equal(
      provider.flags.boolean('new-ui-enabled', false, { targetingKey: 'u-456' }),
      false,
      'other users unchanged',
    );
  });

  it('does not accept a rejected token: FATAL, code defaults, no exception', async () => {
    const provider = make({ token: 'rc_client_not-a-real-token' });
    await assert.rejects(provider.initialize(), /rejected the token/);
    assert.equal(provider.state, 'FATAL');
    assert.equal(provider.flags.boolean('ai-safety-pii', false), false);
  });

  it('outage: STALE then ERROR while serving the last values; READY and fresh values within 2 s of recovery', async () => {
    const provider = make();
    await OpenFeature.setProviderAndWait('outage', provider);
    const client = OpenFeature.getClient('outage');
    const events = recordEvents(provider);
    await cp.stop();
    await until('STALE', () => events.some((e) => e.type === ProviderEvents.Stale));
    const stale = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
    assert.deepEqual([stale.value, stale.reason], [true, 'STALE'], 'last known value served with reason STALE');
    assert.equal(client.providerStatus, ProviderStatus.STALE);
    await until('ERROR after the grace period', () => events.some((e) => e.type === ProviderEvents.Error));
    assert.equal(client.providerStatus, ProviderStatus.ERROR);
    const during = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
    assert.equal(during.value, true, 'still the last known value in ERROR');
    assert.equal(provider.flags.boolean('ai-safety-pii', false), true);

    await cp.start();
    const restartedAt = Date.now();
    await cp.api('PATCH', '/api/admin/flags/ai-provider-openai-enabled/environments/development', {
      targeting: { if: [{ '==': [1, 1] }, 'on', null] },
    });
    await until('READY', () => events.some((e) => e.type === ProviderEvents.Ready), 2000);
    await until('the fresh value', () => provider.flags.boolean('ai-provider-openai-enabled', false), 2000);
    assert.ok(Date.now() - restartedAt < 2000);
    assert.equal(client.providerStatus, ProviderStatus.READY);
    const fresh = await client.getBooleanDetails('ai-provider-openai-enabled', false);
    assert.deepEqual([fresh.value, fresh.reason], [true, 'TARGETING_MATCH']);
    assert.deepEqual(
      events.map((e) => e.type).filter((t) => t !== ProviderEvents.ConfigurationChanged),
      [ProviderEvents.Stale, ProviderEvents.Error, ProviderEvents.Ready],
    );
  });

  it('a service started during an outage serves the on-disk snapshot (CACHED), then live values after recovery', async () => {
    const cachePath = join(cp.dataDir, 'sdk-cache', 'flags.json');
    const first = make({ cachePath });
    await first.initialize();
    assert.equal(first.flags.boolean('new-ui-enabled', false, { targetingKey: 'u-alice' }), true);
    await first.onClose();
    await cp.stop();

    const restarted = make({ cachePath });
    const events = recordEvents(restarted);
    await OpenFeature.setProviderAndWait('cached', restarted);
    const client = OpenFeature.getClient('cached');
    const cached = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
    assert.deepEqual([cached.value, cached.reason], [true, 'CACHED']);
    assert.equal(await client.getBooleanValue('ai-safety-pii', false), true);
    await until('STALE', () => events.some((e) => e.type === ProviderEvents.Stale));

    await cp.start();
    await until('READY', () => events.some((e) => e.type === ProviderEvents.Ready), 2000);
    const live = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
    assert.deepEqual([live.value, live.reason], [true, 'TARGETING_MATCH']);
  });

  it('with neither server nor cache: code defaults (PROVIDER_NOT_READY), no exception; READY once the server answers', async () => {
    await cp.stop();
    const provider = make({ initTimeoutMs: 200 });
    const events = recordEvents(provider);
    OpenFeature.setProvider('cold', provider);
    const client = OpenFeature.getClient('cold');
    await until('initialize to fail', () => client.providerStatus === ProviderStatus.ERROR, 2000);
    const d = await client.getBooleanDetails('ai-safety-pii', true);
    assert.equal(d.value, true);
    assert.equal(d.errorCode, 'PROVIDER_NOT_READY');
    await cp.start();
    await until('READY', () => events.some((e) => e.type === ProviderEvents.Ready), 3000);
    assert.equal(await client.getBooleanValue('ai-provider-openai-enabled', false), true);
    assert.equal(client.providerStatus, ProviderStatus.READY);
  });
});
