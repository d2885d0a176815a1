import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreUnavailable } from './unavailable.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isStoreUnavailable', () => {
  it('recognises a database that cannot answer now', () => {
    for (const err of [
      withCode('ECONNREFUSED'),
      withCode('ECONNRESET'),
      withCode('08006'),
      withCode('08001'),
      withCode('57P01'),
      withCode('57P03'),
      withCode('53300'),
      withCode('SQLITE_BUSY'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      assert.equal(isStoreUnavailable(err), true, `${(err as { code?: string }).code ?? err.message}`);
    }
  });

  it('leaves everything else a bug (500): constraint violations, syntax errors, our own errors', () => {
    for (const err of [
      withCode('23505'),
      withCode('42601'),
      withCode('SQLITE_CONSTRAINT'),
      new TypeError('x is undefined'),
      new Error('some message mentioning Connection terminated in the middle'),
      'not an error',
    ]) {
      assert.equal(isStoreUnavailable(err), false, String((err as { code?: string }).code ?? err));
    }
  });
});
