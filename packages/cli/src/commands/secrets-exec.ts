import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SecretRotatedFrameData } from '@runtime-control/core';
import { LocalSecretBackend, loadSecretsKey, SecretsError } from '@runtime-control/secrets';
import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import {
  type CliIo,
  CONNECTION_OPTIONS,
  createAdminClient,
  DEFAULT_DATA_DIR,
  resolveServerUrl,
} from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';

/**
 * `rctl exec --service NAME -- COMMAND…`: runs COMMAND with the service's secret bundles as env vars (like
 * `doppler run`) and restarts it when one of them is rotated — the laptop's rollout restart.
 *
 * Where the values come from, and why: the server has no route that returns a value (status and rotation only, so a
 * value can never leak through an API response, a proxy log or the console). `rctl exec` reads them itself from the
 * local backend's encrypted store (`<data dir>/secrets.db`) with the local key (`RC_SECRETS_KEY` or the 0600 key
 * file): whoever can read that key can decrypt the store anyway, so this grants nothing new, and it works only on the
 * machine that holds the key. The server is asked for names only (which bundles the service has, their paths and
 * env vars), and its client stream says when to restart (`secret-rotated`, which carries no value). Values go into
 * the child's environment and nowhere else: never printed, logged or sent.
 */

export const EXEC_HELP = `Usage: rctl exec --service NAME [--env E] [--data-dir DIR] -- COMMAND [ARG...]

Runs COMMAND with the secret bundles of service NAME as environment variables (each property under its env var name),
and restarts it when one of those bundles is rotated (the server's client stream sends "secret-rotated", without the
value). Exits with COMMAND's exit code when it ends by itself.

Values are read from the local backend's encrypted store on this machine (<data dir>/secrets.db, key RC_SECRETS_KEY
or <data dir>/secrets.key), never from the API; the server only tells which bundles the service has. With the Vault
backend, use the cluster (External Secrets) instead.

Options:
  --service NAME        the service whose bundles to provide: its own (secrets.services[].name) and those
                        listing a Deployment of that name among their consumers
  --env E               environment of the client stream token (default development)
  --data-dir DIR        the server's data directory (default RC_DATA_DIR, else .runtime-control)
  --client-token TOKEN  a client token for the stream (default RC_CLIENT_TOKEN; otherwise one is created for this run
                        with the admin token and revoked at exit)
  --url URL, --token TOKEN, -h/--help as for every command
`;

interface SecretEnvSource {
  service: string;
  bundle: string;
  path: string;
  properties: { property: string; env: string }[];
}

/** The env vars of the bundles, decrypted from the local store (errors name bundles and properties, never values). */
export async function readBundleEnv(dataDir: string, env: NodeJS.ProcessEnv, bundles: SecretEnvSource[]) {
  const database = join(dataDir, 'secrets.db');
  if (!existsSync(database)) {
    throw new CliError(`no local secrets store at ${database}: start the server (rctl up) and rotate a bundle first`);
  }
  let backend: LocalSecretBackend | undefined;
  const out: Record<string, string> = {};
  try {
    backend = new LocalSecretBackend({ database, key: loadSecretsKey({ dataDir, env }).key });
    for (const b of bundles) {
      const { data } = await backend.readData(b.path).catch((error: unknown) => {
        if (error instanceof SecretsError && (error.code === 'NOT_FOUND' || error.code === 'VERSION_DELETED')) {
          throw new CliError(`${b.service}/${b.bundle} has no value yet: rctl secrets rotate ${b.service}/${b.bundle}`);
        }
        throw error;
      });
      for (const p of b.properties) {
        const value = data[p.property];
        if (typeof value !== 'string') {
          throw new CliError(
            `${b.service}/${b.bundle}: property ${p.property} has no value: rctl secrets rotate ${b.service}/${b.bundle} --property ${p.property}`,
          );
        }
        out[p.env] = value;
      }
    }
  } catch (error) {
    if (error instanceof SecretsError) throw new CliError(`local secrets store: ${error.message}`);
    throw error;
  } finally {
    backend?.close();
  }
  return out;
}

/** Calls `onEvent` for each SSE event of the stream until `signal` aborts; reconnects after a second on a drop. */
async function followStream(
  url: string,
  token: string,
  signal: AbortSignal,
  onEvent: (event: string, data: string) => void,
  onProblem: (message: string) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal,
      });
      if (!res.ok || !res.body) {
        onProblem(`client stream answered HTTP ${res.status}`);
        if (res.status === 401 || res.status === 403) return;
      } else {
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length > 0) onEvent(event, data.join('\n'));
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      onProblem(`client stream: ${(error as NodeJS.ErrnoException).code ?? (error as Error).name}`);
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function runExec(args: string[], io: CliIo, out: Output, signal?: AbortSignal): Promise<number> {
  const dash = args.indexOf('--');
  const own = dash < 0 ? args : args.slice(0, dash);
  const command = dash < 0 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseCommandArgs(
    own,
    {
      ...CONNECTION_OPTIONS,
      service: { type: 'string' },
      env: { type: 'string' },
      'data-dir': { type: 'string' },
      'client-token': { type: 'string' },
    },
    'exec',
  );
  if (values.help) {
    out.line(EXEC_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, 'exec');
  const service = requireValue(values.service, '--service NAME', 'exec');
  if (command.length === 0) throw new UsageError('missing the command after --\nRun "rctl exec --help" for usage.');
  const environment = values.env ?? 'development';
  const dataDir = resolve(io.cwd, values['data-dir'] ?? io.env.RC_DATA_DIR ?? DEFAULT_DATA_DIR);

  const client = createAdminClient(values, io);
  const view = await client.listSecrets();
  if (view.backend !== 'local') {
    throw new CliError(
      `the server's secrets backend is ${view.backend}: rctl exec reads values from the local backend only`,
    );
  }
  // The service's own bundles and those it consumes (DevMentor's api-gateway verifies with auth-service/jwt).
  const bundles = view.bundles
    .filter((b) => b.service === service || b.consumers.some((c) => c.deployment === service))
    .map((b) => ({ service: b.service, bundle: b.bundle, path: b.path, properties: b.properties }));
  if (bundles.length === 0) {
    const services = [...new Set(view.bundles.map((b) => b.service))];
    throw new CliError(
      `service "${service}" has no secret bundles (services with bundles: ${services.join(', ') || 'none'})`,
    );
  }
  let secretEnv = await readBundleEnv(dataDir, io.env, bundles);
  const names = bundles.map((b) => `${b.service}/${b.bundle}`);
  out.error(`rctl exec: ${Object.keys(secretEnv).sort().join(', ')} from ${names.join(', ')}`);

  // A client token for the stream: given, or one for this run (revoked at exit).
  let streamToken = values['client-token'] ?? io.env.RC_CLIENT_TOKEN;
  let createdTokenId: string | undefined;
  if (!streamToken) {
    const created = await client.createToken({ kind: 'client', environment, name: `rctl-exec-${service}` });
    streamToken = created.token;
    createdTokenId = created.id;
  }

  const stop = new AbortController();
  const stopped = new Promise<void>((r) => stop.signal.addEventListener('abort', () => r(), { once: true }));
  let child: ChildProcess | undefined;
  let restarting = false;
  let exitCode = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });

  const start = () => {
    const proc = spawn(command[0]!, command.slice(1), {
      cwd: io.cwd,
      env: { ...childEnvironment(io.env), ...secretEnv },
      stdio: 'inherit',
    });
    child = proc;
    proc.on('error', (error) => {
      out.error(`rctl exec: cannot start ${command[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
      exitCode = 127;
      finish();
    });
    proc.on('exit', (code, sig) => {
      if (restarting) {
        restarting = false;
        start();
        return;
      }
      exitCode = code ?? (sig ? 128 + 15 : 1);
      finish();
    });
  };

  const restart = async (frame: SecretRotatedFrameData) => {
    try {
      secretEnv = await readBundleEnv(dataDir, io.env, bundles);
    } catch (error) {
      out.error(
        `rctl exec: ${frame.service}/${frame.bundle} rotated, but reading it failed: ${(error as Error).message}`,
      );
      return;
    }
    out.error(
      `rctl exec: ${frame.service}/${frame.bundle} rotated to version ${frame.version}; restarting ${command[0]}`,
    );
    if (child && child.exitCode === null && child.signalCode === null) {
      restarting = true;
      child.kill('SIGTERM');
    } else {
      start();
    }
  };

  const streamUrl = `${resolveServerUrl(values, io)}/api/client/stream`;
  const following = followStream(
    streamUrl,
    streamToken,
    stop.signal,
    (event, data) => {
      if (event !== 'secret-rotated') return;
      let frame: SecretRotatedFrameData;
      try {
        frame = JSON.parse(data) as SecretRotatedFrameData;
      } catch {
        return;
      }
      if (names.includes(`${frame.service}/${frame.bundle}`)) void restart(frame);
    },
    (message) => out.error(`rctl exec: ${message} (retrying)`),
  );

  const forward = (sig: NodeJS.Signals) => () => child?.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const onAbort = () => {
    restarting = false;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    else finish();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  start();
  try {
    await done;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
    await Promise.race([following, stopped]);
    if (createdTokenId) await client.revokeToken(createdTokenId).catch(() => undefined);
  }
  return exitCode;
}

/**
 * rctl's own credentials (the admin token it talks to the server with, the local secrets key, Vault's token…) are not
 * the service's: the child gets the caller's environment without them, plus its bundles. A client token
 * (RC_CLIENT_TOKEN) is a service's own credential and stays.
 */
const CONTROL_PLANE_CREDENTIALS = [
  'RC_TOKEN',
  'RC_ADMIN_TOKEN',
  'RC_SECRETS_KEY',
  'RC_VAULT_TOKEN',
  'RC_METRICS_TOKEN',
  'RC_UNLEASH_TOKEN',
];

function childEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...env };
  for (const name of CONTROL_PLANE_CREDENTIALS) delete copy[name];
  return copy;
}
