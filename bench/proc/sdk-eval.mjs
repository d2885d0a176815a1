// Child process for benchmark 6: evaluation cost inside one service process. Prints one JSON line with the results.
// Everything here is in-process; the Runtime Control server only provides the initial snapshot.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagdCore } from '@openfeature/flagd-core';
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { Unleash } from 'unleash-client';
import * as sdk from '../../packages/sdk/dist/index.js';
import { startServer } from '../../packages/server/dist/index.js';

const quick = process.env.BENCH_QUICK === '1';
const FAST_N = quick ? 300_000 : 3_000_000;
const OF_N = quick ? 30_000 : 300_000;
const ROUNDS = quick ? 1 : 3;
const ADMIN = 'bench-admin-token-0123456789abcdef';
const TESTERS = ['u-alice', 'u-bob', 'u-qa-1', 'u-qa-2'];
const contexts = Array.from({ length: 1000 }, (_, i) => ({
  targetingKey: i % 10 === 0 ? TESTERS[i % 4] : `user-${i}`,
}));
const unleashContexts = contexts.map((c) => ({ userId: c.targetingKey }));

function timeSync(n, fn) {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  let x = 0;
  for (let i = 0; i < n; i++) if (fn(i)) x++;
  const ns = Number(process.hrtime.bigint() - t0);
  return { perSecond: (n / ns) * 1e9, nsPerEval: ns / n, trueCount: x };
}

async function timeAsync(n, fn) {
  for (let i = 0; i < Math.min(n, 5_000); i++) await fn(i);
  const t0 = process.hrtime.bigint();
  let x = 0;
  for (let i = 0; i < n; i++) if (await fn(i)) x++;
  const ns = Number(process.hrtime.bigint() - t0);
  return { perSecond: (n / ns) * 1e9, nsPerEval: ns / n, trueCount: x };
}

const server = await startServer({
  port: 0,
  host: '127.0.0.1',
  dataDir: mkdtempSync(join(tmpdir(), 'rc-bench-sdk-')),
  seedFile: new URL('../../examples/devmentor/flags.yaml', import.meta.url).pathname,
  env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
  print: () => {},
});
const tokenRes = await fetch(`${server.url}/api/admin/tokens`, {
  method: 'POST',
  headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
  body: JSON.stringify({ kind: 'client', environment: 'production' }),
});
const { token } = await tokenRes.json();
const snapshot = await (
  await fetch(`${server.url}/api/client/snapshot`, { headers: { authorization: `Bearer ${token}` } })
).text();

// Ours: the provider as a service runs it, plus its metrics recorder when the SDK has one.
const provider = new sdk.RuntimeControlProvider({ url: server.url, token });
await OpenFeature.setProviderAndWait('rc', provider);
const rcClient = OpenFeature.getClient('rc');
const MetricsHook = sdk.PrometheusHook;
let providerWithMetrics;
if (MetricsHook) {
  const { Registry } = await import('prom-client');
  providerWithMetrics = new sdk.RuntimeControlProvider({
    url: server.url,
    token,
    metrics: new MetricsHook({ registry: new Registry() }),
  });
  await providerWithMetrics.initialize();
}

// Anchor 1: raw flagd-core on the same flagd document.
const core = new FlagdCore(undefined, { debug() {}, info() {}, warn() {}, error() {} });
core.setConfigurations(snapshot);

// Anchor 2: unleash-client with the equivalent flag (a userId IN list), bootstrapped, no server.
const unleash = new Unleash({
  url: 'http://127.0.0.1:9/api',
  appName: 'bench',
  disableMetrics: true,
  refreshInterval: 0,
  skipInstanceCountWarning: true,
  bootstrap: {
    data: [
      {
        name: 'new-ui-enabled',
        enabled: true,
        type: 'release',
        strategies: [
          {
            name: 'default',
            parameters: {},
            constraints: [{ contextName: 'userId', operator: 'IN', values: TESTERS }],
          },
        ],
        variants: [],
      },
    ],
  },
});
unleash.on('error', () => {});
unleash.on('warn', () => {});
await new Promise((r) => (unleash.isSynchronized?.() ? r() : unleash.once('ready', r)));

// Anchor 3: the OpenFeature SDK's own InMemoryProvider through the same client pipeline.
await OpenFeature.setProviderAndWait(
  'mem',
  new InMemoryProvider({
    'new-ui-enabled': {
      variants: { on: true, off: false },
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (ctx) => (TESTERS.includes(ctx.targetingKey) ? 'on' : 'off'),
    },
  }),
);
const memClient = OpenFeature.getClient('mem');

const KEY = 'new-ui-enabled';
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const round = {
    fastPath: timeSync(FAST_N, (i) => provider.flags.boolean(KEY, false, contexts[i % 1000])),
    fastPathWithMetrics: providerWithMetrics
      ? timeSync(FAST_N, (i) => providerWithMetrics.flags.boolean(KEY, false, contexts[i % 1000]))
      : undefined,
    flagdCore: timeSync(FAST_N, (i) => core.resolveBooleanEvaluation(KEY, false, contexts[i % 1000]).value),
    unleashIsEnabled: timeSync(FAST_N, (i) => unleash.isEnabled(KEY, unleashContexts[i % 1000])),
    rcThroughOpenFeature: await timeAsync(OF_N, (i) => rcClient.getBooleanValue(KEY, false, contexts[i % 1000])),
    inMemoryThroughOpenFeature: await timeAsync(OF_N, (i) => memClient.getBooleanValue(KEY, false, contexts[i % 1000])),
  };
  rounds.push(round);
}
// Every path must agree on the answers, or the comparison is meaningless.
const counts = new Set(
  Object.values(rounds[0])
    .filter(Boolean)
    .map(
      (m) =>
        m.trueCount /
        (m === rounds[0].rcThroughOpenFeature || m === rounds[0].inMemoryThroughOpenFeature ? OF_N : FAST_N),
    ),
);
process.stdout.write(
  `${JSON.stringify({ rounds, fastN: FAST_N, ofN: OF_N, agree: counts.size === 1, counts: [...counts] })}\n`,
);
unleash.destroy();
await OpenFeature.close();
await providerWithMetrics?.onClose();
await server.close();
process.exit(0);
