import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AdminClient, ApiError } from './http-client.js';
import { closedPort, runCli, withTempDir } from './test-support.js';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in server answering every request with the next canned response, recording what it received. */
class StubServer {
  readonly requests: RecordedRequest[] = [];
  responses: { status: number; body?: unknown; headers?: Record<string, string> }[] = [];
  private readonly server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const next = this.responses.shift() ?? { status: 200, body: {} };
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(next.body === undefined ? '' : typeof next.body === 'string' ? next.body : JSON.stringify(next.body));
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('AdminClient and error mapping', () => {
  const stub = new StubServer();
  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => {
    stub.requests.length = 0;
    stub.responses = [];
  });

  it('reports an unreachable server with the URL and what to do, exit 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCli(['flags', 'list', '--url', url]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr.trim(),
      `rctl: cannot reach the Runtime Control server at ${url}: connection refused. ` +
        'Start it with "rctl up" or set --url/RC_URL.',
    );
  });

  it('explains a rejected token and never prints it', async () => {
    stub.responses.push({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED', message: 'unknown or revoked token' } },
    });
    const run = await runCli(['flags', 'list', '--url', stub.url, '--token', 'secret-token-value']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr.trim(),
      'rctl: the server rejected the token (UNAUTHORIZED): unknown or revoked token. ' +
        'Set RC_TOKEN or --token to an admin token.',
    );
    assert.ok(!run.stderr.includes('secret-token-value') && !run.stdout.includes('secret-token-value'));
  });

  it('explains a client token used on the admin API (403)', async () => {
    stub.responses.push({
      status: 403,
      body: { error: { code: 'WRONG_TOKEN_KIND', message: 'a client token cannot call the admin API' } },
    });
    const run = await runCli(['flags', 'list', '--url', stub.url, '--token', 't']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /rejected the token \(WRONG_TOKEN_KIND\).*Set RC_TOKEN or --token/);
  });

  it('says that no token was found when none was sent', async () => {
    await withTempDir(async (cwd) => {
      stub.responses.push({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'missing token' } } });
      const run = await runCli(['flags', 'list', '--url', stub.url], { cwd });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /none was sent/);
      assert.match(run.stderr, /RC_TOKEN or --token/);
      assert.equal(stub.requests[0]?.headers.authorization, undefined);
    });
  });

  it('prints a server error code, message and path', async () => {
    stub.responses.push({
      status: 400,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'unknown environment "staging"',
          path: '/environments/staging',
          details: [{ path: '/environments/staging', code: 'UNKNOWN_ENVIRONMENT', message: 'unknown environment' }],
        },
      },
    });
    const run = await runCli(['flags', 'enable', 'k', '--env', 'staging', '--url', stub.url, '--token', 't']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr.trim(),
      'rctl: VALIDATION_FAILED: unknown environment "staging" (at /environments/staging)',
    );
  });

  it('lists every detail when the server reports several', async () => {
    const details = [
      { path: '/variants/on', code: 'VARIANT_TYPE_MISMATCH', message: 'variant "on" must be a boolean' },
      { path: '/defaultVariant', code: 'UNKNOWN_DEFAULT_VARIANT', message: 'defaultVariant "x" is not a variant' },
    ];
    stub.responses.push({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: details[0]!.message, path: '/variants/on', details } },
    });
    const client = new AdminClient({ url: stub.url, token: 't', actor: 'a' });
    await assert.rejects(
      client.patchEnvironment('k', 'production', { state: 'ENABLED' }),
      (e: unknown) =>
        e instanceof ApiError &&
        e.code === 'VALIDATION_FAILED' &&
        e.path === '/variants/on' &&
        e.message.includes('/defaultVariant: defaultVariant "x" is not a variant [UNKNOWN_DEFAULT_VARIANT]'),
    );
  });

  it('reports a non-Runtime-Control answer with its status', async () => {
    stub.responses.push({ status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } });
    const run = await runCli(['flags', 'list', '--url', stub.url, '--token', 't']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the server answered HTTP 502: <html>Bad Gateway/);
  });

  it('sends the bearer token, the actor and JSON; encodes path segments', async () => {
    stub.responses.push({ status: 200, body: { key: 'a/b' } });
    const run = await runCli(
      ['flags', 'override', 'a/b', '--env', 'production', '--user', 'u 1', '--variant', 'on', '--url', stub.url],
      { env: { RC_TOKEN: 'env-token', USER: 'alice' } },
    );
    assert.equal(run.code, 0, run.stderr);
    const request = stub.requests[0]!;
    assert.equal(request.method, 'PUT');
    assert.equal(request.url, '/api/admin/flags/a%2Fb/environments/production/overrides/u%201');
    assert.equal(request.headers.authorization, 'Bearer env-token');
    assert.equal(request.headers['x-rc-actor'], 'alice');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), { variant: 'on' });
  });

  it('prefers --token over RC_TOKEN over the data dir token file; the actor defaults to "rctl"', async () => {
    await withTempDir(async (cwd) => {
      await mkdir(join(cwd, '.runtime-control'));
      await writeFile(join(cwd, '.runtime-control', 'admin-token'), 'file-token\n');
      await mkdir(join(cwd, 'custom'));
      await writeFile(join(cwd, 'custom', 'admin-token'), 'custom-file-token');
      const list = { status: 200, body: { revision: 0, flags: [] } };
      stub.responses.push(list, list, list, list);
      await runCli(['flags', 'list', '--url', stub.url], { cwd });
      await runCli(['flags', 'list', '--url', stub.url], { cwd, env: { RC_DATA_DIR: 'custom' } });
      await runCli(['flags', 'list', '--url', stub.url], { cwd, env: { RC_TOKEN: 'env-token' } });
      await runCli(['flags', 'list', '--url', stub.url, '--token', 'flag-token'], { cwd, env: { RC_TOKEN: 'x' } });
      assert.deepEqual(
        stub.requests.map((r) => r.headers.authorization),
        ['Bearer file-token', 'Bearer custom-file-token', 'Bearer env-token', 'Bearer flag-token'],
      );
      assert.equal(stub.requests[0]?.headers['x-rc-actor'], 'rctl');
    });
  });

  it('uses RC_URL when --url is absent', async () => {
    stub.responses.push({ status: 200, body: { revision: 3, flags: [] } });
    const run = await runCli(['flags', 'list'], { env: { RC_URL: `${stub.url}/`, RC_TOKEN: 't' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(stub.requests[0]?.url, '/api/admin/flags');
  });

  it('treats 409 FLAG_EXISTS on create as "exists", not as an error', async () => {
    stub.responses.push({ status: 409, body: { error: { code: 'FLAG_EXISTS', message: 'flag "k" exists' } } });
    const client = new AdminClient({ url: stub.url, token: 't', actor: 'a' });
    const result = await client.createFlag({
      key: 'k',
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      environments: {},
    });
    assert.deepEqual(result, { status: 'exists' });
  });

  it('prints the token from "tokens create" once, alone on stdout', async () => {
    stub.responses.push({
      status: 201,
      body: {
        id: 'tok_1',
        name: 'api-gateway',
        kind: 'client',
        environment: 'production',
        createdAt: '2025-01-01T00:00:00Z',
        token: 'rc_client_secret',
      },
    });
    const run = await runCli(
      ['tokens', 'create', '--kind', 'client', '--env', 'production', '--name', 'api-gateway', '--url', stub.url],
      { env: { RC_TOKEN: 't' } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'rc_client_secret\n');
    assert.match(run.stderr, /created client token tok_1 "api-gateway" for production; it is shown only once/);
    assert.deepEqual(JSON.parse(stub.requests[0]!.body), {
      kind: 'client',
      environment: 'production',
      name: 'api-gateway',
    });
  });
});
