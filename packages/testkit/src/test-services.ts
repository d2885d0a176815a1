import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { type SupervisedChild, superviseChild, waitUntilReady } from './child-process.js';

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
 * The CI-or-skip rule every suite needing a service follows. `reasons` lists what is missing (undefined entries are
 * ignored): none → `{}`, the suite runs; some and not in CI → `{ skip: reason }`; some under `CI=true` → throws,
 * failing the test file (a CI run that skips is a false green).
 */
export function skipOrFail(reasons: readonly (string | undefined)[]): { skip?: string } {
  const missing = reasons.filter((r): r is string => r !== undefined);
  if (missing.length === 0) return {};
  const reason = missing.join('; ');
  if (isCi()) throw new Error(`CI=true but a suite cannot run: ${reason}. Under CI every suite must run, not skip`);
  return { skip: reason };
}

/**
 * Options for `describe`/`it`: `{}` when `value` (a URL, a binary path…) is available, `{ skip: reason }` when it is
 * not and we are not in CI. Under `CI=true` a missing service throws, failing the test file.
 */
export function serviceOrFail(name: string, value: string | undefined): { skip?: string } {
  return skipOrFail([skipReason(name, value)]);
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

/**
 * Creates a fresh database `<prefix>_<random>` (default prefix `rc_test`) on the server `adminUrl` points at; the
 * user must be allowed CREATE DATABASE.
 */
export async function createTestDatabase(adminUrl: string, options: { prefix?: string } = {}): Promise<TestDatabase> {
  const prefix = options.prefix ?? 'rc_test';
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`invalid database name prefix ${JSON.stringify(prefix)}`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
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

export interface RedisServerHandle {
  url: string;
  port: number;
  /** True while the process runs. */
  readonly running: boolean;
  /** Stops the server (SIGTERM, SIGKILL after 10 s) and waits for the process to exit. A no-op when it is not running. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. A no-op when it is running. */
  start(): Promise<void>;
}

/**
 * Spawns a throw-away `redis-server` (no persistence, loopback only) on a free port, for tests that stop and restart
 * Redis. Call `stop()` in an `after` hook; a process left running is also sent SIGTERM when the test process exits.
 */
export async function startRedisServer(options: { port?: number; binary?: string } = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? redisServerBinary();
  if (!binary) throw new Error('redis-server not found: install it or set RC_TEST_REDIS_SERVER to its path');
  const port = options.port ?? (await freePort());
  let child: SupervisedChild | undefined;

  const start = async (): Promise<void> => {
    if (child) return;
    const supervised = superviseChild(
      spawn(
        binary,
        ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--daemonize', 'no'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
      { outputLimit: 4000 },
    );
    child = supervised;
    void supervised.exited.then(() => {
      if (child === supervised) child = undefined;
    });
    await waitUntilReady(supervised, () => pingRedis(port), {
      what: `redis-server on port ${port}`,
      readyWhen: 'PING answers +PONG',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  };

  const stop = async (): Promise<void> => {
    await child?.stop();
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

/**
 * Creates a client token on a running Runtime Control server (`POST /api/admin/tokens`) and returns it; throws with
 * the server's answer unless it is 201.
 */
export async function createClientToken(serverUrl: string, adminToken: string, environment: string): Promise<string> {
  const res = await fetch(`${serverUrl}/api/admin/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'client', environment }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`creating a client token for ${environment}: ${res.status} ${text}`);
  return (JSON.parse(text) as { token: string }).token;
}
