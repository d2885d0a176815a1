import {
  anchorWriter,
  createClientToken,
  fmt,
  httpRequest,
  log,
  PROPAGATION_HEADERS,
  propagationRow,
  QUICK,
  rssMiB,
  runPropagation,
  startAnchorServer,
  startRc,
  stopChild,
  toggleWriter,
  verdict,
} from './lib.mjs';

/** Issue 15 item 4: propagation p99 within this factor of the plain broadcaster's at the same client count. */
export const TARGET_FACTOR = 1.5;
const PARAMS = QUICK
  ? { clients: 1000, groups: 2, writes: 5, spacingMs: 300 }
  : { clients: 10_000, groups: 4, writes: 10, spacingMs: 600 };

export async function run() {
  log(`propagation-10k: starting rctl up (SQLite, seeded) for ${PARAMS.clients} clients`);
  const server = await startRc({
    name: 'rctl up (10k clients)',
    env: { RC_MAX_STREAMS_PER_TOKEN: String(PARAMS.clients + 100) },
  });
  let ours;
  let configJson;
  let oursRss;
  try {
    const token = await createClientToken(server.url);
    const auth = { authorization: `Bearer ${token}` };
    configJson = (await httpRequest('GET', `${server.url}/api/client/snapshot`, { headers: auth })).body;
    const before = rssMiB(server.pid);
    ours = await runPropagation({
      streamUrl: `${server.url}/api/client/stream`,
      headers: auth,
      write: toggleWriter(server.url),
      name: 'propagation-10k',
      params: PARAMS,
      onConnected: () => rssMiB(server.pid),
    });
    oursRss = { before, connected: ours.atConnected };
    log(`propagation-10k: ours p99 ${fmt(ours.latencyMs.p99)} ms, missed ${ours.missed}`);
  } finally {
    await stopChild(server.child);
  }

  log('propagation-10k: plain node:http SSE broadcaster anchor');
  const anchorServer = await startAnchorServer('sse-anchor-server.mjs', {
    name: 'sse anchor (10k)',
    env: { ANCHOR_CONFIG_JSON: configJson },
  });
  let anchor;
  let anchorRss;
  try {
    const { url } = anchorServer;
    const before = rssMiB(anchorServer.pid);
    anchor = await runPropagation({
      streamUrl: `${url}/stream`,
      write: anchorWriter(url),
      name: 'sse anchor (10k)',
      params: PARAMS,
      onConnected: () => rssMiB(anchorServer.pid),
    });
    anchorRss = { before, connected: anchor.atConnected };
  } finally {
    await stopChild(anchorServer.child);
  }

  const perStreamKiB = (rss, n) => ((rss.connected - rss.before) * 1024) / n;
  const oursKiB = perStreamKiB(oursRss, ours.clients);
  const anchorKiB = perStreamKiB(anchorRss, anchor.clients);
  const factor = ours.latencyMs.p99 / anchor.latencyMs.p99;
  const pass = ours.missed === 0 && factor <= TARGET_FACTOR;
  const n = PARAMS.clients.toLocaleString('en-US');
  return {
    key: 'propagation10k',
    title: `3b. Change propagation — one node, ${n} SSE clients`,
    method:
      `As benchmark 3, with ${n} clients over ${PARAMS.groups} client processes (each raises its file-descriptor ` +
      'limit to 20,000 with `ulimit -n`, as the server process does; `RC_MAX_STREAMS_PER_TOKEN` is raised above the ' +
      `client count since all use one token), ${PARAMS.writes} writes ${PARAMS.spacingMs} ms apart. The frames are ` +
      "the default whole-document `change` frames (the SDK's `delta` frames are smaller). Memory per open stream = " +
      "(the server process's RSS once every client is connected − its RSS before) ÷ clients. Anchor: the plain " +
      '`node:http` broadcaster with the same clients, frame size and writes.',
    tables: [
      {
        headers: PROPAGATION_HEADERS,
        rows: [
          propagationRow('**ours** (`rctl up`, SQLite)', ours),
          propagationRow('anchor: plain node:http broadcaster', anchor),
        ],
      },
      {
        headers: ['', 'connect all (s)', 'RSS before (MiB)', 'RSS connected (MiB)', 'KiB per open stream'],
        rows: [
          ['**ours**', fmt(ours.connectSec, 1), fmt(oursRss.before), fmt(oursRss.connected), fmt(oursKiB, 1)],
          ['anchor', fmt(anchor.connectSec, 1), fmt(anchorRss.before), fmt(anchorRss.connected), fmt(anchorKiB, 1)],
        ],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            `p99 within ${TARGET_FACTOR}× the broadcaster's at ${n} clients, 0 missed (issue 15)`,
            `${fmt(factor, 2)}× (p99 ${fmt(ours.latencyMs.p99)} vs ${fmt(anchor.latencyMs.p99)} ms), ${ours.missed} missed`,
            verdict(pass),
          ],
        ],
      },
    ],
    notes: [
      `PATCH response time at ${n} clients: median ${fmt(ours.writeResponseMs.p50)} ms, max ${fmt(ours.writeResponseMs.max)} ms.`,
    ],
    summary: [
      [
        `Change propagation, one node, ${n} clients`,
        `p99 ${fmt(ours.latencyMs.p99)} ms, ${ours.missed} missed; ${fmt(oursKiB, 1)} KiB per stream; connect ${fmt(ours.connectSec, 1)} s`,
        `node:http broadcaster p99 ${fmt(anchor.latencyMs.p99)} ms; ${fmt(anchorKiB, 1)} KiB per stream`,
        `≤ ${TARGET_FACTOR}× anchor`,
        verdict(pass),
      ],
    ],
    raw: { ours, anchor, oursRss, anchorRss, factor },
  };
}
