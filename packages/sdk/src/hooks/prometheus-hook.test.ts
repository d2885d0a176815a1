import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OpenFeature } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import { createClientToken } from '@runtime-control/testkit';
import { Registry } from 'prom-client';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { OTHER_FLAG_KEY, PrometheusHook } from './prometheus-hook.js';

const ADMIN = 'rc-sdk-prometheus-hook-admin-token-0123';
const SEED = new URL('../../../../examples/devmentor/flags.yaml', import.meta.url).pathname;

type Series = Record<string, number>;

/** `{ 'flag_key=…,variant=…': value }` for one metric, so whole series sets compare with deepEqual. */
async function series(registry: Registry, name: string): Promise<Series> {
  const metrics = await registry.getMetricsAsJSON();
  const metric = metrics.find((m) => m.name === name);
  const out: Series = {};
  for (const v of (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[]) {
    const id = Object.entries(v.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, l]) => `${k}=${l}`)
      .join(',');
    out[id] = v.value;
  }
  return out;
}

describe('PrometheusHook: counting and label bounds', () => {
  it('counts fast-path records per label tuple, and errors separately by code', async () => {
    const registry = new Registry();
    const hook = new PrometheusHook({ registry });
    const ok = { flagKey: 'a', providerName: 'p', variant: 'on', reason: 'STATIC', errorCode: undefined };
    for (let i = 0; i < 3; i++) hook.record(ok);
    hook.record({ ...ok, variant: undefined, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    assert.deepEqual(await series(registry, 'openfeature_evaluations_total'), {
      'flag_key=a,provider=p,reason=STATIC,variant=on': 3,
      'flag_key=a,provider=p,reason=ERROR,variant=': 1,
    });
    assert.deepEqual(await series(registry, 'openfeature_evaluation_errors_total'), {
      'error_code=FLAG_NOT_FOUND,flag_key=a,provider=p': 1,
    });
    hook.record(ok);
    assert.equal(
      (await series(registry, 'openfeature_evaluations_total'))['flag_key=a,provider=p,reason=STATIC,variant=on'],
      4,
    );
  });

  it('folds flag keys beyond the cap into __other__, and unknown error codes into GENERAL', async () => {
    const registry = new Registry();
    const hook = new PrometheusHook({ registry, maxFlagKeys: 2 });
    for (const flagKey of ['a', 'b', 'c', 'd', 'a']) {
      hook.record({ flagKey, providerName: 'p', variant: 'on', reason: 'STATIC', errorCode: undefined });
    }
    hook.record({ flagKey: 'e', providerName: 'p', variant: undefined, reason: 'ERROR', errorCode: 'MY_CUSTOM' });
    assert.deepEqual(await series(registry, 'openfeature_evaluations_total'), {
      'flag_key=a,provider=p,reason=STATIC,variant=on': 2,
      'flag_key=b,provider=p,reason=STATIC,variant=on': 1,
      [`flag_key=${OTHER_FLAG_KEY},provider=p,reason=STATIC,variant=on`]: 2,
      [`flag_key=${OTHER_FLAG_KEY},provider=p,reason=ERROR,variant=`]: 1,
    });
    assert.deepEqual(await series(registry, 'openfeature_evaluation_errors_total'), {
      [`error_code=GENERAL,flag_key=${OTHER_FLAG_KEY},provider=p`]: 1,
    });
  });

  it('two hooks on one registry share the counters (no duplicate-registration error); a prefix separates them', async () => {
    const registry = new Registry();
    const one = new PrometheusHook({ registry });
    const two = new PrometheusHook({ registry });
    const prefixed = new PrometheusHook({ registry, prefix: 'svc_' });
    const e = { flagKey: 'a', providerName: 'p', variant: 'on', reason: 'STATIC', errorCode: undefined };
    one.record(e);
    two.record(e);
    prefixed.record(e);
    assert.deepEqual(await series(registry, 'openfeature_evaluations_total'), {
      'flag_key=a,provider=p,reason=STATIC,variant=on': 2,
    });
    assert.deepEqual(await series(registry, 'svc_openfeature_evaluations_total'), {
      'flag_key=a,provider=p,reason=STATIC,variant=on': 1,
    });
  });

  it('records a million evaluations quickly (the fast path budget)', async () => {
    const hook = new PrometheusHook({ registry: new Registry() });
    const records = ['a', 'b', 'c', 'd'].map((flagKey) => ({
      flagKey,
      providerName: 'runtime-control',
      variant: 'on',
      reason: 'TARGETING_MATCH',
      errorCode: undefined,
    }));
    const start = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) hook.record(records[i & 3] as (typeof records)[number]);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    // Generous bound for a loaded CI machine; locally this is ~20-40 ms (tens of ns per record).
    assert.ok(ms < 1000, `1M records took ${ms.toFixed(0)} ms`);
  });
});

describe('PrometheusHook on both evaluation paths of a RuntimeControlProvider', () => {
  let server: RunningServer;
  let token: string;
  let dataDir: string;
  const providers: RuntimeControlProvider[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-prom-hook-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seedFile: SEED,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    token = await createClientToken(server.url, ADMIN, 'development');
    // A disabled flag, to cover reason DISABLED.
    await fetch(`${server.url}/api/admin/flags/cache.ttl-seconds/environments/development`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'DISABLED' }),
    });
  });
  after(async () => {
    for (const p of providers) await p.onClose();
    await OpenFeature.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the fast path (record) and the OpenFeature path (hook) produce identical series', async () => {
    const fastRegistry = new Registry();
    const hookRegistry = new Registry();
    const fast = new RuntimeControlProvider({
      url: server.url,
      token,
      metrics: new PrometheusHook({ registry: fastRegistry }),
    });
    const viaClient = new RuntimeControlProvider({
      url: server.url,
      token,
      metrics: new PrometheusHook({ registry: hookRegistry }),
    });
    providers.push(fast, viaClient);
    await fast.initialize();
    await OpenFeature.setProviderAndWait('prometheus-hook-test', viaClient);
    const client = OpenFeature.getClient('prometheus-hook-test');

    for (const targetingKey of ['u-alice', 'u-zed', 'u-bob']) {
      const ctx = { targetingKey };
      fast.flags.boolean('new-ui-enabled', false, ctx);
      await client.getBooleanValue('new-ui-enabled', false, ctx);
    }
    fast.flags.number('cache.ttl-seconds', 60); // DISABLED
    await client.getNumberValue('cache.ttl-seconds', 60);
    fast.flags.boolean('no-such-flag', false); // FLAG_NOT_FOUND
    await client.getBooleanValue('no-such-flag', false);
    fast.flags.string('ai-safety-pii', 'x'); // TYPE_MISMATCH
    await client.getStringValue('ai-safety-pii', 'x');

    const fastEvaluations = await series(fastRegistry, 'openfeature_evaluations_total');
    assert.deepEqual(fastEvaluations, await series(hookRegistry, 'openfeature_evaluations_total'));
    assert.deepEqual(
      await series(fastRegistry, 'openfeature_evaluation_errors_total'),
      await series(hookRegistry, 'openfeature_evaluation_errors_total'),
    );
    assert.deepEqual(fastEvaluations, {
      'flag_key=new-ui-enabled,provider=runtime-control,reason=TARGETING_MATCH,variant=on': 2,
      'flag_key=new-ui-enabled,provider=runtime-control,reason=DEFAULT,variant=off': 1,
      'flag_key=cache.ttl-seconds,provider=runtime-control,reason=DISABLED,variant=': 1,
      'flag_key=no-such-flag,provider=runtime-control,reason=ERROR,variant=': 1,
      'flag_key=ai-safety-pii,provider=runtime-control,reason=ERROR,variant=': 1,
    });
    assert.deepEqual(await series(hookRegistry, 'openfeature_evaluation_errors_total'), {
      'error_code=FLAG_NOT_FOUND,flag_key=no-such-flag,provider=runtime-control': 1,
      'error_code=TYPE_MISMATCH,flag_key=ai-safety-pii,provider=runtime-control': 1,
    });
    const text = await hookRegistry.metrics();
    assert.doesNotMatch(text, /not found|does not match/, 'no error message is ever a label value');
  });
});
