import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '@runtime-control/server';
import {
  configureUnleashWebhook,
  flexibleRollout,
  startUnleashServer,
  UnleashAdmin,
  type UnleashServer,
  unleashServerOrSkip,
} from '@runtime-control/testkit';
import { UnleashProvider } from './unleash-provider.js';

/**
 * The Unleash webhook bridge end to end: a real unleash-server whose webhook addon (configured through its admin API)
 * calls our server, which tells an UnleashProvider polling only every 30 s to fetch now.
 */

const ADMIN = 'rc-bridge-e2e-admin-token-0123456789';
const SECRET = 'rc-bridge-e2e-webhook-secret-0123456789';
const FLIPS = 6;
/** Unleash hands events to addons once a second (its publishUnannouncedEvents job): 0–1 s before the webhook. */
// What the bridge can guarantee per flip: Unleash 7.5 sends webhooks from a 1 s job, and its client API's ETag
// follows a 1 s revision timer, so one flip can need ~2 s; the median must still be under 1 s. The p99 ≤ 1 s target
// is measured (and reported) by `npm run bench`, not asserted here where a rare slow flip would make CI flaky.
const BRIDGE_BOUND_MS = 2500;

describe('UnleashProvider with the Runtime Control bridge, against unleash-server', unleashServerOrSkip(), () => {
  let unleash: UnleashServer;
  let admin: UnleashAdmin;
  let rc: RunningServer;
  let scratch: string;
  let provider: UnleashProvider;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'rc-unleash-bridge-'));
    unleash = await startUnleashServer();
    admin = UnleashAdmin.of(unleash);
    rc = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: scratch,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent', RC_UNLEASH_WEBHOOK_SECRET: SECRET },
      print: () => {},
    });
    await configureUnleashWebhook(unleash, `${rc.url}/api/integrations/unleash/webhook`, SECRET);
    // Unleash caches the enabled addons for a minute (AddonService, memoized); a restart makes the new one active now.
    await unleash.stopProcess();
    await unleash.startProcess();
    await admin.createFeature('bridged-flag', { strategies: [flexibleRollout(100)], enabled: false });
    const token = await fetch(`${rc.url}/api/admin/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'client', environment: 'development' }),
    });
    provider = new UnleashProvider({
      url: unleash.apiUrl,
      appName: 'bridge-e2e',
      apiToken: unleash.clientToken,
      refreshIntervalMs: 30_000,
      disableMetrics: true,
      bridge: { url: rc.url, token: ((await token.json()) as { token: string }).token },
    });
    await provider.initialize();
  });

  after(async () => {
    await provider?.onClose();
    await rc?.close();
    await unleash?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const value = async () =>
    (await provider.resolveBooleanEvaluation('bridged-flag', false, { targetingKey: 'u-1' })).value;

  it("sees a flag toggled in Unleash within Unleash's 1 s event and revision timers (median < 1 s) while polling every 30 s", async () => {
    const deadline = Date.now() + 5000;
    while (!provider.bridgeConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(provider.bridgeConnected, 'bridge stream connected');
    assert.equal(await value(), false);
    const latencies: number[] = [];
    for (let i = 0; i < FLIPS; i++) {
      const want = i % 2 === 0;
      // Flips at a random phase of Unleash's 1 s event job, as real edits arrive.
      await new Promise((r) => setTimeout(r, Math.random() * 1000));
      const start = performance.now();
      if (want) await admin.enable('bridged-flag');
      else await admin.disable('bridged-flag');
      while ((await value()) !== want) {
        if (performance.now() - start > 5000) assert.fail(`flip ${i}: provider still shows ${!want} after 5 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(Math.round(performance.now() - start));
    }
    process.stderr.write(`# bridge flip → provider latencies (ms): ${latencies.join(', ')}\n`);
    for (const ms of latencies) assert.ok(ms < BRIDGE_BOUND_MS, `latency ${ms} ms (all: ${latencies.join(', ')})`);
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(FLIPS / 2)]!;
    assert.ok(median < 1000, `median ${median} ms`);
    assert.ok(provider.bridgeRefreshes >= FLIPS);
  });
});
