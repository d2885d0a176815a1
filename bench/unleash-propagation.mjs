// Benchmark 8: flip → UnleashProvider sees it, with the Runtime Control bridge (Unleash webhook addon → our server →
// SSE → provider fetches now) and with unleash-client's default 15 s polling, measured in the same run on the same
// flips. A real unleash-server (tools/unleash-server, `npm run setup:unleash`) on a fresh PostgreSQL database
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
  const sdk = (p) => import(join(ROOT, 'packages/sdk/dist', p));
  const { startUnleashServer, UnleashAdmin, flexibleRollout, unleashServerInstalled } = await sdk(
    'unleash/testing/unleash-harness.js',
  );
  const { configureUnleashWebhook } = await sdk('unleash/testing/unleash-webhook.js');
  const { UnleashProvider } = await sdk('index.js');
  const { startServer } = await import(join(ROOT, 'packages/server/dist/index.js'));
  if (!unleashServerInstalled()) throw new Error('unleash-server is not installed: run `npm run setup:unleash`');

  const bridgeFlips = QUICK ? 6 : 40;
  const pollingFlips = QUICK ? 2 : 6;
  const dataDir = mkdtempSync(join(tmpdir(), 'rc-bench-unleash-'));
  const unleash = await startUnleashServer();
  let rc;
  const providers = [];
  try {
    rc = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent', RC_UNLEASH_WEBHOOK_SECRET: SECRET },
      print: () => {},
    });
    await configureUnleashWebhook(unleash, `${rc.url}/api/integrations/unleash/webhook`, SECRET);
    // Unleash caches enabled addons for a minute; a restart activates the new one at once.
    await unleash.stopProcess();
    await unleash.startProcess();
    const admin = UnleashAdmin.of(unleash);
    await admin.createFeature('bench-flip', { strategies: [flexibleRollout(100)], enabled: false });
    const tokenRes = await fetch(`${rc.url}/api/admin/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'client', environment: 'development' }),
    });
    const { token } = await tokenRes.json();
    const common = { url: unleash.apiUrl, apiToken: unleash.clientToken, disableMetrics: true };
    // With the bridge: the same default polling (15 s) underneath; the bridge only adds speed.
    const bridged = new UnleashProvider({ ...common, appName: 'bench-bridge', bridge: { url: rc.url, token } });
    // Unleash's defaults: refreshInterval 15 s, no bridge.
    const polling = new UnleashProvider({ ...common, appName: 'bench-polling' });
    providers.push(bridged, polling);
    await Promise.all(providers.map((p) => p.initialize()));
    for (let i = 0; i < 250 && !bridged.bridgeConnected; i++) await sleep(20);
    if (!bridged.bridgeConnected) throw new Error('the bridge stream did not connect');

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
      const [b, p] = await Promise.all([
        waitFor(bridged, want, start, 20_000),
        measurePolling ? waitFor(polling, want, start, 35_000) : Promise.resolve(null),
      ]);
      if (b === undefined) missed++;
      else bridgeMs.push(b);
      if (measurePolling) {
        if (p === undefined) missed++;
        else pollingMs.push(p);
        log(`unleash: flip ${i + 1}: bridge ${fmt(b ?? Number.NaN, 0)} ms, polling ${fmt(p ?? Number.NaN, 0)} ms`);
      }
    }
    log(`unleash: ${bridgeFlips} flips done (polling provider measured on the first ${pollingFlips})`);
    const b = summarize(bridgeMs);
    const p = summarize(pollingMs);
    log(
      `unleash: bridge p50 ${fmt(b.p50, 0)} ms p99 ${fmt(b.p99, 0)} ms; polling p50 ${fmt(p.p50, 0)} ms p99 ${fmt(p.p99, 0)} ms`,
    );
    const ms = (v) => `${fmt(v, 0)} ms`;
    return {
      key: 'unleashPropagation',
      title: TITLE,
      method:
        `A real unleash-server 7.5.1 (PostgreSQL, fresh database) with its webhook addon pointed at our server's ` +
        `\`/api/integrations/unleash/webhook\`; two UnleashProviders in one process, both with unleash-client's ` +
        `default 15 s refreshInterval, one with \`bridge\`. ${bridgeFlips} flips (admin API on/off, each after a ` +
        `random 0–1 s pause); latency = admin call start → \`resolveBooleanEvaluation\` returns the new value ` +
        `(polled every 2 ms). The polling provider is measured on the first ${pollingFlips} flips only (each can take ` +
        'up to 15 s), the bridged one on all.',
      tables: [
        {
          headers: ['provider', 'n', 'p50', 'p99', 'max', 'target'],
          rows: [
            ['**with the bridge**', b.n, ms(b.p50), ms(b.p99), ms(b.max), 'p99 ≤ 1 s'],
            ['default polling (15 s)', p.n, ms(p.p50), ms(p.p99), ms(p.max), '–'],
          ],
        },
      ],
      notes: [
        'Most of the bridged latency is Unleash itself: it hands events to addons from a job that runs once a ' +
          'second (publishUnannouncedEvents), so the webhook leaves 0–1 s after the change; the bridge adds the ' +
          'HTTP hop, the SSE event and one client fetch (tens of milliseconds).',
        missed ? `${missed} measurement(s) timed out.` : '',
        QUICK ? 'QUICK run: fewer flips.' : '',
      ].filter(Boolean),
      summary: [
        [
          'Unleash flip → UnleashProvider, with the bridge',
          `p50 ${ms(b.p50)}, p99 ${ms(b.p99)}`,
          `default polling: p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`,
          'p99 ≤ 1 s',
          verdict(b.n > 0 && b.p99 <= 1000 && missed === 0),
        ],
      ],
    };
  } finally {
    for (const provider of providers) await provider.onClose();
    await rc?.close();
    await unleash.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
