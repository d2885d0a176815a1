// Benchmark 10 (issue 15 item 5): remote evaluation beside a peer in the same run — our OFREP bulk evaluation and a real
// unleash-server's `/api/frontend` (remote evaluation for a context) and `/api/client/features` (what server SDKs
// poll), the same DevMentor flags in both (`rctl seed --target unleash`), the same load generator and connections.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  contextBodies,
  createClientToken,
  fmt,
  HTTP_PARAMS,
  log,
  QUICK,
  ROOT,
  runLoadInterleaved,
  runRctl,
  SEED_FILE,
  startRc,
  stopChild,
  verdict,
} from './lib.mjs';

/** Issue 15 item 5: ours at least this many times the peer's remote-evaluation throughput. */
export const TARGET_FACTOR = 10;

export async function run() {
  process.env.RC_TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  const { startUnleashServer, unleashServerInstalled } = await import(join(ROOT, 'packages/testkit/dist/index.js'));
  if (!unleashServerInstalled()) throw new Error('unleash-server is not installed: run `npm run setup:unleash`');
  const users = QUICK ? 100 : 1000;
  const bodies = contextBodies(users);
  log('unleash-peer: starting unleash-server and rctl up');
  const unleash = await startUnleashServer();
  const dir = mkdtempSync(join(tmpdir(), 'rc-bench-unleash-peer-'));
  const server = await startRc({ name: 'rctl up (unleash peer)' });
  let ours;
  let frontend;
  let features;
  try {
    const tokenFile = join(dir, 'unleash-token');
    writeFileSync(tokenFile, unleash.adminToken, { mode: 0o600 });
    await runRctl(['seed', SEED_FILE, '--target', 'unleash', '--unleash-url', unleash.url, '--token-file', tokenFile]);
    const created = await fetch(`${unleash.url}/api/admin/api-tokens`, {
      method: 'POST',
      headers: { authorization: unleash.adminToken, 'content-type': 'application/json' },
      body: JSON.stringify({
        tokenName: 'bench-frontend',
        type: 'frontend',
        environment: 'development',
        projects: ['*'],
      }),
    });
    if (!created.ok) throw new Error(`creating a frontend token: ${created.status} ${await created.text()}`);
    const frontendToken = (await created.json()).secret;
    const probe = await fetch(`${unleash.url}/api/frontend`, {
      method: 'POST',
      headers: { authorization: frontendToken, 'content-type': 'application/json' },
      body: bodies[0],
    });
    if (probe.status !== 200) throw new Error(`/api/frontend answered ${probe.status}: ${await probe.text()}`);
    const toggles = (await probe.json()).toggles?.length ?? 0;
    const token = await createClientToken(server.url, 'development');
    log(`unleash-peer: /api/frontend returns ${toggles} enabled toggles; load in alternation`);
    [ours, frontend, features] = await runLoadInterleaved([
      {
        url: server.url,
        path: '/ofrep/v1/evaluate/flags',
        headers: { authorization: `Bearer ${token}` },
        bodies,
        serverPid: server.pid,
        name: 'ours: OFREP bulk',
      },
      {
        url: unleash.url,
        path: '/api/frontend',
        headers: { authorization: frontendToken },
        bodies,
        serverPid: Number.NaN,
        name: 'unleash /api/frontend',
      },
      {
        url: unleash.url,
        path: '/api/client/features',
        method: 'GET',
        headers: { authorization: unleash.clientToken },
        bodies: [''],
        serverPid: Number.NaN,
        name: 'unleash /api/client/features',
      },
    ]);
  } finally {
    await stopChild(server.child);
    await unleash.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const factor = ours.rps / frontend.rps;
  const row = (label, r) => [label, fmt(r.rps), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), String(r.errors)];
  log(
    `unleash-peer: ours ${fmt(ours.rps)} req/s, /api/frontend ${fmt(frontend.rps)}, /api/client/features ${fmt(features.rps)}`,
  );
  return {
    key: 'unleashPeer',
    title: '10. Remote evaluation beside Unleash (same flags, same load)',
    method:
      'The DevMentor flags in our server (`rctl up`, SQLite) and, through `rctl seed --target unleash`, in a real ' +
      'unleash-server (tools/unleash-server, on PostgreSQL). The load generator of benchmark 1 ' +
      `(${HTTP_PARAMS.connections} keep-alive connections, closed loop), the three targets in alternation: our OFREP ` +
      "bulk evaluation (`POST /ofrep/v1/evaluate/flags`, every flag for a rotating context), Unleash's " +
      '`POST /api/frontend` (its remote evaluation for a context, frontend token, same bodies) and ' +
      '`GET /api/client/features` (the definitions server SDKs poll, backend token). Unleash runs with its defaults.',
    tables: [
      {
        headers: ['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
        rows: [
          row('**ours**: OFREP bulk evaluation', ours),
          row('peer: Unleash `POST /api/frontend`', frontend),
          row('peer: Unleash `GET /api/client/features`', features),
        ],
      },
      {
        headers: ['target (issue)', 'ours', 'result'],
        rows: [
          [
            `remote evaluation ≥ ${TARGET_FACTOR}× Unleash's /api/frontend, same run (issue 15)`,
            `${fmt(factor, 1)}×`,
            verdict(factor >= TARGET_FACTOR),
          ],
        ],
      },
    ],
    notes: [
      "Unleash's figures include its PostgreSQL-backed process on the same 2 cores; ours serves from memory (its store is read only on change).",
    ],
    summary: [
      [
        'Remote evaluation beside Unleash',
        `OFREP bulk ${fmt(ours.rps)} req/s`,
        `Unleash /api/frontend ${fmt(frontend.rps)} req/s, /api/client/features ${fmt(features.rps)} req/s`,
        `≥ ${TARGET_FACTOR}×`,
        verdict(factor >= TARGET_FACTOR),
      ],
    ],
    raw: { ours, frontend, features, factor },
  };
}
