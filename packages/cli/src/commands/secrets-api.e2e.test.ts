import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSecretsKey } from '@runtime-control/secrets';
import { main } from '../index.js';

// rctl secrets list / show / rotate and rctl exec against the real server on the local backend, with the DevMentor
// platform file's bundles.
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ADMIN_TOKEN = 'test-admin-token-secrets';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('rctl secrets list/show/rotate and rctl exec (local backend)', () => {
  let dataDir: string;
  let key: string;
  let server: { url: string; close(): Promise<void> };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rctl-secrets-'));
    key = generateSecretsKey();
    const { startServer } = await import('@runtime-control/server');
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_ADMIN_TOKEN: ADMIN_TOKEN,
        RC_LOG_LEVEL: 'silent',
        RC_PLATFORM_FILE: join(REPO_ROOT, 'examples/devmentor/platform.yaml'),
        RC_SECRETS_KEY: key,
      },
      print: () => {},
    });
  });

  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function rctl(
    argv: string[],
    options: { stdin?: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
  ): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: (s: string) => {
        stdout += s;
      },
      stderr: (s: string) => {
        stderr += s;
      },
      env: { RC_URL: server.url, RC_TOKEN: ADMIN_TOKEN, USER: 'e2e', RC_SECRETS_KEY: key, ...options.env },
      cwd: REPO_ROOT,
      ...(options.stdin === undefined ? {} : { stdin: Readable.from([options.stdin]) }),
    };
    const code = await main(argv, io, options.signal ? { signal: options.signal } : {});
    return { code, stdout, stderr };
  }

  it('list shows every bundle, missing at first', async () => {
    const r = await rctl(['secrets', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /BUNDLE\s+STATE\s+VERSION/);
    assert.match(r.stdout, /auth-service\/jwt\s+missing\s+-/);
    assert.match(r.stdout, /backend: local/);
    const json = await rctl(['secrets', 'list', '--json']);
    assert.equal(JSON.parse(json.stdout).bundles.length, 4);
  });

  it('rotate prints each step and the new version; show then reports in-sync', async () => {
    const r = await rctl(['secrets', 'rotate', 'auth-service/jwt']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotation [0-9a-f-]{36} of auth-service\/jwt \(JWT_SECRET\): steps write/);
    assert.match(r.stdout, /write\s+started/);
    assert.match(r.stdout, /write\s+succeeded: version 0 → 1/);
    assert.match(r.stdout, /done: auth-service\/jwt is at version 1 \(was 0\)/);
    const show = await rctl(['secrets', 'show', 'auth-service/jwt']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^auth-service\/jwt: in-sync/);
    assert.match(show.stdout, /version:\s+1 \(written /);
    assert.match(show.stdout, /rotation:\s+generated, 64 chars, base64url, max age 90d/);
    assert.match(show.stdout, /last rotation: [0-9a-f-]{36} completed/);
  });

  it('a supplied bundle: refused without a value (exit 1, the field named), rotated from stdin without echoing it', async () => {
    const refused = await rctl(['secrets', 'rotate', 'api-gateway/redis']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /VALIDATION_FAILED: .*supplied.* \(at \/value\)/);
    const value = `redis://:${randomBytes(16).toString('hex')}@cache.internal:6379/0`;
    const r = await rctl(['secrets', 'rotate', 'api-gateway/redis', '--value-stdin'], { stdin: `${value}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /done: api-gateway\/redis is at version 1/);
    for (const text of [r.stdout, r.stderr]) {
      assert.ok(!text.includes(value));
      assert.ok(!text.includes(Buffer.from(value).toString('base64')));
    }
  });

  it('define adds a bundle the platform file does not list; rotate gives it a value', async () => {
    const defined = await rctl([
      'secrets',
      'define',
      'demo/api-key',
      '--property',
      'KEY=DEMO_API_KEY',
      '--length',
      '40',
      '--alphabet',
      'hex',
      '--max-age',
      '30d',
    ]);
    assert.equal(defined.code, 0, defined.stderr);
    assert.match(defined.stdout, /defined demo\/api-key: missing\ngive it a value: rctl secrets rotate demo\/api-key/);
    const rotated = await rctl(['secrets', 'rotate', 'demo/api-key']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const show = await rctl(['secrets', 'show', 'demo/api-key']);
    assert.match(show.stdout, /^demo\/api-key: in-sync/);
    assert.match(show.stdout, /properties: KEY → DEMO_API_KEY/);
    const fromFile = await rctl(['secrets', 'define', 'auth-service/jwt', '--property', 'JWT_SECRET']);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /BUNDLE_DEFINED_IN_FILE/);
  });

  it('a failed rotation exits 1 with the step and the reason', async () => {
    const r = await rctl(['secrets', 'rotate', 'auth-service/jwt', '--expected-version', '99']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /write\s+failed/);
    assert.match(
      r.stderr,
      /rotation [0-9a-f-]{36} of auth-service\/jwt failed at write: CAS_MISMATCH: .*current version is 1, the rotation expected 99/,
    );
  });

  it('usage errors and unknown bundles', async () => {
    const bad = await rctl(['secrets', 'show', 'auth-service']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not SERVICE\/BUNDLE/);
    const unknown = await rctl(['secrets', 'show', 'auth-service/nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /SECRET_BUNDLE_NOT_FOUND/);
    const property = await rctl(['secrets', 'rotate', 'ai-gateway/providers', '--property', 'NOPE']);
    assert.equal(property.code, 1);
    assert.match(property.stderr, /no property "NOPE".*\(at \/property\)/);
  });

  it('exec runs the command with the bundles as env and restarts it on a rotation', async () => {
    const out = join(dataDir, 'exec-out.txt');
    // The child records a hash of what it got (never the value itself), then waits to be stopped.
    // It also lists which control-plane credentials reached it (none may: they are rctl's, not the service's).
    const script =
      "require('node:fs').writeFileSync(process.env.OUT+'.env',JSON.stringify(['RC_TOKEN','RC_ADMIN_TOKEN','RC_SECRETS_KEY','RC_VAULT_TOKEN','RC_METRICS_TOKEN','RC_UNLEASH_TOKEN'].filter(n=>process.env[n]!==undefined)));" +
      "const c=require('node:crypto');require('node:fs').appendFileSync(process.env.OUT," +
      "c.createHash('sha256').update(String(process.env.JWT_SECRET)+'|'+String(process.env.REDIS_URL)).digest('hex')+'\\n');" +
      'setInterval(()=>{},1000)';
    const abort = new AbortController();
    const running = rctl(['exec', '--service', 'api-gateway', '--', process.execPath, '-e', script], {
      signal: abort.signal,
      env: {
        ...process.env,
        OUT: out,
        RC_URL: server.url,
        RC_TOKEN: ADMIN_TOKEN,
        RC_SECRETS_KEY: key,
        RC_DATA_DIR: dataDir,
      },
    });
    let ended: CliRun | undefined;
    void running.then((r) => {
      ended = r;
    });
    const lines = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        if (ended) throw new Error(`rctl exec ended early (${ended.code}): ${ended.stderr}`);
        const text = await readFile(out, 'utf8').catch(() => '');
        const got = text.split('\n').filter(Boolean);
        if (got.length >= n) return got;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`the child did not write ${n} lines`);
    };
    const [first] = await lines(1);
    assert.match(first!, /^[0-9a-f]{64}$/);
    assert.deepEqual(JSON.parse(await readFile(`${out}.env`, 'utf8')), [], "rctl's credentials are not the child's");
    // Give the stream a moment to connect, then rotate a bundle api-gateway consumes.
    await new Promise((r) => setTimeout(r, 300));
    const rotated = await rctl(['secrets', 'rotate', 'auth-service/jwt']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const [, second] = await lines(2);
    assert.notEqual(second, first, 'the restarted child got the new value');
    abort.abort();
    const result = await running;
    assert.match(result.stderr, /rctl exec: JWT_SECRET, REDIS_URL from auth-service\/jwt, api-gateway\/redis/);
    assert.match(result.stderr, /auth-service\/jwt rotated to version 2; restarting/);
    assert.notEqual(result.code, 0, 'stopped by SIGTERM');
  });
  it('rotate --auto rotates generated bundles past their maximum age and names the command for supplied ones', async () => {
    const define = async (args: string[]) => {
      const r = await rctl(['secrets', 'define', ...args]);
      assert.equal(r.code, 0, r.stderr);
    };
    await define(['auto-demo/jwt', '--property', 'JWT_SECRET', '--generated', '--length', '48', '--max-age', '1s']);
    await define(['auto-demo/redis', '--property', 'REDIS_URL', '--supplied', '--max-age', '1s']);
    assert.equal((await rctl(['secrets', 'rotate', 'auto-demo/jwt'])).code, 0);
    const supplied = 'redis://:auto-demo-sentinel-value@cache:6379/0';
    assert.equal((await rctl(['secrets', 'rotate', 'auto-demo/redis', '--value-stdin'], { stdin: supplied })).code, 0);

    const fresh = await rctl(['secrets', 'rotate', '--auto']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /no bundle is past its maximum age/);

    await new Promise((r) => setTimeout(r, 2100));
    const dry = await rctl(['secrets', 'rotate', '--auto', '--dry-run']);
    assert.equal(dry.code, 1, 'something is overdue');
    assert.match(dry.stdout, /would rotate auto-demo\/jwt JWT_SECRET/);
    assert.match(dry.stdout, /skip auto-demo\/redis .*rctl secrets rotate auto-demo\/redis --value-stdin/);
    const unchanged = await rctl(['secrets', 'show', 'auto-demo/jwt', '--json']);
    assert.equal(JSON.parse(unchanged.stdout).currentVersion, 1, 'a dry run rotates nothing');

    const auto = await rctl(['secrets', 'rotate', '--auto']);
    assert.equal(auto.code, 1, 'the supplied bundle is still overdue');
    assert.match(auto.stdout, /rotating auto-demo\/jwt JWT_SECRET/);
    assert.match(auto.stdout, /write\s+succeeded: version 1 → 2/);
    assert.match(auto.stdout, /done: auto-demo\/jwt JWT_SECRET is at version 2/);
    assert.match(auto.stdout, /1 rotated, 1 need a value, 0 failed/);

    const json = await rctl(['secrets', 'rotate', '--auto', '--json']);
    assert.equal(json.code, 1);
    const result = JSON.parse(json.stdout);
    assert.deepEqual(result.rotated, [], 'auto-demo/jwt is no longer overdue');
    assert.deepEqual(
      result.skipped.map((s: { bundle: string }) => s.bundle),
      ['auto-demo/redis'],
    );
    for (const r of [dry, auto, json]) assert.ok(!`${r.stdout}${r.stderr}`.includes(supplied), 'a value printed');

    for (const args of [
      ['secrets', 'rotate', '--auto', 'auto-demo/jwt'],
      ['secrets', 'rotate', '--auto', '--property', 'JWT_SECRET'],
      ['secrets', 'rotate', 'auto-demo/jwt', '--dry-run'],
    ]) {
      const usage = await rctl(args);
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    }
  });
  it('rctl audit shows every rotation step with versions and actor, never a value', async () => {
    const r = await rctl(['audit', '--type', 'secret', '--key', 'auto-demo/jwt']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION\s+AT\s+ACTOR\s+ACTION\s+ENTITY/);
    // The --auto run above rotated version 1 → 2: its start, write and completion, with the actor.
    assert.match(
      r.stdout,
      /admin \(e2e\)\s+rotate\s+secret auto-demo\/jwt: vault-written write 1→2 \(rotation [0-9a-f]{8}\)$/m,
    );
    assert.match(r.stdout, /rotate\s+secret auto-demo\/jwt: completed write 1→2 \(rotation/);
    assert.match(r.stdout, /rotate\s+secret auto-demo\/jwt: started write \(rotation/);
    const failed = await rctl(['audit', '--type', 'secret', '--key', 'auth-service/jwt', '--json']);
    assert.equal(failed.code, 0, failed.stderr);
    const records = JSON.parse(failed.stdout).records as { after: { event: string; reason?: string } }[];
    assert.ok(
      records.some((a) => a.after.event === 'failed' && /check-and-set|CAS|version/i.test(a.after.reason ?? '')),
      'the failed rotation with its reason',
    );
    const bad = await rctl(['audit', '--type', 'secrets']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /type must be flag, evaluator, token or secret/);
    const all = await rctl(['audit', '--limit', '1000']);
    assert.ok(!all.stdout.includes('auto-demo-sentinel-value'), 'a supplied value in the audit log');
  });
});
