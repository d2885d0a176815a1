import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagdCore } from '@openfeature/flagd-core';
import { flagSetOf, parseFlagSetSelector, selectFlagSet } from './flag-sets.js';
import { validateFlag } from './flag-validation.js';
import { toFlagdConfig } from './flagd-compile.js';
import { parseFlagsFile } from './flags-file.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('flag sets (flagd flagSetId)', () => {
  it('a flags file puts its flags in the set of its set-level metadata unless a flag names its own', () => {
    const text = [
      'metadata: { flagSetId: payments, team: billing }',
      'flags:',
      '  - key: checkout',
      '    type: boolean',
      '    variants: { on: true, off: false }',
      '    defaultVariant: null',
      '    environments: { production: { state: ENABLED } }',
      '  - key: search',
      '    type: boolean',
      '    metadata: { flagSetId: discovery }',
      '    variants: { on: true, off: false }',
      '    defaultVariant: on',
      '    environments: { production: { state: ENABLED } }',
    ].join('\n');
    const r = parseFlagsFile(text, 'flags.yaml');
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    const [checkout, search] = r.value.flags;
    assert.deepEqual(checkout!.metadata, { flagSetId: 'payments', team: 'billing' });
    assert.deepEqual(search!.metadata, { flagSetId: 'discovery', team: 'billing' });
    assert.equal(flagSetOf(checkout), 'payments');
    assert.equal(flagSetOf(search), 'discovery');
  });

  it('refuses a set-level metadata value flagd cannot carry, and a set name no selector could name', () => {
    const nested = parseFlagsFile('metadata: { owner: { a: 1 } }\nflags: []\n', 'f.yaml');
    assert.ok(!nested.ok);
    assert.equal(nested.issues[0]!.path, '/metadata/owner');
    const badSet = validateFlag(
      {
        key: 'k',
        type: 'boolean',
        variants: { on: true },
        defaultVariant: 'on',
        metadata: { flagSetId: 'has space' },
        environments: {},
      },
      { environments: ['production'] },
    );
    assert.ok(!badSet.ok);
    assert.deepEqual(
      badSet.issues.map((i) => [i.path, i.code]),
      [['/metadata/flagSetId', 'INVALID_FLAG_SET']],
    );
    const numeric = validateFlag(
      {
        key: 'k',
        type: 'boolean',
        variants: { on: true },
        defaultVariant: 'on',
        metadata: { flagSetId: 7 },
        environments: {},
      },
      { environments: ['production'] },
    );
    assert.ok(!numeric.ok);
    assert.equal(numeric.issues[0]!.code, 'INVALID_FLAG_SET');
  });

  it('selectFlagSet keeps exactly the flags flagd-core sees in that set (document metadata merged under the flag)', () => {
    const config = toFlagdConfig(
      [
        {
          key: 'a',
          type: 'boolean',
          variants: { on: true },
          defaultVariant: 'on',
          environments: { p: { state: 'ENABLED' } },
        },
        {
          key: 'b',
          type: 'boolean',
          variants: { on: true },
          defaultVariant: 'on',
          metadata: { flagSetId: 'other' },
          environments: { p: { state: 'ENABLED' } },
        },
      ],
      {},
      'p',
      { flagSetId: 'payments' },
    );
    const core = new FlagdCore(undefined, silent);
    core.setConfigurations(JSON.stringify(config));
    const inPayments = [...core.getFlags()].filter(([, f]) => f.metadata.flagSetId === 'payments').map(([k]) => k);
    assert.deepEqual(Object.keys(selectFlagSet(config, 'payments').flags), inPayments);
    assert.deepEqual(inPayments, ['a']);
    assert.deepEqual(Object.keys(selectFlagSet(config, 'other').flags), ['b']);
    assert.deepEqual(Object.keys(selectFlagSet(config, 'none').flags), []);
  });

  it('parses flagd selectors and refuses anything else', () => {
    assert.deepEqual(parseFlagSetSelector('flagSetId=payments'), { ok: true, flagSet: 'payments' });
    assert.deepEqual(parseFlagSetSelector(' flagSetId = payments '), { ok: true, flagSet: 'payments' });
    for (const bad of ['payments', 'source=payments', 'flagSetId=', 'flagSetId=a b', 'flagSetId=a,b']) {
      assert.equal(parseFlagSetSelector(bad).ok, false, bad);
    }
  });
});
