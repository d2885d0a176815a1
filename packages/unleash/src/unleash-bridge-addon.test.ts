import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type UnleashAddonState, UnleashAdminClient, UnleashApiError } from './unleash-admin-client.js';
import {
  BRIDGE_ADDON_DESCRIPTION,
  BRIDGE_ADDON_EVENTS,
  bridgeAddonDrift,
  desiredBridgeAddon,
  ensureBridgeAddon,
  findBridgeAddon,
} from './unleash-bridge-addon.js';

const SECRET = 'sentinel-secret-0123456789';

function addon(overrides: Partial<UnleashAddonState> = {}): UnleashAddonState {
  return {
    id: 1,
    provider: 'webhook',
    enabled: true,
    description: BRIDGE_ADDON_DESCRIPTION,
    parameters: { url: '*****', authorization: '*****' },
    events: [...BRIDGE_ADDON_EVENTS].reverse(),
    projects: ['*'],
    environments: ['*'],
    ...overrides,
  };
}

/** An UnleashAdminClient over a fake fetch: answers from `respond`, records every request. */
function fakeClient(respond: (method: string, path: string) => { status: number; body?: unknown }) {
  const requests: { method: string; path: string; body: unknown }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    const method = init?.method ?? 'GET';
    requests.push({ method, path, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const r = respond(method, path);
    return new Response(r.body === undefined ? '' : JSON.stringify(r.body), { status: r.status });
  }) as typeof fetch;
  return { client: new UnleashAdminClient('http://unleash:4242/api', 'token', fetchImpl), requests };
}

describe('desiredBridgeAddon', () => {
  it('is an enabled webhook on every project and environment with the 12 feature events', () => {
    const d = desiredBridgeAddon('http://runtime-control:4400/', SECRET);
    assert.deepEqual(d, {
      provider: 'webhook',
      enabled: true,
      description: 'Runtime Control bridge (managed by rctl seed)',
      parameters: {
        url: 'http://runtime-control:4400/api/integrations/unleash/webhook',
        authorization: `Bearer ${SECRET}`,
      },
      events: [...BRIDGE_ADDON_EVENTS],
      projects: ['*'],
      environments: ['*'],
    });
    assert.equal(BRIDGE_ADDON_EVENTS.length, 12);
    assert.equal(new Set(BRIDGE_ADDON_EVENTS).size, 12);
  });

  it('keeps a URL that already names the webhook path', () => {
    const url = 'https://rc.example/api/integrations/unleash/webhook';
    assert.equal(desiredBridgeAddon(url, SECRET).parameters.url, url);
    assert.equal(
      desiredBridgeAddon('https://rc.example/base//', SECRET).parameters.url,
      'https://rc.example/base/api/integrations/unleash/webhook',
    );
  });
});

describe('findBridgeAddon / bridgeAddonDrift', () => {
  it('is missing when no webhook carries the description', () => {
    assert.deepEqual(findBridgeAddon([]), { status: 'missing', warnings: [] });
    assert.deepEqual(findBridgeAddon([addon({ description: 'someone else' }), addon({ id: 2, provider: 'slack' })]), {
      status: 'missing',
      warnings: [],
    });
  });

  it('finds it without drift (events compared as sets, masked parameters ignored)', () => {
    assert.deepEqual(findBridgeAddon([addon({ id: 7 })]), { status: 'present', id: 7, drift: [], warnings: [] });
  });

  it('describes drift of enabled, events, projects and environments', () => {
    const drift = bridgeAddonDrift(
      addon({
        enabled: false,
        events: [...BRIDGE_ADDON_EVENTS.filter((e) => e !== 'feature-created'), 'feature-tagged'],
        projects: ['default'],
        environments: ['*', 'production'],
      }),
    );
    assert.deepEqual(drift, [
      'enabled: false → true',
      'events: missing feature-created; extra feature-tagged',
      'projects: missing *; extra default',
      'environments: extra production',
    ]);
  });

  it('uses the lowest id of several and warns, naming the others', () => {
    const found = findBridgeAddon([addon({ id: 9 }), addon({ id: 3, enabled: false }), addon({ id: 5 })]);
    assert.equal(found.status, 'present');
    assert.ok(found.status === 'present');
    assert.equal(found.id, 3);
    assert.deepEqual(found.drift, ['enabled: false → true']);
    assert.equal(found.warnings.length, 1);
    assert.match(found.warnings[0]!, /3 webhook addons .*using id 3; delete the others \(id 5, 9\)/);
  });
});

describe('ensureBridgeAddon', () => {
  const list = (addons: UnleashAddonState[]) => ({ status: 200, body: { addons, providers: [] } });

  it('creates a missing addon (and only plans it with plan)', async () => {
    const planned = fakeClient(() => list([]));
    const plan = await ensureBridgeAddon(planned.client, 'http://rc:4400', SECRET, { plan: true, reconcile: false });
    assert.equal(plan.action, 'would-create');
    assert.equal(plan.url, 'http://rc:4400/api/integrations/unleash/webhook');
    assert.deepEqual(
      planned.requests.map((r) => r.method),
      ['GET'],
    );

    const { client, requests } = fakeClient((method) =>
      method === 'GET' ? list([]) : { status: 201, body: { id: 4, parameters: { authorization: `Bearer ${SECRET}` } } },
    );
    const created = await ensureBridgeAddon(client, 'http://rc:4400', SECRET, { plan: false, reconcile: false });
    assert.equal(created.action, 'created');
    assert.equal(created.id, 4);
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.path}`),
      ['GET /api/admin/addons', 'POST /api/admin/addons'],
    );
    assert.deepEqual(requests[1]!.body, desiredBridgeAddon('http://rc:4400', SECRET));
  });

  it('leaves a present addon alone, reporting drift; reconcile always rewrites it', async () => {
    const present = fakeClient(() => list([addon({ id: 2, enabled: false })]));
    const result = await ensureBridgeAddon(present.client, 'http://rc:4400', SECRET, { plan: false, reconcile: false });
    assert.deepEqual(result, {
      action: 'present',
      id: 2,
      url: 'http://rc:4400/api/integrations/unleash/webhook',
      drift: ['enabled: false → true'],
      warnings: [],
    });
    assert.equal(present.requests.length, 1);

    // In sync as far as Unleash shows, still rewritten: url and secret are masked.
    const { client, requests } = fakeClient((method) =>
      method === 'GET' ? list([addon({ id: 2 })]) : { status: 200 },
    );
    const updated = await ensureBridgeAddon(client, 'http://rc:4400', SECRET, { plan: false, reconcile: true });
    assert.equal(updated.action, 'updated');
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.path}`),
      ['GET /api/admin/addons', 'PUT /api/admin/addons/2'],
    );
    assert.deepEqual(requests[1]!.body, desiredBridgeAddon('http://rc:4400', SECRET));
  });

  it("puts Unleash's error name and message into errors, the secret masked even where Unleash echoes it", async () => {
    const echo = { name: 'BadDataError', message: `bad addon Bearer ${SECRET}`, details: [{ message: SECRET }] };
    for (const [reconcile, failing] of [
      [false, 'POST'],
      [true, 'PUT'],
    ] as const) {
      const { client } = fakeClient((method) =>
        method === 'GET'
          ? list(reconcile ? [addon()] : [])
          : method === failing
            ? { status: 400, body: echo }
            : { status: 500 },
      );
      const error = await ensureBridgeAddon(client, 'http://rc:4400', SECRET, { plan: false, reconcile }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof UnleashApiError);
      assert.equal(error.status, 400);
      assert.equal(error.body, undefined);
      assert.doesNotMatch(error.message, new RegExp(SECRET));
      assert.match(error.message, /HTTP 400\): Unleash says BadDataError: bad addon \*\*\*\*\*\n/);
      assert.match(error.message, /\n {2}fix: .*UNLEASH_ALLOW_LIST_INTEGRATION=rc /);
    }
    const rejected = fakeClient(() => ({ status: 401, body: echo }));
    const error = await rejected.client.listAddons().catch((e: unknown) => e);
    assert.ok(error instanceof UnleashApiError);
    assert.equal(error.body, undefined);
    assert.doesNotMatch(error.message, new RegExp(SECRET));
  });
});
