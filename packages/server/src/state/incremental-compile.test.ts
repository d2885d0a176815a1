import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Evaluators, type Flag, toFlagdConfig } from '@runtime-control/core';
import { pino } from 'pino';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ReplicaState } from './replica-state.js';

const ENVS = ['development', 'staging', 'production'];
const actor = { name: 'test' };
const logger = pino({ level: 'silent' });

const EVALUATORS: Evaluators = {
  testers: { in: [{ var: 'targetingKey' }, ['u-1', 'u-2']] },
  beta: { in: [{ var: 'plan' }, ['beta']] },
};

/** Flag `i`: a mix of rules through shared evaluators, rollouts, typed knobs, flag sets and an unconfigured env. */
function generated(i: number): Flag {
  const key = i === 7 ? '1234' : `flag-${String(i).padStart(4, '0')}`;
  const environments: Flag['environments'] = {};
  ENVS.forEach((env, e) => {
    if (i % 5 === 4 && env === 'staging') return;
    if (i % 3 === 0)
      environments[env] = { state: 'ENABLED', targeting: { if: [{ $ref: i % 2 ? 'beta' : 'testers' }, 'b', null] } };
    else if (i % 3 === 1)
      environments[env] = { state: 'ENABLED', rollout: { percentage: (i + e) % 100, variant: 'b' } };
    else environments[env] = { state: e === 0 ? 'ENABLED' : 'DISABLED' };
  });
  const flag: Flag = {
    key,
    type: 'string',
    variants: { a: 'a', b: 'b', c: 'c' },
    defaultVariant: 'a',
    environments,
  };
  if (i % 4 === 0) flag.metadata = { flagSetId: `set-${i % 3}` };
  if (i % 11 === 0) flag.sensitive = true;
  return flag;
}

async function seeded(count: number): Promise<Store> {
  const store = await createSqliteStore(':memory:');
  for (const [name, logic] of Object.entries(EVALUATORS)) await store.putEvaluator(name, logic, actor);
  for (let i = 0; i < count; i++) await store.createFlag(generated(i), actor);
  return store;
}

function counted(store: Store): { state: ReplicaState; compiled: string[] } {
  const compiled: string[] = [];
  const state = new ReplicaState(store, ENVS, logger, { onFlagCompiled: (key, env) => compiled.push(`${key}@${env}`) });
  return { state, compiled };
}

/** Every view a client can read (each environment and each set of it), by name. */
function documents(state: ReplicaState, sets: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const env of ENVS) {
    out.set(env, state.view(env)!.configJson);
    for (const set of [...sets, 'no-such-set']) out.set(`${env}/${set}`, state.view(env, set)!.configJson);
  }
  return out;
}

describe('ReplicaState compiles only what a change touches', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('a write to one flag among 300 recompiles that flag only, in the environments it is configured in', async () => {
    const store = await seeded(300);
    closers.push(() => store.close());
    const { state, compiled } = counted(store);
    await state.load();
    assert.equal(compiled.length, 300 * 3 - 60, 'the first load compiles every configured flag once per environment');

    compiled.length = 0;
    await store.updateFlag(
      'flag-0010',
      (f) => ({ ...f, environments: { ...f.environments, staging: { state: 'ENABLED' } } }),
      actor,
    );
    await state.catchUp('write');
    assert.deepEqual(compiled.sort(), ['flag-0010@development', 'flag-0010@production', 'flag-0010@staging']);
    assert.equal(state.view('staging')!.engine.resolveStringEvaluation('flag-0010', 'x', {}).value, 'a');
    // The document object deltas read: the changed flag as now, by key; a flag not configured there is absent.
    const config = state.view('staging')!.config;
    assert.ok(Object.hasOwn(config.flags, 'flag-0010'));
    assert.deepEqual(config.flags['flag-0010'], JSON.parse(state.view('staging')!.configJson).flags['flag-0010']);
    assert.ok(!Object.hasOwn(config.flags, 'flag-0004'), 'flag-0004 has no staging settings');
    assert.ok(!Object.hasOwn(config.flags, 'toString'));
    // Never mutated (views share it): a write is refused (modules are strict, so it throws).
    assert.throws(() => {
      (config.flags as Record<string, unknown>)['flag-0010'] = null;
    }, TypeError);

    compiled.length = 0;
    await store.deleteFlag('flag-0020', actor);
    await state.catchUp('write');
    assert.deepEqual(compiled, [], 'a delete compiles nothing');
    assert.equal(state.view('production')!.engine.getFlag('flag-0020'), undefined);
  });

  it('an evaluator change recompiles exactly the flags that reference it', async () => {
    const store = await seeded(120);
    closers.push(() => store.close());
    const { state, compiled } = counted(store);
    await state.load();
    compiled.length = 0;
    await store.putEvaluator('beta', { in: [{ var: 'plan' }, ['beta', 'pro']] }, actor);
    await state.catchUp('write');
    const expected = new Set<string>();
    for (let i = 0; i < 120; i++) {
      if (i % 3 === 0 && i % 2 === 1) expected.add(generated(i).key);
    }
    assert.deepEqual(new Set(compiled.map((c) => c.split('@')[0])), expected);
    assert.equal(
      state.view('production')!.engine.resolveStringEvaluation('flag-0003', 'x', { targetingKey: 'u', plan: 'pro' })
        .value,
      'b',
    );
  });

  it('after a mix of changes every view equals a full build: a fresh replica and toFlagdConfig', async () => {
    const store = await seeded(80);
    closers.push(() => store.close());
    const { state } = counted(store);
    await state.load();
    const sets = ['set-0', 'set-1', 'set-2', 'set-new'];
    await store.createFlag({ ...generated(500), key: 'aaa-new', metadata: { flagSetId: 'set-new' } }, actor);
    await state.catchUp('write');
    await store.updateFlag('flag-0004', (f) => ({ ...f, metadata: { flagSetId: 'set-2' } }), actor);
    await store.updateFlag('flag-0008', (f) => ({ ...f, sensitive: true }), actor);
    await state.catchUp('write');
    await store.deleteFlag('flag-0012', actor);
    await store.putEvaluator('testers', { in: [{ var: 'targetingKey' }, ['u-3']] }, actor);
    await state.catchUp('write');
    await store.updateFlag('1234', (f) => ({ ...f, defaultVariant: 'c' }), actor);
    await state.catchUp('write');

    const fresh = new ReplicaState(store, ENVS, logger);
    await fresh.load();
    assert.deepEqual(documents(state, sets), documents(fresh, sets));
    for (const env of ENVS) {
      assert.equal(state.view(env)!.etag, fresh.view(env)!.etag);
      const flags = (await store.listFlags()).map((s) => s.flag);
      const evaluators = Object.fromEntries((await store.listEvaluators()).map((e) => [e.name, e.logic]));
      const config = toFlagdConfig(flags, evaluators, env);
      // The document is what JSON.stringify of the whole configuration writes, key order included.
      assert.equal(state.view(env)!.configJson, JSON.stringify(config));
      // The object deltas read is that same document, in every view.
      for (const [name, json] of documents(state, sets)) {
        if (!name.startsWith(`${env}`)) continue;
        const [, set] = name.split('/');
        assert.equal(JSON.stringify(state.view(env, set ?? null)!.config), json, name);
      }
      assert.deepEqual([...state.view(env)!.engine.getFlags().keys()], Object.keys(config.flags));
      for (const key of Object.keys(config.flags)) {
        assert.equal(state.view(env)!.engine.getFlag(key)!.hash, fresh.view(env)!.engine.getFlag(key)!.hash, key);
      }
    }
  });
});
