import {
  anchorWriter,
  createClientToken,
  fmt,
  httpRequest,
  log,
  PROPAGATION_HEADERS,
  propagationRow,
  runPropagation,
  SSE_PARAMS,
  startAnchorServer,
  startRc,
  stopChild,
  toggleWriter,
  verdict,
} from './lib.mjs';

export const TARGET_P99_MS = 100;

export async function run() {
  log('propagation-one-node: starting rctl up (SQLite, seeded)');
  const server = await startRc({ name: 'rctl up (propagation)' });
  let ours;
  let configJson;
  try {
    const token = await createClientToken(server.url);
    const auth = { authorization: `Bearer ${token}` };
    configJson = (await httpRequest('GET', `${server.url}/api/client/snapshot`, { headers: auth })).body;
    ours = await runPropagation({
      streamUrl: `${server.url}/api/client/stream`,
      headers: auth,
      write: toggleWriter(server.url),
      name: 'propagation-one-node',
    });
    log(
      `propagation-one-node: ours p50 ${fmt(ours.latencyMs.p50)} ms, p99 ${fmt(ours.latencyMs.p99)} ms, missed ${ours.missed}`,
    );
  } finally {
    await stopChild(server.child);
  }

  log('propagation-one-node: plain node:http SSE broadcaster anchor');
  const anchorServer = await startAnchorServer('sse-anchor-server.mjs', {
    name: 'sse anchor',
    env: { ANCHOR_CONFIG_JSON: configJson },
  });
  let anchor;
  try {
    const { url } = anchorServer;
    anchor = await runPropagation({ streamUrl: `${url}/stream`, write: anchorWriter(url), name: 'sse anchor' });
    log(`propagation-one-node: anchor p50 ${fmt(anchor.latencyMs.p50)} ms, p99 ${fmt(anchor.latencyMs.p99)} ms`);
  } finally {
    await stopChild(anchorServer.child);
  }

  const pass = ours.missed === 0 && ours.latencyMs.p99 <= TARGET_P99_MS;
  return {
    key: 'propagationOneNode',
    title: '3. Change propagation — one node, 1,000 SSE clients',
    method:
      `Our server (\`rctl up\`, SQLite, seeded) in one process; ${SSE_PARAMS.clients} SSE clients on ` +
      `\`GET /api/client/stream\` (client token for \`production\`) spread over ${SSE_PARAMS.groups} client processes ` +
      `(\`bench/proc/sse-clients.mjs\`). Then ${SSE_PARAMS.writes} writes ${SSE_PARAMS.spacingMs} ms apart from the ` +
      'benchmark process: `PATCH /api/admin/flags/new-ui-enabled/environments/production` toggling `state`. For each ' +
      "write, each client records when it holds the complete `change` frame whose `id` is the write's revision (the " +
      'PATCH `ETag`); latency = that time − the time just before the PATCH was sent (one machine, one wall clock: ' +
      '`performance.timeOrigin + performance.now()`). Statistics over every (client × write) sample. Anchor, same ' +
      'client processes and count: a minimal plain `node:http` SSE broadcaster in its own process ' +
      '(`bench/proc/sse-anchor-server.mjs`) writing a frame of the same shape and size (it embeds the same flagd ' +
      'configuration) on `POST /broadcast` — the floor for SSE fan-out on this machine. "First receiver" is the ' +
      'fastest client of a write (≈ the server\'s write path); "first→last" is the fan-out spread.',
    tables: [
      {
        headers: PROPAGATION_HEADERS,
        rows: [
          propagationRow('**ours** (`rctl up`, SQLite)', ours),
          propagationRow('anchor: plain node:http broadcaster', anchor),
        ],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            `p99 ≤ ${TARGET_P99_MS} ms at ${SSE_PARAMS.clients} clients, 0 missed`,
            `p99 ${fmt(ours.latencyMs.p99)} ms, ${ours.missed} missed`,
            verdict(pass),
          ],
        ],
      },
    ],
    notes: [
      `PATCH response time (write committed, state recompiled, frames queued to every client): median ${fmt(ours.writeResponseMs.p50)} ms, max ${fmt(ours.writeResponseMs.max)} ms.`,
      `Connecting ${ours.clients} clients took ${fmt(ours.connectSec, 1)} s (25 concurrent connects per client process).`,
    ],
    summary: [
      [
        `Change propagation, one node, ${SSE_PARAMS.clients} clients`,
        `p99 ${fmt(ours.latencyMs.p99)} ms (p50 ${fmt(ours.latencyMs.p50)}), ${ours.missed} missed`,
        `node:http broadcaster p99 ${fmt(anchor.latencyMs.p99)} ms (p50 ${fmt(anchor.latencyMs.p50)})`,
        `p99 ≤ ${TARGET_P99_MS} ms`,
        verdict(pass),
      ],
    ],
    raw: { ours, anchor },
  };
}
