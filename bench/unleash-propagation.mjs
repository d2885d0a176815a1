// Benchmark 8: flip → UnleashProvider sees it, with the Runtime Control bridge — webhook only (Unleash webhook addon →
// our server → SSE → provider fetches the flag), and webhook plus event watch (our server also reads Unleash's event
// log every 250 ms) — and, measured in the same run on the same flips, unleash-client polling at its default 15 s and
// at the fastest interval it supports (1 s, see FASTEST_REFRESH_MS). Beside them, interleaved with the Unleash flips,
// the same flips on our own server (`rctl up`, admin API) → RuntimeControlProvider (push). A real unleash-server
// (tools/unleash-server*, `npm run setup:unleash`) on a fresh PostgreSQL database (RC_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClientToken as createRcClientToken,
  fmt,
  log,
  QUICK,
  ROOT,
  sleep,
  startRc,
  stopChild,
  summarize,
  toggleWriter,
  verdict,
} from './lib.mjs';

const TITLE = '8. Unleash: flip → UnleashProvider sees it (bridge vs polling, beside our push)';
const SECRET = 'bench-unleash-webhook-secret-0123456789';
const ADMIN = 'bench-unleash-admin-token-0123456789';
/** unleash-client's default refreshInterval (lib/unleash.js: `refreshInterval = 15 * 1000`). */
const DEFAULT_REFRESH_MS = 15_000;
/**
 * The fastest polling unleash-client supports. It enforces no minimum (lib/repository/polling-fetcher.js polls whenever
 * `refreshInterval > 0`), so this is a judgement, explained in the method text: 1 s is the floor the client applies
 * to its own retry after ECONNRESET, and Unleash's ETag for the flag list only changes once a second.
 */
const FASTEST_REFRESH_MS = 1000;
/** Our flips: bench 3's seeded flag, for an internal tester (ENABLED → `on` = true, DISABLED → default false). */
const OUR_FLAG = 'new-ui-enabled';
const OUR_CONTEXT = { targetingKey: 'u-alice' };

export async function run() {
  process.env.RC_TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  const { createClientToken, startUnleashServer, UnleashAdmin, flexibleRollout, unleashServerInstalled } = await import(
    join(ROOT, 'packages/testkit/dist/index.js')
  );
  const { desiredBridgeAddon, UnleashAdminClient } = await import(join(ROOT, 'packages/unleash/dist/index.js'));
  // The Unleash provider is the SDK's `@runtime-control/sdk/unleash` subpath; ours is the root entry.
  const { UnleashProvider } = await import(join(ROOT, 'packages/sdk/dist/unleash-entry.js'));
  const { RuntimeControlProvider } = await import(join(ROOT, 'packages/sdk/dist/index.js'));
  const { startServer } = await import(join(ROOT, 'packages/server/dist/index.js'));
  if (!unleashServerInstalled()) throw new Error('unleash-server is not installed: run `npm run setup:unleash`');
  const clientVersion = JSON.parse(
    readFileSync(join(ROOT, 'node_modules/unleash-client/package.json'), 'utf8'),
  ).version;

  const flips = QUICK ? 6 : 40;
  const defaultPollingFlips = QUICK ? 2 : 6;
  const dataDir = mkdtempSync(join(tmpdir(), 'rc-bench-unleash-'));
  // Our servers listen on 127.0.0.1, a private address Unleash 8 calls only when the host is allow-listed.
  const unleash = await startUnleashServer({ allowListIntegration: ['127.0.0.1'] });
  const servers = [];
  const providers = [];
  let ours;
  try {
    const startBridgeRc = async (name, env) => {
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
    const webhookRc = await startBridgeRc('webhook', {});
    const watchRc = await startBridgeRc('watch', { RC_UNLEASH_URL: unleash.url, RC_UNLEASH_TOKEN: unleash.adminToken });
    // Our own server for the push row: `rctl up` in its own process (SQLite, seeded), as Unleash runs in its own.
    ours = await startRc({ name: 'rctl up (push)' });
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
    // The fastest polling unleash-client supports, no bridge.
    const fastest = new UnleashProvider({
      ...common,
      appName: 'bench-polling-fastest',
      refreshIntervalMs: FASTEST_REFRESH_MS,
    });
    const pushed = new RuntimeControlProvider({
      url: ours.url,
      token: await createRcClientToken(ours.url, 'production'),
      appName: 'bench-push',
    });
    providers.push(bridged, watched, polling, fastest, pushed);
    await Promise.all(providers.map((p) => p.initialize()));
    for (let i = 0; i < 250 && !(bridged.bridgeConnected && watched.bridgeConnected); i++) await sleep(20);
    if (!bridged.bridgeConnected || !watched.bridgeConnected) throw new Error('a bridge stream did not connect');

    // Every poll of unleash-client ends in `changed` (200) or `unchanged` (304): the requests a poller sends.
    const pollCounter = (provider) => {
      const counter = { n: 0 };
      provider.client.on('changed', () => counter.n++);
      provider.client.on('unchanged', () => counter.n++);
      return counter;
    };
    const fastestPolls = pollCounter(fastest);
    const defaultPolls = pollCounter(polling);

    const sees = async (provider, key, context, want) =>
      // Default false: on → true (Unleash: the 100 % strategy; ours: the internal tester's `on` variant); off → the
      // caller's default, false.
      (await provider.resolveBooleanEvaluation(key, false, context)).value === want;
    const waitFor = async (provider, key, context, want, start, timeoutMs) => {
      while (!(await sees(provider, key, context, want))) {
        if (performance.now() - start > timeoutMs) return undefined;
        await sleep(2);
      }
      return performance.now() - start;
    };
    if (!(await sees(pushed, OUR_FLAG, OUR_CONTEXT, true)))
      throw new Error(`${OUR_FLAG} is not on for ${OUR_CONTEXT.targetingKey} at the start: the seed changed?`);
    const unleashSees = (provider, want, start, timeoutMs) =>
      waitFor(provider, 'bench-flip', { targetingKey: 'u-1' }, want, start, timeoutMs);
    const writeOurs = toggleWriter(ours.url);

    const bridgeMs = [];
    const watchMs = [];
    const pollingMs = [];
    const fastestMs = [];
    const pushMs = [];
    // Timed-out measurements per row (the target's verdict counts those of the rows it had before the new anchors).
    const missed = { bridge: 0, watch: 0, polling: 0, fastest: 0, push: 0 };
    const keep = (row, list, v) => {
      if (v === undefined) missed[row]++;
      else list.push(v);
    };
    const flipUnleash = async (i) => {
      const want = i % 2 === 0;
      const measurePolling = i < defaultPollingFlips;
      // A random phase against Unleash's 1 s jobs (addon events, revision) and the pollers' intervals, as real edits
      // arrive. The previous flip ended when the slowest poller had polled, so on the flips the 15 s poller is
      // measured on, the pause spans its whole interval: a 0–1 s pause would always land just after its poll and
      // measure its worst case (14–15 s) instead of a uniform phase.
      await sleep(Math.random() * (measurePolling ? DEFAULT_REFRESH_MS : 1000));
      const start = performance.now();
      if (want) await admin.enable('bench-flip');
      else await admin.disable('bench-flip');
      const [b, w, f, p] = await Promise.all([
        unleashSees(bridged, want, start, 20_000),
        unleashSees(watched, want, start, 20_000),
        unleashSees(fastest, want, start, 20_000),
        measurePolling ? unleashSees(polling, want, start, DEFAULT_REFRESH_MS + 20_000) : Promise.resolve(null),
      ]);
      keep('bridge', bridgeMs, b);
      keep('watch', watchMs, w);
      keep('fastest', fastestMs, f);
      if (measurePolling) keep('polling', pollingMs, p);
      return { b, w, f, p };
    };
    const flipOurs = async (i) => {
      // toggleWriter: even i → DISABLED (the caller's default, false), odd i → ENABLED (u-alice → on, true).
      const want = i % 2 === 1;
      // Our write → push path has no periodic job to fall in phase with; the pause only separates the flips.
      await sleep(Math.random() * 250);
      const start = performance.now();
      await writeOurs(i);
      const v = await waitFor(pushed, OUR_FLAG, OUR_CONTEXT, want, start, 20_000);
      keep('push', pushMs, v);
      return v;
    };
    const polls0 = { fastest: fastestPolls.n, default: defaultPolls.n, at: performance.now() };
    for (let i = 0; i < flips; i++) {
      // Alternate which system flips first, so that neither always follows the other's activity.
      let u;
      let o;
      if (i % 2 === 0) {
        u = await flipUnleash(i);
        o = await flipOurs(i);
      } else {
        o = await flipOurs(i);
        u = await flipUnleash(i);
      }
      if (i < defaultPollingFlips || (i + 1) % 10 === 0) {
        const f = (v) => fmt(v ?? Number.NaN, 0);
        log(
          `unleash: flip ${i + 1}/${flips}: webhook ${f(u.b)} ms, webhook+watch ${f(u.w)} ms, ` +
            `polling ${FASTEST_REFRESH_MS / 1000} s ${f(u.f)} ms` +
            (u.p === null ? '' : `, polling 15 s ${f(u.p)} ms`) +
            `; ours (push) ${f(o)} ms`,
        );
      }
    }
    const loopSec = (performance.now() - polls0.at) / 1000;
    const fastestRate = (fastestPolls.n - polls0.fastest) / loopSec;
    const defaultRate = (defaultPolls.n - polls0.default) / loopSec;
    log(
      `unleash: ${flips} flips done in ${fmt(loopSec, 0)} s (15 s poller measured on the first ${defaultPollingFlips})`,
    );
    const b = summarize(bridgeMs);
    const w = summarize(watchMs);
    const p = summarize(pollingMs);
    const f = summarize(fastestMs);
    const o = summarize(pushMs);
    log(
      `unleash: webhook p50 ${fmt(b.p50, 0)} ms p99 ${fmt(b.p99, 0)} ms; webhook+watch p50 ${fmt(w.p50, 0)} ms ` +
        `p99 ${fmt(w.p99, 0)} ms; polling 15 s p50 ${fmt(p.p50, 0)} ms p99 ${fmt(p.p99, 0)} ms; polling ` +
        `${FASTEST_REFRESH_MS / 1000} s p50 ${fmt(f.p50, 0)} ms p99 ${fmt(f.p99, 0)} ms; ours (push) p50 ` +
        `${fmt(o.p50, 1)} ms p99 ${fmt(o.p99, 1)} ms`,
    );
    const fetchCounts = `bridge fetches: webhook provider ${bridged.bridgeRefreshes} (${bridged.bridgeFeatureFetches} of single flags), watch provider ${watched.bridgeRefreshes} (${watched.bridgeFeatureFetches} of single flags)`;
    log(`unleash: ${fetchCounts}; polls/s: ${fmt(fastestRate, 2)} (1 s), ${fmt(defaultRate, 3)} (15 s)`);
    const totalMissed = Object.values(missed).reduce((a, n) => a + n, 0);
    const ms = (v) => `${fmt(v, 0)} ms`;
    const msPush = (v) => `${fmt(v, 1)} ms`;
    return {
      key: 'unleashPropagation',
      title: TITLE,
      method:
        `A real unleash-server ${unleash.version} (PostgreSQL, fresh database) and two of our servers, each the target ` +
        'of its own webhook addon (`/api/integrations/unleash/webhook`); the second also runs the event watch ' +
        "(`RC_UNLEASH_URL`/`RC_UNLEASH_TOKEN`, reading Unleash's event log every 250 ms, the default). Four " +
        `UnleashProviders (unleash-client ${clientVersion}) in one process: one bridged to each server (underneath, ` +
        "unleash-client's default 15 s refreshInterval), one polling at that default without a bridge, and one " +
        `polling every ${FASTEST_REFRESH_MS / 1000} s without a bridge. ${flips} flips of one Unleash flag (admin API ` +
        'on/off, each after a random 0–1 s pause); latency = admin call start → `resolveBooleanEvaluation` returns ' +
        'the new value (polled every 2 ms). The 15 s poller is measured on the first ' +
        `${defaultPollingFlips} flips only (each takes up to 15 s; their pause is random over 0–15 s, since the ` +
        "previous flip ended just after that poller's poll), the others on all. Unleash runs with its client-feature " +
        'response cache off (the test harness default). **Fastest supported polling**: unleash-client ' +
        `${clientVersion} enforces no minimum refreshInterval — its PollingFetcher ` +
        '(`lib/repository/polling-fetcher.js`) polls whenever `refreshInterval > 0` (0 turns polling off) and ' +
        'schedules the next poll `refreshInterval` after the previous one finished; its README documents no ' +
        "interval (it links to Unleash's docs), and the SDK repository's earlier README says only \"The poll interval " +
        'to check for updates. Defaults to 15000ms." Any positive value is accepted, so 1 s is our judgement of the ' +
        'fastest supported: it is the floor the client applies to its own retry after a dropped connection ' +
        '(`Math.max(refreshInterval / 2, 1000)` on ECONNRESET), and it matches the server: the ETag of ' +
        '`/api/client/features` is `"<query hash>:<revision>:v1"`, and Unleash recomputes that revision in a job that ' +
        'runs once a second (`updateMaxRevisionId`), so any poll gets 304 until that job has run — a shorter interval ' +
        'would trim only the wait for the next poll after it (0–1 s at 1 s; 0–0.1 s at 100 ms, for ten times the ' +
        'requests), never the 0–1 s wait for the job. ' +
        '**Ours (push)**: interleaved with the Unleash flips (alternating which goes first), the same number of ' +
        `flips on our own server — \`rctl up\` in its own process (SQLite, seeded), \`PATCH ` +
        `/api/admin/flags/${OUR_FLAG}/environments/production\` toggling \`state\` (as bench 3) — each after a ` +
        'random 0–250 ms pause (our write → push path has no periodic job to be in phase with); latency = admin ' +
        'call start → `RuntimeControlProvider.resolveBooleanEvaluation` returns the new value (polled every 2 ms). ' +
        'No Unleash is involved in that row: it shows what push alone takes on this machine.',
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
            [
              `anchor: fastest supported polling (${FASTEST_REFRESH_MS / 1000} s)`,
              f.n,
              ms(f.p50),
              ms(f.p99),
              ms(f.max),
              '–',
            ],
            ['anchor: default polling (15 s)', p.n, ms(p.p50), ms(p.p99), ms(p.max), '–'],
            [
              'ours: push (RuntimeControlProvider, our own server, no Unleash)',
              o.n,
              msPush(o.p50),
              msPush(o.p99),
              msPush(o.max),
              '–',
            ],
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
        `Polling at ${FASTEST_REFRESH_MS / 1000} s: a change waits for the revision job (0–1 s) and then for the ` +
          'next poll (0–1 s), so latency spreads over about 0–2 s. The load it puts on Unleash: ' +
          `${fmt(fastestRate, 2)} requests/s per client measured here (the 15 s poller: ${fmt(defaultRate, 3)}/s), ` +
          'each a request to `/api/client/features` (a 304 while nothing changed, the full flag list after a change) ' +
          '— about 1,000 requests/s for a fleet of 1,000 service instances, whether or not anything changes, where ' +
          'the bridge adds one single-flag fetch per change per instance to the 15 s polling.' +
          (unleash.major >= 8
            ? ' Unleash 8 also limits its SDK API to 20,000 requests a minute per client IP by default ' +
              '(`SDK_API_RATE_LIMIT_PER_MINUTE`), so more than about 330 instances polling each second from behind ' +
              'one address would be refused.'
            : ''),
        fetchCounts,
        totalMissed
          ? `Timed out: ${Object.entries(missed)
              .filter(([, n]) => n > 0)
              .map(([row, n]) => `${row} ${n}`)
              .join(', ')} measurement(s).`
          : '',
        QUICK ? 'QUICK run: fewer flips.' : '',
      ].filter(Boolean),
      raw: {
        flips,
        defaultPollingFlips,
        unleashVersion: unleash.version,
        unleashClientVersion: clientVersion,
        fastestRefreshMs: FASTEST_REFRESH_MS,
        latencyMs: { bridgeWatch: w, bridgeWebhook: b, pollingFastest: f, pollingDefault: p, push: o },
        pollsPerSecondPerClient: { fastest: fastestRate, default: defaultRate },
        missed,
      },
      summary: [
        [
          'Unleash flip → UnleashProvider, with the bridge (webhook + event watch)',
          `p50 ${ms(w.p50)}, p99 ${ms(w.p99)} (webhook only: p50 ${ms(b.p50)}, p99 ${ms(b.p99)}); our own ` +
            `push (flip on our server → RuntimeControlProvider): p50 ${msPush(o.p50)}, p99 ${msPush(o.p99)}`,
          `polling ${FASTEST_REFRESH_MS / 1000} s (fastest supported): p50 ${ms(f.p50)}, p99 ${ms(f.p99)}; ` +
            `default polling 15 s: p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`,
          'p99 ≤ 1 s',
          verdict(w.n > 0 && w.p99 <= 1000 && missed.bridge + missed.watch + missed.polling === 0),
        ],
      ],
    };
  } finally {
    for (const provider of providers) await provider.onClose();
    for (const rc of servers) await rc.close();
    if (ours) await stopChild(ours.child);
    await unleash.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
