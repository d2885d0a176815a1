// Benchmark 12 (issue 15 item 3): a large, realistic flag set — 5,000 flags over 3 environments — on one node: seed
// time, server RSS, write → 1,000 clients (delta frames) with bytes per change per client, write latency, and a
// service's cold start (SDK memory, from the stream's snapshot and from its disk cache). Anchors in the same run: the
// whole-document `change` frames every client received before deltas (same clients, same server), the whole-set
// recompilation every write did before incremental compilation, and flagd-core alone loading the same document.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  adminHeaders,
  createClientToken,
  fmt,
  freePort,
  httpRequest,
  log,
  median,
  now,
  PROC_DIR,
  PROPAGATION_HEADERS,
  propagationRow,
  QUICK,
  ROOT,
  rssMiB,
  runPropagation,
  runRctl,
  startRc,
  stopChild,
  summarize,
  tempDir,
  verdict,
} from './lib.mjs';
import { generateFlagsFile } from './write-cost.mjs';

/** Issue 15 item 3: write → 1,000 clients p99 ≤ 100 ms on one node at 5,000 flags. */
export const TARGET_P99_MS = 100;
const FLAGS = Number(process.env.BENCH_LARGE_FLAGS ?? (QUICK ? 1000 : 5000));
const ENVIRONMENTS = ['development', 'staging', 'production'];
const DELTA_PARAMS = QUICK
  ? { clients: 200, groups: 2, writes: 5, spacingMs: 300 }
  : { clients: 1000, groups: 2, writes: 20, spacingMs: 300 };
// Whole-document frames of a large set take seconds to fan out: fewer writes, further apart, so they do not overlap.
const FULL_PARAMS = QUICK
  ? { clients: 200, groups: 2, writes: 3, spacingMs: 2000 }
  : { clients: 1000, groups: 2, writes: 5, spacingMs: 5000 };
const COLD_STARTS = QUICK ? 2 : 5;
const COMPILE_ROUNDS = QUICK ? 1 : 3;
/** A number knob in production (kind 2 of the generator): its value proves a cold start loaded the real set. */
const KNOB_KEY = 'team-2.flag-00002';
const KNOB_VALUE = 15000;

function runNode(script, args, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeArgs, script, ...args],
      { cwd: ROOT, maxBuffer: 64 << 20, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()));
      },
    );
  });
}

/** PATCHes of production `state`, a different flag each write, each flipping that flag from what it was. */
function rotatingWriter(url, doc, offset) {
  const states = new Map(doc.flags.map((f) => [f.key, f.environments.production.state]));
  return async (i) => {
    const flag = doc.flags[(offset + i * 37) % doc.flags.length];
    const state = states.get(flag.key) === 'ENABLED' ? 'DISABLED' : 'ENABLED';
    states.set(flag.key, state);
    const r = await httpRequest('PATCH', `${url}/api/admin/flags/${flag.key}/environments/production`, {
      headers: adminHeaders,
      body: { state },
    });
    if (r.status !== 200) throw new Error(`PATCH ${flag.key}: ${r.status} ${r.body}`);
    return JSON.parse(r.headers.etag);
  };
}

const kib = (bytes) => fmt(bytes / 1024, bytes < 10 * 1024 ? 2 : 1);

export async function run() {
  log(`large-flag-set: rctl up (SQLite, ${ENVIRONMENTS.length} environments), seeding ${FLAGS} generated flags`);
  const server = await startRc({
    name: 'rctl up (large flag set)',
    seed: false,
    env: { RC_ENVIRONMENTS: ENVIRONMENTS.join(','), RC_MAX_STREAMS_PER_TOKEN: '5000' },
  });
  const r = { flags: FLAGS };
  try {
    r.rssEmptyMiB = rssMiB(server.pid);
    const doc = generateFlagsFile(FLAGS);
    const dir = tempDir('rc-bench-large-');
    const flagsFile = join(dir, 'flags.json');
    writeFileSync(flagsFile, JSON.stringify(doc));
    const t0 = now();
    await runRctl(['seed', flagsFile, '--url', server.url, '--token', ADMIN_TOKEN]);
    r.seedMs = now() - t0;
    r.rssSeededMiB = rssMiB(server.pid);
    log(`large-flag-set: seeded in ${fmt(r.seedMs / 1000, 1)} s; server RSS ${fmt(r.rssSeededMiB)} MiB`);

    const token = await createClientToken(server.url, 'production');
    const auth = { authorization: `Bearer ${token}` };
    const snapshot = await httpRequest('GET', `${server.url}/api/client/snapshot`, {
      headers: auth,
      timeoutMs: 30_000,
    });
    if (snapshot.status !== 200) throw new Error(`GET /api/client/snapshot: ${snapshot.status}`);
    r.snapshotBytes = Buffer.byteLength(snapshot.body);
    const configFile = join(dir, 'production.flagd.json');
    writeFileSync(configFile, snapshot.body);

    log(`large-flag-set: ${DELTA_PARAMS.clients} clients on the delta stream (the SDK's default)`);
    r.delta = await runPropagation({
      streamUrl: `${server.url}/api/client/stream?format=delta`,
      headers: auth,
      write: rotatingWriter(server.url, doc, 0),
      name: 'large-flag-set delta',
      params: DELTA_PARAMS,
      events: ['delta'],
      openTimeoutMs: 60_000,
      onConnected: () => rssMiB(server.pid),
    });
    r.rssDeltaClientsMiB = r.delta.atConnected;
    log(
      `large-flag-set: delta p99 ${fmt(r.delta.latencyMs.p99)} ms, ${kib(r.delta.frameBytes.p50)} KiB per change per client`,
    );

    log(`large-flag-set: anchor — ${FULL_PARAMS.clients} clients on whole-document change frames`);
    r.full = await runPropagation({
      streamUrl: `${server.url}/api/client/stream`,
      headers: auth,
      write: rotatingWriter(server.url, doc, 1),
      name: 'large-flag-set full',
      params: FULL_PARAMS,
      events: ['change'],
      openTimeoutMs: 60_000,
      collectWaitMs: 60_000,
    });
    log(`large-flag-set: full p99 ${fmt(r.full.latencyMs.p99)} ms, ${kib(r.full.frameBytes.p50)} KiB per change`);

    log('large-flag-set: anchor — whole-set compilation (what every write did before incremental compilation)');
    const compile = await runNode(join(PROC_DIR, 'full-compile.mjs'), [
      join(server.dataDir, 'runtime-control.db'),
      ENVIRONMENTS.join(','),
      String(COMPILE_ROUNDS),
    ]);
    r.fullCompile = { ...summarize(compile.times), compiled: compile.compiled };

    log(`large-flag-set: ${COLD_STARTS} cold starts each: SDK live, SDK from disk cache, flagd-core alone, empty`);
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const script = join(PROC_DIR, 'sdk-cold-start.mjs');
    const runs = { live: [], cache: [], flagdCore: [], empty: [] };
    for (let i = 0; i < COLD_STARTS; i++) {
      const cachePath = join(dir, `cache-${i}`, 'flags.json');
      const gc = ['--expose-gc'];
      runs.live.push(await runNode(script, ['live', server.url, token, cachePath, '', KNOB_KEY], gc));
      runs.cache.push(await runNode(script, ['cache', deadUrl, token, cachePath, '', KNOB_KEY], gc));
      runs.flagdCore.push(await runNode(script, ['flagd-core', '', '', '', configFile, KNOB_KEY], gc));
      runs.empty.push(await runNode(script, ['empty', '', '', '', '', KNOB_KEY], gc));
    }
    for (const mode of ['live', 'cache', 'flagdCore']) {
      const wrong = runs[mode].find((x) => x.value !== KNOB_VALUE);
      if (wrong) throw new Error(`cold start (${mode}) evaluated ${KNOB_KEY} to ${wrong.value}, not ${KNOB_VALUE}`);
    }
    r.coldStart = Object.fromEntries(
      Object.entries(runs).map(([mode, xs]) => [
        mode,
        {
          readyAtMs: median(xs.map((x) => x.readyAtMs)),
          loadMs: median(xs.map((x) => x.loadMs ?? 0)),
          heapMiB: median(xs.map((x) => x.heapMiB)),
          rssMiB: median(xs.map((x) => x.rssMiB)),
        },
      ]),
    );
  } finally {
    await stopChild(server.child);
  }

  const pass = r.delta.missed === 0 && r.delta.latencyMs.p99 <= TARGET_P99_MS;
  const n = FLAGS.toLocaleString('en-US');
  const cs = r.coldStart;
  const coldRow = (label, c, note) => [
    label,
    fmt(c.readyAtMs, 0),
    fmt(c.loadMs, 1),
    fmt(c.heapMiB),
    fmt(c.rssMiB),
    note,
  ];
  const bytesRatio = r.full.frameBytes.p50 / r.delta.frameBytes.p50;
  return {
    key: 'largeFlagSet',
    title: `12. Large flag set — ${n} flags over ${ENVIRONMENTS.length} environments, one node`,
    method:
      `A fresh \`rctl up\` (SQLite, \`RC_ENVIRONMENTS=${ENVIRONMENTS.join(',')}\`) seeded by \`rctl seed\` with the ` +
      `generated set of benchmark 11 (${n} flags: booleans with targeting through shared \`$ref\` evaluators, ` +
      'percentage rollouts, integer and object knobs with schemas, each configured in every environment). Then, on ' +
      `that server: ${DELTA_PARAMS.clients} SSE clients on \`/api/client/stream?format=delta\` (what the SDK uses) in ` +
      `${DELTA_PARAMS.groups} client processes, and ${DELTA_PARAMS.writes} writes ${DELTA_PARAMS.spacingMs} ms apart, ` +
      'each a `PATCH …/environments/production` flipping the `state` of a different flag; latency = PATCH sent → the ' +
      "client holds the complete `delta` frame of that revision; bytes = that frame's size as the client received " +
      `it. Anchor, same server and clients: whole-document \`change\` frames (the stream without \`format=delta\`, ` +
      `what every client received before deltas), ${FULL_PARAMS.writes} writes ${FULL_PARAMS.spacingMs / 1000} s ` +
      'apart. Write latency is the PATCH response time during the delta run (committed, compiled, announced); its ' +
      'anchor is the whole-set compilation every write did before incremental compilation: a fresh `ReplicaState` ' +
      `loading the same database (\`bench/proc/full-compile.mjs\`, median of ${COMPILE_ROUNDS}). Cold starts ` +
      `(\`bench/proc/sdk-cold-start.mjs\`, a new Node process each, median of ${COLD_STARTS}, \`--expose-gc\`, heap ` +
      'after GC): the SDK (`RuntimeControlProvider` through `OpenFeature.setProviderAndWait`, then one evaluation ' +
      'of a knob, checked against its seeded value) from the live server, and from the disk cache (`cachePath`) ' +
      'that run wrote, with the server unreachable; anchors: flagd-core alone loading the production document ' +
      'from a file, and the process with the SDK imported and nothing loaded.',
    tables: [
      {
        headers: ['what', 'figure'],
        rows: [
          [`\`rctl seed\` of ${n} flags`, `${fmt(r.seedMs / 1000, 1)} s`],
          ['production flagd document (snapshot)', `${kib(r.snapshotBytes)} KiB`],
          [
            'server RSS: empty → seeded → with the delta clients connected',
            `${fmt(r.rssEmptyMiB)} → ${fmt(r.rssSeededMiB)} → ${fmt(r.rssDeltaClientsMiB)} MiB`,
          ],
        ],
      },
      {
        headers: [...PROPAGATION_HEADERS, 'bytes per change per client'],
        rows: [
          [...propagationRow('**ours**: `delta` frames', r.delta), `${kib(r.delta.frameBytes.p50)} KiB`],
          [...propagationRow('anchor: whole-document `change` frames', r.full), `${kib(r.full.frameBytes.p50)} KiB`],
        ],
      },
      {
        headers: ['write (PATCH) at this size', 'p50 ms', 'p99 ms', 'max ms'],
        rows: [
          [
            `**ours**: PATCH response with ${r.delta.clients} delta clients connected`,
            fmt(r.delta.writeResponseMs.p50),
            fmt(r.delta.writeResponseMs.p99),
            fmt(r.delta.writeResponseMs.max),
          ],
          [
            `anchor: compiling the whole set (${r.fullCompile.compiled.toLocaleString('en-US')} flag × environment), no HTTP or commit`,
            fmt(r.fullCompile.p50),
            '–',
            fmt(r.fullCompile.max),
          ],
        ],
      },
      {
        headers: ['cold start (new process)', 'ready after ms', 'load ms', 'heap MiB', 'RSS MiB', ''],
        rows: [
          coldRow('**SDK** from the server (stream snapshot)', cs.live, 'connect, snapshot, compile'),
          coldRow('**SDK** from its disk cache, server unreachable', cs.cache, 'read file, compile'),
          coldRow('anchor: flagd-core alone, same document from a file', cs.flagdCore, 'no SDK, no network'),
          coldRow('anchor: SDK imported, nothing loaded', cs.empty, 'the process itself'),
        ],
      },
      {
        headers: ['target (issue 15 item 3)', 'ours', 'result'],
        rows: [
          [
            `write → ${DELTA_PARAMS.clients} clients p99 ≤ ${TARGET_P99_MS} ms at ${n} flags, 0 missed`,
            `p99 ${fmt(r.delta.latencyMs.p99)} ms, ${r.delta.missed} missed`,
            verdict(pass),
          ],
        ],
      },
    ],
    notes: [
      `Bytes per change per client: ${kib(r.delta.frameBytes.p50)} KiB with deltas against ${kib(r.full.frameBytes.p50)} KiB for the whole document (${fmt(bytesRatio, 0)}× less); one write to ${r.full.clients} clients moved ${fmt((r.full.frameBytes.p50 * r.full.clients) / 1048576, 0)} MiB before and ${fmt((r.delta.frameBytes.p50 * r.delta.clients) / 1024, 0)} KiB now.`,
      `Connecting ${r.delta.clients} clients (each first receives the ${kib(r.snapshotBytes)} KiB snapshot) took ${fmt(r.delta.connectSec, 1)} s.`,
      `SDK memory for the set: heap ${fmt(cs.live.heapMiB - cs.empty.heapMiB)} MiB above the empty process (flagd-core alone: ${fmt(cs.flagdCore.heapMiB - cs.empty.heapMiB)} MiB above it; the SDK also keeps the document's JSON to resume from and to cache).`,
    ],
    summary: [
      [
        `Large flag set (${n} flags): write → ${DELTA_PARAMS.clients} clients`,
        `p99 ${fmt(r.delta.latencyMs.p99)} ms, ${kib(r.delta.frameBytes.p50)} KiB per change per client; PATCH p50 ${fmt(r.delta.writeResponseMs.p50)} ms; seed ${fmt(r.seedMs / 1000, 1)} s; server ${fmt(r.rssSeededMiB, 0)} MiB; SDK cold start ${fmt(cs.live.readyAtMs, 0)} ms (cache ${fmt(cs.cache.readyAtMs, 0)} ms)`,
        `whole-document frames p99 ${fmt(r.full.latencyMs.p99)} ms, ${kib(r.full.frameBytes.p50)} KiB; whole-set compile ${fmt(r.fullCompile.p50)} ms per write; flagd-core load ${fmt(cs.flagdCore.loadMs)} ms`,
        `p99 ≤ ${TARGET_P99_MS} ms`,
        verdict(pass),
      ],
    ],
    raw: r,
  };
}
