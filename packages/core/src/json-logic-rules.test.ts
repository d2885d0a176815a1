import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatorTextIssue, logicResults, MAX_LOGIC_DEPTH, validateJsonLogic } from './json-logic-rules.js';

const codes = (issues: { code: string; path: string }[]) => issues.map((i) => `${i.code} ${i.path}`);

describe('validateJsonLogic', () => {
  it('accepts flagd rules, including fractional, sem_ver, starts_with, ends_with and $ref', () => {
    const rule = {
      if: [
        { and: [{ starts_with: [{ var: 'email' }, 'a'] }, { ends_with: [{ var: 'email' }, '.io'] }] },
        { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['on', 50], ['off', 50]] },
        { sem_ver: [{ var: 'version' }, '>=', '1.2.0'] },
        'on',
        { $ref: 'beta' },
        'on',
        null,
      ],
    };
    assert.deepEqual(validateJsonLogic(rule, '/t', { allowRefs: true }), []);
  });

  it('refuses unknown operators, multi-key objects and $ref where not allowed, with the path', () => {
    assert.deepEqual(codes(validateJsonLogic({ bogus_op: [1] }, '', { allowRefs: true })), [
      'UNKNOWN_OPERATOR /bogus_op',
    ]);
    assert.deepEqual(codes(validateJsonLogic({ if: [{ a: 1, b: 2 }, 'x'] }, '/t', { allowRefs: true })), [
      'INVALID_TARGETING /t/if/0',
    ]);
    assert.deepEqual(codes(validateJsonLogic({ or: [{ $ref: 'x' }] }, '', { allowRefs: false })), [
      'INVALID_TARGETING /or/0',
    ]);
    // Inherited names are not operators.
    assert.deepEqual(codes(validateJsonLogic({ constructor: [1] }, '', { allowRefs: true })), [
      'UNKNOWN_OPERATOR /constructor',
    ]);
  });

  it('refuses rules deeper or larger than the limits', () => {
    let deep: unknown = 'on';
    for (let i = 0; i < MAX_LOGIC_DEPTH + 5; i++) deep = { if: [true, deep] };
    assert.equal(validateJsonLogic(deep, '', { allowRefs: true })[0]?.code, 'TOO_DEEP');
    const big = { in: [{ var: 'k' }, Array.from({ length: 20_000 }, (_, i) => `user-${i}`)] };
    assert.equal(validateJsonLogic(big, '', { allowRefs: true })[0]?.code, 'TOO_LARGE');
  });
});

describe('evaluatorTextIssue', () => {
  it("refuses the replacement patterns flagd's $ref substitution would misread", () => {
    for (const text of ["$'", '$`', '$&', '$$']) {
      assert.ok(evaluatorTextIssue({ '==': [{ var: 'x' }, `a${text}b`] }, '/e'), text);
    }
    assert.equal(evaluatorTextIssue({ '==': [{ var: '$flagd.flagKey' }, 'US$ 5'] }, '/e'), undefined);
  });
});

describe('logicResults', () => {
  it('collects the names result positions can return, not conditions', () => {
    const r = logicResults({ if: [{ '==': [{ var: 'x' }, 'y'] }, 'on', { in: ['a', ['b']] }, 'beta', null] }, {}, '');
    assert.deepEqual([...r.names].sort(), ['beta', 'on']);
    assert.equal(r.nullable, true);
    assert.deepEqual(r.dynamic, []);
  });

  it('follows $ref into evaluators, fractional buckets and or/and', () => {
    const evaluators = { pick: { if: [{ var: 'b' }, 'blue', 'green'] } };
    const r = logicResults(
      {
        or: [
          { $ref: 'pick' },
          {
            fractional: [
              ['red', 50],
              ['yellow', 50],
            ],
          },
        ],
      },
      evaluators,
      '',
    );
    assert.deepEqual([...r.names].sort(), ['blue', 'green', 'red', 'yellow']);
  });

  it('reports comparisons used as results as "true"/"false", and computed results as dynamic', () => {
    assert.deepEqual([...logicResults({ '==': [1, 1] }, {}, '').names].sort(), ['false', 'true']);
    const dynamic = logicResults({ if: [true, { var: 'variant' }, 'off'] }, {}, '/t');
    assert.deepEqual(codes(dynamic.dynamic), ['COMPUTED_RESULT /t/if/1/var']);
    assert.equal(logicResults(['a', 'b'], {}, '').dynamic.length, 1);
  });

  it('even-length if can fall through; a single-argument if returns its argument', () => {
    assert.equal(logicResults({ if: [true, 'a'] }, {}, '').nullable, true);
    assert.deepEqual([...logicResults({ if: ['x'] }, {}, '').names], ['x']);
  });
});
