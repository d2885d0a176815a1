import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  ErrorCode,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import { InMemStorageProvider, type Unleash } from 'unleash-client';
import { offlineUnleash } from './testing/offline-unleash.js';
import { toUnleashContext } from './unleash-context.js';
import { UnleashProvider } from './unleash-provider.js';

/** UnleashProvider edge cases on a bootstrapped, offline unleash-client (no server needed). */

type Payload = { type: string; value: string };

function variantFlag(name: string, payload: Payload | undefined, enabled = true) {
  return {
    name,
    enabled,
    strategies: [
      {
        name: 'default',
        parameters: {},
        constraints: [],
        variants: [{ name: `${name}-variant`, weight: 1000, stickiness: 'default', ...(payload ? { payload } : {}) }],
      },
    ],
  };
}

const features = [
  variantFlag('csv-list', { type: 'csv', value: 'a,b,c' }),
  variantFlag('json-array', { type: 'json', value: '[1,2,3]' }),
  variantFlag('json-scalar', { type: 'json', value: '"just a string"' }),
  variantFlag('json-broken', { type: 'json', value: '{"unterminated": ' }),
  variantFlag('number-bad', { type: 'number', value: 'forty-two' }),
  variantFlag('number-empty', { type: 'number', value: ' ' }),
  variantFlag('no-payload', undefined),
  variantFlag('off-flag', { type: 'string', value: 'never' }, false),
  {
    name: 'only-admins',
    enabled: true,
    strategies: [
      {
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'default', groupId: 'only-admins' },
        constraints: [{ contextName: 'role', operator: 'IN', values: ['admin'] }],
        variants: [{ name: 'admin-banner', weight: 1000, payload: { type: 'string', value: 'hi admin' } }],
      },
    ],
  },
];

// biome-ignore lint/suspicious/noExplicitAny: the bootstrap type wants unleash-client's internal enums; plain JSON is what a server sends.
const state = { features: features as any[] };

async function readyProvider(options: { disabledBooleanValue?: 'default' | 'false' } = {}) {
  const unleash = offlineUnleash(state);
  const provider = new UnleashProvider({ client: unleash, ...options });
  await provider.initialize();
  return { unleash, provider };
}

describe('toUnleashContext', () => {
  it('maps targetingKey, top-level fields, currentTime and properties', () => {
    const now = new Date('2030-05-01T12:00:00Z');
    assert.deepEqual(
      toUnleashContext({
        targetingKey: 'u1',
        userId: 'ignored-when-targetingKey-is-set',
        sessionId: 's1',
        remoteAddress: '10.0.0.1',
        environment: 'production',
        appName: 'checkout',
        currentTime: now.toISOString(),
        plan: 'pro',
        seats: 12,
        beta: true,
        signedUpAt: now,
        nested: { a: 1 },
        list: [1, 2],
        nothing: null,
      }),
      {
        userId: 'u1',
        sessionId: 's1',
        remoteAddress: '10.0.0.1',
        environment: 'production',
        appName: 'checkout',
        currentTime: now,
        properties: { plan: 'pro', seats: '12', beta: 'true', signedUpAt: now.toISOString() },
      },
    );
  });

  it('uses userId without a targeting key, and drops an unparseable currentTime', () => {
    assert.deepEqual(toUnleashContext({ userId: 'u2', currentTime: 'yesterday-ish', sessionId: 7 }), {
      userId: 'u2',
      sessionId: '7',
    });
    assert.deepEqual(toUnleashContext({}), {});
  });
});

describe('UnleashProvider (offline client)', () => {
  let unleash: Unleash;
  let provider: UnleashProvider;
  after(() => unleash?.destroy());

  it('initializes from bootstrap data', async () => {
    ({ unleash, provider } = await readyProvider());
    assert.equal(provider.state, 'READY');
  });

  it('reads csv payloads as strings and json arrays as objects', async () => {
    const csv = await provider.resolveStringEvaluation('csv-list', 'd', {});
    assert.equal(csv.value, 'a,b,c');
    assert.equal(csv.variant, 'csv-list-variant');
    assert.equal(csv.reason, StandardResolutionReasons.SPLIT);
    assert.equal(csv.flagMetadata?.payloadType, 'csv');
    assert.deepEqual((await provider.resolveObjectEvaluation('json-array', {}, {})).value, [1, 2, 3]);
  });

  it('reports PARSE_ERROR for invalid JSON and TYPE_MISMATCH for a JSON scalar', async () => {
    const broken = await provider.resolveObjectEvaluation('json-broken', { d: 1 }, {});
    assert.deepEqual(broken.value, { d: 1 });
    assert.equal(broken.errorCode, ErrorCode.PARSE_ERROR);
    assert.equal(broken.reason, StandardResolutionReasons.ERROR);
    const scalar = await provider.resolveObjectEvaluation('json-scalar', { d: 1 }, {});
    assert.equal(scalar.errorCode, ErrorCode.TYPE_MISMATCH);
  });

  it('reports TYPE_MISMATCH for a number payload that is not a number, and for no payload', async () => {
    for (const key of ['number-bad', 'number-empty']) {
      const result = await provider.resolveNumberEvaluation(key, 5, {});
      assert.equal(result.value, 5, key);
      assert.equal(result.errorCode, ErrorCode.TYPE_MISMATCH, key);
    }
    const none = await provider.resolveStringEvaluation('no-payload', 'd', {});
    assert.equal(none.errorCode, ErrorCode.TYPE_MISMATCH);
    assert.equal(none.variant, 'no-payload-variant');
  });

  it('returns the default with reason DEFAULT when the flag is on but off for this context', async () => {
    const other = await provider.resolveStringEvaluation('only-admins', 'd', { role: 'viewer' });
    assert.deepEqual([other.value, other.reason, other.variant], ['d', StandardResolutionReasons.DEFAULT, undefined]);
    const admin = await provider.resolveStringEvaluation('only-admins', 'd', { role: 'admin' });
    assert.deepEqual([admin.value, admin.variant], ['hi admin', 'admin-banner']);
  });

  it('answers false for a disabled flag when disabledBooleanValue is "false"', async () => {
    assert.equal((await provider.resolveBooleanEvaluation('off-flag', true, {})).value, true);
    const strict = await readyProvider({ disabledBooleanValue: 'false' });
    try {
      const result = await strict.provider.resolveBooleanEvaluation('off-flag', true, {});
      assert.deepEqual([result.value, result.reason], [false, StandardResolutionReasons.DISABLED]);
    } finally {
      strict.unleash.destroy();
    }
  });

  it('turns an exception inside unleash-client into GENERAL with the default', async () => {
    const broken = offlineUnleash(state);
    const throwing = new UnleashProvider({ client: broken });
    await throwing.initialize();
    broken.getVariant = () => {
      throw new Error('boom');
    };
    broken.isEnabled = () => {
      throw new Error('boom');
    };
    try {
      const text = await throwing.resolveStringEvaluation('csv-list', 'd', {});
      assert.deepEqual([text.value, text.errorCode, text.reason], ['d', ErrorCode.GENERAL, 'ERROR']);
      const flag = await throwing.resolveBooleanEvaluation('csv-list', true, {});
      assert.deepEqual([flag.value, flag.errorCode], [true, ErrorCode.GENERAL]);
    } finally {
      broken.destroy();
    }
  });

  it('leaves a client it was given running on close', async () => {
    const given = offlineUnleash(state);
    const wrapper = new UnleashProvider({ client: given });
    await wrapper.initialize();
    await wrapper.onClose();
    assert.equal(given.isEnabled('csv-list'), true);
    given.destroy();
  });
});

describe('UnleashProvider initialization timeout', () => {
  after(() => OpenFeature.clearProviders());

  it('rejects with the cause after initTimeoutMs, and the SDK emits ERROR exactly once', async () => {
    const provider = new UnleashProvider({
      // Port 9 (discard) on loopback: nothing listens, every fetch is refused.
      url: 'http://127.0.0.1:9/api',
      appName: 'rc-timeout-test',
      apiToken: 'default:development.unused',
      refreshIntervalMs: 100,
      disableMetrics: true,
      initTimeoutMs: 400,
      unleashConfig: { storageProvider: new InMemStorageProvider() },
    });
    const client = OpenFeature.getClient('unleash-timeout');
    let errors = 0;
    let readies = 0;
    client.addHandler(ProviderEvents.Error, () => {
      errors++;
    });
    client.addHandler(ProviderEvents.Ready, () => {
      readies++;
    });
    let fetchFailed = false;
    provider.client.on('error', () => {
      fetchFailed = true;
    });
    await assert.rejects(OpenFeature.setProviderAndWait('unleash-timeout', provider), (err: Error) => {
      assert.match(err.message, /^Unleash at http:\/\/127\.0\.0\.1:9\/api did not deliver flags within 400 ms/);
      return true;
    });
    // unleash-client retries a refused request for ~3 s before it reports it. Once a failed poll has been reported,
    // it must not have repeated the event: the provider was already in ERROR.
    const deadline = Date.now() + 10_000;
    while (!fetchFailed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(fetchFailed, 'a failed poll was reported');
    assert.equal(errors, 1);
    assert.equal(readies, 0);
    assert.equal(client.providerStatus, ProviderStatus.ERROR);
    assert.equal(provider.state, 'ERROR');
    // Evaluations still answer, with the default.
    assert.equal(await client.getBooleanValue('anything', true), true);
    // 250 ms on, the next poll (100 ms after a failure) is in flight. Closing must not turn its failure into an
    // unhandled rejection, which would end an application's process.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const unhandled: unknown[] = [];
    const recordUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', recordUnhandled);
    try {
      await provider.onClose();
      await new Promise((resolve) => setTimeout(resolve, 4000));
    } finally {
      process.off('unhandledRejection', recordUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });
});
