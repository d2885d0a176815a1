import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from './index.js';

// End-to-end: the real server (SQLite in a temp dir) on a free port, the CLI run in-process against it.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FLAGS_FILE = 'examples/devmentor/flags.yaml';
const ADMIN_TOKEN = 'test-admin-token';
const FLAG_KEYS = [
  'new-ui-enabled',
  'ai-safety-pii',
  'ai-provider-openai-enabled',
  'ai-gateway.request-timeout-ms',
  'cache.ttl-seconds',
  'ai-gateway.routing',
];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('rctl against the real server', () => {
  let dataDir: string;
  let server: { url: string; close(): Promise<void> };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rctl-e2e-'));
    const { startServer } = await import('@runtime-control/server');
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
  });

  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function rctl(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_URL: server.url, RC_TOKEN: ADMIN_TOKEN, USER: 'e2e', ...env },
      cwd: REPO_ROOT,
    });
    return { code, stdout, stderr };
  }

  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function flagState(key: string, env: string): Promise<string | undefined> {
    const { body } = await admin('GET', `/api/admin/flags/${key}`);
    return (body as { environments: Record<string, { state: string }> }).environments[env]?.state;
  }

  it('clients lists a connected service with its app name, environment and token; --env filters; --json parses', async () => {
    const created = await admin('POST', '/api/admin/tokens', {
      kind: 'client',
      environment: 'development',
      name: 'cli-clients-test',
    });
    const token = (created.body as { token: string }).token;
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/client/stream`, {
      headers: { authorization: `Bearer ${token}`, 'x-rc-app': 'project-service', 'x-rc-instance': 'pod-1/7' },
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    try {
      const table = await rctl(['clients']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^APP\s+INSTANCE\s+SDK\s+STREAM\s+ENVIRONMENT\s+TOKEN/m);
      assert.match(table.stdout, /project-service\s+pod-1\/7\s+\S+\s+sdk\s+development\s+cli-clients-test/);
      assert.match(table.stdout, /replicas: .*\(1 connection, live\)/);
      const filtered = await rctl(['clients', '--env', 'production']);
      assert.equal(filtered.code, 0, filtered.stderr);
      assert.match(filtered.stdout, /no clients connected/);
      const json = await rctl(['clients', '--app', 'project-service', '--json']);
      const view = JSON.parse(json.stdout) as { clients: { app: string; upToDate: boolean }[] };
      assert.deepEqual(
        view.clients.map((c) => [c.app, c.upToDate]),
        [['project-service', true]],
      );
      const bad = await rctl(['clients', 'extra']);
      assert.equal(bad.code, 2, 'a stray argument is a usage error');
    } finally {
      controller.abort();
    }
  });

  it('seed creates every flag and evaluator the first time', async () => {
    const run = await rctl(['seed', FLAGS_FILE]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^created evaluator internal-testers$/m);
    for (const key of FLAG_KEYS) assert.match(run.stdout, new RegExp(`^created ${key.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(run.stdout, /^6 created, 0 already present, 0 updated$/m);
  });

  it('seed a second time reports every flag as already present and changes nothing', async () => {
    const before = await admin('GET', '/api/admin/flags');
    const run = await rctl(['seed', FLAGS_FILE]);
    assert.equal(run.code, 0, run.stderr);
    for (const key of FLAG_KEYS) {
      assert.match(run.stdout, new RegExp(`^exists  ${key.replace(/\./g, '\\.')} \\(left as is\\)$`, 'm'));
    }
    assert.doesNotMatch(run.stdout, /^created/m);
    assert.match(run.stdout, /^0 created, 6 already present, 0 updated$/m);
    const afterSeed = await admin('GET', '/api/admin/flags');
    assert.deepEqual(afterSeed.body, before.body, 'the revision and every flag are unchanged');
  });

  it('seed keeps a hand change; --reconcile --dry-run shows it; --reconcile restores the file', async () => {
    const patched = await admin('PATCH', '/api/admin/flags/new-ui-enabled/environments/production', {
      state: 'DISABLED',
    });
    assert.equal(patched.status, 200);

    const plain = await rctl(['seed', FLAGS_FILE]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^exists {2}new-ui-enabled \(left as is\)$/m);
    assert.equal(await flagState('new-ui-enabled', 'production'), 'DISABLED');

    const revisionBefore = ((await admin('GET', '/api/admin/flags')).body as { revision: number }).revision;
    const dryRun = await rctl(['seed', FLAGS_FILE, '--reconcile', '--dry-run']);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /^ {2}~ \/environments\/production\/state: "DISABLED" → "ENABLED"$/m);
    assert.match(dryRun.stdout, /^would update new-ui-enabled$/m);
    assert.match(dryRun.stdout, /nothing was written/);
    assert.equal(await flagState('new-ui-enabled', 'production'), 'DISABLED');
    assert.equal(((await admin('GET', '/api/admin/flags')).body as { revision: number }).revision, revisionBefore);

    const reconcile = await rctl(['seed', FLAGS_FILE, '--reconcile']);
    assert.equal(reconcile.code, 0, reconcile.stderr);
    assert.match(reconcile.stdout, /^ {2}~ \/environments\/production\/state: "DISABLED" → "ENABLED"$/m);
    assert.match(reconcile.stdout, /^updated new-ui-enabled$/m);
    for (const key of FLAG_KEYS.filter((k) => k !== 'new-ui-enabled')) {
      assert.match(reconcile.stdout, new RegExp(`^unchanged ${key.replace(/\./g, '\\.')}$`, 'm'));
    }
    assert.match(reconcile.stdout, /^0 created, 6 already present, 1 updated$/m);
    assert.equal(await flagState('new-ui-enabled', 'production'), 'ENABLED');

    const again = await rctl(['seed', FLAGS_FILE, '--reconcile']);
    assert.match(again.stdout, /^0 created, 6 already present, 0 updated$/m, 'reconciling twice is a no-op');
  });

  it('flags list and get show the seeded flags', async () => {
    const list = await rctl(['flags', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^KEY\s+TYPE\s+DEVELOPMENT\s+PRODUCTION$/m);
    assert.match(list.stdout, /^ai-safety-pii\s+boolean\s+ENABLED\s+ENABLED$/m);
    const json = await rctl(['flags', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { flags: { key: string }[] }).flags.map((f) => f.key).sort(),
      [...FLAG_KEYS].sort(),
    );
    const get = await rctl(['flags', 'get', 'cache.ttl-seconds']);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^cache\.ttl-seconds \(number\)$/m);
    assert.match(get.stdout, /^ {4}short: 30$/m);
    const missing = await rctl(['flags', 'get', 'no-such-flag']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /FLAG_NOT_FOUND/);
  });

  it('flags disable and enable flip one environment', async () => {
    const disable = await rctl(['flags', 'disable', 'ai-safety-pii', '--env', 'development']);
    assert.equal(disable.code, 0, disable.stderr);
    assert.equal(disable.stdout, 'disabled ai-safety-pii in development\n');
    assert.equal(await flagState('ai-safety-pii', 'development'), 'DISABLED');
    assert.equal(await flagState('ai-safety-pii', 'production'), 'ENABLED');
    const evaluated = await rctl(['eval', 'ai-safety-pii', '--env', 'development', '--json']);
    assert.equal((JSON.parse(evaluated.stdout) as { reason: string }).reason, 'DISABLED');

    const enable = await rctl(['flags', 'enable', 'ai-safety-pii', '--env', 'development']);
    assert.equal(enable.code, 0, enable.stderr);
    assert.equal(await flagState('ai-safety-pii', 'development'), 'ENABLED');
  });

  it('eval uses --context and --targeting-key', async () => {
    const tester = await rctl(['eval', 'new-ui-enabled', '--env', 'production', '--context', 'targetingKey=u-alice']);
    assert.equal(tester.code, 0, tester.stderr);
    assert.match(tester.stdout, /^ {2}value: {3}true$/m);
    assert.match(tester.stdout, /^ {2}variant: on$/m);
    assert.match(tester.stdout, /^ {2}reason: {2}TARGETING_MATCH$/m);

    const other = await rctl([
      'eval',
      'new-ui-enabled',
      '--env',
      'production',
      '--targeting-key',
      'u-999',
      '--context',
      'age:=42',
      '--json',
    ]);
    assert.equal(other.code, 0, other.stderr);
    const result = JSON.parse(other.stdout) as { key: string; value: unknown; variant: string };
    assert.equal(result.key, 'new-ui-enabled');
    assert.equal(result.value, false);
    assert.equal(result.variant, 'off');

    const missing = await rctl(['eval', 'no-such-flag', '--env', 'production']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /FLAG_NOT_FOUND/);
  });

  it('flags override serves a variant to one targeting key, and --remove takes it away', async () => {
    const set = await rctl([
      'flags',
      'override',
      'new-ui-enabled',
      '--env',
      'production',
      '--user',
      'u-7',
      '--variant',
      'on',
    ]);
    assert.equal(set.code, 0, set.stderr);
    const on = await rctl(['eval', 'new-ui-enabled', '--env', 'production', '--targeting-key', 'u-7', '--json']);
    assert.deepEqual(
      { value: JSON.parse(on.stdout).value, variant: JSON.parse(on.stdout).variant },
      { value: true, variant: 'on' },
    );
    const remove = await rctl([
      'flags',
      'override',
      'new-ui-enabled',
      '--env',
      'production',
      '--user',
      'u-7',
      '--remove',
    ]);
    assert.equal(remove.code, 0, remove.stderr);
    const off = await rctl(['eval', 'new-ui-enabled', '--env', 'production', '--targeting-key', 'u-7', '--json']);
    assert.equal(JSON.parse(off.stdout).value, false);

    const badVariant = await rctl([
      'flags',
      'override',
      'new-ui-enabled',
      '--env',
      'production',
      '--user',
      'u-7',
      '--variant',
      'maybe',
    ]);
    assert.equal(badVariant.code, 1);
    assert.match(badVariant.stderr, /VALIDATION_FAILED|maybe/);
  });

  it('flags revert puts back an earlier version, audited as a revert; bad --to is a usage error', async () => {
    const disabled = await rctl(['flags', 'disable', 'new-ui-enabled', '--env', 'development']);
    assert.equal(disabled.code, 0, disabled.stderr);
    const audit = await rctl(['audit', '--flag', 'new-ui-enabled', '--json']);
    const records = JSON.parse(audit.stdout).records as { revision: number; action: string }[];
    const beforeDisable = records[1];
    assert.ok(beforeDisable, audit.stdout);
    const reverted = await rctl(['flags', 'revert', 'new-ui-enabled', '--to', String(beforeDisable.revision)]);
    assert.equal(reverted.code, 0, reverted.stderr);
    assert.match(
      reverted.stdout,
      new RegExp(
        `^reverted new-ui-enabled to its version at revision ${beforeDisable.revision} \\(now revision \\d+\\)$`,
        'm',
      ),
    );
    const after = JSON.parse((await rctl(['audit', '--flag', 'new-ui-enabled', '--json'])).stdout).records[0];
    assert.equal(after.action, 'revert');
    assert.equal(after.after.environments.development?.state, 'ENABLED');
    const table = await rctl(['audit', '--flag', 'new-ui-enabled', '--limit', '1']);
    assert.match(
      table.stdout,
      new RegExp(`^${after.revision}\\s+\\S+\\s+admin.*\\s+revert\\s+flag new-ui-enabled$`, 'm'),
    );
    const badFilter = await rctl(['audit', '--limit', 'lots']);
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /limit/);

    const bad = await rctl(['flags', 'revert', 'new-ui-enabled', '--to', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--to must be a revision number/);
    const unknown = await rctl(['flags', 'revert', 'new-ui-enabled', '--to', '999999']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /REVISION_NOT_FOUND|did not change at revision 999999/);
  });

  it('flags rollout serves a variant to a percentage of targeting keys', async () => {
    const rollout = await rctl([
      'flags',
      'rollout',
      'cache.ttl-seconds',
      '--env',
      'production',
      '--variant',
      'short',
      '--percentage',
      '100',
    ]);
    assert.equal(rollout.code, 0, rollout.stderr);
    const evaluated = await rctl([
      'eval',
      'cache.ttl-seconds',
      '--env',
      'production',
      '--targeting-key',
      'u-1',
      '--json',
    ]);
    assert.equal(JSON.parse(evaluated.stdout).value, 30);
    const clear = await rctl(['flags', 'rollout', 'cache.ttl-seconds', '--env', 'production', '--clear']);
    assert.equal(clear.code, 0, clear.stderr);
    const after = await rctl(['eval', 'cache.ttl-seconds', '--env', 'production', '--targeting-key', 'u-1', '--json']);
    assert.equal(JSON.parse(after.stdout).value, 300);
  });

  it('tokens create, list and revoke; a client token is rejected on the admin API with a clear message', async () => {
    const created = await rctl(['tokens', 'create', '--kind', 'client', '--env', 'production', '--name', 'e2e-client']);
    assert.equal(created.code, 0, created.stderr);
    const clientToken = created.stdout.trim();
    assert.ok(clientToken.length >= 16 && !clientToken.includes('\n'));
    const id = /token (\S+) "e2e-client"/.exec(created.stderr)?.[1];
    assert.ok(id, created.stderr);

    const list = await rctl(['tokens', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${id}\\s+e2e-client\\s+client\\s+production\\s+-\\s+\\S+\\s+active$`, 'm'));
    assert.ok(!list.stdout.includes(clientToken), 'list never shows secrets');

    const wrongKind = await rctl(['flags', 'list'], { RC_TOKEN: clientToken });
    assert.equal(wrongKind.code, 1);
    assert.match(wrongKind.stderr, /the server rejected the token \(WRONG_TOKEN_KIND\).*Set RC_TOKEN or --token/);

    const revoke = await rctl(['tokens', 'revoke', id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const listed = await rctl(['tokens', 'list', '--json']);
    const token = (JSON.parse(listed.stdout) as { tokens: { id: string; revokedAt: string | null }[] }).tokens.find(
      (t) => t.id === id,
    );
    assert.ok(token?.revokedAt);
  });

  it('seed loads a flags file with flag metadata, null default variants and flag sets; a --flag-set token reads its set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rctl-e2e-sets-'));
    try {
      const file = join(dir, 'payments.json');
      // flagd's shapes: set-level metadata (flagSetId for every flag that names none), a flag's own flagSetId and
      // metadata, and both spellings of "no default variant" (null, absent).
      await writeFile(
        file,
        JSON.stringify({
          metadata: { flagSetId: 'payments', team: 'billing' },
          flags: [
            {
              key: 'pay.checkout-v2',
              type: 'boolean',
              variants: { on: true, off: false },
              defaultVariant: null,
              metadata: { owner: 'team-pay', expiresOn: 20270301 },
              environments: {
                production: { state: 'ENABLED', targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] } },
              },
            },
            {
              key: 'pay.provider',
              type: 'string',
              variants: { stripe: 'stripe', adyen: 'adyen' },
              environments: { production: { state: 'ENABLED', overrides: { 'u-1': 'adyen' } } },
            },
            {
              key: 'search.ranking',
              type: 'string',
              variants: { bm25: 'bm25', neural: 'neural' },
              defaultVariant: 'bm25',
              metadata: { flagSetId: 'search' },
              environments: { production: { state: 'ENABLED' } },
            },
          ],
        }),
      );
      const seeded = await rctl(['seed', file]);
      assert.equal(seeded.code, 0, seeded.stderr);
      assert.match(seeded.stdout, /^3 created, 0 already present, 0 updated$/m);
      const again = await rctl(['seed', file]);
      assert.match(again.stdout, /^0 created, 3 already present, 0 updated$/m, 'idempotent with merged set metadata');
      const stored = (await admin('GET', '/api/admin/flags/pay.checkout-v2')).body as Record<string, unknown>;
      assert.deepEqual(stored.metadata, {
        flagSetId: 'payments',
        team: 'billing',
        owner: 'team-pay',
        expiresOn: 20270301,
      });
      assert.equal(stored.defaultVariant, null);

      const created = await rctl([
        'tokens',
        'create',
        '--kind',
        'client',
        '--env',
        'production',
        '--flag-set',
        'payments',
        '--json',
      ]);
      assert.equal(created.code, 0, created.stderr);
      const token = JSON.parse(created.stdout) as { token: string; flagSet: string };
      assert.equal(token.flagSet, 'payments');
      const list = await rctl(['tokens', 'list']);
      assert.match(list.stdout, /\sclient\s+production\s+payments\s/);
      const bad = await rctl(['tokens', 'create', '--kind', 'client', '--env', 'production', '--flag-set', 'no way']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /INVALID_FLAG_SET|flagSet/);
      const adminWithSet = await rctl(['tokens', 'create', '--kind', 'admin', '--flag-set', 'payments']);
      assert.equal(adminWithSet.code, 2);

      const client = { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' };
      const snapshot = (await (await fetch(`${server.url}/api/client/snapshot`, { headers: client })).json()) as {
        flags: Record<string, unknown>;
      };
      assert.deepEqual(Object.keys(snapshot.flags), ['pay.checkout-v2', 'pay.provider']);
      const bulk = (await (
        await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
          method: 'POST',
          headers: client,
          body: JSON.stringify({ context: { targetingKey: 'u-2', plan: 'free' } }),
        })
      ).json()) as { flags: Record<string, unknown>[] };
      assert.deepEqual(bulk.flags, [
        {
          key: 'pay.checkout-v2',
          reason: 'DEFAULT',
          metadata: { flagSetId: 'payments', team: 'billing', owner: 'team-pay', expiresOn: 20270301 },
        },
        { key: 'pay.provider', reason: 'DEFAULT', metadata: { flagSetId: 'payments', team: 'billing' } },
      ]);
      const outside = await fetch(`${server.url}/ofrep/v1/evaluate/flags/search.ranking`, {
        method: 'POST',
        headers: client,
        body: JSON.stringify({ context: {} }),
      });
      assert.equal(outside.status, 404);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a rejected admin token gives the clear message and is never printed', async () => {
    const run = await rctl(['flags', 'list', '--token', 'not-the-admin-token']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^rctl: the server rejected the token \(UNAUTHORIZED\): .*Set RC_TOKEN or --token to an admin token\.$/m,
    );
    assert.ok(!run.stderr.includes('not-the-admin-token'));
  });

  it("seed checks a file naming an environment the server lacks against the server's environments", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rctl-e2e-file-'));
    try {
      const file = join(dir, 'staging.yaml');
      // Line 7 names the environment the server is not configured with.
      await writeFile(
        file,
        [
          'flags:',
          '  - key: staged',
          '    type: boolean',
          '    variants: { on: true, off: false }',
          '    defaultVariant: off',
          '    environments:',
          '      staging: { state: ENABLED }',
          '',
        ].join('\n'),
      );
      const run = await rctl(['seed', file]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /staging\.yaml:7:\d+: .*unknown environment "staging" \(configured: development, production\)/,
      );
      assert.match(run.stderr, /nothing was written/);
      assert.equal((await admin('GET', '/api/admin/flags/staged')).status, 404);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('rctl unleash status', () => {
  const servers: { url: string; close(): Promise<void> }[] = [];
  const dirs: string[] = [];
  const startWith = async (env: Record<string, string>) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rctl-unleash-'));
    dirs.push(dataDir);
    const { startServer } = await import('@runtime-control/server');
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: { RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'silent', ...env },
      print: () => {},
    });
    servers.push(server);
    return server;
  };
  const run = async (url: string, argv: string[]): Promise<CliRun> => {
    let stdout = '';
    let stderr = '';
    const code = await main(['unleash', 'status', ...argv], {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_URL: url, RC_TOKEN: ADMIN_TOKEN, USER: 'e2e' },
      cwd: REPO_ROOT,
    });
    return { code, stdout, stderr };
  };

  after(async () => {
    for (const server of servers) await server.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('says the bridge is off and how to turn it on (exit 1)', async () => {
    const server = await startWith({});
    const result = await run(server.url, []);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /bridge: {2}disabled/);
    assert.match(result.stdout, /RC_UNLEASH_WEBHOOK_SECRET.*RC_UNLEASH_URL \+ RC_UNLEASH_TOKEN/);
  });

  it('shows a failing event watch with its reason and never the token (exit 1); --json gives the raw status', async () => {
    const token = '*:*.rctl-sentinel-token-0123456789';
    // A port that was free a moment ago and that nothing listens on: the watch cannot reach "Unleash".
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const unleashUrl = `http://127.0.0.1:${port}`;
    const server = await startWith({
      RC_UNLEASH_WEBHOOK_SECRET: 'rctl-unleash-webhook-secret-0123',
      RC_UNLEASH_URL: unleashUrl,
      RC_UNLEASH_TOKEN: token,
    });
    let result = await run(server.url, []);
    for (let i = 0; i < 100 && !result.stdout.includes('failing'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      result = await run(server.url, []);
    }
    assert.equal(result.code, 1);
    assert.match(result.stdout, /webhook: on/);
    assert.ok(result.stdout.includes(`watch:   failing ${unleashUrl} every 250 ms`), result.stdout);
    assert.ok(result.stdout.includes(`last error: cannot reach Unleash at ${unleashUrl}: ECONNREFUSED`), result.stdout);
    assert.match(result.stdout, /clients: 0 UnleashProvider/);
    const json = await run(server.url, ['--json']);
    assert.equal(json.code, 1);
    const status = JSON.parse(json.stdout) as { watch: { state: string }; webhook: { enabled: boolean } };
    assert.equal(status.watch.state, 'failing');
    assert.equal(status.webhook.enabled, true);
    for (const output of [result.stdout, result.stderr, json.stdout]) {
      assert.ok(!output.includes('rctl-sentinel'), 'the Unleash token is never printed');
      assert.ok(!output.includes('rctl-unleash-webhook-secret'), 'nor the webhook secret');
    }
  });

  /**
   * An HTTP server answering the three admin API reads the server makes, with Unleash's shapes (the real Unleash 8
   * behaviour behind them is covered by packages/sdk/src/unleash/unleash-bridge.e2e.test.ts); it checks the token.
   */
  const fakeUnleash = async (token: string, answers: Record<string, unknown>) => {
    const server = createHttpServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const body = req.headers.authorization === token && Object.hasOwn(answers, path) ? answers[path] : undefined;
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { name: 'NotFoundError', message: 'not here' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      url: '',
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const ADDON = {
    id: 4,
    provider: 'webhook',
    enabled: true,
    description: 'Runtime Control bridge (managed by rctl seed)',
    parameters: { url: '*****', authorization: '*****' },
  };

  for (const [name, addons, events, expected] of [
    [
      'missing',
      [],
      undefined,
      [
        /^addon: {3}missing in Unleash — create it with "rctl seed .* --bridge-url RC_URL"; if Unleash refused it \(HTTP 400\), Unleash 8 refuses .* unless UNLEASH_ALLOW_LIST_INTEGRATION lists the host$/m,
      ],
    ],
    [
      'failing',
      [ADDON],
      [
        {
          id: 9,
          integrationId: 4,
          createdAt: '2026-01-02T03:04:05.000Z',
          state: 'failed',
          stateDetails: 'Webhook request failed with status code: 0.',
          details: { url: 'http://runtime-control:4400/api/integrations/unleash/webhook' },
        },
      ],
      [
        /^addon: {3}failing \(id 4\): Unleash's last call \(2026-01-02T03:04:05\.000Z\) failed: Webhook request failed with status code: 0\.$/m,
        /^ {9}check that Unleash reaches the bridge URL; .*\(UNLEASH_ALLOW_LIST_INTEGRATION=runtime-control; restart Unleash\)$/m,
      ],
    ],
    ['disabled', [{ ...ADDON, enabled: false }], undefined, [/^addon: {3}disabled in Unleash \(id 4\) — enable it/m]],
  ] as const) {
    it(`a ${name} webhook addon is reported with the fix, and that the event watch alone still carries changes (exit 0)`, async () => {
      const token = '*:*.rctl-sentinel-addon-token-0123456789';
      const unleashUrl = await fakeUnleash(token, {
        '/api/admin/search/events': { events: [{ id: 1, type: 'feature-created', featureName: 'a' }], total: 1 },
        '/api/admin/addons': { addons },
        ...(events ? { '/api/admin/addons/4/events': { integrationEvents: events } } : {}),
      });
      const server = await startWith({
        RC_UNLEASH_WEBHOOK_SECRET: 'rctl-unleash-webhook-secret-0123',
        RC_UNLEASH_URL: unleashUrl,
        RC_UNLEASH_TOKEN: token,
      });
      let result = await run(server.url, []);
      for (let i = 0; i < 100 && !result.stdout.includes('watch:   watching'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        result = await run(server.url, []);
      }
      assert.equal(result.code, 0, result.stdout + result.stderr);
      for (const pattern of expected) assert.match(result.stdout, pattern);
      assert.match(
        result.stdout,
        /^ {9}the event watch alone still carries changes: providers hear of each within ~250 ms \(one read of the event log every 250 ms\)$/m,
      );
      const json = JSON.parse((await run(server.url, ['--json'])).stdout) as { webhook: { addon: { state: string } } };
      assert.equal(json.webhook.addon.state, name);
      assert.ok(!result.stdout.includes('rctl-sentinel') && !result.stdout.includes('rctl-unleash-webhook-secret'));
    });
  }
});

describe('rctl up', () => {
  it('starts the server in-process, serves /health, and stops cleanly with exit code 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rctl-up-'));
    const controller = new AbortController();
    let stdout = '';
    let stderr = '';
    try {
      const exit = main(
        ['up', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
        {
          stdout: (s) => {
            stdout += s;
          },
          stderr: (s) => {
            stderr += s;
          },
          env: { RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'silent' },
          cwd: REPO_ROOT,
        },
        { signal: controller.signal },
      );
      let url: string | undefined;
      for (let i = 0; i < 200 && !url; i++) {
        url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(url, `no URL in: ${stderr}${stdout}`);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      controller.abort();
      assert.equal(await exit, 0);
      await assert.rejects(fetch(`${url}/health`), 'the server stopped listening');
    } finally {
      controller.abort();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
