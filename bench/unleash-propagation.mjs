// Benchmark 8: flip → UnleashProvider sees it, with the Runtime Control bridge — webhook only (Unleash webhook addon →
// our server → SSE → provider fetches the flag), and webhook plus event watch (our server also reads Unleash's event
// log every 250 ms) — and with unleash-client's default 15 s polling, measured in the same run on the same flips. A real unleash-server (tools/unleash-server, `npm run setup:unleash`) on a fresh PostgreSQL database
// (RC_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, log, QUICK, ROOT, sleep, summarize, verdict } from './lib.mjs';

const TITLE = '8. Unleash: flip → UnleashProvider sees it (bridge vs default polling)';
const SECRET = 'bench-unleash-webhook-secret-0123456789';
const ADMIN = 'bench-unleash-admin-token-0123456789';

export async function run() {
  process.env.RC_TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  const { createClientToken, startUnleashServer, UnleashAdmin, flexibleRollout, unleashServerInstalled } = await import(
    join(ROOT, 'packages/testkit/dist/index.js')
  );
  const { desiredBridgeAddon, UnleashAdminClient } = await import(join(ROOT, 'packages/unleash/dist/index.js'));
  // The Unleash provider is the SDK's `@runtime-control/sdk/unleash` subpath.
  const { UnleashProvider } = await import(join(ROOT, 'packages/sdk/dist/unleash-entry.js'));
  const { startServer } = await import(join(ROOT, 'packages/server/dist/index.js'));
  if (!unleashServerInstalled()) throw new Error('unleash-server is not installed: run `npm run setup:unleash`');

  const bridgeFlips = QUICK ? 6 : 40;
  const pollingFlips = QUICK ? 2 : 6;
  const dataDir = mkdtempSync(join(tmpdir(), 'rc-bench-unleash-'));
  // Our servers listen on 127.0.0.1, a private address Unleash 8 calls only when the host is allow-listed.
  const unleash = await startUnleashServer({ allowListIntegration: ['127.0.0.1'] });
  const servers = [];
  const providers = [];
  try {
    const startRc = async (name, env) => {
      const rc = await startServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: join(dataDir, name),
        env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent', RC_UNLEASH_WEBHOOK_SECRET: SECRET, ...env },
        print: () => {},
      });
      servers.push(rc);
      // The webhook addon exactly as `rctl seed --bridge-url` defines it.
      await new UnleashAdminClient(unleash.url, unleash.adminToken).createAddon(desiredBridgeAddon(rc.url, SECRET));
      return rc;
    };
    // One server with the webhook only, one with the webhook and the event watch (the documented set-up).
    const webhookRc = await startRc('webhook', {});
    const watchRc = await startRc('watch', { RC_UNLEASH_URL: unleash.url, RC_UNLEASH_TOKEN: unleash.adminToken });
    // Unleash caches enabled addons for a minute; a restart activates the new ones at once.
    await unleash.stopProcess();
    await unleash.startProcess();
    const admin = UnleashAdmin.of(unleash);
    await admin.createFeature('bench-flip', { strategies: [flexibleRollout(100)], enabled: false });
    const clientToken = (rc) => createClientToken(rc.url, ADMIN, 'development');
    const common = { url: unleash.apiUrl, apiToken: unleash.clientToken, disableMetrics: true };
    // With the bridge: the same default polling (15 s) underneath; the bridge only adds speed.
    const bridged = new UnleashProvider({
      ...common,
      appName: 'bench-bridge-webhook',
      bridge: { url: webhookRc.url, token: await clientToken(webhookRc) },
    });
    const watched = new UnleashProvider({
      ...common,
      appName: 'bench-bridge-watch',
      bridge: { url: watchRc.url, token: await clientToken(watchRc) },
    });
    // Unleash's defaults: refreshInterval 15 s, no bridge.
    const polling = new UnleashProvider({ ...common, appName: 'bench-polling' });
    providers.push(bridged, watched, polling);
    await Promise.all(providers.map((p) => p.initialize()));
    for (let i = 0; i < 250 && !(bridged.bridgeConnected && watched.bridgeConnected); i++) await sleep(20);
    if (!bridged.bridgeConnected || !watched.bridgeConnected) throw new Error('a bridge stream did not connect');

    const sees = async (provider, want) =>
      // Default false: on → the 100 % strategy answers true; off (disabled) → the caller's default, false.
      (await provider.resolveBooleanEvaluation('bench-flip', false, { targetingKey: 'u-1' })).value === want;
    const waitFor = async (provider, want, start, timeoutMs) => {
      while (!(await sees(provider, want))) {
        if (performance.now() - start > timeoutMs) return undefined;
        await sleep(2);
      }
      return performance.now() - start;
    };
    const bridgeMs = [];
    const watchMs = [];
    const pollingMs = [];
    let missed = 0;
    for (let i = 0; i < bridgeFlips; i++) {
      const want = i % 2 === 0;
      // A random phase against Unleash's 1 s event job and the 15 s poll, as real edits arrive.
      await sleep(Math.random() * 1000);
      const start = performance.now();
      if (want) await admin.enable('bench-flip');
      else await admin.disable('bench-flip');
      const measurePolling = i < pollingFlips;
      const [b, w, p] = await Promise.all([
        waitFor(bridged, want, start, 20_000),
        waitFor(watched, want, start, 20_000),
        measurePolling ? waitFor(polling, want, start, 35_000) : Promise.resolve(null),
      ]);
      if (b === undefined) missed++;
      else bridgeMs.push(b);
      if (w === undefined) missed++;
      else watchMs.push(w);
      if (measurePolling) {
        if (p === undefined) missed++;
        else pollingMs.push(p);
        log(
          `unleash: flip ${i + 1}: webhook ${fmt(b ?? Number.NaN, 0)} ms, webhook+watch ${fmt(w ?? Number.NaN, 0)} ms, ` +
            `polling ${fmt(p ?? Number.NaN, 0)} ms`,
        );
      }
    }
    log(`unleash: ${bridgeFlips} flips done (polling provider measured on the first ${pollingFlips})`);
    const b = summarize(bridgeMs);
    const w = summarize(watchMs);
    const p = summarize(pollingMs);
    log(
      `unleash: webhook p50 ${fmt(b.p50, 0)} ms p99 ${fmt(b.p99, 0)} ms; webhook+watch p50 ${fmt(w.p50, 0)} ms ` +
        `p99 ${fmt(w.p99, 0)} ms; polling p50 ${fmt(p.p50, 0)} ms p99 ${fmt(p.p99, 0)} ms`,
    );
    const fetchCounts = `bridge fetches: webhook provider ${bridged.bridgeRefreshes} (${bridged.bridgeFeatureFetches} of single flags), watch provider ${watched.bridgeRefreshes} (${watched.bridgeFeatureFetches} of single flags)`;
    log(`unleash: ${fetchCounts}`);
    const ms = (v) => `${fmt(v, 0)} ms`;
    return {
      key: 'unleashPropagation',
      title: TITLE,
      method:
        `A real unleash-server ${unleash.version} (PostgreSQL, fresh database) and two of our servers, each the target of its own ` +
        `webhook addon (\`/api/integrations/unleash/webhook\`); the second also runs the event watch ` +
        `(\`RC_UNLEASH_URL\`/\`RC_UNLEASH_TOKEN\`, reading Unleash's event log every 250 ms, the default). Three ` +
        `UnleashProviders in one process, all with unleash-client's default 15 s refreshInterval: one bridged to each ` +
        `server, one without a bridge. ${bridgeFlips} flips (admin API on/off, each after a random 0–1 s pause); ` +
        `latency = admin call start → \`resolveBooleanEvaluation\` returns the new value (polled every 2 ms). The ` +
        `polling provider is measured on the first ${pollingFlips} flips only (each can take up to 15 s), the bridged ` +
        'ones on all. Unleash runs with its client-feature response cache off (the test harness default).',
      tables: [
        {
          headers: ['provider', 'n', 'p50', 'p99', 'max', 'target'],
          rows: [
            [
              '**bridge: webhook + event watch** (documented set-up)',
              w.n,
              ms(w.p50),
              ms(w.p99),
              ms(w.max),
              'p99 ≤ 1 s',
            ],
            ['bridge: webhook only', b.n, ms(b.p50), ms(b.p99), ms(b.max), '–'],
            ['anchor: default polling (15 s)', p.n, ms(p.p50), ms(p.p99), ms(p.max), '–'],
          ],
        },
      ],
      notes: [
        'Webhook only: Unleash hands events to addons from a job that runs once a second (publishUnannouncedEvents), ' +
          'so the webhook leaves 0–1 s after the change and its tail sits at about 1 s whatever the bridge does. ' +
          'The event watch reads the event log, where the change is the moment Unleash commits it, so it sees the ' +
          'change within one 250 ms interval. Either way the provider then fetches that one flag from ' +
          "`/api/client/features/:name`, which reads Unleash's database, instead of the full list, whose ETag " +
          'follows a revision Unleash recomputes once a second.',
        fetchCounts,
        missed ? `${missed} measurement(s) timed out.` : '',
        QUICK ? 'QUICK run: fewer flips.' : '',
      ].filter(Boolean),
      summary: [
        [
          'Unleash flip → UnleashProvider, with the bridge (webhook + event watch)',
          `p50 ${ms(w.p50)}, p99 ${ms(w.p99)} (webhook only: p50 ${ms(b.p50)}, p99 ${ms(b.p99)})`,
          `default polling: p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`,
          'p99 ≤ 1 s',
          verdict(w.n > 0 && w.p99 <= 1000 && missed === 0),
        ],
      ],
    };
  } finally {
    for (const provider of providers) await provider.onClose();
    for (const rc of servers) await rc.close();
    await unleash.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
