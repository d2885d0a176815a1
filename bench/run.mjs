// `npm run bench`: runs every benchmark in turn (servers, load generators and clients in their own processes),
// prints progress, writes docs/benchmarks.md and bench/out/results.json. BENCH_QUICK=1: reduced smoke run.
// BENCH_ONLY=a,b: run only those benchmarks (keys below). BENCH_FORKS=n: server processes per side in benchmarks 1 and 2
// (default 3). Exit code 1 if a benchmark crashed (a MISS is not a crash).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_DIR,
  installCleanupHandlers,
  killAll,
  log,
  machineInfo,
  now,
  QUICK,
  ROOT,
  removeTempDirs,
  renderMarkdown,
  waitForQuiet,
} from './lib.mjs';

const BENCHMARKS = [
  ['ofrepSingle', './ofrep-single.mjs', '1. OFREP single evaluation — throughput of one process'],
  ['ofrepBulk', './ofrep-bulk.mjs', '2. OFREP bulk evaluation — the 304 path'],
  ['propagationOneNode', './propagation-one-node.mjs', '3. Change propagation — one node, SSE'],
  ['propagation10k', './propagation-10k.mjs', '3b. Change propagation — one node, 10,000 SSE clients'],
  ['propagationRedis', './propagation-redis.mjs', '4. Change propagation — two replicas via Redis'],
  ['startup', './startup.mjs', '5. `rctl up` start time and RSS'],
  ['sdkEvaluation', './sdk-evaluation.mjs', '6. Evaluation inside a service (SDK)'],
  ['canaryRollback', './canary-rollback.mjs', '7. Canary rollback — first bad response → 100% v1'],
  [
    'unleashPropagation',
    './unleash-propagation.mjs',
    '8. Unleash: flip → UnleashProvider sees it (bridge vs polling, beside our push)',
  ],
  ['writeThroughput', './write-throughput.mjs', '9. Admin write throughput — SQLite, PostgreSQL two replicas'],
  ['unleashPeer', './unleash-peer.mjs', '10. Remote evaluation beside Unleash'],
  ['writeCost', './write-cost.mjs', '11. Write cost against the number of flags'],
  ['largeFlagSet', './large-flag-set.mjs', '12. Large flag set — 5,000 flags over 3 environments'],
];

installCleanupHandlers();
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const started = now();
const machine = machineInfo();
log(`${QUICK ? 'QUICK ' : ''}run on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`);

const sections = [];
const results = {};
let crashed = 0;
for (const [key, file, title] of BENCHMARKS) {
  if (only && !only.includes(key)) continue;
  const t0 = now();
  log(`── ${title}`);
  try {
    const busyBefore = await waitForQuiet();
    const mod = await import(file);
    // Benchmarks later in the list may use figures of earlier ones as anchors.
    const section = await mod.run(results);
    section.busyBefore = busyBefore;
    sections.push(section);
    results[key] = section.raw;
    log(`── ${title}: done in ${((now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    crashed++;
    log(`── ${title}: CRASHED\n${err?.stack ?? err}`);
    sections.push({ key, title, error: err?.stack ?? String(err) });
    results[key] = { error: String(err?.stack ?? err) };
  } finally {
    await killAll();
  }
}
removeTempDirs();

const durationSec = (now() - started) / 1000;
const summary = sections.flatMap((s) => s.summary ?? (s.error ? [[s.title, 'CRASHED', '–', '–', '**CRASH**']] : []));
const markdown = renderMarkdown({ machine, quick: QUICK, durationSec, sections, summary });
// A partial run (BENCH_ONLY) must not replace the full report.
const docPath = only ? join(BENCH_DIR, 'out/benchmarks-partial.md') : join(ROOT, 'docs/benchmarks.md');
mkdirSync(join(BENCH_DIR, 'out'), { recursive: true });
writeFileSync(docPath, markdown);
mkdirSync(join(BENCH_DIR, 'out'), { recursive: true });
writeFileSync(
  join(BENCH_DIR, 'out/results.json'),
  `${JSON.stringify({ machine, quick: QUICK, durationSec, results }, null, 2)}\n`,
);
log(
  `wrote ${docPath} and bench/out/results.json in ${durationSec.toFixed(1)} s${crashed ? ` — ${crashed} benchmark(s) CRASHED` : ''}`,
);
process.exit(crashed ? 1 : 0);
