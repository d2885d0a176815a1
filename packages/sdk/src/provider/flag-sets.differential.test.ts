import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EvaluationContext, FlagValueType, JsonValue } from '@openfeature/core';
import { FlagdCore } from '@openfeature/flagd-core';
import {
  type EnvironmentSettings,
  type Flag,
  type FlagMetadata,
  parseFlagsFile,
  toFlagdConfig,
} from '@runtime-control/core';
import { type RunningServer, startServer } from '@runtime-control/server';
import fc from 'fast-check';
import { RuntimeControlProvider } from './runtime-control-provider.js';

/**
 * Issue 16 item 4: generated flags files using flag metadata, null default variants and flag sets (flagd
 * `flagSetId`, per flag and set-level) are served by the control plane, and what a set-limited client gets through
 * OFREP and through the SDK provider (with and without a `selector`) equals what @openfeature/flagd-core answers
 * when it loads the same flagd JSON — the document compiled from the file *before* the set-level metadata is
 * merged, so flagd-core does that merge itself — and keeps only that set's flags. Zero mismatches.
 */

const SEED = 16_0304;
const ENV = 'production';
const ADMIN = 'rc-sets-differential-admin-token-0123';
const SETS = ['payments', 'search'] as const;
const CONTEXTS = 150;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A flags file as written: `metadata` is the set-level metadata flagd merges into every flag's. */
interface FlagsFileDoc {
  metadata?: FlagMetadata;
  flags: Flag[];
}

const VALUES: Record<'boolean' | 'string' | 'number', fc.Arbitrary<JsonValue>> = {
  boolean: fc.boolean(),
  string: fc.constantFrom('eu-west', 'us-east', 'ap-south', ''),
  number: fc.integer({ min: -1000, max: 60_000 }),
};

const arbFlag = (key: string) =>
  fc
    .record({
      type: fc.constantFrom('boolean', 'string', 'number') as fc.Arbitrary<'boolean' | 'string' | 'number'>,
      names: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'on', 'off'), { minLength: 2, maxLength: 3 }),
      defaultIndex: fc.option(fc.nat({ max: 2 }), { nil: undefined, freq: 2 }),
      explicitNull: fc.boolean(),
      flagSet: fc.option(fc.constantFrom(...SETS, 'other'), { nil: undefined }),
      owner: fc.option(fc.constantFrom('team-pay', 'team-web', 'team-ai'), { nil: undefined }),
      expiresOn: fc.option(fc.integer({ min: 20260101, max: 20291231 }), { nil: undefined }),
      temporary: fc.option(fc.boolean(), { nil: undefined }),
      disabled: fc.boolean(),
      targeting: fc.boolean(),
      override: fc.boolean(),
      rollout: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    })
    .chain((shape) => fc.tuple(fc.constant(shape), fc.array(VALUES[shape.type], { minLength: 3, maxLength: 3 })))
    .map(([shape, values]): Flag => {
      const variants: Record<string, JsonValue> = {};
      shape.names.forEach((name, i) => {
        variants[name] = values[i]!;
      });
      const metadata: FlagMetadata = {};
      if (shape.flagSet !== undefined) metadata.flagSetId = shape.flagSet;
      if (shape.owner !== undefined) metadata.owner = shape.owner;
      if (shape.expiresOn !== undefined) metadata.expiresOn = shape.expiresOn;
      if (shape.temporary !== undefined) metadata.temporary = shape.temporary;
      const settings: EnvironmentSettings = { state: shape.disabled ? 'DISABLED' : 'ENABLED' };
      const [first, second] = shape.names as [string, string];
      if (shape.targeting) {
        settings.targeting = { if: [{ in: [{ var: 'country' }, ['DE', 'FR']] }, second, null] };
      }
      if (shape.override) settings.overrides = { 'user-1': first };
      if (shape.rollout !== undefined) settings.rollout = { variant: second, percentage: shape.rollout };
      const defaultVariant =
        shape.defaultIndex === undefined || shape.defaultIndex >= shape.names.length
          ? null
          : shape.names[shape.defaultIndex]!;
      const flag: Flag = {
        key,
        type: shape.type,
        variants,
        defaultVariant,
        environments: { [ENV]: settings, development: { state: 'ENABLED' } },
      };
      // Both spellings of "no default variant" the flags file accepts.
      if (defaultVariant === null && !shape.explicitNull) delete (flag as Partial<Flag>).defaultVariant;
      if (Object.keys(metadata).length > 0) flag.metadata = metadata;
      return flag;
    });

const arbFile: fc.Arbitrary<FlagsFileDoc> = fc
  .record({
    count: fc.integer({ min: 6, max: 14 }),
    setLevel: fc.option(fc.constantFrom(...SETS), { nil: undefined }),
    team: fc.option(fc.constantFrom('platform', 'growth'), { nil: undefined }),
  })
  .chain(({ count, setLevel, team }) =>
    fc.tuple(...Array.from({ length: count }, (_, i) => arbFlag(`flag-${i}`))).map((flags) => {
      const metadata: FlagMetadata = {};
      if (setLevel !== undefined) metadata.flagSetId = setLevel;
      if (team !== undefined) metadata.team = team;
      return Object.keys(metadata).length > 0 ? { metadata, flags } : { flags };
    }),
  );

const arbContext: fc.Arbitrary<EvaluationContext> = fc.record(
  {
    targetingKey: fc.oneof(fc.constantFrom('user-1', 'user-2'), fc.string({ minLength: 1, maxLength: 12 })),
    country: fc.constantFrom('DE', 'FR', 'US', 'JP'),
  },
  { requiredKeys: [] },
);

/** The three documents exercised, chosen so every case occurs: set-level metadata, flags in no set, null defaults. */
function generatedFiles(): FlagsFileDoc[] {
  const files = fc.sample(arbFile, { seed: SEED, numRuns: 100 });
  const pick = (test: (f: FlagsFileDoc) => boolean, what: string) => {
    const found = files.find(test);
    assert.ok(found, `seed ${SEED} generated no file with ${what}`);
    return found;
  };
  const hasNullDefault = (f: FlagsFileDoc) => f.flags.some((x) => (x.defaultVariant ?? null) === null);
  return [
    pick((f) => f.metadata?.flagSetId !== undefined && hasNullDefault(f), 'set-level metadata and a null default'),
    pick(
      (f) =>
        f.metadata?.flagSetId === undefined &&
        f.flags.some((x) => x.metadata?.flagSetId === undefined) &&
        hasNullDefault(f),
      'flags in no set',
    ),
  ];
}

interface Outcome {
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  metadata?: unknown;
}

const PLACEHOLDER: Record<string, JsonValue> = { boolean: false, string: '', number: 0 };

/** flagd-core's answer in OFREP's terms ("use the code default" has no value). */
function coreOutcome(core: FlagdCore, type: FlagValueType, key: string, ctx: EvaluationContext): Outcome {
  const r = core.resolve(type, key, PLACEHOLDER[type]!, ctx);
  if (r.errorCode) return { errorCode: r.errorCode };
  if (r.reason === 'DISABLED' || r.variant === undefined) return { reason: r.reason, metadata: r.flagMetadata };
  return { value: r.value, variant: r.variant, reason: r.reason, metadata: r.flagMetadata };
}

function ofrepOutcome(body: Record<string, unknown>): Outcome {
  if (body.errorCode) return { errorCode: body.errorCode as string };
  const o: Outcome = { reason: body.reason as string, metadata: body.metadata ?? {} };
  if (Object.hasOwn(body, 'value')) {
    o.value = body.value;
    o.variant = body.variant as string;
  }
  return o;
}

describe('flag sets, metadata and null defaults: OFREP and the SDK equal flagd-core on the same flagd JSON', () => {
  const files = generatedFiles();
  const contexts = fc.sample(arbContext, { seed: SEED + 1, numRuns: CONTEXTS });
  // Override and rollout users must be there whatever the sample holds.
  contexts.push({ targetingKey: 'user-1', country: 'DE' }, { targetingKey: 'user-2' }, {});

  for (const [index, file] of files.entries()) {
    describe(`generated file #${index} (seed ${SEED})`, () => {
      let server: RunningServer;
      let dataDir: string;
      let reference: FlagdCore;
      const unknown = new FlagdCore(undefined, silent);
      unknown.setConfigurations(JSON.stringify({ flags: {} }));
      const tokens = new Map<string | null, string>();
      const providers: RuntimeControlProvider[] = [];
      let types: Map<string, 'boolean' | 'string' | 'number'>;

      /** The set flagd-core puts `key` in (its own merge of the document's metadata under the flag's). */
      const setOf = (key: string) => reference.getFlag(key)?.metadata.flagSetId;
      /** What a client limited to `set` must get for `key`: flagd-core's answer, or an unknown flag's. */
      const expected = (set: string | null, key: string, ctx: EvaluationContext): Outcome => {
        const type = types.get(key)!;
        return set === null || setOf(key) === set
          ? coreOutcome(reference, type, key, ctx)
          : coreOutcome(unknown, type, key, ctx);
      };

      before(async () => {
        // What the file says, parsed as `rctl seed` and the server's seeding parse it (set metadata merged).
        const parsed = parseFlagsFile(JSON.stringify(file), 'generated.json');
        assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
        // The flagd JSON of the same file: its flags as written, its set-level metadata as the document's.
        const asWritten = parseFlagsFile(JSON.stringify({ flags: file.flags }), 'generated.json');
        assert.ok(asWritten.ok);
        reference = new FlagdCore(undefined, silent);
        reference.setConfigurations(JSON.stringify(toFlagdConfig(asWritten.value.flags, {}, ENV, file.metadata)));
        types = new Map(parsed.value.flags.map((f) => [f.key, f.type as 'boolean' | 'string' | 'number']));

        dataDir = await mkdtemp(join(tmpdir(), 'rc-sets-diff-'));
        server = await startServer({
          port: 0,
          host: '127.0.0.1',
          dataDir,
          env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
          print: () => {},
        });
        const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
        for (const flag of parsed.value.flags) {
          const res = await fetch(`${server.url}/api/admin/flags`, {
            method: 'POST',
            headers: admin,
            body: JSON.stringify(flag),
          });
          assert.equal(res.status, 201, await res.text());
        }
        for (const set of [null, ...SETS]) {
          const res = await fetch(`${server.url}/api/admin/tokens`, {
            method: 'POST',
            headers: admin,
            body: JSON.stringify({ kind: 'client', environment: ENV, ...(set ? { flagSet: set } : {}) }),
          });
          assert.equal(res.status, 201);
          tokens.set(set, ((await res.json()) as { token: string }).token);
        }
      });
      after(async () => {
        for (const p of providers) await p.onClose();
        await server?.close();
        await rm(dataDir, { recursive: true, force: true });
      });

      it('the generated file exercises every case', () => {
        const keys = [...types.keys()];
        assert.ok(
          keys.some((k) => setOf(k) !== undefined),
          'some flag is in a set',
        );
        assert.ok(
          keys.some((k) => setOf(k) === undefined || !SETS.includes(setOf(k) as (typeof SETS)[number])),
          'some flag is outside the tested sets',
        );
      });

      it('OFREP bulk and single, per token set: zero mismatches with flagd-core', async () => {
        let compared = 0;
        const seen = new Set<string>();
        for (const set of [null, ...SETS]) {
          const headers = { authorization: `Bearer ${tokens.get(set)}`, 'content-type': 'application/json' };
          for (const [i, ctx] of contexts.entries()) {
            const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ context: ctx }),
            });
            assert.equal(res.status, 200);
            const bulk = ((await res.json()) as { flags: Record<string, unknown>[] }).flags;
            const got = new Map(bulk.map((f) => [f.key as string, ofrepOutcome(f)]));
            for (const key of types.keys()) {
              const want = expected(set, key, ctx);
              // Bulk lists only the flags the client has; an absent one is FLAG_NOT_FOUND to it.
              assert.deepEqual(got.get(key) ?? { errorCode: 'FLAG_NOT_FOUND' }, want, `set ${set} ctx #${i} ${key}`);
              compared++;
              if (set !== null) {
                if (want.errorCode === 'FLAG_NOT_FOUND') seen.add('outside the set');
                else if (want.reason === 'DEFAULT' && want.value === undefined) seen.add('null default in a set');
                else if (want.value !== undefined && Object.keys(want.metadata as object).length > 1) {
                  seen.add('value with metadata in a set');
                }
              }
            }
            if (i % 10 !== 0) continue;
            for (const key of types.keys()) {
              const single = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${key}`, {
                method: 'POST',
                headers,
                body: JSON.stringify({ context: ctx }),
              });
              const want = expected(set, key, ctx);
              assert.equal(single.status, want.errorCode === 'FLAG_NOT_FOUND' ? 404 : want.errorCode ? 400 : 200);
              assert.deepEqual(ofrepOutcome((await single.json()) as Record<string, unknown>), want, `single ${key}`);
              compared++;
            }
          }
        }
        assert.ok(compared > 1000, `compared ${compared}`);
        // The comparison must have met each case the issue names, or it proves little.
        assert.deepEqual([...seen].sort(), [
          'null default in a set',
          'outside the set',
          'value with metadata in a set',
        ]);
      });

      it('the SDK provider, per token set and with selectors that narrow but never widen: zero mismatches', async () => {
        const cases: { token: string | null; selector?: string; sees: string | null | 'nothing' }[] = [
          { token: null, sees: null },
          { token: 'payments', sees: 'payments' },
          { token: 'search', sees: 'search' },
          // Narrowing an unrestricted token to a set.
          { token: null, selector: 'flagSetId=payments', sees: 'payments' },
          // The selector cannot widen: a payments token selecting search gets nothing at all.
          { token: 'payments', selector: 'flagSetId=search', sees: 'nothing' },
        ];
        let compared = 0;
        for (const c of cases) {
          const provider = new RuntimeControlProvider({
            url: server.url,
            token: tokens.get(c.token)!,
            ...(c.selector ? { selector: c.selector } : {}),
            initTimeoutMs: 5000,
          });
          providers.push(provider);
          await provider.initialize();
          for (const [i, ctx] of contexts.entries()) {
            for (const [key, type] of types) {
              const fallback = PLACEHOLDER[type]!;
              const got = provider.evaluate(type, key, fallback, ctx);
              const engine = c.sees !== 'nothing' && (c.sees === null || setOf(key) === c.sees) ? reference : unknown;
              const want = engine.resolve(type, key, fallback, ctx);
              assert.deepEqual(
                {
                  value: got.value,
                  variant: got.variant,
                  reason: got.reason,
                  errorCode: got.errorCode,
                  flagMetadata: got.flagMetadata,
                },
                {
                  value: want.value,
                  variant: want.variant,
                  reason: want.reason,
                  errorCode: want.errorCode,
                  flagMetadata: want.flagMetadata,
                },
                `token ${c.token} selector ${c.selector} ctx #${i} ${key}`,
              );
              compared++;
            }
          }
          const held = provider.flagKeys();
          const allowed = [...types.keys()]
            .filter((k) => c.sees !== 'nothing' && (c.sees === null || setOf(k) === c.sees))
            .sort();
          assert.deepEqual(held, allowed, `the provider holds exactly its set's flags (${c.token}, ${c.selector})`);
        }
        assert.ok(compared > 1000, `compared ${compared}`);
      });
    });
  }
});

describe('RuntimeControlProvider selector', () => {
  it('refuses a selector that is not flagSetId=<set> at construction, so a typo never silently selects nothing', () => {
    for (const selector of ['payments', 'source=payments', 'flagSetId=', 'flagSetId=a b', 'flagSetId=a,b']) {
      assert.throws(
        () => new RuntimeControlProvider({ url: 'http://127.0.0.1:1', token: 't', selector }),
        /flagSetId=<set>/,
        selector,
      );
    }
    assert.doesNotThrow(
      () => new RuntimeControlProvider({ url: 'http://127.0.0.1:1', token: 't', selector: 'flagSetId=payments' }),
    );
  });

  /** A stream server: `answer(url)` gives the status; a 200 sends `doc` as the snapshot at revision 3. */
  async function fakeServer(answer: (url: string) => number, doc: object) {
    const urls: string[] = [];
    const server = http.createServer((req, res) => {
      urls.push(req.url ?? '');
      const status = answer(req.url ?? '');
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"code":"VALIDATION_FAILED"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`id: 3\nevent: snapshot\ndata: ${JSON.stringify(doc)}\n\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      urls,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }
  const flag = (set: string) => ({
    state: 'ENABLED',
    variants: { on: true, off: false },
    defaultVariant: 'on',
    metadata: { flagSetId: set },
  });

  it('asks the server for its set only (?selector=), so other sets never cross the wire', async () => {
    const server = await fakeServer(() => 200, { flags: { pay: flag('payments') } });
    const provider = new RuntimeControlProvider({ url: server.url, token: 't', selector: 'flagSetId=payments' });
    try {
      await provider.initialize();
      assert.deepEqual(server.urls, ['/api/client/stream?format=delta&selector=flagSetId%3Dpayments']);
      assert.equal((await provider.resolveBooleanEvaluation('pay', false, {})).value, true);
    } finally {
      await provider.onClose();
      await server.close();
    }
  });

  it('a server that refuses ?selector= (older) is asked again without it, and the set is selected locally', async () => {
    const server = await fakeServer((url) => (url.includes('selector=') ? 400 : 200), {
      flags: { pay: flag('payments'), search: flag('search') },
    });
    const provider = new RuntimeControlProvider({
      url: server.url,
      token: 't',
      selector: 'flagSetId=payments',
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    try {
      await provider.initialize();
      assert.deepEqual(server.urls, [
        '/api/client/stream?format=delta&selector=flagSetId%3Dpayments',
        '/api/client/stream?format=delta',
      ]);
      assert.equal((await provider.resolveBooleanEvaluation('pay', false, {})).value, true);
      const outside = await provider.resolveBooleanEvaluation('search', false, {});
      assert.equal(outside.errorCode, 'FLAG_NOT_FOUND', 'the other set is still not served');
    } finally {
      await provider.onClose();
      await server.close();
    }
  });
});
