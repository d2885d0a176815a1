// Benchmark 7: canary rollback time — first bad response of v2 → 100% v1, with a 1 s analysis interval, against
// interval × threshold, what Flagger documents for the same settings.
import { CanaryRig } from '../packages/traffic/dist/testing/canary-rig.js';
import { findPrometheus } from '../packages/traffic/dist/testing/prometheus-process.js';
import { fmt, log, median, QUICK, verdict } from './lib.mjs';

const RUNS = QUICK ? 1 : 3;
const INTERVAL_MS = 1000;
const THRESHOLD = 2;
const WINDOW = '5s';
const SCRAPE_MS = 1000;
const FLAGGER_MIN_INTERVAL_MS = 10_000;

async function once(i) {
  const rig = new CanaryRig({ rps: 100 });
  try {
    await rig.start();
    await rig.startCanary({
      interval: '1s',
      window: WINDOW,
      failureThreshold: THRESHOLD,
      thresholds: { minRequests: 10 },
    });
    // A regression mid-rollout: wait for 25%, then make v2 answer every 20th request with a 500 (5%).
    const deadline = Date.now() + 30_000;
    while ((await rig.state()).canaryWeight < 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const weightAtSwitch = (await rig.state()).canaryWeight;
    rig.v2.setMode('errors');
    const final = await rig.waitForFinal(30_000);
    const firstBad = rig.v2.firstBadAt;
    const rollback = rig.recording.applied.find((a) => a.weights.v1 === 100 && firstBad !== null && a.at >= firstBad);
    if (final.phase !== 'rolled_back' || !rollback || firstBad === null) {
      throw new Error(`run ${i + 1}: expected a rollback, got ${final.phase} (${JSON.stringify(final.lastAnalysis)})`);
    }
    const ms = rollback.at - firstBad;
    log(
      `canary rollback: run ${i + 1}/${RUNS}: ${fmt(ms, 0)} ms from the first 500 to 100% v1 (switched at ${weightAtSwitch}%)`,
    );
    return { ms, weightAtSwitch };
  } finally {
    await rig.close();
  }
}

export async function run() {
  if (!findPrometheus()) throw new Error('Prometheus is not installed (apt-get install -y prometheus)');
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once(i));
  const med = median(runs.map((r) => r.ms));
  const max = Math.max(...runs.map((r) => r.ms));
  const flaggerSame = INTERVAL_MS * THRESHOLD;
  const flaggerMin = FLAGGER_MIN_INTERVAL_MS * THRESHOLD;
  const target = INTERVAL_MS * THRESHOLD + INTERVAL_MS + SCRAPE_MS;
  return {
    key: 'canaryRollback',
    title: '7. Canary rollback — first bad response → 100% v1',
    method:
      `${RUNS} run(s). v1 and v2 (60 ms each) behind the local router, 100 req/s through it, a real Prometheus ` +
      `(Debian package) scraping the router every ${SCRAPE_MS / 1000} s, the canary controller with interval ` +
      `${INTERVAL_MS / 1000} s, window ${WINDOW}, failure threshold ${THRESHOLD}, at least 10 requests per version. ` +
      'A healthy v2 is promoted step by step; once it carries 25%, it switches to answering every 20th request with a ' +
      '500 (5%). Measured: from the first 500 v2 sends to the router applying v1 100 / v2 0.',
    tables: [
      {
        headers: ['setup', 'first bad response → 100% v1', 'note'],
        rows: [
          [
            '**ours** (median / max)',
            `${fmt(med, 0)} ms / ${fmt(max, 0)} ms`,
            `${runs.map((r) => fmt(r.ms, 0)).join(', ')} ms`,
          ],
          [
            'Flagger, same settings',
            `${fmt(flaggerSame, 0)} ms`,
            'interval × threshold, as its docs state (plus the metric window lag, not counted there)',
          ],
          [
            'Flagger, its minimum interval',
            `${fmt(flaggerMin, 0)} ms`,
            'Flagger raises an interval under 10 s to 10 s',
          ],
        ],
      },
    ],
    notes: [
      `Target (the acceptance bound): interval × threshold + one interval + one scrape = ${fmt(target, 0)} ms.`,
      'Our failed checks are cumulative as in Flagger; the same bad response counts in every window it stays in, so two ' +
        'analyses one interval apart both see it.',
    ],
    summary: [
      [
        'canary: first 5xx → 100% v1 (interval 1 s, threshold 2)',
        `${fmt(med, 0)} ms median, ${fmt(max, 0)} ms max`,
        `Flagger: ${fmt(flaggerSame, 0)} ms at the same settings; ${fmt(flaggerMin, 0)} ms at its 10 s minimum interval`,
        `≤ ${fmt(target, 0)} ms`,
        verdict(max <= target),
      ],
    ],
    raw: {
      runs,
      medianMs: med,
      maxMs: max,
      flaggerSameSettingsMs: flaggerSame,
      flaggerMinimumIntervalMs: flaggerMin,
      targetMs: target,
    },
  };
}
