import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startUnleashServer,
  type UnleashServer,
  unleashServerOrSkip,
  unleashTestMajor,
} from '@runtime-control/testkit';

/**
 * `rctl seed --target unleash` against a real unleash-server (8.2.0 or 7.5.1 per RC_TEST_UNLEASH_VERSION; fresh
 * PostgreSQL database), driven through the CLI's `main` exactly as a user or the seed Job runs it.
 */

interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}
type CliMain = (argv: string[], io: CliIo) => Promise<number>;

// The CLI depends on this package, so it cannot be a project reference here; it is loaded from its build output.
const cliEntry = new URL('../../cli/dist/index.js', import.meta.url).href;
const repoRoot = new URL('../../../', import.meta.url).pathname;
const FLAGS_FILE = 'examples/devmentor/flags.yaml';
const DEVMENTOR_FLAGS = [
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

interface FeatureEnvironment {
  name: string;
  enabled: boolean;
  strategies: {
    id: string;
    name: string;
    parameters: Record<string, string>;
    constraints: { contextName: string; operator: string; values?: string[]; inverted?: boolean }[];
    variants: { name: string; weight: number; payload?: { type: string; value: string } }[];
  }[];
}

interface Feature {
  name: string;
  type: string;
  description: string;
  environments: FeatureEnvironment[];
}

describe('rctl seed --target unleash against a real unleash-server', unleashServerOrSkip(), () => {
  let unleash: UnleashServer;
  let cliMain: CliMain;
  let scratch: string;

  before(async () => {
    unleash = await startUnleashServer();
    cliMain = ((await import(cliEntry)) as { main: CliMain }).main;
    scratch = await mkdtemp(join(tmpdir(), 'rc-unleash-seed-'));
  });

  after(async () => {
    await unleash?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** Everything any run printed, to check that no secret ever appears. */
  const printed: string[] = [];

  async function rctlWithEnv(extraEnv: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const code = await cliMain(args, {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_UNLEASH_TOKEN: unleash.adminToken, ...extraEnv },
      cwd: repoRoot,
    });
    printed.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  const rctl = (...args: string[]) => rctlWithEnv({}, ...args);

  const seed = (file: string, ...extra: string[]) =>
    rctl('seed', file, '--target', 'unleash', '--unleash-url', unleash.url, ...extra);

  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${unleash.url}/api/admin${path}`, {
      method,
      headers: {
        authorization: unleash.adminToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  async function feature(name: string): Promise<Feature | undefined> {
    const r = await admin('GET', `/projects/default/features/${encodeURIComponent(name)}`);
    if (r.status === 404) return undefined;
    assert.equal(r.status, 200, `GET feature ${name}`);
    return r.json as Feature;
  }

  /** Every seeded feature as Unleash returns it: any write by the seed would change at least one of these. */
  async function exportAll(): Promise<Feature[]> {
    const features: Feature[] = [];
    for (const name of DEVMENTOR_FLAGS) {
      const f = await feature(name);
      assert.ok(f, `${name} exists`);
      // Unleash sets `lifecycle` itself, asynchronously after a feature is created (its 1 s event job): not a write
      // of the seed, so it is left out of the before/after comparison.
      const { lifecycle: _lifecycle, ...rest } = f as Feature & { lifecycle?: unknown };
      features.push(rest);
    }
    return features;
  }

  /** Unleash's event log records every write; an unchanged total means nothing was written. */
  async function eventCount(): Promise<number> {
    const r = await admin('GET', '/events');
    assert.equal(r.status, 200);
    const { totalEvents } = r.json as { totalEvents: number };
    assert.ok(totalEvents > 0);
    return totalEvents;
  }

  const env = (f: Feature | undefined, name: string): FeatureEnvironment => {
    const e = f?.environments.find((x) => x.name === name);
    assert.ok(e, `environment ${name} of ${f?.name}`);
    return e;
  };

  it('first run creates all six DevMentor flags, enabled per environment, with typed payloads', async () => {
    const run = await seed(FLAGS_FILE);
    assert.equal(run.code, 0, run.stderr);
    for (const name of DEVMENTOR_FLAGS)
      assert.match(run.stdout, new RegExp(`^created ${name.replace('.', '\\.')}$`, 'm'));
    assert.match(run.stdout, /6 created, 0 already present/);

    const ui = await feature('new-ui-enabled');
    for (const e of ['development', 'production']) {
      const settings = env(ui, e);
      assert.equal(settings.enabled, true, `new-ui-enabled enabled in ${e}`);
      assert.equal(settings.strategies.length, 1);
      assert.equal(settings.strategies[0]?.name, 'flexibleRollout');
      assert.equal(settings.strategies[0]?.parameters.rollout, '100');
      assert.equal(settings.strategies[0]?.parameters.groupId, 'new-ui-enabled');
      assert.deepEqual(
        settings.strategies[0]?.constraints.map((c) => [c.contextName, c.operator, c.values]),
        [['userId', 'IN', ['u-alice', 'u-bob', 'u-qa-1', 'u-qa-2']]],
      );
    }
    // Off by default: enabled, but a 0 % strategy (no strategy at all would mean on for everyone).
    const openai = env(await feature('ai-provider-openai-enabled'), 'production');
    assert.equal(openai.enabled, true);
    assert.deepEqual(
      openai.strategies.map((s) => s.parameters.rollout),
      ['0'],
    );
    const timeout = env(await feature('ai-gateway.request-timeout-ms'), 'production');
    assert.deepEqual(timeout.strategies[0]?.variants[0]?.payload, { type: 'number', value: '15000' });
    const routing = env(await feature('ai-gateway.routing'), 'development');
    const payload = routing.strategies[0]?.variants[0]?.payload;
    assert.equal(payload?.type, 'json');
    assert.deepEqual(JSON.parse(payload?.value ?? 'null'), {
      fallback: 'local',
      providers: [{ name: 'anthropic', model: 'claude-sonnet', weight: 100 }],
    });
    const cache = await feature('cache.ttl-seconds');
    assert.deepEqual(
      env(cache, 'development').strategies.map((s) => s.variants[0]?.payload),
      [
        { type: 'number', value: '30' },
        { type: 'number', value: '300' },
      ],
    );
  });

  it('a second run writes nothing and reports every flag as existing', async () => {
    const before = await exportAll();
    const eventsBefore = await eventCount();
    const run = await seed(FLAGS_FILE);
    assert.equal(run.code, 0, run.stderr);
    for (const name of DEVMENTOR_FLAGS) {
      assert.match(run.stdout, new RegExp(`^exists  ${name.replace('.', '\\.')} \\(in sync\\)$`, 'm'));
    }
    assert.match(run.stdout, /0 created, 6 already present \(0 differ from the file\), 0 updated/);
    assert.deepEqual(await exportAll(), before);
    assert.equal(await eventCount(), eventsBefore);
  });

  it('--plan reports a hand edit as drift for exactly that flag and writes nothing; --reconcile restores it', async () => {
    const inSync = await exportAll();
    // By hand: production off for ai-safety-pii.
    assert.equal(
      (await admin('POST', '/projects/default/features/ai-safety-pii/environments/production/off')).status,
      200,
    );
    // By hand: one more user in new-ui-enabled's production test-user list.
    const ui = env(await feature('new-ui-enabled'), 'production');
    const strategy = ui.strategies[0];
    assert.ok(strategy);
    const edited = {
      name: strategy.name,
      parameters: strategy.parameters,
      variants: strategy.variants,
      constraints: strategy.constraints.map((c) => ({ ...c, values: [...(c.values ?? []), 'u-mallory'] })),
    };
    const put = await admin(
      'PUT',
      `/projects/default/features/new-ui-enabled/environments/production/strategies/${strategy.id}`,
      edited,
    );
    assert.equal(put.status, 200, JSON.stringify(put.json));

    const eventsBefore = await eventCount();
    const drifted = await exportAll();
    const plan = await seed(FLAGS_FILE, '--plan');
    assert.equal(plan.code, 0, plan.stderr);
    const driftLines = plan.stdout.split('\n').filter((l) => l.startsWith('~ drift'));
    assert.deepEqual(driftLines.map((l) => l.split(/\s+/)[2]).sort(), ['ai-safety-pii', 'new-ui-enabled']);
    assert.match(plan.stdout, /\/environments\/production\/enabled: false → true/);
    assert.match(plan.stdout, /u-mallory/);
    assert.match(plan.stdout, /plan: 0 to create, 2 drifted, 4 in sync \(nothing was written\)/);
    assert.deepEqual(await exportAll(), drifted);
    assert.equal(await eventCount(), eventsBefore);

    // A plain seed leaves drift alone and says so.
    const plain = await seed(FLAGS_FILE);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /0 created, 6 already present \(2 differ from the file\), 0 updated/);
    assert.deepEqual(await exportAll(), drifted);

    const reconcile = await seed(FLAGS_FILE, '--reconcile');
    assert.equal(reconcile.code, 0, reconcile.stderr);
    assert.match(reconcile.stdout, /^updated ai-safety-pii$/m);
    assert.match(reconcile.stdout, /^updated new-ui-enabled$/m);
    assert.match(reconcile.stdout, /2 updated/);

    const restored = await exportAll();
    assert.equal(env(restored[1], 'production').enabled, true);
    assert.deepEqual(env(restored[0], 'production').strategies[0]?.constraints[0]?.values, [
      'u-alice',
      'u-bob',
      'u-qa-1',
      'u-qa-2',
    ]);
    // Equal to the file's state again, strategy ids aside (reconcile replaces strategies).
    assert.deepEqual(withoutStrategyIds(restored), withoutStrategyIds(inSync));
    const after = await seed(FLAGS_FILE, '--plan');
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /plan: 0 to create, 0 drifted, 6 in sync/);
  });

  it('refuses a flag Unleash cannot express, naming flag and construct, and leaves Unleash untouched', async () => {
    const file = join(scratch, 'unexpressible.yaml');
    await writeFile(
      file,
      `flags:
  - key: brand-new-flag
    type: boolean
    variants: { on: true, off: false }
    defaultVariant: off
    environments:
      production: { state: ENABLED }
  - key: adults-only
    type: boolean
    variants: { on: true, off: false }
    defaultVariant: off
    environments:
      production:
        state: ENABLED
        targeting: { if: [{ ">": [{ var: age }, 18] }, on, null] }
`,
    );
    const eventsBefore = await eventCount();
    const before = await exportAll();
    const run = await seed(file);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /flag "adults-only" at \/environments\/production\/targeting\/if\/0: >: /);
    assert.match(run.stderr, /nothing was written to Unleash/);
    assert.equal(await feature('brand-new-flag'), undefined);
    assert.equal(await feature('adults-only'), undefined);
    assert.deepEqual(await exportAll(), before);
    assert.equal(await eventCount(), eventsBefore);
    // --plan refuses the same way (translation comes before any request).
    const plan = await seed(file, '--plan');
    assert.equal(plan.code, 1);
    assert.match(plan.stderr, /adults-only/);
  });

  it('reports a rejected token without writing', async () => {
    let stderr = '';
    const code = await cliMain(['seed', FLAGS_FILE, '--target', 'unleash', '--unleash-url', unleash.url], {
      stdout: () => {},
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_UNLEASH_TOKEN: '*:*.not-a-real-token' },
      cwd: repoRoot,
    });
    assert.equal(code, 1);
    // With Unleash's own words (e.g. "UnauthorizedError: You must log in to use Unleash."), never the token.
    assert.match(stderr, /Unleash rejected the token \(401 \w+: [^)]+\) on POST /);
    assert.ok(!stderr.includes('not-a-real-token'));
  });

  describe("--bridge-url: the bridge's webhook addon", () => {
    const SECRET = 'e2e-sentinel-webhook-secret-7c1d9a';
    const OTHER_SECRET = 'e2e-sentinel-rotated-secret-52be0f';
    const DESCRIPTION = 'Runtime Control bridge (managed by rctl seed)';
    // A host name that resolves to a private address, as an in-cluster Service name does (Unleash 8 resolves it before
    // storing the addon). Port 9 (discard) is closed here: Unleash's calls to it fail at once and reach nobody.
    const BRIDGE_HOST = 'localhost';
    const BRIDGE_URL = `http://${BRIDGE_HOST}:9/`;
    const WEBHOOK_URL = `http://${BRIDGE_HOST}:9/api/integrations/unleash/webhook`;
    const EVENTS = [
      'feature-created',
      'feature-updated',
      'feature-archived',
      'feature-revived',
      'feature-environment-enabled',
      'feature-environment-disabled',
      'feature-strategy-add',
      'feature-strategy-update',
      'feature-strategy-remove',
      'feature-metadata-updated',
      'feature-variants-updated',
      'feature-project-change',
    ];

    interface Addon {
      id: number;
      provider: string;
      enabled: boolean;
      description: string;
      parameters: Record<string, string>;
      events: string[];
      projects: string[];
      environments: string[];
    }

    const seedBridge = (...extra: string[]) =>
      rctlWithEnv(
        { RC_UNLEASH_WEBHOOK_SECRET: SECRET },
        'seed',
        FLAGS_FILE,
        '--target',
        'unleash',
        '--unleash-url',
        unleash.url,
        '--bridge-url',
        BRIDGE_URL,
        ...extra,
      );

    async function addons(): Promise<Addon[]> {
      const r = await admin('GET', '/addons');
      assert.equal(r.status, 200);
      return (r.json as { addons: Addon[] }).addons;
    }

    async function bridgeAddons(): Promise<Addon[]> {
      return (await addons()).filter((a) => a.description === DESCRIPTION);
    }

    /** How many events of a type Unleash's event log holds (type names from unleash-server's lib/events). */
    async function eventsOfType(type: 'addon-config-created' | 'addon-config-updated'): Promise<number> {
      const r = await admin('GET', `/search/events?type=IS:${type}`);
      assert.equal(r.status, 200);
      const { events, total } = r.json as { events: { type: string }[]; total: number };
      assert.ok(events.every((e) => e.type === type));
      return total;
    }

    /**
     * Rewrites the addon with `changes`, sending the masked parameters back (Unleash then keeps the stored ones),
     * and returns the stored url and authorization, which Unleash's PUT answer carries in clear text.
     */
    async function putByHand(addon: Addon, changes: Partial<Addon>): Promise<Record<string, string>> {
      const { id: _id, ...rest } = addon as Addon & { createdAt?: unknown };
      const { createdAt: _createdAt, ...body } = rest as typeof rest & { createdAt?: unknown };
      const r = await admin('PUT', `/addons/${addon.id}`, { ...body, ...changes });
      assert.equal(r.status, 200);
      return (r.json as { parameters: Record<string, string> }).parameters;
    }

    it('refuses a bad --bridge-url or a too-short secret with exit 2 before writing, never printing the secret', async () => {
      const eventsBefore = await eventCount();
      const badUrl = await seed(FLAGS_FILE, '--bridge-url', 'runtime-control:4400');
      assert.equal(badUrl.code, 2);
      assert.match(badUrl.stderr, /--bridge-url must be/);

      const shortFile = join(scratch, 'short-secret');
      await writeFile(shortFile, 'short-e2e-7\n');
      const short = await seed(FLAGS_FILE, '--bridge-url', BRIDGE_URL, '--webhook-secret-file', shortFile);
      assert.equal(short.code, 2);
      assert.match(short.stderr, /--webhook-secret-file/);
      assert.match(short.stderr, /at least 16 characters without whitespace/);
      assert.doesNotMatch(short.stderr + short.stdout, /short-e2e-7/);

      const spaced = await rctlWithEnv(
        { RC_UNLEASH_WEBHOOK_SECRET: 'has white space but long enough' },
        'seed',
        FLAGS_FILE,
        '--target',
        'unleash',
        '--unleash-url',
        unleash.url,
        '--bridge-url',
        BRIDGE_URL,
      );
      assert.equal(spaced.code, 2);
      assert.match(spaced.stderr, /RC_UNLEASH_WEBHOOK_SECRET must be at least 16 characters without whitespace/);
      assert.doesNotMatch(spaced.stderr + spaced.stdout, /white space/);

      const missing = await seed(FLAGS_FILE, '--bridge-url', BRIDGE_URL);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /RC_UNLEASH_WEBHOOK_SECRET or pass --webhook-secret-file/);

      // Usage errors come before any request: nothing was written, not even the flags.
      for (const run of [badUrl, short, spaced, missing]) assert.equal(run.stdout, '');
      assert.equal(await eventCount(), eventsBefore);
      assert.deepEqual(await addons(), []);
    });

    it('without --bridge-url nothing about addons happens', async () => {
      const run = await seed(FLAGS_FILE);
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stdout, /addon/);
      assert.deepEqual(await addons(), []);
    });

    it('--plan reports the addon to create and writes nothing', async () => {
      const eventsBefore = await eventCount();
      const plan = await seedBridge('--plan');
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, new RegExp(`^\\+ create webhook addon → ${WEBHOOK_URL}$`, 'm'));
      assert.match(plan.stdout, /plan: 0 to create, 0 drifted, 6 in sync \(nothing was written\)/);
      assert.equal(await eventCount(), eventsBefore);
      assert.deepEqual(await addons(), []);
    });

    // Unleash 7 has no such check (its addons call any URL), so there is nothing to refuse there.
    if (unleashTestMajor() === '8')
      it('Unleash 8 without UNLEASH_ALLOW_LIST_INTEGRATION refuses the addon: exit 1 with its error and the fix, flags kept; the tests below run with it set', async () => {
        assert.ok(unleash.major >= 8, unleash.version);
        const eventsBefore = await eventCount();
        const run = await seedBridge();
        assert.equal(run.code, 1, run.stdout);
        // The flags went in first and stay; only the addon is missing.
        assert.match(run.stdout, /0 created, 6 already present/);
        assert.match(
          run.stderr,
          /creating the webhook addon failed \(HTTP 400\): Unleash says BadDataError: Request validation failed/,
        );
        assert.match(
          run.stderr,
          new RegExp(
            `\\n {2}fix: Unleash 8 refuses webhook URLs whose host resolves to a private, loopback or link-local address .*set UNLEASH_ALLOW_LIST_INTEGRATION=${BRIDGE_HOST} on the Unleash server`,
          ),
        );
        for (const sentinel of [unleash.adminToken, unleash.adminToken.split('.')[1] as string, SECRET])
          assert.ok(!(run.stdout + run.stderr).includes(sentinel), 'no token or secret in the output');
        assert.deepEqual(await addons(), []);
        assert.equal(await eventCount(), eventsBefore);

        // What the message says to do: allow-list the host and restart Unleash. The next test then creates the addon.
        await unleash.stopProcess();
        await unleash.startProcess({ allowListIntegration: [BRIDGE_HOST] });
      });

    it('creates exactly one enabled webhook addon with the 12 events, after the flags', async () => {
      const run = await seedBridge();
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^created webhook addon \\d+ → ${WEBHOOK_URL} `, 'm'));
      // Flags first, then the addon.
      assert.ok(run.stdout.indexOf('6 already present') < run.stdout.indexOf('webhook addon'), run.stdout);
      const all = await addons();
      assert.equal(all.length, 1);
      const [addon] = all;
      assert.equal(addon?.provider, 'webhook');
      assert.equal(addon?.description, DESCRIPTION);
      assert.equal(addon?.enabled, true);
      assert.deepEqual([...(addon?.events ?? [])].sort(), [...EVENTS].sort());
      assert.deepEqual(addon?.projects, ['*']);
      assert.deepEqual(addon?.environments, ['*']);
      assert.deepEqual(addon?.parameters, { url: '*****', authorization: '*****' });
      assert.equal(await eventsOfType('addon-config-created'), 1);
      assert.equal(await eventsOfType('addon-config-updated'), 0);
    });

    it('a second run writes nothing and reports the addon present', async () => {
      const [before] = await bridgeAddons();
      assert.ok(before);
      const eventsBefore = await eventCount();
      const run = await seedBridge();
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^  webhook addon present \\(id ${before.id};`, 'm'));
      assert.match(run.stdout, /0 created, 6 already present \(0 differ from the file\), 0 updated/);
      assert.deepEqual(await addons(), [before]);
      assert.equal(await eventsOfType('addon-config-created'), 1);
      assert.equal(await eventsOfType('addon-config-updated'), 0);
      assert.equal(await eventCount(), eventsBefore);
      // The secret file gives the same result as the environment variable.
      const secretFile = join(scratch, 'webhook-secret');
      await writeFile(secretFile, `${SECRET}\n`);
      const viaFile = await seed(FLAGS_FILE, '--bridge-url', BRIDGE_URL, '--webhook-secret-file', secretFile);
      assert.equal(viaFile.code, 0, viaFile.stderr);
      assert.match(viaFile.stdout, /^ {2}webhook addon present/m);
      assert.equal(await eventCount(), eventsBefore);
    });

    it('a hand-disabled addon: --plan and a plain run report drift on enabled and write nothing; --reconcile re-enables it', async () => {
      const [addon] = await bridgeAddons();
      assert.ok(addon);
      // Unleash's PUT answer shows what the seed stored: the webhook URL and the secret.
      const stored = await putByHand(addon, { enabled: false });
      assert.deepEqual(stored, { url: WEBHOOK_URL, authorization: `Bearer ${SECRET}` });
      const disabled = await bridgeAddons();
      assert.equal(disabled[0]?.enabled, false);
      const eventsBefore = await eventCount();
      const updatesBefore = await eventsOfType('addon-config-updated');

      const plan = await seedBridge('--plan');
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /^~ drift webhook addon: enabled: false → true/m);
      const plain = await seedBridge();
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^~ drift webhook addon: enabled: false → true .*left as is/m);
      assert.deepEqual(await bridgeAddons(), disabled);
      assert.equal(await eventCount(), eventsBefore);

      const reconcile = await seedBridge('--reconcile');
      assert.equal(reconcile.code, 0, reconcile.stderr);
      assert.match(
        reconcile.stdout,
        new RegExp(
          `^updated webhook addon ${addon.id} → ${WEBHOOK_URL} \\(was: enabled: false → true\\);.*only a rewrite guarantees`,
          'm',
        ),
      );
      const after = await bridgeAddons();
      assert.equal(after.length, 1);
      assert.equal(after[0]?.id, addon.id);
      assert.equal(after[0]?.enabled, true);
      assert.equal(await eventsOfType('addon-config-updated'), updatesBefore + 1);
      assert.equal(await eventsOfType('addon-config-created'), 1);
      const check = await seedBridge('--plan');
      assert.match(check.stdout, /^ {2}webhook addon present/m);
    });

    it('a changed secret: a plain run cannot see it (masked) and leaves it; --reconcile rewrites it', async () => {
      const withOtherSecret = (...extra: string[]) =>
        rctlWithEnv(
          { RC_UNLEASH_WEBHOOK_SECRET: OTHER_SECRET },
          'seed',
          FLAGS_FILE,
          '--target',
          'unleash',
          '--unleash-url',
          unleash.url,
          '--bridge-url',
          BRIDGE_URL,
          ...extra,
        );
      const eventsBefore = await eventCount();
      const plain = await withOtherSecret();
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^ {2}webhook addon present \(id \d+; Unleash masks its url and secret, --reconcile/m);
      assert.equal(await eventCount(), eventsBefore);
      const [addon] = await bridgeAddons();
      assert.ok(addon);
      assert.deepEqual(await putByHand(addon, {}), { url: WEBHOOK_URL, authorization: `Bearer ${SECRET}` });

      const reconcile = await withOtherSecret('--reconcile');
      assert.equal(reconcile.code, 0, reconcile.stderr);
      assert.match(reconcile.stdout, new RegExp(`^updated webhook addon ${addon.id} → ${WEBHOOK_URL}; `, 'm'));
      assert.deepEqual(await putByHand(addon, {}), { url: WEBHOOK_URL, authorization: `Bearer ${OTHER_SECRET}` });
    });

    it('with several addons of that description, uses the lowest id and warns', async () => {
      const [first] = await bridgeAddons();
      assert.ok(first);
      const { id: _id, createdAt: _c, ...copy } = first as Addon & { createdAt?: unknown };
      const created = await admin('POST', '/addons', {
        ...copy,
        enabled: false,
        parameters: { url: WEBHOOK_URL, authorization: 'Bearer duplicate-by-hand-0000' },
      });
      assert.ok(created.status === 200 || created.status === 201);
      const duplicateId = (created.json as { id: number }).id;
      assert.ok(duplicateId > first.id);
      const eventsBefore = await eventCount();
      const run = await seedBridge();
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`warning: 2 webhook addons .*using id ${first.id}; delete the others \\(id ${duplicateId}\\)`),
      );
      assert.match(run.stdout, new RegExp(`^  webhook addon present \\(id ${first.id};`, 'm'));
      assert.equal(await eventCount(), eventsBefore);
      assert.equal((await admin('DELETE', `/addons/${duplicateId}`)).status < 300, true);
    });

    it('no run printed a webhook secret', () => {
      const all = printed.join('\n');
      assert.ok(all.length > 0);
      for (const secret of [SECRET, OTHER_SECRET, 'duplicate-by-hand-0000', 'e2e-sentinel'])
        assert.ok(!all.includes(secret), `output contains ${secret}`);
      // Nor the admin token, whole or its secret part.
      assert.ok(!all.includes(unleash.adminToken) && !all.includes(unleash.adminToken.split('.')[1] as string));
    });
  });
});

function withoutStrategyIds(features: Feature[]): unknown {
  return features.map((f) => ({
    ...f,
    environments: f.environments.map((e) => ({ ...e, strategies: e.strategies.map(({ id: _id, ...s }) => s) })),
  }));
}
