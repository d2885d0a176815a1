// Benchmark 2: OFREP bulk evaluation, the 304 path (If-None-Match) against the full 200 path.
import { join } from 'node:path';
import {
  contextBodies,
  createClientToken,
  fmt,
  freePort,
  HTTP_PARAMS,
  httpRequest,
  log,
  PROC_DIR,
  QUICK,
  ROUNDS_TEXT,
  runLoadInterleaved,
  spawnNode,
  startRc,
  stopChild,
  verdict,
  waitFor200,
} from './lib.mjs';

const PATH = '/ofrep/v1/evaluate/flags';

export async function run() {
  const users = QUICK ? 100 : 1000;
  const bodies = contextBodies(users);
  log('ofrep-bulk: starting rctl up (SQLite, seeded)');
  const server = await startRc({ name: 'rctl up (ofrep-bulk)' });
  let notModified;
  let full;
  let anchor;
  let sample;
  let bare;
  try {
    const token = await createClientToken(server.url);
    const auth = { authorization: `Bearer ${token}` };
    // The ETag of each context, as a provider holding it from its first call would send it.
    const etags = [];
    for (const body of bodies) {
      const r = await httpRequest('POST', `${server.url}${PATH}`, { headers: auth, body });
      if (r.status !== 200 || !r.headers.etag) throw new Error(`bulk evaluation: ${r.status} ${r.body}`);
      etags.push({ 'if-none-match': r.headers.etag });
      sample ??= r;
    }
    const check = await httpRequest('POST', `${server.url}${PATH}`, {
      headers: { ...auth, ...etags[0] },
      body: bodies[0],
    });
    if (check.status !== 304) throw new Error(`expected 304 with If-None-Match, got ${check.status}`);
    log('ofrep-bulk: starting the bare Fastify anchor (constant bulk JSON)');
    const port = await freePort();
    bare = spawnNode(join(PROC_DIR, 'bare-fastify.mjs'), [port], {
      name: 'bare fastify',
      env: { BARE_BULK_BODY: sample.body },
    });
    const bareUrl = `http://127.0.0.1:${port}`;
    await waitFor200(`${bareUrl}/health/ready`, { child: bare });
    log('ofrep-bulk: load on the 304 path, the 200 path and the anchor, in alternation');
    [notModified, full, anchor] = await runLoadInterleaved([
      {
        url: server.url,
        path: PATH,
        headers: auth,
        bodies,
        headersPerBody: etags,
        expectStatus: 304,
        serverPid: server.pid,
        name: 'bulk 304',
      },
      { url: server.url, path: PATH, headers: auth, bodies, serverPid: server.pid, name: 'bulk 200' },
      { url: bareUrl, path: PATH, bodies, serverPid: bare.pid, name: 'bare fastify bulk' },
    ]);
    log(`ofrep-bulk: 304 ${fmt(notModified.rps)} req/s, p99 ${fmt(notModified.latencyMs.p99, 2)} ms`);
    log(`ofrep-bulk: 200 ${fmt(full.rps)} req/s, p99 ${fmt(full.latencyMs.p99, 2)} ms`);
    log(`ofrep-bulk: bare Fastify ${fmt(anchor.rps)} req/s, p99 ${fmt(anchor.latencyMs.p99, 2)} ms`);
  } finally {
    await stopChild(server.child);
    if (bare) await stopChild(bare);
  }

  const row = (label, r) => [
    label,
    fmt(r.rps),
    fmt(r.latencyMs.p50, 2),
    fmt(r.latencyMs.p99, 2),
    Object.entries(r.statuses)
      .map(([s, n]) => `${s}×${n.toLocaleString('en-US')}`)
      .join(' '),
    r.errors,
    fmt(r.serverCpu, 2),
    fmt(r.loadgenCpu, 2),
    fmt(r.otherCpu, 2),
  ];
  const bytes = Buffer.byteLength(sample.body);
  const faster = notModified.rps > full.rps && notModified.errors === 0;
  return {
    key: 'ofrepBulk',
    title: '2. OFREP bulk evaluation — the 304 path',
    method:
      `Same server set-up and load generator as benchmark 1 (${HTTP_PARAMS.connections} connections, ` +
      `${HTTP_PARAMS.warmupMs / 1000} s warm-up, ${HTTP_PARAMS.durationMs / 1000} s measured per path, ${ROUNDS_TEXT}). \`POST ${PATH}\` with a ` +
      `rotating context over ${users} users; for the 304 path each request carries \`If-None-Match\` with the ETag ` +
      `that user's first call returned (as an OFREP static-context provider polling an unchanged configuration). ` +
      `Anchors in the same run: the bulk 200 path (full evaluation of all ${sample.json.flags.length} flags, ` +
      `${bytes.toLocaleString('en-US')}-byte body) on the same server, and a bare Fastify route returning that ` +
      'same body as a constant.',
    tables: [
      {
        headers: ['path', 'req/s', 'p50 ms', 'p99 ms', 'statuses', 'errors', 'server CPU', 'loadgen CPU', 'other CPU'],
        rows: [
          row('**ours: bulk 304** (If-None-Match)', notModified),
          row('anchor: ours, bulk 200 (full evaluation)', full),
          row('anchor: bare Fastify, constant bulk JSON', anchor),
        ],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            'none set; expected: 304 cheaper than 200',
            `304 is ${fmt(notModified.rps / full.rps, 2)}× the 200 throughput`,
            verdict(faster),
          ],
        ],
      },
    ],
    notes: [
      'The 304 path still authenticates, parses the body and hashes the canonical context (SHA-1) to compute the ETag; ' +
        'it skips evaluation, metrics per flag and serialization of the body.',
    ],
    summary: [
      [
        'OFREP bulk 304 path',
        `${fmt(notModified.rps)} req/s (p99 ${fmt(notModified.latencyMs.p99, 1)} ms)`,
        `bulk 200 ${fmt(full.rps)} req/s; bare Fastify ${fmt(anchor.rps)} req/s`,
        'none (304 > 200)',
        verdict(faster),
      ],
    ],
    raw: { notModified, full, anchor, bulkBodyBytes: bytes },
  };
}
