// `npm run demo`: the control plane and DevMentor's two gateways in one process, for trying flag changes by hand.
import { resolve } from 'node:path';
import { OpenFeature } from '@openfeature/server-sdk';
import { startServer } from '@runtime-control/server';
import { buildAiGateway } from './ai-gateway.js';
import { buildApiGateway } from './api-gateway.js';
import { createServiceProvider } from './runtime-control.js';

const SEED = new URL('../flags.yaml', import.meta.url).pathname;
const HOST = '127.0.0.1';

async function main(): Promise<void> {
  const port = Number(process.env.RC_PORT ?? 4400);
  // The same data dir as `npm start` and rctl's default, so `npx rctl …` finds the development admin token.
  const dataDir = resolve(process.env.RC_DATA_DIR ?? '.runtime-control');
  const server = await startServer({
    port,
    host: HOST,
    dataDir,
    seedFile: SEED,
    env: { ...process.env, RC_LOG_LEVEL: process.env.RC_LOG_LEVEL ?? 'warn' },
  });
  const res = await fetch(`${server.url}/api/admin/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.runtime.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'client', environment: 'development', name: 'devmentor-demo' }),
  });
  if (res.status !== 201) throw new Error(`could not create a client token: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };

  const apiGateway = await buildApiGateway({
    ...createServiceProvider({ url: server.url, token, appName: 'api-gateway' }),
    logger: { level: 'warn' },
  });
  const aiGateway = await buildAiGateway({
    ...createServiceProvider({ url: server.url, token, appName: 'ai-gateway' }),
    logger: { level: 'warn' },
  });
  const apiUrl = await apiGateway.listen({ port: port + 1, host: HOST });
  const aiUrl = await aiGateway.listen({ port: port + 2, host: HOST });

  const rctl = server.url === 'http://127.0.0.1:4400' ? 'npx rctl' : `npx rctl --url ${server.url}`;
  console.log(`
DevMentor on Runtime Control (environment: development)
  control plane  ${server.url}
  api-gateway    ${apiUrl}
  ai-gateway     ${aiUrl}

Try:
  curl '${apiUrl}/api/ui?user=u-123'                       # { "ui": "classic", ... }
  ${rctl} flags override new-ui-enabled --env development --user u-123 --variant on
  curl '${apiUrl}/api/ui?user=u-123'                       # { "ui": "new", ... } — no restart
  curl '${apiUrl}/api/ui?user=u-456'                       # still classic
  curl -s -X POST ${aiUrl}/api/ai/complete -H 'content-type: application/json' \\
       -d '{"prompt":"I am jane@example.com, +44 20 7946 0958","user":"u-123"}'
  ${rctl} flags override ai-provider-openai-enabled --env development --user u-123 --variant on
  curl '${apiUrl}/health/flags?user=u-123'                 # evaluated values (sensitive ones withheld)
  curl ${apiUrl}/metrics                                    # openfeature_evaluations_total
Note: disabling ai-safety-pii does NOT turn redaction off (a disabled flag serves the code default, true);
target its "off" variant instead, e.g. ${rctl} flags override ai-safety-pii --env development --user u-123 --variant off
Ctrl-C to stop.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    // Gateways first (they hold streams to the control plane), then the providers, then the control plane.
    await Promise.allSettled([apiGateway.close(), aiGateway.close()]);
    await OpenFeature.close();
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.message}`);
  process.exit(1);
});
