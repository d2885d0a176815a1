import { resolve } from 'node:path';
import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';

export const UP_HELP = `Usage: rctl up [--port N] [--host H] [--data-dir DIR] [--seed FILE]

Starts the Runtime Control server in this process and runs until Ctrl+C (SIGINT) or SIGTERM.

Options:
  --port N          port to listen on (default: RC_PORT, else 4400; 0 picks a free port)
  --host H          interface to bind (default: RC_HOST, else 127.0.0.1, or 0.0.0.0 when
                    RC_MODE=production)
  --data-dir DIR    where the server keeps its database and development admin token
                    (default: RC_DATA_DIR, else .runtime-control)
  --seed FILE       create the flags of FILE on start (existing flags are left as they are)
  -h, --help        show this help
`;

export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${text}")`);
  }
  return port;
}

/** Resolves when the process is asked to stop (SIGINT/SIGTERM) or `signal` aborts. */
export function waitForShutdown(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolveShutdown) => {
    const stop = (reason: string) => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      signal?.removeEventListener('abort', onAbort);
      resolveShutdown(reason);
    };
    const onSigint = () => stop('SIGINT');
    const onSigterm = () => stop('SIGTERM');
    const onAbort = () => stop('abort');
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    if (signal?.aborted) stop('abort');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function startFailure(error: unknown, port: number | undefined): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = port === undefined ? 'the port' : `port ${port}`;
  if (code === 'EADDRINUSE') {
    return new CliError(`cannot start the server: ${where} is already in use. Stop the other process or pass --port.`);
  }
  if (code === 'EACCES') {
    return new CliError(`cannot start the server: no permission to listen on ${where}. Pick a port above 1024.`);
  }
  return new CliError(`cannot start the server: ${(error as Error).message}`);
}

export async function runUp(args: string[], io: CliIo, out: Output, signal?: AbortSignal): Promise<number> {
  const command = 'up';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
    },
    command,
  );
  if (values.help) {
    out.line(UP_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const port = values.port === undefined ? undefined : parsePort(values.port);
  const dataDir = values['data-dir'] === undefined ? undefined : resolve(io.cwd, values['data-dir']);
  const seedFile = values.seed === undefined ? undefined : resolve(io.cwd, values.seed);

  // Loaded here and only here: every other command talks HTTP and must not pay for (or depend on) the server.
  const { startServer } = await import('@runtime-control/server');
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
      ...(seedFile !== undefined ? { seedFile } : {}),
      env: io.env,
      // The server's start-up banner (URL, seed summary, where the development token is kept).
      print: (line) => out.error(line),
    });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw startFailure(error, port ?? (io.env.RC_PORT ? Number(io.env.RC_PORT) : 4400));
  }
  out.error('Press Ctrl+C to stop.');
  const reason = await waitForShutdown(signal);
  out.error(`${reason === 'abort' ? 'stopping' : `${reason}: stopping`}…`);
  // Graceful: readiness 503 first, streams told to reconnect to another replica, requests in flight finished.
  await server.shutdown((line) => out.error(line));
  return 0;
}
