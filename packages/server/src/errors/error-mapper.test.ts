import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { loggableError } from './error-mapper.js';

describe('loggableError', () => {
  it("keeps a database error's codes but never its message or detail (they can quote request values)", () => {
    const err = new pg.DatabaseError('invalid input syntax for type json: "SENTINEL-VALUE"', 100, 'error');
    err.code = '22P02';
    err.detail = 'Token "SENTINEL-VALUE" is invalid.';
    err.routine = 'json_ereport_error';
    const logged = JSON.stringify(loggableError(err));
    assert.ok(!logged.includes('SENTINEL-VALUE'), logged);
    assert.match(logged, /22P02/);
  });

  it('keeps the message and a short stack of our own errors', () => {
    const logged = loggableError(new TypeError('x is not a function'));
    assert.equal(logged.type, 'TypeError');
    assert.equal(logged.message, 'x is not a function');
  });
});
