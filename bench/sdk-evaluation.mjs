// Benchmark 6: evaluation inside a service process — the SDK's fast path against raw flagd-core and unleash-client,
// and our provider through the OpenFeature client against the SDK's own InMemoryProvider (our overhead as a ratio).
import { join } from 'node:path';
import { fmt, log, median, PROC_DIR, QUICK, spawnNode, stopChild, verdict } from './lib.mjs';

export async function run() {
  const child = spawnNode(join(PROC_DIR, 'sdk-eval.mjs'), [], { name: 'sdk eval', ipc: false, raiseFdLimit: false });
  const { code } = await child.exited;
  await stopChild(child);
  if (code !== 0) throw new Error(`sdk-eval exited with ${code}:\n${child.output}`);
  const line = child.output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  const result = JSON.parse(line);
  if (!result.agree) throw new Error(`the evaluation paths disagree on results: ${JSON.stringify(result.counts)}`);
  const med = (k) => (result.rounds[0][k] ? median(result.rounds.map((r) => r[k].perSecond)) : undefined);
  const m = Object.fromEntries(
    [
      'fastPath',
      'fastPathWithMetrics',
      'flagdCore',
      'unleashIsEnabled',
      'rcThroughOpenFeature',
      'inMemoryThroughOpenFeature',
    ].map((k) => [k, med(k)]),
  );
  const rate = (v) => (v === undefined ? 'n/a' : `${fmt(v / 1e6, 2)} M/s (${fmt(1e9 / v, 0)} ns)`);
  const target = 1_000_000;
  const fast = m.fastPathWithMetrics ?? m.fastPath;
  const overhead =
    m.rcThroughOpenFeature && m.inMemoryThroughOpenFeature
      ? m.inMemoryThroughOpenFeature / m.rcThroughOpenFeature
      : undefined;
  log(
    `sdk: fast path ${rate(m.fastPath)}, with metrics ${rate(m.fastPathWithMetrics)}, flagd-core ${rate(m.flagdCore)}, unleash ${rate(m.unleashIsEnabled)}`,
  );
  return {
    key: 'sdkEvaluation',
    title: '6. Evaluation inside a service (SDK)',
    method:
      `One Node process; \`new-ui-enabled\` (targeting: targetingKey in a 4-user list), 1,000 rotating contexts, ` +
      `${result.fastN.toLocaleString('en')} synchronous / ${result.ofN.toLocaleString('en')} OpenFeature-client evaluations per measurement after a JIT warm-up, ` +
      `median of ${result.rounds.length} round(s). Anchors in the same process and run: \`@openfeature/flagd-core\` ` +
      '`resolveBooleanEvaluation` on the same flagd document; `unleash-client` `isEnabled` on the equivalent flag (a ' +
      "`userId IN` constraint, bootstrapped, no server); the OpenFeature SDK's own `InMemoryProvider` through the same " +
      'client pipeline. All paths must return the same answers (checked).',
    tables: [
      {
        headers: ['path', 'evaluations/s (per evaluation)', 'target'],
        rows: [
          ['**ours**: `provider.flags.boolean()` (fast path)', rate(m.fastPath), '≥ 1 M/s'],
          ['**ours**: fast path + PrometheusHook metrics', rate(m.fastPathWithMetrics), '≥ 1 M/s'],
          ['anchor: raw flagd-core', rate(m.flagdCore), '–'],
          ['anchor: unleash-client `isEnabled`', rate(m.unleashIsEnabled), '–'],
          ['**ours**: RuntimeControlProvider via `client.getBooleanValue`', rate(m.rcThroughOpenFeature), '–'],
          ['anchor: InMemoryProvider via `client.getBooleanValue`', rate(m.inMemoryThroughOpenFeature), '–'],
        ],
      },
    ],
    notes: [
      overhead === undefined
        ? 'OpenFeature ratio unavailable.'
        : `Through the OpenFeature client, our provider runs at ${fmt(1 / overhead, 2)}× the InMemoryProvider's rate: the SDK's own pipeline dominates both, which is why the fast path exists.`,
      m.fastPathWithMetrics === undefined
        ? 'PrometheusHook not built yet: the with-metrics row is missing.'
        : 'The fast path records the same evaluation metrics as the OpenFeature hook.',
      QUICK ? 'QUICK run: fewer evaluations.' : '',
    ].filter(Boolean),
    summary: [
      [
        'SDK fast path (targeting flag, with metrics when available)',
        rate(fast),
        `flagd-core ${rate(m.flagdCore)}; unleash-client ${rate(m.unleashIsEnabled)}`,
        '≥ 1 M/s',
        verdict(fast >= target),
      ],
      [
        'RuntimeControlProvider via OpenFeature client',
        rate(m.rcThroughOpenFeature),
        `InMemoryProvider ${rate(m.inMemoryThroughOpenFeature)}`,
        'overhead as a ratio',
        overhead === undefined ? '–' : `${fmt(overhead, 2)}×`,
      ],
    ],
    raw: { ...result, medians: m },
  };
}
