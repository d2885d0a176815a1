// Shared helpers of the benchmarks: statistics, child processes (always cleaned up), ports, HTTP, the report.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const PROC_DIR = join(BENCH_DIR, 'proc');
export const RCTL = join(ROOT, 'packages/cli/dist/bin.js');
export const SEED_FILE = join(ROOT, 'examples/devmentor/flags.yaml');
export const QUICK = process.env.BENCH_QUICK === '1';
/** Soft fd limit raised in every child that holds many sockets (Node cannot raise its own). */
export const FD_LIMIT = 20000;
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
/** The PostgreSQL server benchmarks create their scratch databases on (it must allow CREATE DATABASE). */
export const BENCH_PG_URL =
  process.env.BENCH_PG_URL ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Runs `fn(url, name)` on a fresh database `rc_bench_<random>` on BENCH_PG_URL and drops it afterwards, whatever `fn`
 * does (a failed drop is logged, not thrown).
 */
export async function withScratchDatabase(fn) {
  const name = `rc_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString(), name);
  } finally {
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err) =>
      log(`could not drop the scratch database ${name}: ${err.message}`),
    );
  }
}

/** Wall-clock milliseconds with sub-millisecond precision; comparable across processes on one machine. */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(line) {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------------- statistics

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    min: sorted.length ? sorted[0] : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

export function median(values) {
  return summarize(values).p50;
}

export function fmt(n, digits = 1) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------- child processes

const children = new Set();
const tempDirs = new Set();

/**
 * Spawns `node script args` in its own process through `bash -c 'ulimit -n …; exec node …'` (same pid as the node
 * process), with an IPC channel. Stdout/stderr are kept (last 8 KiB) for error messages. Every child is killed by
 * `killAll` and on exit of this process.
 */
export function spawnNode(
  script,
  args = [],
  { env = {}, name = script, raiseFdLimit = true, ipc = true, nodeArgs = [] } = {},
) {
  const quoted = [...nodeArgs, script, ...args].map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ');
  const command = raiseFdLimit
    ? ['bash', ['-c', `ulimit -n ${FD_LIMIT} 2>/dev/null || true; exec node ${quoted}`]]
    : [process.execPath, [...nodeArgs, script, ...args]];
  const child = spawn(command[0], command[1], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  child.benchName = name;
  child.output = '';
  const keep = (chunk) => {
    child.output = (child.output + chunk.toString()).slice(-8192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.on('error', (err) => keep(`spawn error: ${err.message}`));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Sends a message to a child and waits for its reply (`{ id, ok, result | error }`), bounded in time. */
let nextId = 1;
export function request(child, message, timeoutMs = 60_000) {
  const id = nextId++;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.benchName}: no answer to "${message.cmd}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m?.id !== id) return;
      cleanup();
      if (m.ok) resolvePromise(m.result);
      else reject(new Error(`${child.benchName}: ${m.error}`));
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${child.benchName} exited (${code ?? signal}) during "${message.cmd}":\n${child.output}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ ...message, id });
  });
}

/** The child side of `request`: `serve({ cmd: async (msg) => result })`. */
export function serve(handlers) {
  process.on('message', async (m) => {
    try {
      const handler = handlers[m.cmd];
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      const result = await handler(m);
      process.send({ id: m.id, ok: true, result });
    } catch (err) {
      process.send({ id: m.id, ok: false, error: err?.stack ?? String(err) });
    }
  });
  // The parent went away: leave too.
  process.on('disconnect', () => process.exit(0));
}

export async function stopChild(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await child.exited;
  clearTimeout(t);
}

export async function killAll() {
  await Promise.all([...children].map((c) => stopChild(c, 3000)));
}

export function tempDir(prefix = 'rc-bench-') {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs() {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

let handlersInstalled = false;
export function installCleanupHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
    removeTempDirs();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`${sig}: stopping every child process`);
      for (const c of children) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

// ---------------------------------------------------------------------------------------------------- networking

export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePromise(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One HTTP request; resolves `{ status, headers, body, json }`. */
export function httpRequest(method, url, { body, headers = {}, timeoutMs = 10_000, keepAlive = true } = {}) {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: keepAlive ? agent : false,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolvePromise({ status: res.statusCode, headers: res.headers, body: text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `url` every `intervalMs` until it answers 200; resolves the elapsed ms since `since`. Bounded in time. */
export async function waitFor200(url, { timeoutMs = 30_000, intervalMs = 10, since = now(), child } = {}) {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${child.benchName} exited before ${url} answered:\n${child.output}`);
    }
    try {
      const r = await httpRequest('GET', url, { timeoutMs: 1000, keepAlive: false });
      if (r.status === 200) return now() - since;
    } catch {
      // not listening yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${child ? `:\n${child.output}` : ''}`);
}

// ------------------------------------------------------------------------------------------ our server (rctl up)

/**
 * Starts `rctl up` in its own process on a free port; resolves once `/health/ready` answers 200.
 * `env` adds RC_* variables (e.g. RC_DATABASE_URL, RC_REDIS_URL).
 */
export async function startRc({ name = 'rctl up', seed = true, env = {}, nodeArgs = [] } = {}) {
  const port = await freePort();
  const dataDir = tempDir('rc-bench-data-');
  const args = ['up', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
  if (seed) args.push('--seed', SEED_FILE);
  const child = spawnNode(RCTL, args, {
    name,
    // The propagation benchmarks connect 1000 clients with one token (a fleet would use one token per service);
    // the per-token stream limit (RC_MAX_STREAMS_PER_TOKEN, default 100) is raised so that it is what they measure.
    env: { RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'warn', RC_MAX_STREAMS_PER_TOKEN: '5000', ...env },
    nodeArgs,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/health/ready`, { child, timeoutMs: 30_000, intervalMs: 20 });
  return { url, port, child, pid: child.pid, dataDir };
}

/**
 * Starts one of bench/proc's anchor servers (`node <script> <port>`, e.g. bare-fastify.mjs, sse-anchor-server.mjs) on
 * a free port; resolves once its `/health/ready` answers 200.
 */
export async function startAnchorServer(script, { name = script, env = {} } = {}) {
  const port = await freePort();
  const child = spawnNode(join(PROC_DIR, script), [port], { name, env });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/health/ready`, { child });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { url, child, pid: child.pid };
}

/** Runs the built `rctl` with `args` to its end; resolves its stdout, rejects with the end of its stderr. */
export function runRctl(args) {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [RCTL, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`rctl ${args[0]} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolvePromise(stdout);
    });
  });
}

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

export async function createClientToken(url, environment = 'production') {
  const r = await httpRequest('POST', `${url}/api/admin/tokens`, {
    headers: adminHeaders,
    body: { kind: 'client', environment, name: `bench-${Date.now()}` },
  });
  if (r.status !== 201) throw new Error(`POST /api/admin/tokens: ${r.status} ${r.body}`);
  return r.json.token;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5), counted from after the comm field)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits (bounded) until the machine's busy CPU over a 1 s window is under `maxCores` — other engineers' builds and
 * tests may share it. Resolves the last measured busy cores.
 */
export async function waitForQuiet({ maxCores = 0.5, timeoutMs = QUICK ? 3000 : 20_000 } = {}) {
  const deadline = now() + timeoutMs;
  let busy = Number.NaN;
  do {
    const b0 = machineBusySeconds();
    await sleep(1000);
    busy = machineBusySeconds() - b0;
    if (busy < maxCores) return busy;
  } while (now() < deadline);
  log(`machine still busy (${busy.toFixed(2)} cores used by other processes); going on`);
  return busy;
}

/** Resident set size in MiB from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------------- the report

export function machineInfo() {
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {}
  let osName = `${os.type()} ${os.release()}`;
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) osName = `${m[1]} (${os.type()} ${os.release()})`;
  } catch {}
  return {
    cpuModel,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    ramGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    os: osName,
    date: new Date().toISOString(),
  };
}

export function verdict(pass) {
  if (pass === undefined || pass === null) return '–';
  return pass ? '**PASS**' : '**MISS**';
}

function table(headers, rows) {
  const esc = (c) => String(c).replaceAll('|', '\\|');
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * Renders the report. Each section: `{ title, method, tables: [{ caption?, headers, rows }], notes?: string[], error? }`.
 */
export function renderMarkdown({ machine, quick, durationSec, sections, summary }) {
  const out = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    '_Generated by `npm run bench` (`bench/run.mjs`); do not edit by hand. Raw figures: `bench/out/results.json`._',
  );
  if (quick)
    out.push(
      '',
      '> **BENCH_QUICK=1 run**: reduced clients and durations, a smoke check only — not the figures of record.',
    );
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['CPU', 'cores', 'RAM', 'Node', 'OS', 'date', 'full run took'],
      [
        [
          machine.cpuModel,
          machine.cores,
          `${machine.ramGiB.toFixed(1)} GiB`,
          machine.node,
          machine.os,
          machine.date,
          `${Math.round(durationSec)} s`,
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    'Every server, load generator and client group runs in its own Node process on this one machine (loopback only), so ' +
      'they compete for the same cores: each figure stands beside an **anchor measured in the same run** — the same ' +
      'load on a minimal server, or the cost of the underlying library alone — which shows what the machine and the ' +
      'harness allow. The machine may be shared (other builds and tests); each benchmark first waits (≤ 20 s) for it ' +
      'to be quiet, HTTP runs alternate with their anchors, and the "other CPU" column shows the cores that other ' +
      'processes used during a measurement.',
  );
  if (summary?.length) {
    out.push('');
    out.push('## Summary');
    out.push('');
    out.push(table(['benchmark', 'ours', 'anchor', 'target', 'result'], summary));
  }
  for (const s of sections) {
    out.push('');
    out.push(`## ${s.title}`);
    out.push('');
    if (s.method) {
      out.push(`**Method.** ${s.method}`);
      out.push('');
    }
    if (s.error) {
      out.push('**CRASHED** — the benchmark did not complete:');
      out.push('');
      out.push('```');
      out.push(String(s.error).slice(0, 3000));
      out.push('```');
      continue;
    }
    for (const t of s.tables ?? []) {
      if (t.caption) out.push(`${t.caption}`, '');
      out.push(table(t.headers, t.rows));
      out.push('');
    }
    for (const n of s.notes ?? []) out.push(`- ${n}`);
    if (s.busyBefore !== undefined) {
      out.push(`- Other processes used ${s.busyBefore.toFixed(2)} cores in the second before this benchmark started.`);
    }
  }
  out.push('');
  return out.join('\n');
}

// -------------------------------------------------------------------------------------------- the load generator

export const HTTP_PARAMS = QUICK
  ? { connections: 32, warmupMs: 500, durationMs: 2000 }
  : { connections: 64, warmupMs: 2000, durationMs: 10_000 };
/** The alternation of benchmarks that compare targets under load: slices this long, each target in turn. */
export const SLICE_MS = 250;
export const ROUNDS_TEXT =
  `the targets alternating every ${SLICE_MS} ms within one load-generator process (each with its own connections, ` +
  "only the active one sending; a slice's requests in flight finish before the next target starts, and a " +
  "target's throughput is counted from each slice's first answer to its last), so that " +
  'background load on this shared machine, whose speed drifts by tens of percent within seconds, hits all alike';
export const LOAD_CLIENT = process.env.BENCH_CLIENT === 'agent' ? 'agent' : 'raw';

/**
 * Runs the load generator (its own process) against `url` + `path`; also measures the CPU the server process
 * (`serverPid`) used during the measured window, in cores.
 */
/** What the load generator needs of a target (`runLoad`'s and `runLoadInterleaved`'s target objects). */
function wireTarget({ url, path, method = 'POST', headers = {}, bodies, headersPerBody, expectStatus = 200 }) {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port), method, path, headers, bodies, headersPerBody, expectStatus };
}

export async function runLoad(target) {
  const { path, serverPid, name, params = {} } = target;
  const child = spawnNode(join(PROC_DIR, 'loadgen.mjs'), [], { name: `loadgen ${name ?? path}` });
  let cpu0 = Number.NaN;
  let cpu1 = Number.NaN;
  let busy0 = Number.NaN;
  let busy1 = Number.NaN;
  let t0 = 0;
  let t1 = 0;
  child.on('message', (m) => {
    if (m?.phase === 'measure-start') {
      cpu0 = cpuSeconds(serverPid);
      busy0 = machineBusySeconds();
      t0 = now();
    } else if (m?.phase === 'measure-end') {
      cpu1 = cpuSeconds(serverPid);
      busy1 = machineBusySeconds();
      t1 = now();
    }
  });
  try {
    const result = await request(
      child,
      {
        cmd: 'run',
        ...wireTarget(target),
        ...HTTP_PARAMS,
        ...params,
      },
      HTTP_PARAMS.warmupMs + HTTP_PARAMS.durationMs + 30_000,
    );
    const sec = (t1 - t0) / 1000;
    result.serverCpu = (cpu1 - cpu0) / sec;
    // Everything else the machine did meanwhile (other processes: the machine may be shared).
    result.otherCpu = Math.max(0, (busy1 - busy0) / sec - result.serverCpu - result.loadgenCpu);
    return result;
  } finally {
    await stopChild(child);
  }
}

/**
 * Runs several load targets in alternation (A, B, A, B, …) in slices of SLICE_MS, from one load-generator process
 * (`runAlternating` in bench/proc/loadgen.mjs), `HTTP_PARAMS.durationMs` measured per target after the warm-up;
 * returns one result per target with the CPU its server (`serverPid`) used while it was the active target.
 * With `BENCH_CLIENT=agent`, each target runs on its own instead (http.Agent has no alternating mode).
 */
export async function runLoadInterleaved(targets) {
  if (LOAD_CLIENT !== 'raw') {
    const results = [];
    for (const t of targets) results.push(await runLoad(t));
    return results;
  }
  const child = spawnNode(join(PROC_DIR, 'loadgen.mjs'), [], { name: 'loadgen (alternating)' });
  try {
    const results = await request(
      child,
      {
        cmd: 'runAlternating',
        targets: targets.map((t) => ({ ...wireTarget(t), pid: t.serverPid })),
        connections: HTTP_PARAMS.connections,
        warmupMs: HTTP_PARAMS.warmupMs,
        durationMs: HTTP_PARAMS.durationMs,
        sliceMs: SLICE_MS,
      },
      (HTTP_PARAMS.warmupMs + HTTP_PARAMS.durationMs) * targets.length + 30_000,
    );
    for (const [i, r] of results.entries()) {
      log(
        `  ${targets[i].name}: ${fmt(r.rps)} req/s over ${r.slices} slices (server CPU ${fmt(r.serverCpu, 2)}, other CPU ${fmt(r.otherCpu, 2)})`,
      );
    }
    return results;
  } finally {
    await stopChild(child);
  }
}

/**
 * Processes per server in the benchmarks that compare a server's throughput with an anchor's (1, 2): JMH's forks. A
 * Node process's throughput depends on its start (JIT decisions, code and heap layout): fresh processes of one
 * build on this machine differed by up to ten percent in turn, so one process per side made the comparison a draw.
 * BENCH_FORKS=n sets another number.
 */
export const FORKS = Number(process.env.BENCH_FORKS) || (QUICK ? 1 : 3);
export const FORKS_TEXT =
  FORKS > 1
    ? `each server in ${FORKS} processes of its own, all alternating, the figures over all of them: a Node process's speed depends on its start, so, as JMH runs forks, no single start decides`
    : 'each server in one process';

function percentileOfHistogram(buckets, total, p) {
  // buckets: [hundredths of a millisecond, count][], sorted by the first.
  let seen = 0;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  for (const [b, n] of buckets) {
    seen += n;
    if (seen >= rank) return b / 100;
  }
  return Number.NaN;
}

/**
 * One result of several processes of one server, each a `runLoadInterleaved` result: throughput over all their
 * measured time, latency percentiles over all their answers, CPU averaged (each process was active as long);
 * `perProcess` keeps each process's own throughput.
 */
export function mergeLoadResults(results) {
  if (results.length === 1) return { ...results[0], perProcess: [results[0].rps] };
  const sum = (f) => results.reduce((a, r) => a + f(r), 0);
  const mean = (f) => sum(f) / results.length;
  const statuses = {};
  const buckets = new Map();
  for (const r of results) {
    for (const [status, n] of Object.entries(r.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
    for (const [b, n] of r.histogram) buckets.set(b, (buckets.get(b) ?? 0) + n);
  }
  const histogram = [...buckets].sort((a, b) => a[0] - b[0]);
  const answers = histogram.reduce((a, [, n]) => a + n, 0);
  const windowMs = sum((r) => r.windowMs);
  const completed = sum((r) => r.completed);
  return {
    histogram,
    client: results[0].client,
    connections: results[0].connections,
    windowMs,
    completed,
    errors: sum((r) => r.errors),
    statuses,
    rps: (completed / windowMs) * 1000,
    latencyMs: {
      p50: percentileOfHistogram(histogram, answers, 50),
      p90: percentileOfHistogram(histogram, answers, 90),
      p99: percentileOfHistogram(histogram, answers, 99),
      max: histogram.length ? histogram[histogram.length - 1][0] / 100 : Number.NaN,
    },
    loadgenCpu: mean((r) => r.loadgenCpu),
    serverCpu: mean((r) => r.serverCpu),
    otherCpu: mean((r) => r.otherCpu),
    slices: sum((r) => r.slices),
    perProcess: results.map((r) => r.rps),
  };
}

/**
 * `runLoadInterleaved` over groups of targets, each group the processes of one server (FORKS of them), their
 * targets alternating in turn (A1, B1, A2, B2, …); returns one merged result per group (`mergeLoadResults`).
 */
export async function runForkedLoad(groups) {
  const forks = groups[0].length;
  const flat = [];
  for (let i = 0; i < forks; i++) for (const g of groups) flat.push(g[i]);
  const results = await runLoadInterleaved(flat);
  return groups.map((_, gi) => mergeLoadResults(results.filter((_, k) => k % groups.length === gi)));
}

/**
 * A bare-Fastify anchor process (bench/proc/bare-fastify.mjs, given `env`) beside each of our `targets`, sent the very
 * requests that target is sent (token header included, which it ignores): the difference is then our work alone.
 * Each process goes into `started` once it runs, so the caller stops them all even if a later one fails to start.
 */
export async function startBareAnchors(targets, env, started) {
  const anchorTargets = [];
  for (const [i, target] of targets.entries()) {
    const bare = await startAnchorServer('bare-fastify.mjs', { name: `bare fastify ${i + 1}`, env });
    started.push(bare);
    anchorTargets.push({ ...target, url: bare.url, serverPid: bare.pid, name: `bare fastify ${i + 1}` });
  }
  return anchorTargets;
}

/** "a / b / c req/s" of a merged result's processes. */
export function perProcessText(r) {
  return `${r.perProcess.map((rps) => fmt(rps)).join(' / ')} req/s`;
}

/** Request bodies with a rotating context: `targetingKey` over `users` users. */
export function contextBodies(users = 1000) {
  return Array.from({ length: users }, (_, i) => JSON.stringify({ context: { targetingKey: `user-${i}` } }));
}

// ------------------------------------------------------------------------------------------- change propagation

export const SSE_PARAMS = QUICK
  ? { clients: 200, groups: 2, writes: 5, spacingMs: 200 }
  : { clients: 1000, groups: 2, writes: 20, spacingMs: 300 };

/**
 * Opens `SSE_PARAMS.clients` SSE clients on `streamUrl`, spread over `groups` client processes, then performs
 * `writes` writes (`write(i)` resolves the revision id its `change` event carries), spaced `spacingMs` apart.
 * Latency of a (client, write) sample = time the client had the complete `change` frame − time just before the write
 * was sent.
 */
export async function runPropagation({
  streamUrl,
  headers = {},
  write,
  name,
  params = SSE_PARAMS,
  onConnected,
  events = ['change'],
  collectWaitMs = 5000,
  openTimeoutMs = 15_000,
}) {
  const { clients, groups, writes, spacingMs } = params;
  const procs = Array.from({ length: groups }, (_, g) =>
    spawnNode(join(PROC_DIR, 'sse-clients.mjs'), [], { name: `sse clients ${g + 1} (${name})` }),
  );
  try {
    const t0 = now();
    const opened = await Promise.all(
      procs.map((p, g) =>
        request(
          p,
          {
            cmd: 'connect',
            url: streamUrl,
            headers,
            count: Math.floor(clients / groups) + (g < clients % groups ? 1 : 0),
            concurrency: 25,
            events,
            openTimeoutMs,
          },
          120_000,
        ),
      ),
    );
    const connected = opened.reduce((s, o) => s + o.connected, 0);
    const failed = opened.reduce((s, o) => s + o.failed, 0);
    if (failed > 0)
      throw new Error(`${failed} SSE clients failed to connect: ${opened.find((o) => o.firstError)?.firstError}`);
    const connectSec = (now() - t0) / 1000;
    log(`${name}: ${connected} SSE clients connected in ${connectSec.toFixed(1)} s`);
    await sleep(500);
    const atConnected = onConnected?.();
    const sentAt = new Map();
    const writeMs = [];
    for (let i = 0; i < writes; i++) {
      const start = now();
      const id = String(await write(i));
      writeMs.push(now() - start);
      sentAt.set(id, start);
      const wait = start + spacingMs - now();
      if (wait > 0) await sleep(wait);
    }
    const ids = [...sentAt.keys()];
    const collected = await Promise.all(
      procs.map((p) => request(p, { cmd: 'collect', ids, waitMs: collectWaitMs }, collectWaitMs + 15_000)),
    );
    const latencies = [];
    const perWriteLatencies = new Map(ids.map((id) => [id, []]));
    const firstPerWrite = new Map(ids.map((id) => [id, Number.POSITIVE_INFINITY]));
    const lastPerWrite = new Map(ids.map((id) => [id, 0]));
    let unexpectedCloses = 0;
    const frameBytes = [];
    for (const c of collected) {
      unexpectedCloses += c.unexpectedCloses;
      for (const sizes of c.bytes) frameBytes.push(...Object.values(sizes));
      for (const received of c.clients) {
        for (const [id, t] of Object.entries(received)) {
          const l = t - sentAt.get(id);
          latencies.push(l);
          perWriteLatencies.get(id).push(l);
          firstPerWrite.set(id, Math.min(firstPerWrite.get(id), l));
          lastPerWrite.set(id, Math.max(lastPerWrite.get(id), l));
        }
      }
    }
    const expected = connected * writes;
    const stats = summarize(latencies);
    const first = summarize([...firstPerWrite.values()].filter(Number.isFinite));
    const spread = summarize(ids.map((id) => lastPerWrite.get(id) - firstPerWrite.get(id)).filter(Number.isFinite));
    return {
      atConnected,
      clients: connected,
      clientProcesses: groups,
      writes,
      spacingMs,
      connectSec,
      samples: latencies.length,
      missed: expected - latencies.length,
      unexpectedCloses,
      latencyMs: stats,
      firstReceiverMs: first,
      fanOutSpreadMs: spread,
      writeResponseMs: summarize(writeMs),
      /** Bytes of each counted frame as one client received it (a sample per client × write). */
      frameBytes: summarize(frameBytes),
      perWrite: ids.map((id, i) => {
        const w = summarize(perWriteLatencies.get(id));
        return { id: Number(id), writeMs: writeMs[i], first: w.min, p50: w.p50, p99: w.p99, last: w.max };
      }),
    };
  } finally {
    await Promise.all(
      procs.map(async (p) => {
        await request(p, { cmd: 'close' }, 5000).catch(() => {});
        await stopChild(p);
      }),
    );
  }
}

/** PATCH toggling `state` of new-ui-enabled in production; resolves the revision from the `ETag: "<revision>"`. */
export function toggleWriter(url) {
  return async (i) => {
    const r = await httpRequest('PATCH', `${url}/api/admin/flags/new-ui-enabled/environments/production`, {
      headers: adminHeaders,
      body: { state: i % 2 === 0 ? 'DISABLED' : 'ENABLED' },
    });
    if (r.status !== 200) throw new Error(`PATCH: ${r.status} ${r.body}`);
    return JSON.parse(r.headers.etag);
  };
}

/** The anchor broadcaster's trigger. */
export function anchorWriter(url) {
  return async () => {
    const r = await httpRequest('POST', `${url}/broadcast`, { body: '{}' });
    if (r.status !== 200) throw new Error(`POST /broadcast: ${r.status} ${r.body}`);
    return JSON.parse(r.headers.etag);
  };
}

export function propagationRow(label, p) {
  return [
    label,
    p.clients,
    p.samples.toLocaleString('en-US'),
    fmt(p.latencyMs.p50, 1),
    fmt(p.latencyMs.p99, 1),
    fmt(p.latencyMs.max, 1),
    p.missed,
    fmt(p.firstReceiverMs.p50, 1),
    fmt(p.fanOutSpreadMs.p50, 1),
  ];
}

export const PROPAGATION_HEADERS = [
  'server',
  'clients',
  'samples',
  'p50 ms',
  'p99 ms',
  'max ms',
  'missed',
  'first receiver (median over writes) ms',
  'first→last receiver (median) ms',
];

// ------------------------------------------------------------------------------- OFREP: where the microseconds go

/**
 * Times the server's own OFREP stage functions (auth, parse, validate, evaluate, metrics, serialize, ETag) in their
 * own process (`bench/proc/ofrep-stages.mjs`, an in-process server seeded like `rctl up`), on the load run's bodies.
 * Resolves ns per call: `{ single: {...}, bulk: {...} }`.
 */
export async function runOfrepStages({ bodies, flagKey }) {
  const child = spawnNode(join(PROC_DIR, 'ofrep-stages.mjs'), [], { name: 'ofrep stages' });
  try {
    return await request(
      child,
      {
        cmd: 'run',
        dataDir: tempDir('rc-bench-stages-'),
        seedFile: SEED_FILE,
        adminToken: ADMIN_TOKEN,
        flagKey,
        bodies,
        minMs: QUICK ? 50 : 250,
      },
      120_000,
    );
  } finally {
    await stopChild(child);
  }
}

/** Server CPU µs per request of a load result (cores used ÷ requests per second). */
export function cpuMicrosPerRequest(r) {
  return (r.serverCpu / r.rps) * 1e6;
}

/**
 * Rows of a "where a request's microseconds go" table: the whole request (ours and the anchor, server CPU per request
 * in the load run), the stages timed in process, and what is left (ours − anchor − stages): hooks, promises,
 * request and reply objects, garbage collection, and the stages' extra cost when caches are cold.
 */
export function microsecondRows({ ours, anchor, anchorLabel, stages }) {
  const oursUs = cpuMicrosPerRequest(ours);
  const anchorUs = cpuMicrosPerRequest(anchor);
  const share = (us) => `${fmt((us / oursUs) * 100, 0)} %`;
  const rows = [
    [
      '**ours: the whole request** (server process CPU ÷ requests, load run above)',
      fmt(oursUs, 1),
      '100 %',
      'load run',
    ],
    [`framework: ${anchorLabel}`, fmt(anchorUs, 1), share(anchorUs), 'load run (anchor)'],
  ];
  let staged = 0;
  for (const [label, ns] of stages) {
    const us = ns / 1000;
    staged += us;
    rows.push([label, fmt(us, 2), share(us), 'in process, same inputs']);
  }
  const rest = oursUs - anchorUs - staged;
  rows.push([
    'rest: hooks, promises, request/reply objects, GC, cold caches (ours − framework − the stages above)',
    fmt(rest, 1),
    share(rest),
    'difference',
  ]);
  return { rows, oursUs, anchorUs, staged, rest };
}

export const MICROSECOND_HEADERS = ['where', 'µs per request', 'share of ours', 'measured'];
