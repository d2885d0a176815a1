import {
  contextBodies,
  cpuMicrosPerRequest,
  createClientToken,
  FORKS,
  FORKS_TEXT,
  fmt,
  HTTP_PARAMS,
  httpRequest,
  log,
  MICROSECOND_HEADERS,
  microsecondRows,
  perProcessText,
  QUICK,
  ROUNDS_TEXT,
  runForkedLoad,
  runOfrepStages,
  startBareAnchors,
  startRc,
  stopChild,
  verdict,
} from './lib.mjs';

const PATH = '/ofrep/v1/evaluate/flags';
/** Issue 10 item 8: the bulk 200 path at least this share of its constant-JSON anchor's throughput, same run. */
export const TARGET_RATIO = 0.7;

export async function run() {
  const users = QUICK ? 100 : 1000;
  const bodies = contextBodies(users);
  log(`ofrep-bulk: starting rctl up (SQLite, seeded), ${FORKS} processes`);
  const servers = [];
  const bares = [];
  let notModified;
  let full;
  let anchor;
  let sample;
  try {
    const notModifiedTargets = [];
    const fullTargets = [];
    for (let i = 0; i < FORKS; i++) {
      const server = await startRc({ name: `rctl up (ofrep-bulk ${i + 1})` });
      servers.push(server);
      const auth = { authorization: `Bearer ${await createClientToken(server.url)}` };
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
      const target = { url: server.url, path: PATH, headers: auth, bodies, serverPid: server.pid };
      notModifiedTargets.push({ ...target, headersPerBody: etags, expectStatus: 304, name: `bulk 304 (${i + 1})` });
      fullTargets.push({ ...target, name: `bulk 200 (${i + 1})` });
    }
    log('ofrep-bulk: starting the bare Fastify anchor (constant bulk JSON)');
    // The same request bytes as the bulk 200 path.
    const anchorTargets = await startBareAnchors(fullTargets, { BARE_BULK_BODY: sample.body }, bares);
    log('ofrep-bulk: load on the 304 path, the 200 path and the anchor, in alternation');
    [notModified, full, anchor] = await runForkedLoad([notModifiedTargets, fullTargets, anchorTargets]);
    log(
      `ofrep-bulk: 304 ${fmt(notModified.rps)} req/s (${perProcessText(notModified)}), p99 ${fmt(notModified.latencyMs.p99, 2)} ms`,
    );
    log(`ofrep-bulk: 200 ${fmt(full.rps)} req/s (${perProcessText(full)}), p99 ${fmt(full.latencyMs.p99, 2)} ms`);
    log(
      `ofrep-bulk: bare Fastify ${fmt(anchor.rps)} req/s (${perProcessText(anchor)}), p99 ${fmt(anchor.latencyMs.p99, 2)} ms`,
    );
  } finally {
    for (const server of servers) await stopChild(server.child);
    for (const bare of bares) await stopChild(bare.child);
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
  log("ofrep-bulk: stage timings (the server's own functions, in process)");
  const stages = await runOfrepStages({ bodies, flagKey: 'new-ui-enabled' });
  const st = stages.bulk;
  const breakdown = microsecondRows({
    ours: full,
    anchor,
    anchorLabel:
      "Node HTTP, Fastify routing and reply, JSON.stringify of the same body (the constant-JSON anchor's whole request)",
    stages: [
      ['auth: client guard (token → live client token)', st.auth],
      ['parse: JSON body and input limits', st.parse],
      ['ETag: canonical context, SHA-1', st.etag],
      [
        `evaluate, count and serialize: ${st.evaluated} of ${st.flags} flags evaluated for the context (flagd), the ${st.flags - st.evaluated} without targeting answered as prepared once per configuration, each counted, the body from the response schema's serializers — minus the anchor's JSON.stringify`,
        st.answer - st.serializeAnchor,
      ],
      ['metrics: the request-duration histogram', st.metrics],
      ['clients view: the polling-caller record (rctl clients)', st.presence],
    ],
  });
  log(
    `ofrep-bulk: 200 ${fmt(breakdown.oursUs, 1)} µs/request (anchor ${fmt(breakdown.anchorUs, 1)}), stages ${fmt(breakdown.staged, 1)}, rest ${fmt(breakdown.rest, 1)}`,
  );

  const bytes = Buffer.byteLength(sample.body);
  const faster = notModified.rps > full.rps && notModified.errors === 0;
  const ratio = full.rps / anchor.rps;
  const passRatio = full.errors === 0 && ratio >= TARGET_RATIO;
  return {
    key: 'ofrepBulk',
    title: '2. OFREP bulk evaluation — the 200 and 304 paths',
    method:
      `Same server set-up and load generator as benchmark 1 (${FORKS_TEXT}; ${HTTP_PARAMS.connections} connections, ` +
      `${HTTP_PARAMS.warmupMs / 1000} s warm-up, ${HTTP_PARAMS.durationMs / 1000} s measured per path, ${ROUNDS_TEXT}). \`POST ${PATH}\` with a ` +
      `rotating context over ${users} users; for the 304 path each request carries \`If-None-Match\` with the ETag ` +
      `that user's first call returned (as an OFREP static-context provider polling an unchanged configuration). ` +
      `Anchors in the same run: the bulk 200 path (all ${sample.json.flags.length} flags answered, ` +
      `${bytes.toLocaleString('en-US')}-byte body) on the same server, and a bare Fastify route returning that ` +
      'same body as a constant, sent the same requests as the 200 path (token header included, which it ignores).',
    tables: [
      {
        headers: ['path', 'req/s', 'p50 ms', 'p99 ms', 'statuses', 'errors', 'server CPU', 'loadgen CPU', 'other CPU'],
        rows: [
          row('**ours: bulk 304** (If-None-Match)', notModified),
          row('anchor: ours, bulk 200 (every flag answered)', full),
          row('anchor: bare Fastify, constant bulk JSON', anchor),
        ],
      },
      {
        caption:
          "**Where a bulk 200 request's microseconds go.** As in benchmark 1: server CPU per request of the bulk 200 " +
          "path and of its constant-JSON anchor in the load run above, and between them the bulk route's own stages " +
          'timed in process on the same contexts.',
        headers: MICROSECOND_HEADERS,
        rows: breakdown.rows,
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            `bulk 200 ≥ ${fmt(TARGET_RATIO * 100, 0)} % of the constant-JSON anchor's throughput, same run (issue 10)`,
            `${fmt(ratio * 100, 0)} % (${fmt(full.rps)} of ${fmt(anchor.rps)} req/s)`,
            verdict(passRatio),
          ],
          [
            'none set; expected: 304 cheaper than 200',
            `304 is ${fmt(notModified.rps / full.rps, 2)}× the 200 throughput`,
            verdict(faster),
          ],
        ],
      },
    ],
    notes: [
      `Throughput per process: 304 ${perProcessText(notModified)}, 200 ${perProcessText(full)}, the anchor ${perProcessText(anchor)}.`,
      `Of the ${st.flags} flags, ${st.evaluated} ${st.evaluated === 1 ? 'has' : 'have'} targeting and ${st.evaluated === 1 ? 'is' : 'are'} evaluated by flagd for each request's context; the ` +
        `other ${st.flags - st.evaluated} cannot depend on the context (no targeting, or disabled): their answer — evaluation, JSON, ` +
        'metric cell — is made once per configuration and reused until a change makes a new view ' +
        "(`features/ofrep/ofrep-answers.ts`; flagd's providers cache only such STATIC answers too). The body is those " +
        "pieces joined, each serialized by the response schema's serializer; a property test checks it byte for byte " +
        'against evaluating and serializing every flag per request.',
      'The 304 path still authenticates, parses the body and hashes the canonical context (SHA-1) to compute the ETag; ' +
        'it skips evaluation, metrics per flag and serialization of the body.',
      `Server CPU per bulk 200 request: ours ${fmt(cpuMicrosPerRequest(full), 1)} µs, the anchor ` +
        `${fmt(cpuMicrosPerRequest(anchor), 1)} µs (${fmt((cpuMicrosPerRequest(anchor) / cpuMicrosPerRequest(full)) * 100, 0)} %).`,
    ],
    summary: [
      [
        'OFREP bulk 200 path (every flag answered)',
        `${fmt(full.rps)} req/s (p99 ${fmt(full.latencyMs.p99, 1)} ms), ${fmt(ratio * 100, 0)} % of the anchor`,
        `bare Fastify, constant bulk JSON ${fmt(anchor.rps)} req/s`,
        `≥ ${fmt(TARGET_RATIO * 100, 0)} % of anchor`,
        verdict(passRatio),
      ],
      [
        'OFREP bulk 304 path',
        `${fmt(notModified.rps)} req/s (p99 ${fmt(notModified.latencyMs.p99, 1)} ms)`,
        `bulk 200 ${fmt(full.rps)} req/s; bare Fastify ${fmt(anchor.rps)} req/s`,
        'none (304 > 200)',
        verdict(faster),
      ],
    ],
    raw: { notModified, full, anchor, bulkBodyBytes: bytes, stages, breakdown, ratio },
  };
}
