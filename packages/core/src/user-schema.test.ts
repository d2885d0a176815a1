import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import {
  type CompiledUserSchema,
  clearUserSchemaCache,
  compileUserSchema,
  USER_SCHEMA_LIMITS,
  type UserSchemaValidator,
  userSchemaCacheStats,
} from './user-schema.js';

function compiled(schema: unknown): UserSchemaValidator {
  const result = compileUserSchema(schema);
  if (!result.ok) assert.fail(`expected the schema to compile, got: ${result.message}`);
  return result.validate;
}

function refused(schema: unknown): string {
  const result: CompiledUserSchema = compileUserSchema(schema);
  if (result.ok) assert.fail(`expected ${JSON.stringify(schema)} to be refused`);
  return result.message;
}

describe('compileUserSchema: isolation', () => {
  test('the same $id schema compiles 1,000 times, with and without the cache', () => {
    const schema = { $id: 'https://example.com/limits', type: 'number', minimum: 1 };
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) clearUserSchemaCache();
      const validate = compiled(schema);
      assert.deepEqual(validate(5), []);
      assert.equal(validate(0).length, 1);
    }
    // Same $id, different content every time: each one is a fresh compile that must not collide.
    for (let i = 0; i < 1000; i++) {
      const validate = compiled({ $id: 'https://example.com/limits', type: 'number', minimum: i });
      assert.deepEqual(validate(i), []);
      assert.equal(validate(i - 1).length, 1);
    }
  });

  test('a $ref to a definition inside the schema (also through its own $id) works', () => {
    const validate = compiled({
      $id: 'http://example.com/s',
      definitions: { port: { type: 'integer', minimum: 1, maximum: 65535 } },
      properties: { a: { $ref: '#/definitions/port' }, b: { $ref: 'http://example.com/s#/definitions/port' } },
    });
    assert.deepEqual(validate({ a: 80, b: 443 }), []);
    assert.deepEqual(
      validate({ a: 0, b: 70000 }).map((i) => i.path),
      ['/a', '/b'],
    );
  });

  test('the cache never holds more than its capacity (5,000 distinct schemas, accepted and refused)', () => {
    const { capacity } = userSchemaCacheStats();
    assert.equal(capacity, USER_SCHEMA_LIMITS.cacheEntries);
    assert.ok(capacity <= 256);
    for (let i = 0; i < 5000; i++) {
      const schema = i % 5 === 0 ? { type: 'number', minimum: 'not a number', $comment: String(i) } : { maximum: i };
      compileUserSchema(schema);
      assert.ok(userSchemaCacheStats().size <= capacity, `cache size ${userSchemaCacheStats().size} after ${i}`);
    }
    assert.equal(userSchemaCacheStats().size, capacity);
  });

  test('a result stays usable after the cache evicted it, and a changed caller object changes nothing', () => {
    const schema = { type: 'number', maximum: 10 };
    const validate = compiled(schema);
    for (let i = 0; i < USER_SCHEMA_LIMITS.cacheEntries + 10; i++) compileUserSchema({ minimum: -i - 1000 });
    schema.maximum = 1;
    assert.deepEqual(validate(5), []);
    assert.equal(validate(11).length, 1);
  });

  test('key order does not matter for the verdict', () => {
    const a = compiled({ type: 'object', required: ['x'], properties: { x: { type: 'number' } } });
    const b = compiled({ properties: { x: { type: 'number' } }, required: ['x'], type: 'object' });
    for (const v of [{}, { x: 1 }, { x: 'no' }, 3]) assert.deepEqual(a(v), b(v));
  });
});

describe('compileUserSchema: regular expressions', () => {
  test('^(a+)+$ against 30 a and a ! answers quickly (the native engine takes over a second)', () => {
    const validate = compiled({ type: 'object', properties: { name: { type: 'string', pattern: '^(a+)+$' } } });
    const started = performance.now();
    const issues = validate({ name: `${'a'.repeat(30)}!` });
    const elapsed = performance.now() - started;
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, '/name');
    assert.ok(elapsed < 250, `validation took ${elapsed.toFixed(1)} ms`);
    assert.deepEqual(validate({ name: 'a'.repeat(30) }), []);
  });

  test('patterns match and do not match as ECMAScript says', () => {
    const validate = compiled({
      type: 'object',
      properties: {
        code: { type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' },
        word: { type: 'string', pattern: 'colou?r' },
        greek: { type: 'string', pattern: '^\\p{L}+$' },
        escaped: { type: 'string', pattern: '^\\u0041\\/x$' },
      },
    });
    assert.deepEqual(validate({ code: 'AB-123', word: 'the color red', greek: 'αβγ', escaped: 'A/x' }), []);
    const issues = validate({ code: 'ab-123', word: 'grey', greek: 'a1', escaped: 'B/x' });
    assert.deepEqual(issues.map((i) => i.path).sort(), ['/code', '/escaped', '/greek', '/word']);
    assert.match(issues[0]?.message ?? '', /^value must match pattern/);
  });

  test('patterns agree with ECMAScript on ".", \\s, \\S, classes and escapes (differential, native RegExp)', () => {
    const patterns = [
      '^a.b$',
      '^a\\sb$',
      '^a\\Sb$',
      '^a[\\s]b$',
      '^a[^\\s]b$',
      '^a[\\S]b$',
      '^a[x\\s-]b$',
      '^a[^]b$',
      '^a[]b$',
      '^[[:alpha:]+$',
      '^\\w+\\b',
      '^\\d{2,3}$',
      '^(?:ab|a)*c?$',
      '^[\\u00e0-\\u00ff]+$',
      '\\u{1F600}',
      '^\\p{Lu}',
      'x$',
      '^$',
    ];
    const alphabet = [
      'a',
      'b',
      'c',
      'x',
      'A',
      '1',
      ' ',
      '\t',
      '\n',
      '\r',
      '\v',
      '\u00a0',
      '\u2028',
      '\u3000',
      '\ufeff',
    ];
    const more = ['é', '😀', '[', ':', 'l', 'p', 'h', '-', '_', 'Σ'];
    const validators = patterns.map((pattern) => [pattern, compiled({ type: 'string', pattern })] as const);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet, ...more), { maxLength: 6 }), (chars) => {
        const s = chars.join('');
        for (const [pattern, validate] of validators) {
          assert.equal(
            validate(s).length === 0,
            new RegExp(pattern, 'u').test(s),
            `${pattern} on ${JSON.stringify(s)}`,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('two different patterns in one schema each keep their own expression', () => {
    const validate = compiled({
      type: 'object',
      properties: { a: { type: 'string', pattern: '^a+$' }, b: { type: 'string', pattern: '^b+$' } },
    });
    assert.deepEqual(validate({ a: 'aaa', b: 'bbb' }), []);
    assert.deepEqual(
      validate({ a: 'bbb', b: 'aaa' }).map((i) => i.path),
      ['/a', '/b'],
    );
  });

  test('patternProperties runs on the linear-time engine too', () => {
    const validate = compiled({
      type: 'object',
      patternProperties: { '^(x+)+$': { type: 'number' } },
      additionalProperties: false,
    });
    assert.deepEqual(validate({ xxx: 1 }), []);
    const started = performance.now();
    const issues = validate({ [`${'x'.repeat(30)}!`]: 1 });
    assert.ok(performance.now() - started < 250);
    assert.equal(issues.length, 1);
    assert.deepEqual(validate({ xx: 'no' }).length, 1);
  });

  test('lookaround and backreferences are refused, naming the keyword', () => {
    for (const pattern of ['^(?=a)', '^(?!a)', '(?<=a)b', '(?<!a)b', '(a)\\1', '(?<n>a)\\k<n>']) {
      const message = refused({ type: 'object', properties: { p: { type: 'string', pattern } } });
      assert.match(
        message,
        /^"pattern" at #\/properties\/p uses syntax that is not supported \(backreferences\/lookaround\)/,
      );
    }
    const message = refused({ type: 'object', patternProperties: { '(?=x)': {} } });
    assert.match(message, /^"patternProperties" key at the schema root uses syntax that is not supported/);
    // Inside a character class these characters are literals.
    assert.deepEqual(compiled({ type: 'string', pattern: '^[(?=\\]]+$' })('(?=]'), []);
  });

  test('invalid ECMAScript and syntax re2js cannot run are refused with a message', () => {
    assert.match(
      refused({ type: 'string', pattern: '(' }),
      /^"pattern" at the schema root is not a valid regular expression/,
    );
    assert.match(refused({ type: 'string', pattern: '(?i)abc' }), /is not a valid regular expression/);
    assert.match(
      refused({ type: 'string', pattern: 'a{2,1001}' }),
      /does not support \(.*invalid repeat count.*\): "a\{2,1001\}"/,
    );
  });
});

describe('compileUserSchema: refusals, never throws', () => {
  test('remote and unknown $refs are refused', () => {
    assert.match(
      refused({ $ref: 'http://example.com/schema.json' }),
      /^"\$ref" "http:\/\/example.com\/schema.json" cannot be resolved/,
    );
    assert.match(refused({ properties: { a: { $ref: '#/definitions/missing' } } }), /"\$ref" .* cannot be resolved/);
    assert.match(refused({ $ref: 'http://json-schema.org/draft-07/schema#' }), /cannot be resolved/);
  });

  test('$async is refused, at the root and in a subschema', () => {
    assert.match(refused({ $async: true, type: 'object' }), /^"\$async" at the schema root is not supported/);
    assert.match(refused({ properties: { a: { $async: true } } }), /^"\$async" at #\/properties\/a is not supported/);
  });

  test('only draft-07 is accepted as $schema', () => {
    compiled({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'number' });
    assert.match(refused({ $schema: 'https://json-schema.org/draft/2020-12/schema' }), /draft-07/);
    assert.match(refused({ $schema: 7 }), /draft-07/);
  });

  test('a schema nested too deep is refused', () => {
    let deep: unknown = { type: 'number' };
    for (let i = 0; i < 40; i++) deep = { properties: { a: deep } };
    assert.match(refused(deep), /nested deeper than 32 levels/);
    let veryDeep: unknown = {};
    for (let i = 0; i < 100_000; i++) veryDeep = { not: veryDeep };
    assert.match(refused(veryDeep), /nested deeper than 32 levels/);
    let ok: unknown = { type: 'number' };
    for (let i = 0; i < 15; i++) ok = { properties: { a: ok } };
    compiled(ok);
  });

  test('a schema that is too large is refused', () => {
    const big = { enum: Array.from({ length: 10_000 }, (_, i) => `value-${i}`) };
    assert.match(refused(big), /larger than 65536 bytes/);
    assert.match(refused({ description: 'é'.repeat(40_000) }), /larger than 65536 bytes/);
  });

  test('what is not JSON is refused, not thrown', () => {
    const cyclic: Record<string, unknown> = { type: 'object' };
    cyclic.properties = { self: cyclic };
    assert.match(refused(cyclic), /nested deeper/);
    assert.match(refused({ minimum: Number.NaN }), /not JSON/);
    assert.match(refused({ x: () => 1 }), /not JSON/);
    assert.match(refused({ x: 1n }), /not JSON/);
    assert.match(refused({ x: new Date() }), /not JSON/);
    assert.match(refused(undefined), /not JSON/);
    assert.match(refused('string'), /JSON Schema object/);
    assert.match(refused({ type: 'nonsense' }), /^schema is invalid: \/type /);
    compiled(true);
    compiled({ type: 'number', examples: [1], 'x-owner': 'me', format: 'email' });
  });

  test('reported errors are capped, the last one saying how many more there are', () => {
    const names = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const validate = compiled({ type: 'object', required: names });
    const issues = validate({}, '/variants/v');
    assert.equal(issues.length, USER_SCHEMA_LIMITS.maxReportedErrors);
    assert.deepEqual(issues[0], {
      path: '/variants/v',
      code: 'SCHEMA_VIOLATION',
      message: "value must have required property 'p0'",
    });
    assert.equal(issues.at(-1)?.message, 'value has 11 more schema violations (not listed)');
    assert.equal(compiled({ type: 'object', required: names.slice(0, 20) })({}).length, 20);
  });

  test('paths are prefixed with the base pointer', () => {
    const validate = compiled({ type: 'object', properties: { 'a/b': { type: 'number' } } });
    assert.deepEqual(validate({ 'a/b': 'x' }, '/variants/big'), [
      { path: '/variants/big/a~1b', code: 'SCHEMA_VIOLATION', message: 'value must be number' },
    ]);
  });
});

describe('compileUserSchema: differential against plain Ajv', () => {
  const leafSchema = fc.record(
    {
      type: fc.constantFrom('number', 'integer', 'string', 'boolean', 'object', 'array', 'null'),
      minimum: fc.double({ noNaN: true, noDefaultInfinity: true }),
      maximum: fc.integer({ min: -1000, max: 1000 }),
      enum: fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('a', 'b', null, true)), {
        minLength: 1,
        maxLength: 4,
      }),
    },
    { requiredKeys: [] },
  );
  const { schema } = fc.letrec<{ schema: Record<string, unknown> }>((tie) => ({
    schema: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      leafSchema,
      fc
        .record(
          {
            type: fc.constant('object'),
            required: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 3 }),
            properties: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('schema'), { maxKeys: 3 }),
          },
          { requiredKeys: [] },
        )
        .map((s) => s as Record<string, unknown>),
    ),
  }));
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(
      fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      fc.oneof(fc.integer({ min: -1500, max: 1500 }), fc.double(), fc.constantFrom('a', 'b', null, true, {}, [])),
      { maxKeys: 5 },
    ),
  );

  test('the verdict on generated values equals new Ajv({strict:false})', () => {
    // One reference instance: the generated schemas carry no $id, and compiling each with a fresh meta-schema
    // would only slow the test down.
    const referenceAjv = new Ajv({ strict: false });
    fc.assert(
      fc.property(schema, fc.array(value, { minLength: 1, maxLength: 8 }), (s, values) => {
        const ours = compileUserSchema(s);
        let reference: ReturnType<Ajv['compile']> | undefined;
        try {
          reference = referenceAjv.compile(s);
        } catch {
          reference = undefined;
        }
        assert.equal(ours.ok, reference !== undefined, ours.ok ? 'we compiled it' : ours.message);
        if (!ours.ok || reference === undefined) return;
        for (const v of values) {
          assert.equal(ours.validate(v).length === 0, reference(v), `value ${JSON.stringify(v)}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
