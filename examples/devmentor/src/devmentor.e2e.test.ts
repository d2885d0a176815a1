import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { OpenFeature } from '@openfeature/server-sdk';
import type { FlagHealth } from '@runtime-control/sdk/health';
import { type RunningServer, startServer } from '@runtime-control/server';
import type { FastifyInstance } from 'fastify';
import type { CompleteResponse } from './ai-gateway.js';
import { buildAiGateway } from './ai-gateway.js';
import { buildApiGateway } from './api-gateway.js';
import { createServiceProvider, type ServiceProvider } from './runtime-control.js';

const ADMIN = 'rc-devmentor-e2e-admin-token-0123456789';
const run = promisify(execFile);
const SEED = new URL('../flags.yaml', import.meta.url).pathname;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const result = await check();
    if (result !== undefined) return result;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('DevMentor on Runtime Control (acceptance)', () => {
  let server: RunningServer;
  let dataDir: string;
  let token: string;
  let apiGateway: FastifyInstance;
  let apiUrl: string;
  let aiGateway: FastifyInstance;
  let aiUrl: string;
  const services: ServiceProvider[] = [];

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'x-rc-actor': 'e2e' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${path} → ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  };
  const ui = async (user: string) =>
    ((await (await fetch(`${apiUrl}/api/ui?user=${user}`)).json()) as { ui: string; user: string }).ui;
  const complete = async (prompt: string, user = 'u-123') => {
    const res = await fetch(`${aiUrl}/api/ai/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, user }),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as CompleteResponse;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rc-devmentor-e2e-'));
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      seedFile: SEED,
      env: { RC_ADMIN_TOKEN: ADMIN, RC_LOG_LEVEL: 'silent' },
      print: () => {},
    });
    token = (await admin('POST', '/api/admin/tokens', { kind: 'client', environment: 'development' }))?.token as string;
    const api = createServiceProvider({ url: server.url, token, appName: 'api-gateway' });
    const ai = createServiceProvider({ url: server.url, token, appName: 'ai-gateway' });
    services.push(api, ai);
    apiGateway = await buildApiGateway(api);
    apiUrl = await apiGateway.listen({ port: 0, host: '127.0.0.1' });
    aiGateway = await buildAiGateway(ai);
    aiUrl = await aiGateway.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await apiGateway?.close();
    await aiGateway?.close();
    await OpenFeature.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('flipping new-ui-enabled for u-123 reaches api-gateway within 1 s, without a restart; u-456 stays classic', async () => {
    assert.equal(await ui('u-123'), 'classic');
    assert.equal(await ui('u-456'), 'classic');
    const written = performance.now();
    await admin('PUT', '/api/admin/flags/new-ui-enabled/environments/development/overrides/u-123', { variant: 'on' });
    const acknowledged = performance.now();
    await until('u-123 to get the new UI', async () => ((await ui('u-123')) === 'new' ? true : undefined));
    const flipMs = performance.now() - written;
    console.log(
      `# flip latency: ${flipMs.toFixed(1)} ms from sending the write (${(performance.now() - acknowledged).toFixed(1)} ms after its 200)`,
    );
    assert.ok(flipMs < 1000, `u-123 saw the change ${flipMs.toFixed(0)} ms after the write`);
    assert.equal(await ui('u-456'), 'classic');
    // Same process, same provider: the change arrived over the stream.
    assert.equal(services[0]?.provider.state, 'READY');
    const byHeader = await fetch(`${apiUrl}/api/ui`, { headers: { 'x-user-id': 'u-123' } });
    assert.deepEqual(await byHeader.json(), { ui: 'new', user: 'u-123' });
  });

  it('ai-gateway: PII redaction follows ai-safety-pii, and a disabled flag means the safe code default (redact)', async () => {
    const prompt = 'I am jane@example.com, call +44 20 7946 0958 about order 12345';
    const redacted = 'I am [email], call [phone] about order 12345';
    assert.deepEqual(await complete(prompt), {
      provider: 'anthropic',
      prompt: redacted,
      timeoutMs: 15000,
      piiRedaction: true,
    });
    const pii = '/api/admin/flags/ai-safety-pii/environments/development';
    const awaitPii = (expected: boolean) =>
      until(`piiRedaction ${expected}`, async () =>
        (await complete(prompt)).piiRedaction === expected ? true : undefined,
      );

    // DISABLED is not "off": the SDK serves the code default, which is true (redact). Turning detection off is a
    // deliberate act: target the `off` variant (here for the whole environment; an override would do one user).
    await admin('PATCH', pii, { state: 'DISABLED' });
    await until('the disabled flag to arrive', async () => {
      const health = (await (await fetch(`${aiUrl}/health/flags`)).json()) as FlagHealth;
      return health.flags.find((f) => f.key === 'ai-safety-pii')?.reason === 'DISABLED' ? true : undefined;
    });
    assert.equal((await complete(prompt)).prompt, redacted, 'disabled flag → code default true → still redacted');

    await admin('PATCH', pii, { state: 'ENABLED', targeting: { if: [true, 'off', null] } });
    await awaitPii(false);
    assert.equal((await complete(prompt)).prompt, prompt, 'redaction off: the prompt passes unchanged');

    await admin('PATCH', pii, { targeting: null });
    await awaitPii(true);
    assert.equal((await complete(prompt)).prompt, redacted);
  });

  it('ai-gateway: ai-provider-openai-enabled flips the provider name; the timeout knob follows its flag', async () => {
    assert.equal((await complete('hi', 'u-777')).provider, 'anthropic');
    await admin('PUT', '/api/admin/flags/ai-provider-openai-enabled/environments/development/overrides/u-777', {
      variant: 'on',
    });
    await until('openai for u-777', async () =>
      (await complete('hi', 'u-777')).provider === 'openai' ? true : undefined,
    );
    assert.equal((await complete('hi', 'u-778')).provider, 'anthropic', 'other users unchanged');

    await admin('PUT', '/api/admin/flags/ai-gateway.request-timeout-ms/environments/development/overrides/u-777', {
      variant: 'fast',
    });
    await until('the fast timeout', async () =>
      (await complete('hi', 'u-777')).timeoutMs === 5000 ? true : undefined,
    );
  });

  it('/health/flags shows evaluated values for a user; /metrics counts new-ui-enabled evaluations', async () => {
    const res = await fetch(`${apiUrl}/health/flags?user=u-123`);
    assert.equal(res.status, 200);
    const health = (await res.json()) as FlagHealth;
    assert.deepEqual(health.provider, { name: 'runtime-control', status: 'READY' });
    assert.equal(typeof health.revision, 'number');
    const newUi = health.flags.find((f) => f.key === 'new-ui-enabled');
    assert.deepEqual([newUi?.value, newUi?.variant], [true, 'on']);
    assert.equal(health.flags.find((f) => f.key === 'ai-gateway.request-timeout-ms')?.value, 15000);

    const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('openfeature_evaluations_total{') &&
          l.includes('flag_key="new-ui-enabled"') &&
          l.includes('variant="on"'),
      );
    assert.ok(line, `no new-ui-enabled series in:\n${metrics}`);
    assert.ok(Number(line.split(' ').at(-1)) >= 1);
    const aiMetrics = await (await fetch(`${aiUrl}/metrics`)).text();
    assert.match(aiMetrics, /openfeature_evaluations_total\{flag_key="ai-safety-pii"/, 'the fast path is counted');
    assert.match(aiMetrics, /openfeature_evaluations_total\{flag_key="ai-provider-openai-enabled"/);
    assert.match(aiMetrics, /runtime_config_fallbacks_total/);
  });

  it('the clients view lists both services: app, SDK, environment, token and the latest revision', async () => {
    const view = (await admin('GET', '/api/admin/clients')) as {
      clients: { app: string | null; agent: string | null; kind: string; environment: string; upToDate: boolean }[];
    };
    const apps = view.clients.filter((c) => c.kind === 'sdk').map((c) => c.app);
    assert.deepEqual([...apps].sort(), ['ai-gateway', 'api-gateway']);
    for (const c of view.clients.filter((c) => c.kind === 'sdk')) {
      assert.equal(c.environment, 'development');
      assert.match(c.agent ?? '', /^runtime-control-sdk\/\d+\.\d+\.\d+ node\/\d+/);
      assert.equal(c.upToDate, true);
    }
    // And as a person asks it: `rctl clients` (the CLI the README shows), one row per service.
    const cli = new URL('../../../packages/cli/bin/rctl.js', import.meta.url).pathname;
    const { stdout } = await run(process.execPath, [cli, 'clients', '--env', 'development'], {
      env: { ...process.env, RC_URL: server.url, RC_TOKEN: ADMIN },
    });
    for (const app of ['api-gateway', 'ai-gateway']) {
      assert.match(
        stdout,
        new RegExp(`^${app}\\s+\\S+\\s+runtime-control-sdk/\\S+ node/\\S+\\s+sdk\\s+development\\s`, 'm'),
      );
    }
  });
});
