import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Flag } from './flag-model.js';
import { compileTargeting, toFlagdConfig } from './flagd-compile.js';

describe('compileTargeting', () => {
  it('is undefined without rules (flagd reason STATIC)', () => {
    assert.equal(compileTargeting({ state: 'ENABLED' }), undefined);
  });

  it('puts overrides before targeting, and targeting before the rollout', () => {
    const logic = compileTargeting({
      state: 'ENABLED',
      overrides: { u2: 'on', u1: 'on', u3: 'off' },
      targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] },
      rollout: { variant: 'on', percentage: 12.5 },
    });
    assert.deepEqual(logic, {
      if: [
        { in: [{ var: 'targetingKey' }, ['u3']] },
        'off',
        { in: [{ var: 'targetingKey' }, ['u1', 'u2']] },
        'on',
        {
          if: [
            { '!=': [{ if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] }, null] },
            { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] },
            {
              if: [
                {
                  '==': [
                    {
                      fractional: [
                        ['in', 1250],
                        ['out', 8750],
                      ],
                    },
                    'in',
                  ],
                },
                'on',
                null,
              ],
            },
          ],
        },
      ],
    });
  });
});

describe('toFlagdConfig', () => {
  it('emits flagd JSON sorted by key, leaving out flags an environment has no settings for', () => {
    const flag = (key: string): Flag => ({
      key,
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      environments: { production: { state: 'ENABLED' } },
    });
    const config = toFlagdConfig([flag('b'), flag('a')], { e: { '==': [1, 1] } }, 'production');
    assert.deepEqual(Object.keys(config.flags), ['a', 'b']);
    assert.equal(config.flags.a?.state, 'ENABLED');
    assert.deepEqual(config.$evaluators, { e: { '==': [1, 1] } });
    // Environment isolation: development has no settings for these flags, so they are not in its document at all.
    assert.deepEqual(Object.keys(toFlagdConfig([flag('a')], {}, 'development').flags), []);
  });
});
