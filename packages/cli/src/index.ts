import { readFileSync } from 'node:fs';
import { runAudit } from './commands/audit.js';
import { runCanary } from './commands/canary.js';
import { runClients } from './commands/clients.js';
import { runDoctor } from './commands/doctor.js';
import { runEval } from './commands/eval.js';
import { runFlags } from './commands/flags.js';
import { runRender } from './commands/render.js';
import { runRouter } from './commands/router.js';
import { runSecrets } from './commands/secrets.js';
import { runExec } from './commands/secrets-exec.js';
import { runSeed } from './commands/seed.js';
import { runTokens } from './commands/tokens.js';
import { runUnleash } from './commands/unleash.js';
import { runUp } from './commands/up.js';
import type { CliIo } from './connection.js';
import { MAIN_HELP } from './help.js';
import { CliError, UsageError } from './http-client.js';
import { createOutput } from './output.js';

export type { CliIo } from './connection.js';
export { AdminClient, ApiError, CliError, UsageError } from './http-client.js';

export interface MainOptions {
  /** Stops `rctl up` and `rctl router` (besides SIGINT/SIGTERM); lets tests run the server command in-process. */
  signal?: AbortSignal;
}

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const GLOBAL_VALUE_OPTIONS = new Set(['--url', '--token']);

/**
 * Moves connection options given before the command (`rctl --url X flags list`) after it, where each command's
 * parser expects them.
 */
export function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const leading: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index]!;
    const name = arg.split('=')[0]!;
    if (!GLOBAL_VALUE_OPTIONS.has(name)) break;
    leading.push(arg);
    if (!arg.includes('=') && index + 1 < argv.length) leading.push(argv[++index]!);
    index++;
  }
  const command = argv[index];
  return { command, rest: [...argv.slice(index + 1), ...leading] };
}

/** Runs one `rctl` invocation and returns its exit code; never calls process.exit, so tests run it in-process. */
export async function main(argv: string[], io: CliIo, options: MainOptions = {}): Promise<number> {
  const out = createOutput(io);
  const { command, rest } = splitCommand(argv);
  try {
    switch (command) {
      case undefined:
        out.error(MAIN_HELP.trimEnd());
        return 2;
      case '-h':
      case '--help':
      case 'help':
        out.line(MAIN_HELP.trimEnd());
        return 0;
      case '-v':
      case '--version':
      case 'version':
        out.line(cliVersion());
        return 0;
      case 'up':
        return await runUp(rest, io, out, options.signal);
      case 'seed':
        return await runSeed(rest, io, out);
      case 'flags':
        return await runFlags(rest, io, out);
      case 'eval':
        return await runEval(rest, io, out);
      case 'tokens':
        return await runTokens(rest, io, out);
      case 'audit':
        return await runAudit(rest, io, out);
      case 'clients':
        return await runClients(rest, io, out);
      case 'doctor':
        return await runDoctor(rest, io, out);
      case 'canary':
        return await runCanary(rest, io, out);
      case 'router':
        return await runRouter(rest, io, out, options.signal);
      case 'render':
        return await runRender(rest, io, out);
      case 'secrets':
        return await runSecrets(rest, io, out);
      case 'exec':
        return await runExec(rest, io, out, options.signal);
      case 'unleash':
        return await runUnleash(rest, io, out);
      default:
        throw new UsageError(
          command.startsWith('-')
            ? `unknown option "${command}" before a command\nRun "rctl --help" for usage.`
            : `unknown command "${command}"\nRun "rctl --help" for usage.`,
        );
    }
  } catch (error) {
    if (error instanceof CliError) {
      out.error(`rctl: ${error.message}`);
      return error.exitCode;
    }
    out.error(`rctl: unexpected error: ${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}
