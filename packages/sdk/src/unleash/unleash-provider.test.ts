import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  ErrorCode,
  type EvaluationContext,
  type EventDetails,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import {
  eventually,
  flexibleRollout,
  inConstraint,
  startUnleashServer,
  UnleashAdmin,
  type UnleashServer,
  unleashServerOrSkip,
} from '@runtime-control/testkit';
import { InMemStorageProvider } from 'unleash-client';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { UnleashProvider } from './unleash-provider.js';

/**
 * UnleashProvider against a real unleash-server (tools/unleash-server, on a fresh database for this file): flags are
 * created through the admin API and read by the provider's own polling client.
 */

const DOMAIN = 'unleash-provider-test';
const REFRESH_MS = 200;

interface SeenEvent {
  type: ProviderEvents;
  details?: EventDetails;
}

describe('UnleashProvider against unleash-server', unleashServerOrSkip(), () => {
  let server: UnleashServer;
  let admin: UnleashAdmin;
  let provider: UnleashProvider;
  let client: Client;
  const events: SeenEvent[] = [];
  const eventsOf = (type: ProviderEvents) => events.filter((e) => e.type === type);

  before(async () => {
    server = await startUnleashServer();
    admin = UnleashAdmin.of(server);
    await admin.createFeature('beta-users', {
      strategies: [flexibleRollout(100, { constraints: [inConstraint('userId', ['alice', 'bob'])] })],
    });
    await admin.createFeature('half-rollout', { strategies: [flexibleRollout(50)] });
    await admin.createFeature('pro-plan', {
      strategies: [flexibleRollout(100, { constraints: [inConstraint('plan', ['pro'])] })],
    });
    await admin.createFeature('banner-text', {
      strategies: [
        flexibleRollout(100, {
          variants: [{ name: 'greeting', weight: 1000, payload: { type: 'string', value: 'Hello, Unleash' } }],
        }),
      ],
    });
    await admin.createFeature('max-items', {
      strategies: [
        flexibleRollout(100, {
          variants: [{ name: 'forty-two', weight: 1000, payload: { type: 'number', value: '42.5' } }],
        }),
      ],
    });
    await admin.createFeature('ui-config', {
      strategies: [
        flexibleRollout(100, {
          variants: [{ name: 'dark', weight: 1000, payload: { type: 'json', value: '{"theme":"dark","columns":3}' } }],
        }),
      ],
    });
    await admin.createFeature('split-colour', {
      strategies: [
        flexibleRollout(100, {
          variants: [
            { name: 'red', weight: 500, payload: { type: 'string', value: 'red' } },
            { name: 'blue', weight: 500, payload: { type: 'string', value: 'blue' } },
          ],
        }),
      ],
    });
    await admin.createFeature('switched-off', { strategies: [flexibleRollout(100)], enabled: false });
    await admin.createFeature('toggle-me', { strategies: [flexibleRollout(100)] });

    client = OpenFeature.getClient(DOMAIN);
    for (const type of Object.values(ProviderEvents)) {
      client.addHandler(type, (details) => {
        events.push({ type, details });
      });
    }
    provider = new UnleashProvider({
      url: server.apiUrl,
      appName: 'rc-unleash-provider-test',
      apiToken: server.clientToken,
      refreshIntervalMs: REFRESH_MS,
      // No backup file in os.tmpdir() shared with other runs.
      unleashConfig: { storageProvider: new InMemStorageProvider() },
    });
    await OpenFeature.setProviderAndWait(DOMAIN, provider);
  });

  after(async () => {
    await OpenFeature.clearProviders();
    await server?.stop();
  });

  it('is READY after setProviderAndWait, with exactly one READY event', () => {
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(provider.state, 'READY');
    assert.equal(eventsOf(ProviderEvents.Ready).length, 1);
    assert.equal(eventsOf(ProviderEvents.Error).length, 0);
  });

  it('evaluates a userId constraint per context', async () => {
    for (const user of ['alice', 'bob']) {
      const details = await client.getBooleanDetails('beta-users', false, { targetingKey: user });
      assert.equal(details.value, true, user);
      assert.equal(details.reason, StandardResolutionReasons.TARGETING_MATCH);
    }
    for (const user of ['carol', '']) {
      assert.equal(await client.getBooleanValue('beta-users', true, { targetingKey: user }), false, user);
    }
    assert.equal(await client.getBooleanValue('beta-users', true, {}), false);
  });

  it('buckets a 50 % gradual rollout exactly as Unleash hashes it', async () => {
    let on = 0;
    for (let i = 0; i < 200; i++) {
      const userId = `user-${i}`;
      const expected = normalizedStrategyValue(userId, 'half-rollout') <= 50;
      const value = await client.getBooleanValue('half-rollout', !expected, { targetingKey: userId });
      assert.equal(value, expected, userId);
      // Sticky: the same user gets the same answer again.
      assert.equal(await client.getBooleanValue('half-rollout', !expected, { targetingKey: userId }), expected);
      if (value) on++;
    }
    assert.ok(on > 60 && on < 140, `${on} of 200 users on`);
  });

  it('maps custom context keys to properties for constraints', async () => {
    assert.equal(await client.getBooleanValue('pro-plan', false, { targetingKey: 'u1', plan: 'pro' }), true);
    assert.equal(await client.getBooleanValue('pro-plan', true, { targetingKey: 'u1', plan: 'free' }), false);
    assert.equal(await client.getBooleanValue('pro-plan', true, { targetingKey: 'u1' }), false);
    // A nested object in the context is skipped, not a crash.
    assert.equal(await client.getBooleanValue('pro-plan', false, { plan: 'pro', account: { tier: 'gold' } }), true);
  });

  it('returns typed variant payloads with the variant name and reason SPLIT', async () => {
    const text = await client.getStringDetails('banner-text', 'fallback', { targetingKey: 'u1' });
    assert.equal(text.value, 'Hello, Unleash');
    assert.equal(text.variant, 'greeting');
    assert.equal(text.reason, StandardResolutionReasons.SPLIT);

    const number = await client.getNumberDetails('max-items', 0, { targetingKey: 'u1' });
    assert.equal(number.value, 42.5);
    assert.equal(number.variant, 'forty-two');

    const object = await client.getObjectDetails('ui-config', {}, { targetingKey: 'u1' });
    assert.deepEqual(object.value, { theme: 'dark', columns: 3 });
    assert.equal(object.variant, 'dark');
    assert.equal(object.reason, StandardResolutionReasons.SPLIT);
  });

  it('keeps a user on one variant of a split, with the payload of that variant', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const context = { targetingKey: `split-${i}` };
      const first = await client.getStringDetails('split-colour', 'none', context);
      const again = await client.getStringDetails('split-colour', 'none', context);
      assert.equal(first.value, first.variant);
      assert.equal(again.variant, first.variant);
      seen.add(first.value);
    }
    assert.deepEqual([...seen].sort(), ['blue', 'red']);
  });

  it('reports FLAG_NOT_FOUND for an unknown key, for every type', async () => {
    const bool = await client.getBooleanDetails('no-such-flag', true);
    assert.equal(bool.value, true);
    assert.equal(bool.errorCode, ErrorCode.FLAG_NOT_FOUND);
    assert.equal(bool.reason, StandardResolutionReasons.ERROR);
    const text = await client.getStringDetails('no-such-flag', 'x');
    assert.equal(text.value, 'x');
    assert.equal(text.errorCode, ErrorCode.FLAG_NOT_FOUND);
  });

  it('reports TYPE_MISMATCH when the payload does not fit the requested type', async () => {
    const asNumber = await client.getNumberDetails('banner-text', 7, { targetingKey: 'u1' });
    assert.equal(asNumber.value, 7);
    assert.equal(asNumber.errorCode, ErrorCode.TYPE_MISMATCH);
    const asObject = await client.getObjectDetails('max-items', { a: 1 }, { targetingKey: 'u1' });
    assert.deepEqual(asObject.value, { a: 1 });
    assert.equal(asObject.errorCode, ErrorCode.TYPE_MISMATCH);
    // A flag without variants has nothing to type.
    const noVariant = await client.getStringDetails('half-rollout', 'd', { targetingKey: 'user-1' });
    assert.equal(noVariant.value, 'd');
  });

  it('returns the default with reason DISABLED for a flag switched off in the environment', async () => {
    const bool = await client.getBooleanDetails('switched-off', true, { targetingKey: 'u1' });
    assert.equal(bool.value, true);
    assert.equal(bool.reason, StandardResolutionReasons.DISABLED);
    assert.equal(bool.errorCode, undefined);
    const text = await client.getStringDetails('switched-off', 'd', { targetingKey: 'u1' });
    assert.equal(text.value, 'd');
    assert.equal(text.reason, StandardResolutionReasons.DISABLED);
  });

  it('emits CONFIGURATION_CHANGED with the changed key after an admin toggle', async () => {
    assert.equal(await client.getBooleanValue('toggle-me', false, { targetingKey: 'u1' }), true);
    const before = eventsOf(ProviderEvents.ConfigurationChanged).length;
    await admin.disable('toggle-me');
    const changed = await eventually(
      () => eventsOf(ProviderEvents.ConfigurationChanged).slice(before)[0],
      10_000,
      'CONFIGURATION_CHANGED',
      25,
    );
    assert.deepEqual(changed.details?.flagsChanged, ['toggle-me']);
    const details = await client.getBooleanDetails('toggle-me', false, { targetingKey: 'u1' });
    assert.equal(details.reason, StandardResolutionReasons.DISABLED);

    await admin.enable('toggle-me');
    await eventually(
      () => eventsOf(ProviderEvents.ConfigurationChanged).slice(before)[1],
      10_000,
      'second CONFIGURATION_CHANGED',
      25,
    );
    assert.equal(await client.getBooleanValue('toggle-me', false, { targetingKey: 'u1' }), true);
  });

  it('emits ERROR once when the server goes away, keeps serving, and READY again after a restart', async () => {
    const readyBefore = eventsOf(ProviderEvents.Ready).length;
    await server.stopProcess();
    const error = await eventually(() => eventsOf(ProviderEvents.Error)[0], 15_000, 'PROVIDER_ERROR', 25);
    assert.ok(error.details?.message, 'the ERROR event carries the cause');
    assert.equal(client.providerStatus, ProviderStatus.ERROR);

    // Several failed polls later there is still just one ERROR event, and the last known flags still evaluate.
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS * 5));
    assert.equal(eventsOf(ProviderEvents.Error).length, 1);
    assert.equal(await client.getBooleanValue('beta-users', false, { targetingKey: 'alice' }), true);
    assert.equal(await client.getStringValue('banner-text', 'fallback', { targetingKey: 'u1' }), 'Hello, Unleash');
    assert.equal(await client.getNumberValue('no-such-flag', 3), 3);

    await server.startProcess();
    await eventually(() => eventsOf(ProviderEvents.Ready)[readyBefore], 30_000, 'PROVIDER_READY after restart', 25);
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(provider.state, 'READY');
    assert.equal(eventsOf(ProviderEvents.Error).length, 1);
    assert.equal(await client.getBooleanValue('beta-users', false, { targetingKey: 'bob' }), true);
  });

  it('never lets an exception reach the caller, whatever the context', async () => {
    const contexts: EvaluationContext[] = [
      {},
      { targetingKey: 'u1', nested: { deep: [1, 2, { x: null }] }, list: ['a'], nothing: null },
      { targetingKey: 'u1', currentTime: 'not a date', sessionId: 42, remoteAddress: true },
      { targetingKey: 'u1', currentTime: new Date('2030-01-01T00:00:00Z'), when: new Date(Number.NaN) },
    ];
    for (const context of contexts) {
      for (const key of ['beta-users', 'banner-text', 'max-items', 'ui-config', 'switched-off', 'no-such-flag']) {
        await assert.doesNotReject(client.getBooleanDetails(key, false, context));
        await assert.doesNotReject(client.getStringDetails(key, 's', context));
        await assert.doesNotReject(client.getNumberDetails(key, 1, context));
        await assert.doesNotReject(client.getObjectDetails(key, {}, context));
        // And the provider itself never rejects either.
        await assert.doesNotReject(provider.resolveObjectEvaluation(key, {}, context));
      }
    }
  });

  it('fails initialize fast with PROVIDER_FATAL when the server rejects the token', async () => {
    const rejected = new UnleashProvider({
      url: server.apiUrl,
      appName: 'rc-unleash-provider-test-bad-token',
      apiToken: 'default:development.not-a-real-token',
      refreshIntervalMs: REFRESH_MS,
      disableMetrics: true,
      initTimeoutMs: 20_000,
      unleashConfig: { storageProvider: new InMemStorageProvider() },
    });
    const started = Date.now();
    try {
      await assert.rejects(rejected.initialize(), (err: Error & { code?: string }) => {
        assert.equal(err.code, ErrorCode.PROVIDER_FATAL);
        assert.match(err.message, /rejected the token/);
        return true;
      });
      assert.ok(Date.now() - started < 10_000, 'rejected without waiting for the timeout');
      assert.equal(rejected.state, 'FATAL');
    } finally {
      await rejected.onClose();
    }
  });
});
