import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '@runtime-control/server';

/**
 * DevMentor's services taking their secrets through `rctl exec` (the laptop path of runbook §1): the control plane on
 * the local backend with the platform file's bundles, auth-service and api-gateway each started by
 * `rctl exec --service NAME -- node NAME-server.js` as separate processes. auth-service signs with JWT_SECRET,
 * api-gateway verifies with it and requires REDIS_URL; a rotation of auth-service/jwt restarts both, after which old
 * tokens are refused and new ones accepted. The REDIS_URL value appears in no output or response.
 */

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RCTL = join(REPO_ROOT, 'packages/cli/bin/rctl.js');
const DIST = fileURLToPath(new URL('.', import.meta.url));
const ADMIN = 'rc-devmentor-secrets-admin-token-0123';
// The base64 of 32 fixed bytes: a throwaway test key.
const KEY = Buffer.alloc(32, 7).toString('base64');

interface Exec {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

describe('DevMentor services get JWT_SECRET and REDIS_URL through rctl exec', () => {
  let server: RunningServer;
  let dataDir: string;
  let clientToken: string;
  const execs: Exec[] = [];
  const responses: string[] = [];
  const redisUrl = `redis://:${randomBytes(18).toString('base64url')}@cache.devmentor.internal:6379/0`;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  const rotate = async (bundle: string, body: Record<string, unknown> = {}) => {
    const started = await admin('POST', `/api/admin/secrets/${bundle}/rotate`, body);
    for (let i = 0; i < 200; i++) {
      const state = await admin('GET', `/api/admin/secrets/${bundle}/rotations/${started.id}`);
      if (state.status === 'completed') return state;
      assert.equal(state.status, 'running', JSON.stringify(state));
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`rotation of ${bundle} did not finish`);
  };

  const exec = (service: string): Exec => {
    const proc = spawn(
      process.execPath,
      [RCTL, 'exec', '--service', service, '--', process.execPath, join(DIST, `${service}-server.js`)],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          RC_URL: server.url,
          RC_TOKEN: ADMIN,
          RC_DATA_DIR: dataDir,
          RC_SECRETS_KEY: KEY,
          RC_CLIENT_TOKEN: clientToken,
          PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    proc.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    proc.stderr!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const e = { proc, output: () => output, exited };
    execs.push(e);
    return e;
  };

  /** The URL of the `n`th start of the service (1 = first), from its "listening on" line. */
  const listening = async (e: Exec, service: string, n: number): Promise<string> => {
    const pattern = new RegExp(`${service} listening on (http://\\S+)`, 'g');
    for (let i = 0; i < 400; i++) {
      const urls = [...e.output().matchAll(pattern)].map((m) => m[1]!);
      if (urls.length >= n) return urls[n - 1]!;
      if (e.proc.exitCode !== null) throw new Error(`rctl exec ended: ${e.output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${service} did not start ${n} time(s): ${e.output()}`);
  };

  const call = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, init);
    const text = await res.text();
    responses.push(text);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  };
  const login = async (authUrl: string, user: string) =>
    (
      await call(`${authUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      })
    ).body.token as string;
  const me = (apiUrl: string, token: string) =>
    call(`${apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-devmentor-secrets-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: ADMIN,
        RC_LOG_LEVEL: 'silent',
        RC_PLATFORM_FILE: join(REPO_ROOT, 'examples/devmentor/platform.yaml'),
        RC_SECRETS_KEY: KEY,
      },
      print: () => {},
    });
    await rotate('auth-service/jwt');
    await rotate('api-gateway/redis', { value: redisUrl });
    clientToken = (await admin('POST', '/api/admin/tokens', { kind: 'client', environment: 'development' }))
      .token as string;
  });

  after(async () => {
    for (const e of execs) if (e.proc.exitCode === null) e.proc.kill('SIGTERM');
    await Promise.all(execs.map((e) => e.exited));
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('auth-service signs and api-gateway verifies with the same JWT_SECRET; a rotation restarts both on the new one', async () => {
    const auth = exec('auth-service');
    const api = exec('api-gateway');
    const authUrl = await listening(auth, 'auth-service', 1);
    const apiUrl = await listening(api, 'api-gateway', 1);
    assert.match(auth.output(), /rctl exec: JWT_SECRET from auth-service\/jwt/);
    assert.match(api.output(), /rctl exec: JWT_SECRET, REDIS_URL from auth-service\/jwt, api-gateway\/redis/);
    assert.match(api.output(), /api-gateway listening on \S+ \(JWT_SECRET, REDIS_URL from the environment\)/);

    const before = await login(authUrl, 'u-123');
    assert.deepEqual((await me(apiUrl, before)).body, { user: 'u-123' });
    assert.equal((await me(apiUrl, `${before.slice(0, -2)}xx`)).status, 401, 'a forged signature is refused');
    assert.deepEqual((await call(`${apiUrl}/health/secrets`)).body, {
      secrets: { JWT_SECRET: 'set', REDIS_URL: 'redis' },
    });

    // Give both streams a moment to connect, then rotate the bundle both consume.
    await new Promise((r) => setTimeout(r, 300));
    await rotate('auth-service/jwt');
    const authUrl2 = await listening(auth, 'auth-service', 2);
    const apiUrl2 = await listening(api, 'api-gateway', 2);
    assert.match(auth.output(), /auth-service\/jwt rotated to version 2; restarting/);
    assert.match(api.output(), /auth-service\/jwt rotated to version 2; restarting/);

    assert.equal((await me(apiUrl2, before)).status, 401, 'a token signed with the old secret is refused');
    const after = await login(authUrl2, 'u-123');
    assert.deepEqual((await me(apiUrl2, after)).body, { user: 'u-123' });

    const forms = [redisUrl, Buffer.from(redisUrl).toString('base64'), encodeURIComponent(redisUrl)];
    for (const text of [auth.output(), api.output(), ...responses]) {
      for (const form of forms) assert.ok(!text.includes(form), 'REDIS_URL in an output or response');
    }
  });

  it('a service started without its secrets says which variable and what to run', async () => {
    const proc = spawn(process.execPath, [join(DIST, 'api-gateway-server.js')], {
      env: { PATH: process.env.PATH, JWT_SECRET: 'x'.repeat(40) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(stderr, /api-gateway cannot start: REDIS_URL is not set: .*rctl exec --service api-gateway/);
    assert.ok(!stderr.includes('x'.repeat(40)), 'the JWT secret is not quoted');
  });
});
