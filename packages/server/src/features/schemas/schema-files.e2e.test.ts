import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { flagsFileJsonSchema, platformFileJsonSchema } from '@runtime-control/core';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

interface Generator {
  SCHEMA_FILES: { name: string; path: string }[];
  generateSchemaFile(name: string): Promise<string>;
}

const PUBLISHED: Record<string, () => Record<string, unknown>> = {
  'flags-file.json': flagsFileJsonSchema,
  'platform-file.json': platformFileJsonSchema,
};

const ROOT = new URL('../../../../../', import.meta.url);

describe('published JSON Schemas', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('GET /api/schemas/flags-file.json serves the flags file schema without a token', async () => {
    const res = await t.app.inject({ url: '/api/schemas/flags-file.json' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), flagsFileJsonSchema());
    const flag = res.json().properties.flags.items;
    assert.equal(flag.additionalProperties, false);
    assert.deepEqual(flag.properties.type.enum, ['boolean', 'string', 'number', 'object']);
  });

  it('GET /api/schemas/platform-file.json serves the platform file schema without a token', async () => {
    const res = await t.app.inject({ url: '/api/schemas/platform-file.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), platformFileJsonSchema(), 'serialized whole: no annotation dropped');
    const schema = res.json();
    assert.equal(schema.additionalProperties, false);
    const route = schema.properties.routes.items;
    assert.equal(route.properties.destinations.items.properties.weight.type, 'integer');
    assert.match(route.properties.name.description, /HTTPRoute name/);
    assert.equal(schema.properties.namespaces.items.properties.labels.propertyNames.title, 'label key');
  });

  it('docs/schemas/*.json are the served schemas (else run `npm run generate:schemas`)', async () => {
    const generator = (await import(new URL('scripts/generate-schemas.mjs', ROOT).href)) as Generator;
    assert.deepEqual(
      generator.SCHEMA_FILES.map((f) => f.name),
      Object.keys(PUBLISHED),
    );
    for (const { name, path } of generator.SCHEMA_FILES) {
      const checkedIn = readFileSync(path, 'utf8');
      assert.ok(checkedIn === (await generator.generateSchemaFile(name)), `docs/schemas/${name} is stale`);
      assert.deepEqual(JSON.parse(checkedIn), PUBLISHED[name]?.());
      const served = await t.app.inject({ url: `/api/schemas/${name}` });
      assert.equal(served.statusCode, 200);
      assert.deepEqual(served.json(), JSON.parse(checkedIn));
    }
  });

  it('the example files point editors at the checked-in schemas', () => {
    for (const [example, name] of [
      ['examples/devmentor/flags.yaml', 'flags-file.json'],
      ['examples/devmentor/platform.yaml', 'platform-file.json'],
    ] as const) {
      const firstLine = readFileSync(new URL(example, ROOT), 'utf8').split('\n')[0];
      assert.equal(firstLine, `# yaml-language-server: $schema=../../docs/schemas/${name}`, example);
    }
  });
});
