// Benchmark 5: `rctl up` start time (spawn → first 200 from /health/ready) and RSS once ready.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  fmt,
  freePort,
  log,
  median,
  now,
  PROC_DIR,
  QUICK,
  RCTL,
  ROOT,
  rssMiB,
  SEED_FILE,
  spawnNode,
  stopChild,
  tempDir,
  verdict,
  waitFor200,
} from './lib.mjs';

const RUNS = QUICK ? 2 : 5;

/** Spawns node directly (no shell in between, so the spawn → ready time is node's own) and waits for 200. */
async function measureServer(name, script, args, env = {}) {
  const port = await freePort();
  const start = now();
  const child = spawnNode(script, args(port), { name, env, raiseFdLimit: false, ipc: false });
  try {
    const ms = await waitFor200(`http://127.0.0.1:${port}/health/ready`, { since: start, intervalMs: 10, child });
    return { ms, rssMiB: rssMiB(child.pid) };
  } finally {
    await stopChild(child);
  }
}

/** `node -e "0"`: time to exit; its RSS from a twin that prints its own VmRSS before exiting. */
async function measureBareNode() {
  const start = now();
  const code = await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', r));
  const ms = now() - start;
  if (code !== 0) throw new Error(`node -e 0 exited with ${code}`);
  const rss = await new Promise((r, reject) => {
    const c = spawn(
      process.execPath,
      [
        '-e',
        "process.stdout.write(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.once('exit', (code) => (code === 0 ? r(Number(out) / 1024) : reject(new Error(`rss probe exited ${code}`))));
  });
  return { ms, rssMiB: rss };
}

export async function run() {
  const runs = { rctl: [], bareNode: [], bareFastify: [] };
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so that background load hits all three alike.
    runs.bareNode.push(await measureBareNode());
    runs.bareFastify.push(await measureServer('bare fastify', join(PROC_DIR, 'bare-fastify.mjs'), (p) => [p]));
    const dataDir = tempDir('rc-bench-up-');
    runs.rctl.push(
      await measureServer(
        'rctl up',
        RCTL,
        (p) => ['up', '--host', '127.0.0.1', '--port', p, '--data-dir', dataDir, '--seed', SEED_FILE],
        { RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'warn' },
      ),
    );
    log(
      `startup: run ${i + 1}/${RUNS}: rctl up ${fmt(runs.rctl[i].ms)} ms / ${fmt(runs.rctl[i].rssMiB)} MiB; ` +
        `bare Fastify ${fmt(runs.bareFastify[i].ms)} ms; node -e 0 ${fmt(runs.bareNode[i].ms)} ms`,
    );
  }
  const med = (list, k) => median(list.map((r) => r[k]));
  const result = Object.fromEntries(
    Object.entries(runs).map(([k, list]) => [
      k,
      { runs: list, medianMs: med(list, 'ms'), medianRssMiB: med(list, 'rssMiB') },
    ]),
  );
  const row = (label, r) => [
    label,
    fmt(r.medianMs, 0),
    r.runs.map((x) => fmt(x.ms, 0)).join(', '),
    fmt(r.medianRssMiB, 1),
  ];
  return {
    key: 'startup',
    title: '5. `rctl up` start time and RSS',
    method:
      `${RUNS} runs, median. Each run spawns \`node packages/cli/dist/bin.js up --port <free> --data-dir <fresh tmp> ` +
      '--seed examples/devmentor/flags.yaml` (`RC_ADMIN_TOKEN` set, `RC_LOG_LEVEL=warn`, SQLite) and polls ' +
      '`GET /health/ready` every 10 ms; start time = spawn → first 200 (includes creating the database, migrations ' +
      'and seeding 6 flags); RSS = `VmRSS` of `/proc/<pid>/status` right after. Anchors, interleaved with ours in ' +
      'each run: `node -e "0"` (spawn → exit; RSS read by an identical one-liner printing its own VmRSS) and a bare ' +
      'Fastify server (same version, one route) spawn → first 200.',
    tables: [
      {
        headers: ['process', 'median start ms', 'runs (ms)', 'median RSS MiB'],
        rows: [
          row('**ours**: `rctl up` (SQLite, seeded)', result.rctl),
          row('anchor: bare Fastify', result.bareFastify),
          row('anchor: `node -e "0"`', result.bareNode),
        ],
      },
    ],
    notes: [
      `The issue sets no target for start time or RSS; ours costs ${fmt(result.rctl.medianMs - result.bareFastify.medianMs, 0)} ms ` +
        `and ${fmt(result.rctl.medianRssMiB - result.bareFastify.medianRssMiB, 1)} MiB more than a bare Fastify server.`,
    ],
    summary: [
      [
        '`rctl up` start → ready (median)',
        `${fmt(result.rctl.medianMs, 0)} ms, ${fmt(result.rctl.medianRssMiB, 1)} MiB RSS`,
        `bare Fastify ${fmt(result.bareFastify.medianMs, 0)} ms / ${fmt(result.bareFastify.medianRssMiB, 1)} MiB; node -e 0 ${fmt(result.bareNode.medianMs, 0)} ms / ${fmt(result.bareNode.medianRssMiB, 1)} MiB`,
        'none set',
        verdict(undefined),
      ],
    ],
    raw: { ...result, cwd: ROOT },
  };
}
