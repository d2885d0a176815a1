import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  security?: Record<string, string[]>[];
};

/** Routes that read a JSON body; every other route takes none. */
const WITH_BODY = new Set([
  'POST /api/admin/flags',
  'PUT /api/admin/flags/:key',
  'PATCH /api/admin/flags/:key/environments/:env',
  'PUT /api/admin/flags/:key/environments/:env/overrides/:targetingKey',
  'PUT /api/admin/evaluators/:name',
  'POST /api/admin/tokens',
  'POST /api/admin/evaluate',
  'POST /api/admin/canaries',
  'POST /ofrep/v1/evaluate/flags/:key',
  'POST /ofrep/v1/evaluate/flags',
  'POST /api/integrations/unleash/webhook',
]);
/** The web console's page and files (features/console): not API, so hidden from the document, and nothing else is. */
const HIDDEN = ['GET /', 'GET /*'];
const SSE = ['GET /api/client/stream', 'GET /ofrep/v1/sse', 'GET /api/integrations/unleash/stream'];

describe('OpenAPI document generated from the route schemas', () => {
  let t: TestApp;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };
  before(async () => {
    t = await createTestApp();
    const res = await t.app.inject({ url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    doc = res.json();
  });
  after(() => t.close());

  const operation = (method: string, url: string): Operation | undefined =>
    doc.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    assert.equal(validator.version, '3.1');
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
  });

  it('no route without schemas: every route declares its responses (and params, body) and is documented', () => {
    assert.ok(t.app.routeList.length > 25);
    const problems: string[] = [];
    for (const { method, url, schema } of t.app.routeList) {
      const name = `${method} ${url}`;
      const s = schema as Record<string, unknown> | undefined;
      if (!s?.response) problems.push(`${name}: no response schema`);
      if (s?.hide === true) {
        if (!HIDDEN.includes(name)) problems.push(`${name}: hidden from the document`);
        if (operation(method, url)) problems.push(`${name}: hidden, yet in the document`);
        continue;
      }
      const params = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      if (params.length > 0 && !s?.params) problems.push(`${name}: no params schema`);
      if (WITH_BODY.has(name) && !s?.body) problems.push(`${name}: no body schema`);
      const op = operation(method, url);
      if (!op) {
        problems.push(`${name}: not in the document`);
        continue;
      }
      for (const p of params) {
        if (!op.parameters?.some((x) => x.in === 'path' && x.name === p)) problems.push(`${name}: no path param ${p}`);
      }
      if (WITH_BODY.has(name) && !op.requestBody?.content?.['application/json']?.schema) {
        problems.push(`${name}: no request body schema in the document`);
      }
      const responses = Object.entries(op.responses ?? {});
      if (!responses.some(([status]) => status.startsWith('2'))) problems.push(`${name}: no success response`);
      for (const [status, r] of responses) {
        if (status === '204' || status === '304') continue;
        const schemas = Object.values(r.content ?? {}).map((c) => c.schema);
        if (schemas.length === 0 || schemas.some((x) => x === undefined)) {
          problems.push(`${name}: response ${status} has no schema`);
        }
      }
    }
    assert.deepEqual(problems, []);
    const hidden = t.app.routeList.filter((r) => (r.schema as { hide?: boolean } | undefined)?.hide === true);
    assert.deepEqual(hidden.map((r) => `${r.method} ${r.url}`).sort(), HIDDEN);
  });

  it('SSE routes declare text/event-stream; the Unleash webhook, health and metrics routes are described', () => {
    for (const route of SSE) {
      const [method, url] = route.split(' ') as [string, string];
      assert.ok(operation(method, url)?.responses?.['200']?.content?.['text/event-stream'], route);
    }
    const webhook = operation('POST', '/api/integrations/unleash/webhook');
    assert.deepEqual(webhook?.security, [{ unleashWebhookSecret: [] }]);
    assert.ok(webhook?.responses?.['202']?.content?.['application/json']);
    assert.ok(operation('GET', '/health')?.responses?.['200']?.content?.['application/json']);
    assert.ok(operation('GET', '/health/ready')?.responses?.['503']?.content?.['application/json']);
    assert.ok(operation('GET', '/metrics')?.responses?.['200']?.content?.['text/plain']);
    assert.deepEqual(operation('GET', '/api/admin/flags')?.security, [{ adminToken: [] }]);
    assert.deepEqual(operation('POST', '/ofrep/v1/evaluate/flags')?.security, [{ clientToken: [] }, { apiKey: [] }]);
  });

  it('shape errors found by a schema come out of the error mapper with codes and JSON-Pointer paths', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/flags',
      headers: t.admin,
      payload: booleanFlag('schema-errors'),
    });
    assert.equal(created.statusCode, 201, created.body);
    const send = (method: 'PATCH' | 'PUT' | 'POST', url: string, payload: unknown) =>
      t.app.inject({ method, url, headers: t.admin, payload: JSON.stringify(payload) });
    const error = (res: { statusCode: number; json(): { error: Record<string, unknown> } }) => {
      assert.equal(res.statusCode, 400);
      return res.json().error;
    };
    const patchUrl = '/api/admin/flags/schema-errors/environments/production';
    const unknown = error(await send('PATCH', patchUrl, { state: 'ENABLED', colour: 'red', size: 1 }));
    assert.equal(unknown.code, 'VALIDATION_FAILED');
    assert.equal(unknown.path, '/colour');
    assert.deepEqual(
      (unknown.details as { path: string; code: string }[]).map((d) => [d.path, d.code]),
      [
        ['/colour', 'UNKNOWN_PROPERTY'],
        ['/size', 'UNKNOWN_PROPERTY'],
      ],
    );
    assert.equal(error(await send('PATCH', patchUrl, {})).path, '');
    assert.equal(error(await send('PATCH', patchUrl, [1])).path, '');
    const override = error(await send('PUT', `${patchUrl}/overrides/u-1`, { variant: 1 }));
    assert.deepEqual([override.code, override.path], ['VALIDATION_FAILED', '/variant']);
    assert.equal(error(await send('PUT', `${patchUrl}/overrides/u-1`, {})).path, '/variant');
    const evaluate = error(await send('POST', '/api/admin/evaluate', { context: { targetingKey: 5 } }));
    assert.deepEqual(
      (evaluate.details as { path: string }[]).map((d) => d.path),
      ['/environment', '/context/targetingKey'],
    );
  });

  it('responses are serialized from their schemas without losing fields', async () => {
    const flag = booleanFlag('serialized', { description: 'd', sensitive: true, schema: undefined });
    const created = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload: flag });
    assert.equal(created.statusCode, 201, created.body);
    const read = await t.app.inject({ url: '/api/admin/flags/serialized', headers: t.admin });
    assert.deepEqual(read.json(), JSON.parse(JSON.stringify(flag)));
  });
});
