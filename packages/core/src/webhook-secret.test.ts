import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webhookSecretProblem } from './webhook-secret.js';

describe('webhookSecretProblem', () => {
  it('accepts 16 or more characters without whitespace', () => {
    assert.equal(webhookSecretProblem('a'.repeat(16)), undefined);
    assert.equal(webhookSecretProblem('rc-webhook-secret-0123456789'), undefined);
  });

  it('refuses shorter secrets and any whitespace, never echoing the secret', () => {
    for (const bad of ['a'.repeat(15), 'sentinel secret with spaces', `sentinel-${'x'.repeat(16)}\t`]) {
      const problem = webhookSecretProblem(bad);
      assert.equal(problem, 'must be at least 16 characters without whitespace');
      assert.doesNotMatch(problem, /sentinel/);
    }
  });
});
