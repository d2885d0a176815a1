import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatFlagsFileIssue, parseFlagsFile } from './flags-file.js';

describe('parseFlagsFile', () => {
  it('parses the DevMentor flags file', () => {
    const text = readFileSync(new URL('../../../examples/devmentor/flags.yaml', import.meta.url), 'utf8');
    const r = parseFlagsFile(text, 'flags.yaml');
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    const keys = r.value.flags.map((f) => f.key);
    for (const key of [
      'new-ui-enabled',
      'ai-safety-pii',
      'ai-provider-openai-enabled',
      'ai-gateway.request-timeout-ms',
      'cache.ttl-seconds',
      'ai-gateway.routing',
    ]) {
      assert.ok(keys.includes(key), key);
    }
    const pii = r.value.flags.find((f) => f.key === 'ai-safety-pii')!;
    assert.equal(pii.variants[pii.defaultVariant ?? ''], true, 'ai-safety-pii must default to on');
    assert.ok(r.value.flags.find((f) => f.key === 'ai-gateway.routing')?.schema);
  });

  it('names the file, line and field of a wrong-typed variant', () => {
    const text = [
      'flags:',
      '  - key: k',
      '    type: boolean',
      '    variants:',
      '      on: "yes"',
      '      off: false',
      '    defaultVariant: off',
      '',
    ].join('\n');
    const r = parseFlagsFile(text, 'bad.yaml');
    assert.ok(!r.ok);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0]?.line, 5);
    assert.match(formatFlagsFileIssue(r.issues[0]!), /^bad\.yaml:5:\d+: flag "k": variant "on" must be a boolean/);
  });

  it('reports YAML syntax errors and duplicate keys with lines', () => {
    const syntax = parseFlagsFile('flags:\n  - key: [unclosed\n', 'x.yaml');
    assert.ok(!syntax.ok && syntax.issues[0]?.code === 'SYNTAX_ERROR');
    const dup = parseFlagsFile(
      'flags:\n  - {key: a, type: boolean, variants: {on: true}, defaultVariant: on}\n  - {key: a, type: boolean, variants: {on: true}, defaultVariant: on}\n',
      'd.yaml',
    );
    assert.ok(!dup.ok);
    assert.equal(dup.issues[0]?.code, 'DUPLICATE_KEY');
    assert.equal(dup.issues[0]?.line, 3);
  });
});

describe('parseFlagsFile: shape from the flags file JSON Schema', () => {
  it('reports a wrong-typed field with the line of the field, from the schema', () => {
    const text = ['flags:', '  - key: k', '    type: boolean', '    variants: 5', '    defaultVariant: off', ''].join(
      '\n',
    );
    const r = parseFlagsFile(text, 'shape.yaml');
    assert.ok(!r.ok);
    const variants = r.issues.filter((i) => i.path === '/flags/0/variants');
    assert.equal(variants.length, 1, JSON.stringify(r.issues));
    assert.equal(variants[0]?.code, 'INVALID_TYPE');
    assert.equal(
      formatFlagsFileIssue(variants[0]!),
      'shape.yaml:4:15: flag "k": variants must be object (at /flags/0/variants) [INVALID_TYPE]',
    );
  });

  it('reports an unknown top-level key and an unknown flag field with their lines', () => {
    const text = [
      'flags:',
      '  - key: k',
      '    type: boolean',
      '    variants: { on: true }',
      '    defaultVariant: on',
      '    colour: blue',
      'flagz: []',
      '',
    ].join('\n');
    const r = parseFlagsFile(text, 'unknown.yaml');
    assert.ok(!r.ok);
    assert.deepEqual(
      r.issues.map((i) => formatFlagsFileIssue(i)),
      [
        'unknown.yaml:7:8: unknown top-level property "flagz" (at /flagz) [UNKNOWN_PROPERTY]',
        'unknown.yaml:6:13: flag "k": unknown property "colour" (at /flags/0/colour) [UNKNOWN_PROPERTY]',
      ],
    );
  });

  it('reports enum, pattern and missing fields from the schema', () => {
    // defaultVariant may be absent (flagd's "code default"); variants may not.
    const text = ['flags:', '  - key: "-bad"', '    type: bool', ''].join('\n');
    const r = parseFlagsFile(text, 'e.yaml');
    assert.ok(!r.ok);
    const byPath = new Map(r.issues.map((i) => [i.path, i]));
    assert.equal(byPath.get('/flags/0/type')?.code, 'INVALID_VALUE');
    assert.equal(byPath.get('/flags/0/type')?.line, 3);
    assert.equal(byPath.get('/flags/0/key')?.code, 'INVALID_VALUE');
    assert.equal(byPath.get('/flags/0/key')?.line, 2);
    assert.equal(byPath.get('/flags/0/variants')?.code, 'REQUIRED');
    assert.equal(byPath.get('/flags/0/defaultVariant'), undefined);
    assert.equal(new Set(r.issues.map((i) => i.path)).size, r.issues.length, 'no problem reported twice');
  });

  it('a file without "flags" or with a non-list "flags" is refused at its line', () => {
    const missing = parseFlagsFile('evaluators: {}\n', 'm.yaml');
    assert.ok(!missing.ok);
    assert.deepEqual(
      missing.issues.map((i) => [i.path, i.code]),
      [['/flags', 'REQUIRED']],
    );
    const scalar = parseFlagsFile('environments: [development]\nflags: 3\n', 's.yaml');
    assert.ok(!scalar.ok);
    assert.equal(scalar.issues.length, 1);
    assert.equal(scalar.issues[0]?.line, 2);
    assert.equal(scalar.issues[0]?.code, 'INVALID_TYPE');
  });
});
