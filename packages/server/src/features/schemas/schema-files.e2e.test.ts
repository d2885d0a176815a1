import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { flagsFileJsonSchema } from '@runtime-control/core';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

interface Generator {
  FLAGS_FILE_SCHEMA_FILE: string;
  generateFlagsFileSchema(): Promise<string>;
}

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

  it('docs/schemas/flags-file.json is the served schema (else run `npm run generate:schemas`)', async () => {
    const url = new URL('../../../../../scripts/generate-schemas.mjs', import.meta.url).href;
    const generator = (await import(url)) as Generator;
    const checkedIn = readFileSync(generator.FLAGS_FILE_SCHEMA_FILE, 'utf8');
    assert.ok(checkedIn === (await generator.generateFlagsFileSchema()), 'docs/schemas/flags-file.json is stale');
    assert.deepEqual(JSON.parse(checkedIn), flagsFileJsonSchema());
  });
});
