import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { bindUnleashFeatureUpdates, bindUnleashRefresh, CoalescingRefresher } from './unleash-refresh.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `done()` (at most 3 s), so that assertions do not depend on how fast a loaded machine runs timers;
 * what the refresher then did is asserted exactly.
 */
async function until(done: () => boolean): Promise<void> {
  for (const start = Date.now(); !done() && Date.now() - start < 3000; ) await sleep(5);
}

/** Records every call; each fetch resolves with what the test queued (default: "changed" / "applied"). */
function recorder() {
  const calls: string[] = [];
  const allResults: boolean[] = [];
  const featureResults: (boolean | Error)[] = [];
  return {
    calls,
    allResults,
    featureResults,
    fetchAll: async () => {
      calls.push('all');
      await sleep(1);
      return allResults.shift() ?? true;
    },
    fetchFeatures: async (names: readonly string[]) => {
      calls.push(`features:${[...names].sort().join(',')}`);
      await sleep(1);
      const result = featureResults.shift() ?? true;
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

describe('CoalescingRefresher', () => {
  it('fetches named flags one by one, gathering the names of one burst into one round', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {});
    refresher.request(['a']);
    refresher.request(['b']);
    refresher.request(['a']);
    await until(() => r.calls.length >= 1);
    assert.deepEqual(r.calls, ['features:a,b']);
    assert.equal(refresher.fetches, 1);
    assert.equal(refresher.featureFetches, 1);
    refresher.close();
  });

  it('fetches everything for a request without names (reconnect, bulk change)', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {});
    refresher.request();
    await until(() => r.calls.length >= 1);
    assert.deepEqual(r.calls, ['all']);
    refresher.close();
  });

  it('falls back to a full fetch when the one-by-one path needs it or fails', async () => {
    const r = recorder();
    const errors: unknown[] = [];
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, (err) => errors.push(err));
    r.featureResults.push(false);
    refresher.request(['needs-segment']);
    await until(() => r.calls.length >= 2);
    assert.deepEqual(r.calls, ['features:needs-segment', 'all']);
    r.calls.length = 0;
    r.featureResults.push(new Error('503'));
    refresher.request(['flaky']);
    await until(() => r.calls.length >= 2);
    assert.deepEqual(r.calls, ['features:flaky', 'all']);
    assert.equal(errors.length, 1);
    refresher.close();
  });

  it('without a one-by-one path, named requests become full fetches', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, undefined, 5, () => {});
    refresher.request(['a']);
    await until(() => r.calls.length >= 1);
    assert.deepEqual(r.calls, ['all']);
    refresher.close();
  });

  it('retries a full fetch that found nothing new (Unleash revision lag), and stops once it finds the change', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {}, [10, 10, 10, 10]);
    r.allResults.push(false, false, true);
    refresher.request();
    await until(() => r.calls.length >= 3);
    assert.deepEqual(r.calls, ['all', 'all', 'all']);
    refresher.close();
  });

  it('gives up retrying after the last delay (polling remains)', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {}, [5, 5]);
    r.allResults.push(false, false, false, false, false);
    refresher.request();
    await until(() => r.calls.length >= 3);
    await sleep(50); // and no fourth: it gave up
    assert.deepEqual(r.calls, ['all', 'all', 'all']);
    refresher.close();
  });

  it('a full fetch that follows no known change (stream connected) is not retried when it finds nothing new', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {}, [5, 5, 5]);
    r.allResults.push(false, false, false, false);
    refresher.request(undefined, { retryUnchanged: false });
    await until(() => r.calls.length >= 1);
    await sleep(50); // and no retry
    assert.deepEqual(r.calls, ['all']);
    // But a reconnect during a retry sequence that follows a change does not cut that sequence short.
    r.calls.length = 0;
    r.allResults.push(false, false, false, false);
    refresher.request();
    refresher.request(undefined, { retryUnchanged: false });
    await until(() => r.calls.length >= 4);
    assert.deepEqual(r.calls, ['all', 'all', 'all', 'all']);
    refresher.close();
  });

  it('a named request does not wait behind a pending long retry delay', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {}, [5_000]);
    r.allResults.push(false);
    refresher.request();
    // The first fetch has returned "nothing new" (its result was taken) and its 5 s retry is pending.
    await until(() => r.allResults.length === 0);
    await sleep(10);
    assert.deepEqual(r.calls, ['all']);
    refresher.request(['urgent']);
    await until(() => r.calls.length >= 3);
    // The pending full retry runs in the same round, right after the named flags.
    assert.deepEqual(r.calls, ['all', 'features:urgent', 'all']);
    refresher.close();
  });

  it('a request during a running round causes one more round after it', async () => {
    const calls: string[] = [];
    let release: () => void = () => {};
    const slowFeatures = async (names: readonly string[]) => {
      calls.push(`features:${names.join(',')}`);
      if (calls.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return true;
    };
    const refresher = new CoalescingRefresher(
      async () => true,
      slowFeatures,
      5,
      () => {},
    );
    refresher.request(['first']);
    await until(() => calls.length >= 1);
    refresher.request(['second']);
    refresher.request(['third']);
    await until(() => calls.length >= 1);
    assert.deepEqual(calls, ['features:first']);
    release();
    await until(() => calls.length >= 2);
    assert.deepEqual(calls, ['features:first', 'features:second,third']);
    refresher.close();
  });

  it('does nothing after close', async () => {
    const r = recorder();
    const refresher = new CoalescingRefresher(r.fetchAll, r.fetchFeatures, 5, () => {});
    refresher.request(['a']);
    refresher.close();
    await sleep(30);
    assert.deepEqual(r.calls, []);
  });
});

/**
 * A loopback server answering unleash-client's two requests as Unleash 7.5 does: the full list
 * (`GET /api/client/features`, ETag) and one flag (`GET /api/client/features/:name`, 404 when absent). The full list
 * and the single flag are set separately, which is how Unleash looks while its revision (and its response memo) lags
 * a change: the list is the old state, the single-flag endpoint the database's.
 */
async function loopbackUnleash() {
  const state = {
    list: [] as Record<string, unknown>[],
    segments: [] as Record<string, unknown>[],
    single: new Map<string, Record<string, unknown>>(),
    etag: '"q:1:v1"',
    singleRequests: [] as string[],
    headers: [] as Record<string, string | string[] | undefined>[],
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const one = /^\/api\/client\/features\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && one) {
      const name = decodeURIComponent(one[1]!);
      state.singleRequests.push(name);
      state.headers.push(req.headers);
      const feature = state.single.get(name);
      if (!feature) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"name":"NotFoundError"}');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(feature));
    }
    if (req.method === 'GET' && url.pathname === '/api/client/features') {
      if (req.headers['if-none-match'] === state.etag) return res.writeHead(304).end();
      return res
        .writeHead(200, { 'content-type': 'application/json', etag: state.etag })
        .end(JSON.stringify({ version: 2, features: state.list, segments: state.segments }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const client = new Unleash({
    appName: 'rc-refresh-test',
    url: `http://127.0.0.1:${port}/api`,
    refreshInterval: 3_600_000,
    disableMetrics: true,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    customHeaders: { Authorization: 'backend-token-sentinel' },
  });
  return {
    state,
    client,
    async start() {
      const ready = new Promise<void>((resolve) => client.once('synchronized', () => resolve()));
      await client.start();
      await ready;
    },
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const flag = (name: string, enabled: boolean, segments?: number[]) => ({
  name,
  enabled,
  strategies: [{ name: 'default', parameters: {}, constraints: [], ...(segments ? { segments } : {}) }],
  variants: [],
  impressionData: false,
});

describe('bindUnleashFeatureUpdates (unleash-client 6.x against a loopback Unleash)', () => {
  it('applies one flag from the single-flag endpoint, keeps the others, and sends the client headers', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('x', false), flag('y', true)];
      await u.start();
      assert.equal(u.client.isEnabled('x'), false);
      const updater = bindUnleashFeatureUpdates(u.client);
      assert.ok(updater);
      u.state.single.set('x', flag('x', true));
      assert.equal(await updater.update(['x']), 'applied');
      assert.equal(u.client.isEnabled('x'), true);
      assert.equal(u.client.isEnabled('y'), true, 'other flags untouched');
      assert.deepEqual(u.state.singleRequests, ['x']);
      assert.equal(u.state.headers[0]!.authorization, 'backend-token-sentinel');
      assert.equal(u.state.headers[0]!['unleash-appname'], 'rc-refresh-test');
    } finally {
      await u.close();
    }
  });

  it('removes a flag the single-flag endpoint no longer knows (archived)', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('gone', true)];
      await u.start();
      const updater = bindUnleashFeatureUpdates(u.client)!;
      assert.equal(await updater.update(['gone']), 'applied');
      assert.equal(u.client.getFeatureToggleDefinition('gone'), undefined);
    } finally {
      await u.close();
    }
  });

  it('asks for a full fetch when the flag uses a segment this client has not seen', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('seg', false)];
      await u.start();
      const updater = bindUnleashFeatureUpdates(u.client)!;
      u.state.single.set('seg', flag('seg', true, [42]));
      assert.equal(await updater.update(['seg']), 'needs-full-fetch');
      assert.equal(u.client.isEnabled('seg'), false, 'nothing applied');
    } finally {
      await u.close();
    }
  });

  it('rejects an answer that is not the flag asked for, leaving the client unchanged', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('x', false)];
      await u.start();
      const updater = bindUnleashFeatureUpdates(u.client)!;
      u.state.single.set('x', { name: 'other', enabled: true });
      await assert.rejects(updater.update(['x']), /not the flag "x"/);
      assert.equal(u.client.isEnabled('x'), false);
    } finally {
      await u.close();
    }
  });

  it('a stale full list fetched right after does not put the old definition back; the database decides', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('x', false)];
      await u.start();
      const updater = bindUnleashFeatureUpdates(u.client)!;
      const fetchAll = bindUnleashRefresh(u.client)!;
      u.state.single.set('x', flag('x', true));
      await updater.update(['x']);
      assert.equal(u.client.isEnabled('x'), true);
      // Unleash's memo of the previous revision: a new ETag, but the old definition of x.
      u.state.etag = '"q:2:v1"';
      await fetchAll();
      assert.equal(u.client.isEnabled('x'), true, 'the stale list did not revert x');
      // The overlaid flag is fetched again at once.
      for (let i = 0; i < 100 && u.state.singleRequests.length < 2; i++) await sleep(5);
      assert.deepEqual(u.state.singleRequests, ['x', 'x']);
      assert.equal(u.client.isEnabled('x'), true);

      // And when the list is the newer one (x switched off again), the re-fetch brings that in.
      u.state.single.set('x', flag('x', false));
      u.state.list = [flag('x', false)];
      u.state.etag = '"q:3:v1"';
      await fetchAll();
      for (let i = 0; i < 100 && u.client.isEnabled('x'); i++) await sleep(5);
      assert.equal(u.client.isEnabled('x'), false);
    } finally {
      await u.close();
    }
  });

  it('gives every caller for one client the same updater (one overlay, one wrapper)', async () => {
    const u = await loopbackUnleash();
    try {
      u.state.list = [flag('x', false)];
      await u.start();
      assert.equal(bindUnleashFeatureUpdates(u.client), bindUnleashFeatureUpdates(u.client));
    } finally {
      await u.close();
    }
  });

  it('is unavailable (undefined) with tag filters, which the single-flag endpoint cannot apply', async () => {
    const client = new Unleash({
      appName: 'rc-refresh-tags',
      url: 'http://127.0.0.1:9/api',
      refreshInterval: 0,
      disableMetrics: true,
      disableAutoStart: true,
      skipInstanceCountWarning: true,
      storageProvider: new InMemStorageProvider(),
      tags: [{ name: 'team', value: 'core' }],
    });
    try {
      assert.equal(bindUnleashFeatureUpdates(client), undefined);
    } finally {
      client.destroy();
    }
  });
});
