import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors/app-error.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-input.js';

function refusal(text: string): { code: string; path: string | undefined } {
  try {
    parseJsonBody(text);
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return { code: err.code, path: err.path };
  }
  assert.fail(`accepted ${JSON.stringify(text)}`);
}

// The parser's fast path (no string looked at when the text has no \u escape) must refuse exactly what the full
// walk refuses, with the same code and path.
describe('parseJsonBody', () => {
  it('accepts ordinary bodies and treats a blank one as no body', () => {
    assert.deepEqual(parseJsonBody('{"context":{"targetingKey":"user-1","n":[1,2.5,null,true]}}'), {
      context: { targetingKey: 'user-1', n: [1, 2.5, null, true] },
    });
    assert.equal(parseJsonBody(''), undefined);
    assert.equal(parseJsonBody(' \n\t'), undefined);
    assert.equal(parseJsonBody('\ufeff'), undefined);
    assert.deepEqual(parseJsonBody(' {"é":"ü \u{1F600}"}'), { é: 'ü \u{1F600}' });
  });

  it('refuses NUL and lone surrogates in values and keys, escaped or raw, with their path', () => {
    assert.deepEqual(refusal('{"context":{"a":"x\\u0000"}}'), { code: 'INVALID_STRING', path: '/context/a' });
    assert.deepEqual(refusal('{"context":{"\\ud800":1}}'), { code: 'INVALID_STRING', path: '/context/\ud800' });
    assert.deepEqual(refusal('{"a":["ok","\\udc00"]}'), { code: 'INVALID_STRING', path: '/a/1' });
    // A caller may hand over a text that is not well formed itself (not decoded from UTF-8).
    assert.deepEqual(refusal('{"a":"\ud800"}'), { code: 'INVALID_STRING', path: '/a' });
    assert.deepEqual(refusal('{"\udfff":"b"}'), { code: 'INVALID_STRING', path: '/\udfff' });
  });

  it('refuses non-finite numbers and too deep nesting without any escape in the text', () => {
    assert.deepEqual(refusal('{"context":{"n":1e400}}'), { code: 'NUMBER_OUT_OF_RANGE', path: '/context/n' });
    const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    assert.equal(refusal(deep).code, 'INPUT_TOO_DEEP');
    assert.doesNotThrow(() => parseJsonBody(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`));
    assert.equal(refusal('{"__proto__":{}}').code, 'MALFORMED_JSON');
    assert.equal(refusal('{"\\u005f_proto__":{}}').code, 'MALFORMED_JSON');
  });
});
