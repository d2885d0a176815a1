import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startUnleashServer, type UnleashServer, unleashServerOrSkip } from '@runtime-control/testkit';

/**
 * `rctl seed --target unleash` against a real unleash-server (7.5.1, fresh PostgreSQL database), driven through the
 * CLI's `main` exactly as a user or the seed Job runs it.
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

  async function rctl(...args: string[]): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const code = await cliMain(args, {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { RC_UNLEASH_TOKEN: unleash.adminToken },
      cwd: repoRoot,
    });
    return { code, stdout, stderr };
  }

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
    assert.match(stderr, /Unleash rejected the token \(401\)/);
  });
});

function withoutStrategyIds(features: Feature[]): unknown {
  return features.map((f) => ({
    ...f,
    environments: f.environments.map((e) => ({ ...e, strategies: e.strategies.map(({ id: _id, ...s }) => s) })),
  }));
}
