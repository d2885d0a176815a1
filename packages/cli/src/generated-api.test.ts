import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

interface Generator {
  API_TYPES_FILE: string;
  generateApiTypes(): Promise<string>;
}

describe('generated API types (@runtime-control/core/http-api, packages/core/src/api/http-api.ts)', () => {
  it('match the OpenAPI document the server builds from its route schemas (else run `npm run generate:api`)', async () => {
    const generator = (await import(new URL('../../../scripts/generate-api.mjs', import.meta.url).href)) as Generator;
    const checkedIn = readFileSync(generator.API_TYPES_FILE, 'utf8');
    const fresh = await generator.generateApiTypes();
    assert.ok(checkedIn === fresh, 'packages/core/src/api/http-api.ts is stale: run `npm run generate:api`');
  });
});
