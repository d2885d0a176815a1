import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderChecks, splitFix } from './doctor.js';

describe('rctl doctor output', () => {
  it('splits a check message into what is wrong and the fix (last sentence, else the clause after "; ")', () => {
    assert.deepEqual(
      splitFix(
        'header route "a" comes after "b"; Istio uses the first match, so it never applies. Move "a" before "b".',
      ),
      {
        what: 'header route "a" comes after "b"; Istio uses the first match, so it never applies.',
        fix: 'Move "a" before "b".',
      },
    );
    assert.deepEqual(splitFix('weights add up to 95, not 100; give each destination a weight, e.g. 90/10.'), {
      what: 'weights add up to 95, not 100',
      fix: 'give each destination a weight, e.g. 90/10.',
    });
    assert.deepEqual(splitFix('plain'), { what: 'plain', fix: 'plain' });
  });

  it('prints sections, a fix under each failure or warning only, and the count', () => {
    const text = renderChecks([
      { section: 'flags', name: 'server reachable', status: 'pass', evidence: 'yes', fix: 'never shown' },
      { section: 'flags', name: 'clients connected', status: 'warn', evidence: 'none', fix: 'start one' },
      {
        section: 'sidecars',
        name: 'NAMESPACE_INJECTION_DISABLED',
        status: 'fail',
        evidence: 'f:3: no label',
        fix: 'label it',
      },
    ]);
    assert.equal(
      text,
      [
        'Flags not toggling',
        '  ok    server reachable: yes',
        '  warn  clients connected: none',
        '        fix: start one',
        '',
        'Sidecars missing',
        '  FAIL  NAMESPACE_INJECTION_DISABLED: f:3: no label',
        '        fix: label it',
        '',
        '1 of 3 checks failed',
      ].join('\n'),
    );
  });
});
