// Benchmark 4: change propagation across two replicas (one PostgreSQL database, Redis pub/sub): writes through replica
// A, 1,000 SSE clients on replica B.
import { join } from 'node:path';
import {
  BENCH_PG_URL,
  BENCH_REDIS_URL,
  createClientToken,
  fmt,
  httpRequest,
  log,
  PROC_DIR,
  PROPAGATION_HEADERS,
  propagationRow,
  QUICK,
  request,
  runPropagation,
  SSE_PARAMS,
  sleep,
  spawnNode,
  startRc,
  stopChild,
  summarize,
  toggleWriter,
  verdict,
  withScratchDatabase,
} from './lib.mjs';
import { TARGET_P99_MS } from './propagation-one-node.mjs';

export async function run(previous = {}) {
  let ours;
  let rtt;
  let dbName;
  await withScratchDatabase(async (dbUrl, name) => {
    dbName = name;
    log(`propagation-redis: on the fresh database ${dbName}`);
    const env = { RC_DATABASE_URL: dbUrl, RC_REDIS_URL: BENCH_REDIS_URL };
    log('propagation-redis: starting replica A (seeds) then replica B');
    const a = await startRc({ name: 'replica A', env: { ...env, RC_REPLICA_ID: 'bench-a' } });
    const b = await startRc({ name: 'replica B', seed: false, env: { ...env, RC_REPLICA_ID: 'bench-b' } });
    try {
      const token = await createClientToken(a.url);
      const auth = { authorization: `Bearer ${token}` };
      // B learns of the token A created through the bus (or its reconciliation timer).
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await httpRequest('GET', `${b.url}/api/client/snapshot`, { headers: auth });
        if (r.status === 200) break;
        if (Date.now() > deadline) throw new Error(`replica B never accepted the client token: ${r.status} ${r.body}`);
        await sleep(50);
      }
      ours = await runPropagation({
        streamUrl: `${b.url}/api/client/stream`,
        headers: auth,
        write: toggleWriter(a.url),
        name: 'propagation-redis',
      });
      log(
        `propagation-redis: ours p50 ${fmt(ours.latencyMs.p50)} ms, p99 ${fmt(ours.latencyMs.p99)} ms, missed ${ours.missed}`,
      );
    } finally {
      await Promise.all([stopChild(a.child), stopChild(b.child)]);
    }
    log('propagation-redis: raw Redis publish→subscribe round trip (ioredis)');
    const rttProc = spawnNode(join(PROC_DIR, 'redis-rtt.mjs'), [], { name: 'redis rtt' });
    try {
      rtt = summarize(
        await request(rttProc, { cmd: 'run', url: BENCH_REDIS_URL, samples: QUICK ? 200 : 1000, gapMs: 1 }, 60_000),
      );
      log(`propagation-redis: redis round trip p50 ${fmt(rtt.p50, 2)} ms, p99 ${fmt(rtt.p99, 2)} ms`);
    } finally {
      await stopChild(rttProc);
    }
  });

  const oneNode = previous.propagationOneNode?.ours;
  const pass = ours.missed === 0 && ours.latencyMs.p99 <= TARGET_P99_MS;
  const rows = [propagationRow('**ours**: write on A → clients on B (PostgreSQL + Redis)', ours)];
  if (oneNode) rows.push(propagationRow('anchor: ours, one node (benchmark 3, same run)', oneNode));
  return {
    key: 'propagationRedis',
    title: '4. Change propagation — two replicas via Redis',
    method:
      `A fresh PostgreSQL database (\`${dbName}\` on \`${BENCH_PG_URL}\`, dropped at the end) shared by two ` +
      `\`rctl up\` processes with \`RC_REDIS_URL=${BENCH_REDIS_URL}\`: replica A (seeded) takes the writes, replica B serves ` +
      `${SSE_PARAMS.clients} SSE clients over ${SSE_PARAMS.groups} client processes. Writes, timing and statistics as ` +
      'in benchmark 3; the path is A: commit → announce on Redis; B: message → read the change from PostgreSQL → ' +
      'recompile → fan out. Anchors in the same run: the one-node figure of benchmark 3, and a raw Redis ' +
      'publish→subscribe round trip with ioredis (one message in flight, 1 ms apart, after 20 warm-up messages).',
    tables: [
      { headers: PROPAGATION_HEADERS, rows },
      {
        headers: ['anchor: raw Redis pub→sub round trip', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
        rows: [['ioredis publish → subscriber message', rtt.n, fmt(rtt.p50, 2), fmt(rtt.p99, 2), fmt(rtt.max, 2)]],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            `p99 ≤ ${TARGET_P99_MS} ms, 0 missed (same bar as one node)`,
            `p99 ${fmt(ours.latencyMs.p99)} ms, ${ours.missed} missed`,
            verdict(pass),
          ],
        ],
      },
    ],
    notes: [
      `PATCH response time on A: median ${fmt(ours.writeResponseMs.p50)} ms, max ${fmt(ours.writeResponseMs.max)} ms (A answers after its own state caught up and the message is published).`,
    ],
    summary: [
      [
        `Change propagation, 2 replicas via Redis, ${SSE_PARAMS.clients} clients`,
        `p99 ${fmt(ours.latencyMs.p99)} ms (p50 ${fmt(ours.latencyMs.p50)}), ${ours.missed} missed`,
        `${oneNode ? `one node p99 ${fmt(oneNode.latencyMs.p99)} ms; ` : ''}Redis RTT p99 ${fmt(rtt.p99, 2)} ms`,
        `p99 ≤ ${TARGET_P99_MS} ms`,
        verdict(pass),
      ],
    ],
    raw: { database: dbName, ours, redisRoundTripMs: rtt },
  };
}
