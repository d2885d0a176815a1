import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';
import { parsePort, waitForShutdown } from './up.js';

export const ROUTER_HELP = `Usage: rctl router --service NAME --v1 URL --v2 URL [--port N] [--admin-port N] [--host H]
                   [--canary-weight N]

Starts the local router in this process and runs until Ctrl+C (SIGINT) or SIGTERM: a weighted reverse proxy
from NAME to its v1 and v2 upstreams that exports Istio's metrics, for canaries on one machine.

Options:
  --service NAME       the service it routes (the canary's service name)
  --v1 URL             upstream of the stable version, e.g. http://127.0.0.1:8081
  --v2 URL             upstream of the canary version
  --port N             proxy port (default 15001; 0 picks a free port)
  --admin-port N       admin port: /metrics, GET /routes, PUT /routes/{service}, /health (default 15000; 0 picks
                       a free port)
  --host H             interface to bind (default 127.0.0.1)
  --canary-weight N    initial percent of traffic to v2 (default 0)
  -h, --help           show this help

Point the server at the admin URL it prints: RC_CANARY_ROUTER=local RC_LOCAL_ROUTER_URL=<admin URL> rctl up
`;

function parseUpstream(value: string | undefined, flag: string): string {
  const text = requireValue(value, flag, 'router');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${flag} must be an http:// URL (got "${text}")`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`${flag} must be an http:// URL (got "${text}")`);
  return text;
}

export async function runRouter(args: string[], _io: CliIo, out: Output, signal?: AbortSignal): Promise<number> {
  const command = 'router';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      service: { type: 'string' },
      v1: { type: 'string' },
      v2: { type: 'string' },
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      host: { type: 'string' },
      'canary-weight': { type: 'string' },
    },
    command,
  );
  if (values.help) {
    out.line(ROUTER_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const service = requireValue(values.service, '--service', command);
  const v1 = parseUpstream(values.v1, '--v1');
  const v2 = parseUpstream(values.v2, '--v2');
  const port = values.port === undefined ? 15001 : parsePort(values.port);
  const adminPort = values['admin-port'] === undefined ? 15000 : parsePort(values['admin-port']);
  const weightText = values['canary-weight'] ?? '0';
  const weight = Number(weightText);
  if (!/^\d+$/.test(weightText) || weight > 100) {
    throw new UsageError(`--canary-weight must be a whole number from 0 to 100 (got "${weightText}")`);
  }

  const { LocalRouter, RouterError } = await import('@runtime-control/traffic');
  let router: InstanceType<typeof LocalRouter>;
  try {
    router = new LocalRouter({
      routes: [{ service, backends: { v1, v2 }, weights: { v1: 100 - weight, v2: weight } }],
      port,
      adminPort,
      ...(values.host !== undefined ? { host: values.host } : {}),
    });
  } catch (error) {
    if (error instanceof RouterError) throw new UsageError(error.message);
    throw error;
  }
  let urls: { url: string; adminUrl: string };
  try {
    urls = await router.listen();
  } catch (error) {
    await router.close().catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new CliError(
        `cannot start the router: port ${(error as { port?: number }).port ?? ''} is already in use; pass --port/--admin-port`,
      );
    }
    throw new CliError(`cannot start the router: ${(error as Error).message}`);
  }
  out.line(`proxy: ${urls.url}  (${service}: v1 ${100 - weight}% → ${v1}, v2 ${weight}% → ${v2})`);
  out.line(`admin: ${urls.adminUrl}  (/metrics, /routes, /health)`);
  out.error(`Use it for canaries: RC_CANARY_ROUTER=local RC_LOCAL_ROUTER_URL=${urls.adminUrl} rctl up`);
  out.error('Press Ctrl+C to stop.');
  const reason = await waitForShutdown(signal);
  out.error(`${reason === 'abort' ? 'stopping' : `${reason}: stopping`}…`);
  await router.close();
  return 0;
}
