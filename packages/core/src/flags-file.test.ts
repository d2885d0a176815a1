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
    assert.equal(pii.variants[pii.defaultVariant], true, 'ai-safety-pii must default to on');
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
