// Benchmark 1: OFREP single-evaluation throughput of one server process.
import { join } from 'node:path';
import {
  contextBodies,
  createClientToken,
  fmt,
  freePort,
  HTTP_PARAMS,
  httpRequest,
  LOAD_CLIENT,
  log,
  PROC_DIR,
  QUICK,
  ROUNDS_TEXT,
  request,
  runLoadInterleaved,
  spawnNode,
  startRc,
  stopChild,
  verdict,
  waitFor200,
} from './lib.mjs';

export const TARGET_RPS = 10_000;
const FLAG = 'new-ui-enabled';
const PATH = `/ofrep/v1/evaluate/flags/${FLAG}`;

export async function run() {
  const users = 1000;
  const bodies = contextBodies(users);
  log('ofrep-single: starting rctl up (SQLite, seeded) and the bare Fastify anchor');
  const server = await startRc({ name: 'rctl up (ofrep-single)' });
  let ours;
  let anchor;
  let sample;
  let configJson;
  let bare;
  try {
    const token = await createClientToken(server.url);
    const auth = { authorization: `Bearer ${token}` };
    sample = await httpRequest('POST', `${server.url}${PATH}`, { headers: auth, body: bodies[1] });
    if (sample.status !== 200) throw new Error(`sample evaluation: ${sample.status} ${sample.body}`);
    configJson = (await httpRequest('GET', `${server.url}/api/client/snapshot`, { headers: auth })).body;
    const port = await freePort();
    bare = spawnNode(join(PROC_DIR, 'bare-fastify.mjs'), [port], {
      name: 'bare fastify',
      env: { BARE_SINGLE_BODY: sample.body },
    });
    const bareUrl = `http://127.0.0.1:${port}`;
    await waitFor200(`${bareUrl}/health/ready`, { child: bare });
    log(`ofrep-single: load (${HTTP_PARAMS.connections} connections), ours and the anchor in alternation`);
    [ours, anchor] = await runLoadInterleaved([
      { url: server.url, path: PATH, headers: auth, bodies, serverPid: server.pid, name: 'ours' },
      { url: bareUrl, path: PATH, bodies, serverPid: bare.pid, name: 'bare fastify' },
    ]);
    log(`ofrep-single: ours ${fmt(ours.rps)} req/s, p99 ${fmt(ours.latencyMs.p99, 2)} ms`);
    log(`ofrep-single: bare Fastify ${fmt(anchor.rps)} req/s, p99 ${fmt(anchor.latencyMs.p99, 2)} ms`);
  } finally {
    await stopChild(server.child);
    if (bare) await stopChild(bare);
  }

  log('ofrep-single: in-process flagd-core evaluation');
  const ev = spawnNode(join(PROC_DIR, 'flagd-eval.mjs'), [], { name: 'flagd-core' });
  let flagd;
  try {
    flagd = await request(ev, {
      cmd: 'run',
      configJson,
      flagKey: FLAG,
      users,
      durationMs: QUICK ? 1000 : 3000,
      maxIterations: 200_000_000,
    });
    log(`ofrep-single: flagd-core ${fmt(flagd.perSecond)} evaluations/s`);
  } finally {
    await stopChild(ev);
  }

  const pass = ours.errors === 0 && ours.rps >= TARGET_RPS;
  const row = (label, r) => [
    label,
    fmt(r.rps),
    fmt(r.latencyMs.p50, 2),
    fmt(r.latencyMs.p99, 2),
    r.errors,
    fmt(r.serverCpu, 2),
    fmt(r.loadgenCpu, 2),
    fmt(r.otherCpu, 2),
  ];
  return {
    key: 'ofrepSingle',
    title: '1. OFREP single evaluation — throughput of one process',
    method:
      `Our server (\`rctl up\`, SQLite in a temp dir, seeded with \`examples/devmentor/flags.yaml\`, \`RC_LOG_LEVEL=warn\`) ` +
      `in one process; the load generator (\`bench/proc/loadgen.mjs\`) in another: ${HTTP_PARAMS.connections} keep-alive ` +
      `connections, closed loop (one request in flight per connection), ${HTTP_PARAMS.warmupMs / 1000} s warm-up then ` +
      `${HTTP_PARAMS.durationMs / 1000} s measured (${ROUNDS_TEXT}), \`POST ${PATH}\` with a client token and a rotating context ` +
      `(\`targetingKey\` over ${users} users). \`undici\` is not installed in this repository, so the load generator ` +
      `is ${LOAD_CLIENT === 'raw' ? 'a minimal keep-alive HTTP/1.1 client on raw sockets (pre-encoded requests, Content-Length framing, as undici/autocannon do; `BENCH_CLIENT=agent` switches to `http.Agent`)' : '`http.Agent({ keepAlive: true })`'}. ` +
      'Anchors, same run and same load generator: a bare Fastify server (same Fastify version, own process, no ' +
      'auth/metrics/logging) whose route returns the very JSON our server answered; and raw `@openfeature/flagd-core` ' +
      '`resolveBooleanEvaluation` of the same flag and configuration in one process, no HTTP. CPU columns are cores ' +
      'used during the measured window (from `/proc/<pid>/stat` and `process.cpuUsage`); this machine has 2 cores ' +
      'shared by the server and the load generator.',
    tables: [
      {
        headers: ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU', 'loadgen CPU', 'other CPU'],
        rows: [row('**ours** (`rctl up`)', ours), row('anchor: bare Fastify, constant JSON', anchor)],
      },
      {
        headers: ['', 'evaluations/s', 'ns/evaluation'],
        rows: [
          [
            'anchor: flagd-core `resolveBooleanEvaluation`, in process',
            fmt(flagd.perSecond),
            fmt(flagd.nsPerEvaluation, 0),
          ],
        ],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [[`≥ ${TARGET_RPS.toLocaleString('en-US')} evaluations/s`, `${fmt(ours.rps)}/s`, verdict(pass)]],
      },
    ],
    notes: [
      `Ours reaches ${fmt((ours.rps / anchor.rps) * 100, 0)} % of the bare-Fastify ceiling measured with the same load generator; ` +
        `evaluation alone (flagd-core) would allow ${fmt(flagd.perSecond)}/s on one core.`,
    ],
    summary: [
      [
        'OFREP single evaluation, one process',
        `${fmt(ours.rps)} req/s (p99 ${fmt(ours.latencyMs.p99, 1)} ms)`,
        `bare Fastify ${fmt(anchor.rps)} req/s; flagd-core ${fmt(flagd.perSecond)}/s`,
        '≥ 10,000/s',
        verdict(pass),
      ],
    ],
    raw: { ours, anchor, flagd, sample: JSON.parse(sample.body) },
  };
}
