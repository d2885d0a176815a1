// Benchmark: write cost against the number of flags (issue 15 item 2). A single write (PATCH of one environment's
// state) and `rctl seed` of every flag, at a large flag count and at a small one (the anchor), on SQLite and on
// PostgreSQL, in the same run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  adminHeaders,
  fmt,
  httpRequest,
  log,
  now,
  QUICK,
  runRctl,
  startRc,
  stopChild,
  summarize,
  tempDir,
  verdict,
  withScratchDatabase,
} from './lib.mjs';

/** Issue 15 item 2: at 5,000 flags a single write answers in a median ≤ 20 ms, and seeding them takes ≤ 30 s. */
export const TARGET_WRITE_MEDIAN_MS = 20;
export const TARGET_SEED_MS = 30_000;
const LARGE = Number(process.env.BENCH_WRITE_FLAGS ?? (QUICK ? 1000 : 5000));
const SMALL = 50;
const WRITES = QUICK ? 40 : 200;
const ENVIRONMENTS = ['development', 'staging', 'production'];
/** BENCH_WRITE_STORES=sqlite: one store only (profiling). */
const STORES = (process.env.BENCH_WRITE_STORES ?? 'sqlite,postgres').split(',');

/**
 * A flags file of `n` flags as a team would have them: booleans, percentage rollouts, targeting through shared
 * `$ref` evaluators, typed knobs (numbers and strings with a schema), each configured in every environment.
 */
export function generateFlagsFile(n) {
  const evaluators = {
    'internal-testers': { in: [{ var: 'targetingKey' }, ['u-alice', 'u-bob', 'u-qa-1', 'u-qa-2']] },
    'beta-plan': { in: [{ var: 'plan' }, ['beta', 'enterprise']] },
    'eu-region': { in: [{ var: 'region' }, ['eu-west-1', 'eu-central-1']] },
  };
  const refs = Object.keys(evaluators);
  const flags = [];
  for (let i = 0; i < n; i++) {
    const key = `team-${i % 40}.flag-${String(i).padStart(5, '0')}`;
    const kind = i % 4;
    const envs = {};
    ENVIRONMENTS.forEach((env, e) => {
      const ref = refs[(i + e) % refs.length];
      if (kind === 0) envs[env] = { state: 'ENABLED', targeting: { if: [{ $ref: ref }, 'on', null] } };
      else if (kind === 1)
        envs[env] = { state: 'ENABLED', rollout: { percentage: (i * 7 + e * 13) % 100, variant: 'on' } };
      else if (kind === 2) envs[env] = { state: 'ENABLED', targeting: { if: [{ $ref: ref }, 'fast', null] } };
      else envs[env] = { state: e === 0 ? 'ENABLED' : 'DISABLED', targeting: { if: [{ $ref: ref }, 'blue', null] } };
    });
    const base = { key, description: `Generated flag ${i}.`, owner: `team-${i % 40}`, environments: envs };
    if (kind <= 1) flags.push({ ...base, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off' });
    else if (kind === 2) {
      flags.push({
        ...base,
        type: 'number',
        schema: { type: 'integer', minimum: 100, maximum: 60000 },
        variants: { default: 15000, fast: 5000, patient: 30000 },
        defaultVariant: 'default',
      });
    } else {
      flags.push({
        ...base,
        type: 'object',
        schema: {
          type: 'object',
          required: ['color'],
          additionalProperties: false,
          properties: { color: { type: 'string', enum: ['red', 'green', 'blue'] }, size: { type: 'integer' } },
        },
        variants: { red: { color: 'red' }, green: { color: 'green', size: 2 }, blue: { color: 'blue', size: 3 } },
        defaultVariant: 'red',
      });
    }
  }
  return { environments: ENVIRONMENTS, evaluators, flags };
}

/** Seeds `n` generated flags into a fresh server, then times single writes; returns both figures. */
async function measure(n, store) {
  const run = async (databaseUrl) => {
    const env = { RC_ENVIRONMENTS: ENVIRONMENTS.join(',') };
    if (databaseUrl) env.RC_DATABASE_URL = databaseUrl;
    const server = await startRc({ name: `rctl up (write-cost ${store} ${n})`, seed: false, env });
    try {
      const file = join(tempDir('rc-bench-flags-'), 'flags.json');
      const doc = generateFlagsFile(n);
      writeFileSync(file, JSON.stringify(doc));
      const t0 = now();
      await runRctl(['seed', file, '--url', server.url, '--token', ADMIN_TOKEN]);
      const seedMs = now() - t0;
      const count = (await httpRequest('GET', `${server.url}/api/admin/flags`, { headers: adminHeaders })).json;
      const listed = Array.isArray(count?.flags) ? count.flags.length : Array.isArray(count) ? count.length : -1;
      if (listed !== n) throw new Error(`seeded ${listed} flags, expected ${n}`);
      // Each write flips one flag's state in staging, a different flag each time, as people at a console do.
      const latencies = [];
      for (let i = 0; i < WRITES; i++) {
        const flag = doc.flags[(i * 37) % n];
        const body = { state: i % 2 === 0 ? 'DISABLED' : 'ENABLED' };
        const w0 = now();
        const r = await httpRequest('PATCH', `${server.url}/api/admin/flags/${flag.key}/environments/staging`, {
          headers: adminHeaders,
          body,
        });
        const ms = now() - w0;
        if (r.status !== 200) throw new Error(`PATCH ${flag.key}: ${r.status} ${r.body}`);
        // The first writes warm the server's code paths; they are not what a steady state costs.
        if (i >= 5) latencies.push(ms);
      }
      return { flags: n, store, seedMs, write: summarize(latencies) };
    } finally {
      await stopChild(server.child);
    }
  };
  return store === 'postgres' ? withScratchDatabase(run) : run(undefined);
}

export async function run() {
  const results = [];
  for (const store of STORES) {
    for (const n of [SMALL, LARGE]) {
      log(`write-cost: ${store}, ${n} flags: seed, then ${WRITES} single writes`);
      const r = await measure(n, store);
      log(
        `write-cost: ${store} ${n} flags: seed ${fmt(r.seedMs / 1000, 1)} s, write p50 ${fmt(r.write.p50, 1)} ms p99 ${fmt(r.write.p99, 1)} ms`,
      );
      results.push(r);
    }
  }
  const find = (store, n) => results.find((r) => r.store === store && r.flags === n);
  const storeName = { sqlite: 'SQLite', postgres: 'PostgreSQL' };
  const rows = results.map((r) => [
    storeName[r.store],
    r.flags.toLocaleString('en-US'),
    fmt(r.seedMs / 1000, 1),
    fmt(r.write.p50, 1),
    fmt(r.write.p99, 1),
  ]);
  const targetRows = [];
  const summary = [];
  for (const store of STORES) {
    const big = find(store, LARGE);
    const small = find(store, SMALL);
    const passWrite = big.write.p50 <= TARGET_WRITE_MEDIAN_MS;
    const passSeed = big.seedMs <= TARGET_SEED_MS;
    targetRows.push(
      [
        `${storeName[store]}: single write at ${LARGE.toLocaleString('en-US')} flags, median ≤ ${TARGET_WRITE_MEDIAN_MS} ms`,
        `${fmt(big.write.p50, 1)} ms (p99 ${fmt(big.write.p99, 1)}); ${SMALL} flags: ${fmt(small.write.p50, 1)} ms`,
        verdict(passWrite),
      ],
      [
        `${storeName[store]}: \`rctl seed\` of ${LARGE.toLocaleString('en-US')} flags ≤ ${TARGET_SEED_MS / 1000} s`,
        `${fmt(big.seedMs / 1000, 1)} s; ${SMALL} flags: ${fmt(small.seedMs / 1000, 2)} s`,
        verdict(passSeed),
      ],
    );
    summary.push(
      [
        `Single write (PATCH) at ${LARGE.toLocaleString('en-US')} flags, ${storeName[store]}`,
        `median ${fmt(big.write.p50, 1)} ms, p99 ${fmt(big.write.p99, 1)} ms`,
        `${SMALL} flags: median ${fmt(small.write.p50, 1)} ms, p99 ${fmt(small.write.p99, 1)} ms`,
        `median ≤ ${TARGET_WRITE_MEDIAN_MS} ms`,
        verdict(passWrite),
      ],
      [
        `\`rctl seed\` of ${LARGE.toLocaleString('en-US')} flags, ${storeName[store]}`,
        `${fmt(big.seedMs / 1000, 1)} s`,
        `${SMALL} flags: ${fmt(small.seedMs / 1000, 2)} s`,
        `≤ ${TARGET_SEED_MS / 1000} s`,
        verdict(passSeed),
      ],
    );
  }
  return {
    key: 'writeCost',
    title: '11. Write cost against the number of flags',
    method:
      `A fresh \`rctl up\` (\`RC_ENVIRONMENTS=${ENVIRONMENTS.join(',')}\`; SQLite in a temp dir, or PostgreSQL in a ` +
      'scratch database created for the run and dropped after) is seeded with `rctl seed` of a generated flags file ' +
      '(`bench/write-cost.mjs`: a quarter each of booleans with targeting through one of three shared `$ref` ' +
      'evaluators, boolean percentage rollouts, integer knobs with a schema and object knobs with a schema; ' +
      'every flag configured in all three environments). The seed time is the whole `rctl seed` process, start to ' +
      `exit. Then ${WRITES} single writes, one after the other: \`PATCH /api/admin/flags/{key}/environments/staging\` ` +
      'flipping `state` of a different flag each time, timed from request to response (the first 5 are warm-up and ' +
      `not counted). Anchor, same run: the same at ${SMALL} flags, so "independent of flag count" shows as the same ` +
      'figure at both sizes.',
    tables: [
      {
        headers: ['store', 'flags', '`rctl seed` s', 'write p50 ms', 'write p99 ms'],
        rows,
      },
      { headers: ['target (issue 15 item 2)', 'ours', 'result'], rows: targetRows },
    ],
    summary,
    raw: { results, targets: { writeMedianMs: TARGET_WRITE_MEDIAN_MS, seedMs: TARGET_SEED_MS } },
  };
}
