import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdminClient, UsageError } from './http-client.js';

export const DEFAULT_URL = 'http://127.0.0.1:4400';
export const DEFAULT_DATA_DIR = '.runtime-control';

/** What every command gets from `main`: streams, environment and working directory (so tests run in-process). */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Whether stdout is a terminal (commands that redraw, such as `canary status --watch`, do so only there). */
  isTTY?: boolean;
}

/** Options every server-talking command accepts. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export interface ConnectionValues {
  url?: string | undefined;
  token?: string | undefined;
}

/** The file where the server writes its generated development admin token. */
export function adminTokenFile(io: Pick<CliIo, 'env' | 'cwd'>): string {
  return join(resolve(io.cwd, io.env.RC_DATA_DIR || DEFAULT_DATA_DIR), 'admin-token');
}

export function resolveServerUrl(values: ConnectionValues, io: Pick<CliIo, 'env'>): string {
  const url = values.url ?? io.env.RC_URL ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid server URL "${url}": use a full URL such as ${DEFAULT_URL}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`invalid server URL "${url}": only http:// and https:// are supported`);
  }
  return url.replace(/\/+$/, '');
}

/** `--token`, else RC_TOKEN, else the development token file the server writes; undefined when none exists. */
export function resolveToken(values: ConnectionValues, io: Pick<CliIo, 'env' | 'cwd'>): string | undefined {
  if (values.token) return values.token;
  if (io.env.RC_TOKEN) return io.env.RC_TOKEN;
  const file = adminTokenFile(io);
  if (!existsSync(file)) return undefined;
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch {
    // An unreadable token file is the same as none: the server's 401 then tells the user what to set.
    return undefined;
  }
}

export function createAdminClient(values: ConnectionValues, io: Pick<CliIo, 'env' | 'cwd'>): AdminClient {
  return new AdminClient({
    url: resolveServerUrl(values, io),
    token: resolveToken(values, io),
    actor: io.env.USER || 'rctl',
  });
}
