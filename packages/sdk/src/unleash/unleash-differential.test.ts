import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EvaluationContext, ResolutionDetails } from '@openfeature/server-sdk';
import { type RunningServer, startServer } from '@runtime-control/server';
import {
  createClientToken,
  repoRoot,
  startUnleashServer,
  type UnleashServer,
  unleashServerOrSkip,
} from '@runtime-control/testkit';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { UnleashProvider } from './unleash-provider.js';

/**
 * Differential test: the same flags files seeded into a real Unleash (through `rctl seed --target unleash`) and into
 * our server (startServer's seed file, then `rctl seed`), evaluated for thousands of generated contexts through
 * UnleashProvider and RuntimeControlProvider. On/off flags and test-user lists (overrides included) must agree for
 * every context in both environments; typed knobs with test-user lists are compared too.
 */

interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}
type CliMain = (argv: string[], io: CliIo) => Promise<number>;

const ADMIN = 'rc-differential-admin-token-0123456789';
const ENVIRONMENTS = ['development', 'production'] as const;
const CONTEXTS_PER_ENVIRONMENT = 3000;
const INTERNAL_TESTERS = ['u-alice', 'u-bob', 'u-qa-1', 'u-qa-2'];

/** Per-user overrides (what `rctl flags override` writes), in both environments, mixed with targeting. */
const OVERRIDES_FILE = `environments: [development, production]
flags:
  - key: checkout-v2
    type: boolean
    variants: { on: true, off: false }
    defaultVariant: off
    environments:
      development:
        state: ENABLED
        overrides: { u-1: on, u-2: on, u-alice: off }
        targeting: { if: [{ in: [{ var: targetingKey }, [u-alice, u-bob, u-3]] }, on, null] }
      production:
        state: ENABLED
        overrides: { u-5: on, u-qa-1: on }
  - key: search-kill-switch
    type: boolean
    variants: { on: true, off: false }
    defaultVariant: on
    environments:
      development:
        state: ENABLED
        overrides: { u-7: off, u-8: off, u-9: on }
      production:
        state: ENABLED
        overrides: { u-bob: off }
  - key: retry-budget
    type: number
    variants: { normal: 3, generous: 10, none: 0 }
    defaultVariant: normal
    environments:
      development:
        state: ENABLED
        overrides: { u-1: generous, u-2: none }
      production:
        state: ENABLED
        overrides: { u-alice: generous }
`;

const BOOLEAN_FLAGS = [
  'new-ui-enabled',
  'ai-safety-pii',
  'ai-provider-openai-enabled',
  'checkout-v2',
  'search-kill-switch',
] as const;
const NUMBER_FLAGS = ['cache.ttl-seconds', 'retry-budget'] as const;

/** Deterministic (seeded) contexts: listed users and overridden users often, random users and anonymous ones too. */
function generateContexts(count: number, seed: number): EvaluationContext[] {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
  const listed = [...INTERNAL_TESTERS, 'u-1', 'u-2', 'u-3', 'u-5', 'u-7', 'u-8', 'u-9', 'U-ALICE', 'u-alice '];
  const contexts: EvaluationContext[] = [];
  for (let i = 0; i < count; i++) {
    const roll = next();
    const context: EvaluationContext = {};
    if (roll < 0.3) context.targetingKey = listed[Math.floor(next() * listed.length)];
    else if (roll < 0.95) context.targetingKey = `u-${Math.floor(next() * 1_000_000)}`;
    // else: anonymous (no targeting key)
    if (next() < 0.5) context.plan = next() < 0.5 ? 'pro' : 'free';
    if (next() < 0.3) context.sessionId = `s-${Math.floor(next() * 1000)}`;
    contexts.push(context);
  }
  return contexts;
}

describe('UnleashProvider and RuntimeControlProvider agree on the same flags files', unleashServerOrSkip(), () => {
  let unleash: UnleashServer;
  let rc: RunningServer;
  let scratch: string;
  let cliMain: CliMain;
  const unleashProviders = new Map<string, UnleashProvider>();
  const rcProviders = new Map<string, RuntimeControlProvider>();

  async function rctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    let output = '';
    const code = await cliMain(args, {
      stdout: (s) => {
        output += s;
      },
      stderr: (s) => {
        output += s;
      },
      env,
      cwd: repoRoot(),
    });
    assert.equal(code, 0, `rctl ${args.join(' ')}:\n${output}`);
    return output;
  }

  async function unleashBackendToken(environment: string): Promise<string> {
    if (environment === 'development') return unleash.clientToken;
    const res = await fetch(`${unleash.url}/api/admin/api-tokens`, {
      method: 'POST',
      headers: { authorization: unleash.adminToken, 'content-type': 'application/json' },
      body: JSON.stringify({
        tokenName: `differential-${environment}`,
        type: 'backend',
        environment,
        projects: ['default'],
      }),
    });
    const body = (await res.json()) as { secret?: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.ok(body.secret);
    return body.secret;
  }

  const rcClientToken = (environment: string) => createClientToken(rc.url, ADMIN, environment);

  before(async () => {
    // The CLI is not a dependency of the SDK; it is loaded from its build output.
    cliMain = ((await import(new URL('../../../cli/dist/index.js', import.meta.url).href)) as { main: CliMain }).main;
    scratch = await mkdtemp(join(tmpdir(), 'rc-differential-'));
    const overridesFile = join(scratch, 'overrides.yaml');
    await writeFile(overridesFile, OVERRIDES_FILE);
    const devmentor = join(repoRoot(), 'examples/devmentor/flags.yaml');

    unleash = await startUnleashServer();
    const unleashEnv = { RC_UNLEASH_TOKEN: unleash.adminToken };
    for (const file of [devmentor, overridesFile]) {
      await rctl(['seed', file, '--target', 'unleash', '--unleash-url', unleash.url], unleashEnv);
    }

    rc = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: join(scratch, 'rc-data'),
      seedFile: devmentor,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    await rctl(['seed', overridesFile, '--url', rc.url, '--token', ADMIN]);

    for (const environment of ENVIRONMENTS) {
      const unleashProvider = new UnleashProvider({
        url: unleash.apiUrl,
        appName: `differential-${environment}`,
        apiToken: await unleashBackendToken(environment),
        refreshIntervalMs: 60_000,
        disableMetrics: true,
      });
      await unleashProvider.initialize();
      unleashProviders.set(environment, unleashProvider);
      const rcProvider = new RuntimeControlProvider({ url: rc.url, token: await rcClientToken(environment) });
      await rcProvider.initialize();
      rcProviders.set(environment, rcProvider);
    }
  });

  after(async () => {
    for (const p of unleashProviders.values()) await p.onClose();
    for (const p of rcProviders.values()) await p.onClose();
    await rc?.close();
    await unleash?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const environment of ENVIRONMENTS) {
    it(`agrees for ${CONTEXTS_PER_ENVIRONMENT} contexts in ${environment} (on/off flags, test-user lists, overrides)`, async () => {
      const unleashProvider = unleashProviders.get(environment);
      const rcProvider = rcProviders.get(environment);
      assert.ok(unleashProvider && rcProvider);
      const contexts = generateContexts(CONTEXTS_PER_ENVIRONMENT, environment === 'development' ? 1 : 2);
      const mismatches: string[] = [];
      const trueCounts = new Map<string, number>();
      let compared = 0;
      const check = <T>(flag: string, context: EvaluationContext, u: ResolutionDetails<T>, r: ResolutionDetails<T>) => {
        compared++;
        assert.equal(u.errorCode, undefined, `${flag}: UnleashProvider ${u.errorMessage}`);
        assert.equal(r.errorCode, undefined, `${flag}: RuntimeControlProvider ${r.errorMessage}`);
        if (u.value === true) trueCounts.set(flag, (trueCounts.get(flag) ?? 0) + 1);
        if (!Object.is(u.value, r.value) && mismatches.length < 20) {
          mismatches.push(`${flag} ${JSON.stringify(context)}: unleash=${u.value} runtime-control=${r.value}`);
        }
      };
      for (const context of contexts) {
        for (const flag of BOOLEAN_FLAGS) {
          // The caller's default is the opposite of both flags' default where possible, so a fallback would show.
          const fallback = !(flag === 'ai-safety-pii' || flag === 'search-kill-switch');
          check(
            flag,
            context,
            await unleashProvider.resolveBooleanEvaluation(flag, fallback, context),
            await rcProvider.resolveBooleanEvaluation(flag, fallback, context),
          );
        }
        for (const flag of NUMBER_FLAGS) {
          check(
            flag,
            context,
            await unleashProvider.resolveNumberEvaluation(flag, -1, context),
            await rcProvider.resolveNumberEvaluation(flag, -1, context),
          );
        }
      }
      assert.deepEqual(mismatches, []);
      assert.equal(compared, CONTEXTS_PER_ENVIRONMENT * (BOOLEAN_FLAGS.length + NUMBER_FLAGS.length));
      // The generator reaches both outcomes of every test-user list (otherwise the comparison proves little).
      for (const flag of ['new-ui-enabled', 'checkout-v2', 'search-kill-switch']) {
        const on = trueCounts.get(flag) ?? 0;
        assert.ok(on > 0 && on < CONTEXTS_PER_ENVIRONMENT, `${flag} in ${environment}: ${on} on`);
      }
    });
  }
});
