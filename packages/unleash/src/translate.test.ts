import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type Flag, parseFlagsFile } from '@runtime-control/core';
import { translateFlags, UNLEASH_OSS_ENVIRONMENTS } from './translate.js';

const ENVS = UNLEASH_OSS_ENVIRONMENTS;
const bool = (environments: Flag['environments'], extra: Partial<Flag> = {}): Flag => ({
  key: 'k',
  type: 'boolean',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  environments,
  ...extra,
});

function plan(flag: Flag, evaluators = {}) {
  const r = translateFlags([flag], evaluators, ENVS);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.features[0]!;
}

describe('translateFlags', () => {
  it('translates the DevMentor flags file', () => {
    const text = readFileSync(new URL('../../../examples/devmentor/flags.yaml', import.meta.url), 'utf8');
    const file = parseFlagsFile(text, 'flags.yaml');
    assert.ok(file.ok);
    const r = translateFlags(file.value.flags, file.value.evaluators, ENVS);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const ui = r.features.find((f) => f.name === 'new-ui-enabled')!;
    assert.deepEqual(
      ui.environments.production?.strategies.map((s) => [s.parameters.rollout, s.constraints]),
      [
        [
          '100',
          [
            {
              contextName: 'userId',
              operator: 'IN',
              values: ['u-alice', 'u-bob', 'u-qa-1', 'u-qa-2'],
              inverted: false,
              caseInsensitive: false,
            },
          ],
        ],
      ],
    );
    const timeout = r.features.find((f) => f.name === 'ai-gateway.request-timeout-ms')!;
    assert.deepEqual(timeout.environments.production?.strategies[0]?.variants[0]?.payload, {
      type: 'number',
      value: '15000',
    });
    const routing = r.features.find((f) => f.name === 'ai-gateway.routing')!;
    assert.equal(routing.environments.production?.strategies[0]?.variants[0]?.payload?.type, 'json');
  });

  it('off by default stays off: an enabled flag gets a 0 % strategy rather than none (none means on in Unleash)', () => {
    const f = plan(bool({ production: { state: 'ENABLED' } }));
    assert.deepEqual(f.environments.production, {
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '0', stickiness: 'default', groupId: 'k' },
          constraints: [],
          variants: [],
        },
      ],
    });
    assert.deepEqual(f.environments.development, { enabled: false, strategies: [] });
  });

  it('on by default is a 100 % strategy; test users forced off become an inverted constraint', () => {
    const f = plan(
      bool({ production: { state: 'ENABLED', overrides: { 'u-1': 'off', 'u-2': 'on' } } }, { defaultVariant: 'on' }),
    );
    const s = f.environments.production!.strategies;
    assert.equal(s.length, 2);
    const forcedOff = {
      contextName: 'userId',
      operator: 'IN',
      values: ['u-1'],
      inverted: true,
      caseInsensitive: false,
    };
    assert.deepEqual(s[0]!.constraints, [forcedOff, { ...forcedOff, values: ['u-2'], inverted: false }]);
    assert.deepEqual(s[1]!.constraints, [forcedOff]);
    assert.equal(s[1]!.parameters.rollout, '100');
  });

  it('no default variant (flagd null): no catch-all strategy, so what matches nothing is off / the code default', () => {
    const boolean = plan(
      bool({ production: { state: 'ENABLED', rollout: { variant: 'on', percentage: 25 } } }, { defaultVariant: null }),
    );
    assert.deepEqual(
      boolean.environments.production!.strategies.map((s) => s.parameters.rollout),
      ['25'],
      'only the rollout: the other 75 % are off, as the code default of a boolean flag',
    );
    const onByDefault = plan(bool({ production: { state: 'ENABLED' } }, { defaultVariant: 'on' }));
    assert.deepEqual(
      onByDefault.environments.production!.strategies.map((s) => s.parameters.rollout),
      ['100'],
      'with a default, the catch-all strategy is there',
    );
    const string = plan({
      key: 's',
      type: 'string',
      variants: { eu: 'eu-west', us: 'us-east' },
      defaultVariant: null,
      environments: { production: { state: 'ENABLED', overrides: { 'u-1': 'eu' } } },
    });
    const strategies = string.environments.production!.strategies;
    assert.equal(strategies.length, 1, 'the override only; no strategy serves a variant nobody asked for');
    assert.equal(strategies[0]!.variants[0]?.name, 'eu');
  });

  it('rollouts become flexibleRollout after the test users', () => {
    const f = plan(
      bool({
        production: { state: 'ENABLED', overrides: { 'u-1': 'on' }, rollout: { variant: 'on', percentage: 25 } },
      }),
    );
    assert.deepEqual(
      f.environments.production!.strategies.map((s) => s.parameters.rollout),
      ['100', '25'],
    );
  });

  it('maps sem_ver, starts_with and custom context fields, and lists the fields Unleash must know', () => {
    const f = plan(
      bool({
        production: {
          state: 'ENABLED',
          targeting: {
            if: [
              {
                and: [
                  { sem_ver: [{ var: 'appVersion' }, '>=', '2.0.0'] },
                  { starts_with: [{ var: 'email' }, 'admin'] },
                ],
              },
              'on',
              null,
            ],
          },
        },
      }),
    );
    const c = f.environments.production!.strategies[0]!.constraints;
    assert.deepEqual(
      c.map((x) => [x.contextName, x.operator]),
      [
        ['appVersion', 'SEMVER_GTE'],
        ['email', 'STR_STARTS_WITH'],
      ],
    );
    assert.equal(c[0]!.value, '2.0.0');
    assert.deepEqual(f.contextFields, ['appVersion', 'email']);
  });

  it('refuses what Unleash cannot express, naming the flag and the construct, and returns no plan at all', () => {
    const good = bool({ production: { state: 'ENABLED' } }, { key: 'good' });
    const cases: [Flag, string][] = [
      [
        bool(
          { production: { state: 'ENABLED', targeting: { if: [{ '>': [{ var: 'age' }, 18] }, 'on', null] } } },
          { key: 'gt' },
        ),
        '>',
      ],
      [
        bool(
          {
            production: {
              state: 'ENABLED',
              targeting: {
                fractional: [
                  ['on', 50],
                  ['off', 50],
                ],
              },
            },
          },
          { key: 'frac' },
        ),
        'fractional',
      ],
      [
        bool({ production: { state: 'ENABLED', rollout: { variant: 'on', percentage: 12.5 } } }, { key: 'pct' }),
        'fractional percentage',
      ],
      [
        bool(
          {
            production: {
              state: 'ENABLED',
              targeting: { if: [{ sem_ver: [{ var: 'v' }, '^', '1.0.0'] }, 'on', null] },
            },
          },
          { key: 'caret' },
        ),
        'sem_ver ^',
      ],
      [bool({ staging: { state: 'ENABLED' } }, { key: 'env' }), 'environment "staging"'],
    ];
    for (const [flag, construct] of cases) {
      const r = translateFlags([good, flag], {}, ENVS);
      assert.ok(!r.ok, flag.key);
      assert.equal(r.problems.length, 1);
      assert.equal(r.problems[0]!.flag, flag.key);
      assert.equal(r.problems[0]!.construct, construct);
    }
  });
});
