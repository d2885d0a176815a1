import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '@runtime-control/server';
import { createClientToken } from '@runtime-control/testkit';
import { Registry } from 'prom-client';
import type { StructuredLogger } from '../hooks/logging-hook.js';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { defineKnobs, jsonEqual } from './typed-config.js';

const ADMIN = 'rc-sdk-typed-config-admin-token-0123456';
const SEED = new URL('../../../../examples/devmentor/flags.yaml', import.meta.url).pathname;
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

interface Routing {
  fallback: 'anthropic' | 'openai' | 'local';
  providers: { name: string; model: string; weight: number }[];
}

const isRouting = (value: unknown): value is Routing =>
  typeof value === 'object' && value !== null && Array.isArray((value as Routing).providers);

const specs = {
  requestTimeoutMs: {
    key: 'ai-gateway.request-timeout-ms',
    type: 'number',
    min: 100,
    max: 60000,
    integer: true,
    default: 15000,
  },
  cacheTtlSeconds: { key: 'cache.ttl-seconds', type: 'number', min: 0, max: 86400, default: 60 },
  routing: {
    key: 'ai-gateway.routing',
    type: 'object',
    validate: isRouting,
    default: { fallback: 'local', providers: [{ name: 'local', model: 'tiny', weight: 100 }] },
  },
  piiRedaction: { key: 'ai-safety-pii', type: 'boolean', default: true },
} as const;

function capturedWarnings(): { logger: Pick<StructuredLogger, 'warn'>; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return { warnings, logger: { warn: (fields, message) => warnings.push({ ...fields, message }) } };
}

async function fallbackSeries(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'runtime_config_fallbacks_total');
  const out: Record<string, number> = {};
  for (const v of (metric?.values ?? []) as { labels: Record<string, string>; value: number }[]) {
    out[`${v.labels.knob}/${v.labels.reason}`] = v.value;
  }
  return out;
}

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('defineKnobs against a real server', () => {
  let server: RunningServer;
  let dataDir: string;
  let provider: RuntimeControlProvider;
  let token: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${await res.text()}`);
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-typed-config-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seedFile: SEED,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    // A number flag whose rule throws for some contexts (`in` over a number): a provider error (GENERAL).
    await api('POST', '/api/admin/flags', {
      key: 'broken.tier-limit',
      type: 'number',
      variants: { low: 10, high: 100 },
      defaultVariant: 'low',
      environments: {
        development: { state: 'ENABLED', targeting: { if: [{ in: ['gold', { var: 'tiers' }] }, 'high', null] } },
        production: { state: 'ENABLED' },
      },
    });
    token = await createClientToken(server.url, ADMIN, 'development');
    provider = new RuntimeControlProvider({ url: server.url, token });
    await provider.initialize();
  });
  after(async () => {
    await provider?.onClose();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('returns the flag values, typed by the declaration', () => {
    const registry = new Registry();
    const { logger, warnings } = capturedWarnings();
    const knobs = defineKnobs(provider, specs, { registry, logger });
    const timeout: number = knobs.get('requestTimeoutMs');
    const pii: boolean = knobs.get('piiRedaction');
    const routing: Routing = knobs.get('routing');
    assert.equal(timeout, 15000);
    assert.equal(pii, true);
    assert.equal(routing.fallback, 'local');
    assert.equal(knobs.get('cacheTtlSeconds', { targetingKey: 'u-alice' }), 30, 'targeting applies');
    assert.deepEqual(Object.keys(knobs.snapshot()), ['requestTimeoutMs', 'cacheTtlSeconds', 'routing', 'piiRedaction']);
    assert.ok(Object.isFrozen(routing), 'object values cannot be changed by a caller');
    assert.equal(warnings.length, 0);
    // @ts-expect-error an undeclared knob is a compile error
    assert.throws(() => knobs.get('nope'));
    // @ts-expect-error a number knob is not a string
    const wrong: string = knobs.get('requestTimeoutMs');
    void wrong;
  });

  it('falls back to the declared default for each failure, with one warning per knob and reason and a metric', async () => {
    const registry = new Registry();
    const { logger, warnings } = capturedWarnings();
    const knobs = defineKnobs(
      provider,
      {
        missing: { key: 'no-such-knob', type: 'number', default: 7 },
        wrongType: { key: 'ai-safety-pii', type: 'number', default: 8 },
        outOfBounds: { key: 'ai-gateway.request-timeout-ms', type: 'number', max: 10000, default: 9 },
        notInteger: { key: 'ai-gateway.request-timeout-ms', type: 'number', integer: true, default: 10 },
        badShape: {
          key: 'ai-gateway.routing',
          type: 'object',
          schema: { type: 'object', required: ['region'] },
          default: { region: 'eu' },
        },
        rejected: {
          key: 'ai-gateway.request-timeout-ms',
          type: 'number',
          validate: (v) => v % 7 === 0 || 'not a multiple of 7',
          default: 14,
        },
        providerError: { key: 'broken.tier-limit', type: 'number', default: 11 },
        mode: { key: 'ai-gateway.request-timeout-ms', type: 'string', oneOf: ['a', 'b'] as const, default: 'a' },
      },
      { registry, logger },
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(knobs.get('missing'), 7);
      assert.equal(knobs.get('wrongType'), 8);
      assert.equal(knobs.get('outOfBounds'), 9);
      assert.equal(knobs.get('notInteger'), 15000, 'an integer passes');
      assert.deepEqual(knobs.get('badShape'), { region: 'eu' });
      assert.equal(knobs.get('rejected'), 14);
      assert.equal(knobs.get('providerError', { tiers: 5 }), 11);
      assert.equal(knobs.get('providerError', { tiers: ['gold'] }), 100, 'the same flag is fine for a valid context');
      const mode: 'a' | 'b' = knobs.get('mode');
      assert.equal(mode, 'a');
    }
    assert.deepEqual(await fallbackSeries(registry), {
      'no-such-knob/missing': 3,
      'ai-safety-pii/wrong_type': 3,
      'ai-gateway.request-timeout-ms/out_of_bounds': 3,
      'ai-gateway.routing/invalid': 3,
      'ai-gateway.request-timeout-ms/invalid': 3,
      'broken.tier-limit/provider_error': 3,
      'ai-gateway.request-timeout-ms/wrong_type': 3,
    });
    // Rate limited: one warning per knob and reason, not one per read.
    assert.deepEqual(
      warnings.map((w) => `${w.knob}/${w.reason}`),
      [
        'missing/missing',
        'wrongType/wrong_type',
        'outOfBounds/out_of_bounds',
        'badShape/invalid',
        'rejected/invalid',
        'providerError/provider_error',
        'mode/wrong_type',
      ],
    );
    assert.match(String(warnings[2]?.message), /15000 is above the maximum 10000/);
    assert.match(String(warnings[3]?.message), /must have required property 'region'/);
    assert.match(String(warnings[4]?.message), /not a multiple of 7/);
  });

  it('a disabled flag gives the declared default (the provider answers reason DISABLED), counted as disabled', async () => {
    const registry = new Registry();
    const { logger, warnings } = capturedWarnings();
    const knobs = defineKnobs(provider, specs, { registry, logger, warnIntervalMs: 0 });
    await api('PATCH', '/api/admin/flags/cache.ttl-seconds/environments/development', { state: 'DISABLED' });
    try {
      await until(
        'the flag to be disabled',
        () => provider.flags.details('number', 'cache.ttl-seconds', 1).reason === 'DISABLED',
      );
      assert.equal(knobs.get('cacheTtlSeconds'), 60);
      assert.equal(knobs.get('cacheTtlSeconds'), 60);
      assert.deepEqual(await fallbackSeries(registry), { 'cache.ttl-seconds/disabled': 2 });
      assert.equal(warnings.length, 2, 'warnIntervalMs 0 disables the rate limit');
      assert.equal(warnings[0]?.flagKey, 'cache.ttl-seconds');
    } finally {
      await api('PATCH', '/api/admin/flags/cache.ttl-seconds/environments/development', { state: 'ENABLED' });
    }
  });

  it('a provider without flags yet (not ready) gives defaults; a throwing validator never throws into get', () => {
    const registry = new Registry();
    const { logger, warnings } = capturedWarnings();
    const cold = new RuntimeControlProvider({ url: server.url, token });
    const knobs = defineKnobs(
      cold,
      {
        ...specs,
        explosive: {
          key: 'ai-gateway.request-timeout-ms',
          type: 'number',
          validate: () => {
            throw new Error('boom');
          },
          default: 1,
        },
      },
      { registry, logger },
    );
    assert.deepEqual(knobs.snapshot(), {
      requestTimeoutMs: 15000,
      cacheTtlSeconds: 60,
      routing: specs.routing.default,
      piiRedaction: true,
      explosive: 1,
    });
    assert.ok(warnings.every((w) => w.reason === 'not_ready'));
    const warm = defineKnobs(
      provider,
      {
        explosive: {
          key: 'ai-gateway.request-timeout-ms',
          type: 'number',
          validate: () => {
            throw new Error('boom');
          },
          default: 1,
        },
      },
      { registry, logger },
    );
    assert.equal(warm.get('explosive'), 1);
    assert.match(String(warnings.at(-1)?.message), /validate threw: boom/);
  });

  it('onChange fires once per actual change of the evaluated value, with the validated value', async () => {
    const knobs = defineKnobs(provider, specs, { registry: new Registry(), logger: capturedWarnings().logger });
    const seen: [number, number][] = [];
    const unsubscribe = knobs.onChange('requestTimeoutMs', (value, previous) => seen.push([value, previous]), {
      context: { targetingKey: 'u-1' },
    });
    const overrides = '/api/admin/flags/ai-gateway.request-timeout-ms/environments/development/overrides';
    await api('PUT', `${overrides}/u-1`, { variant: 'fast' });
    await until('the first change', () => seen.length === 1);
    // Changes that do not move u-1's value: another user's override, another flag.
    await api('PUT', `${overrides}/u-2`, { variant: 'patient' });
    await api('PUT', '/api/admin/flags/new-ui-enabled/environments/development/overrides/u-1', { variant: 'on' });
    await api('DELETE', `${overrides}/u-1`);
    await until('the second change', () => seen.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [
      [5000, 15000],
      [15000, 5000],
    ]);
    unsubscribe();
    await api('PUT', `${overrides}/u-1`, { variant: 'patient' });
    await until(
      'the provider to see it',
      () => provider.flags.number('ai-gateway.request-timeout-ms', 0, { targetingKey: 'u-1' }) === 30000,
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 2, 'no call after unsubscribe');
  });
});

describe('jsonEqual', () => {
  it('compares JSON values structurally', () => {
    assert.ok(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
    assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!jsonEqual([], {}));
    assert.ok(!jsonEqual(null, {}));
  });
});
