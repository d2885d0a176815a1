import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import pg from 'pg';

/**
 * Helpers for tests that need real services. A suite that needs a service reads its URL from `RC_TEST_*`; when the
 * variable is unset it is skipped locally, but under `CI=true` it must fail (a CI run that skips is a false green).
 */

/** `RC_TEST_DATABASE_URL`, or undefined when unset. */
export function requireTestDatabaseUrl(): string | undefined {
  return process.env.RC_TEST_DATABASE_URL || undefined;
}

/** `RC_TEST_REDIS_URL`, or undefined when unset. */
export function requireTestRedisUrl(): string | undefined {
  return process.env.RC_TEST_REDIS_URL || undefined;
}

export function isCi(): boolean {
  return process.env.CI === 'true';
}

/** Why a suite needing `name` must be skipped, or undefined when `value` is available. */
export function skipReason(name: string, value: string | undefined): string | undefined {
  return value ? undefined : `${name} is not set; this suite needs it (under CI=true it fails instead of skipping)`;
}

/**
 * Options for `describe`/`it`: `{}` when `value` (a URL, a binary path…) is available, `{ skip: reason }` when it is
 * not and we are not in CI. Under `CI=true` a missing service throws, failing the test file.
 */
export function serviceOrFail(name: string, value: string | undefined): { skip?: string } {
  const reason = skipReason(name, value);
  if (reason === undefined) return {};
  if (isCi()) throw new Error(`CI=true but ${name} is not set: suites needing it must run in CI, not skip`);
  return { skip: reason };
}

/** Combines several `serviceOrFail` results: skipped if any is. */
export function allServices(...checks: { skip?: string }[]): { skip?: string } {
  const skips = checks.map((c) => c.skip).filter((s): s is string => s !== undefined);
  return skips.length > 0 ? { skip: skips.join('; ') } : {};
}

export interface TestDatabase {
  /** URL of the new, empty database. */
  url: string;
  name: string;
  /** Drops the database, terminating any connection still open to it. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  // A server-side disconnect of an idle client must not crash the test process.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database `rc_test_<random>` on the server `adminUrl` points at. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `rc_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  let dropped = false;
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A port nobody listens on right now (the OS picks it; a small race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The `redis-server` binary: `RC_TEST_REDIS_SERVER`, else the first on PATH, else `/usr/bin/redis-server`. */
export function redisServerBinary(): string | undefined {
  const candidates = [
    process.env.RC_TEST_REDIS_SERVER,
    ...(process.env.PATH ?? '').split(delimiter).map((d) => d && join(d, 'redis-server')),
    '/usr/bin/redis-server',
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not there; try the next
    }
  }
  return undefined;
}

/** Sends PING over a raw socket; resolves true on `+PONG`. */
function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisServerHandle {
  url: string;
  port: number;
  /** True while the process runs. */
  readonly running: boolean;
  /** Stops the server (SIGTERM) and waits for the process to exit. A no-op when it is not running. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. A no-op when it is running. */
  start(): Promise<void>;
}

/** Every redis-server this process started and has not seen exit: terminated if the test process exits early. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGTERM');
  });
}

/**
 * Spawns a throw-away `redis-server` (no persistence, loopback only) on a free port, for tests that stop and restart
 * Redis. Call `stop()` in an `after` hook; a process left running is also sent SIGTERM when the test process exits.
 */
export async function startRedisServer(options: { port?: number; binary?: string } = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? redisServerBinary();
  if (!binary) throw new Error('redis-server not found: install it or set RC_TEST_REDIS_SERVER to its path');
  const port = options.port ?? (await freePort());
  installExitHook();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async (): Promise<void> => {
    if (child) return;
    output = '';
    const proc = spawn(
      binary,
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    liveChildren.add(proc);
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exitInfo: string | undefined;
    exited = new Promise<void>((resolve) => {
      proc.on('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        liveChildren.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
    });
    proc.on('error', (err) => {
      exitInfo = `failed to start: ${err.message}`;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exitInfo) throw new Error(`redis-server on port ${port} ${exitInfo}:\n${output}`);
      if (await pingRedis(port)) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output}`);
      }
      await sleep(50);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`redis-server (pid ${proc.pid}) did not exit within 10 s of SIGTERM`)),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== undefined;
    },
    stop,
    start,
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; rejects with the last value or error. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what}: not true within ${timeoutMs} ms (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}
