import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SupervisedChild, superviseChild, waitUntilReady } from './child-process.js';
import {
  createTestDatabase,
  freePort,
  requireTestDatabaseUrl,
  skipOrFail,
  type TestDatabase,
} from './test-services.js';

/**
 * A real unleash-server for integration tests, started as a child process on a fresh PostgreSQL database, plus small
 * helpers for its admin API. Two pinned installs, kept out of the workspace install (`npm run setup:unleash` installs
 * both): `tools/unleash-server-8` (8.2.0, what new installs get; the default) and `tools/unleash-server` (7.5.1).
 * `RC_TEST_UNLEASH_VERSION=7` or `8` picks one; CI runs the Unleash suites against each.
 */

const SETUP_HINT = 'run `npm run setup:unleash` (installs the pinned unleash-servers into tools/unleash-server*)';

/** The unleash-server majors the tests know, and where each is installed (under tools/). */
const INSTALLS = new Map<string, string>([
  ['7', 'unleash-server'],
  ['8', 'unleash-server-8'],
]);
const DEFAULT_MAJOR = '8';

/**
 * The unleash-server major the tests run against: `RC_TEST_UNLEASH_VERSION` (7 or 8), else 8. Anything else throws,
 * so a typo in CI cannot quietly test the default twice.
 */
export function unleashTestMajor(): string {
  const wanted = process.env.RC_TEST_UNLEASH_VERSION?.trim() || DEFAULT_MAJOR;
  if (!INSTALLS.has(wanted))
    throw new Error(
      `RC_TEST_UNLEASH_VERSION must be one of ${[...INSTALLS.keys()].join(', ')} (an unleash-server major), got "${wanted}"`,
    );
  return wanted;
}

/** The monorepo root: the nearest ancestor of this file whose package.json declares workspaces. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && 'workspaces' in JSON.parse(readFileSync(manifest, 'utf8'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no workspace root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function serverDir(): string {
  return join(repoRoot(), 'tools', INSTALLS.get(unleashTestMajor()) as string);
}

/** The shared start script; it runs whichever install UNLEASH_SERVER_DIR names. */
function startScript(): string {
  return join(repoRoot(), 'tools', 'unleash-server', 'start.mjs');
}

function installedPackageJson(): string {
  return join(serverDir(), 'node_modules', 'unleash-server', 'package.json');
}

/** Whether `npm run setup:unleash` has installed the selected unleash-server. */
export function unleashServerInstalled(): boolean {
  return existsSync(installedPackageJson());
}

/** The exact version of the selected, installed unleash-server (e.g. `8.2.0`). */
export function unleashServerVersion(): string {
  const { version } = JSON.parse(readFileSync(installedPackageJson(), 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new Error(`${installedPackageJson()} has no version`);
  return version;
}

/**
 * Options for `describe`: `{}` when an unleash-server can be started (installed, and `RC_TEST_DATABASE_URL` set),
 * `{ skip: reason }` otherwise. Under `CI=true` a missing prerequisite throws instead: CI must never pass by
 * skipping these suites.
 */
export function unleashServerOrSkip(): { skip?: string } {
  return skipOrFail([
    requireTestDatabaseUrl()
      ? undefined
      : 'RC_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres)',
    unleashServerInstalled() ? undefined : `${serverDir()} is not installed: ${SETUP_HINT}`,
  ]);
}

export interface UnleashServer {
  /** The unleash-server version running, e.g. `8.2.0`. */
  version: string;
  /** Its major version, e.g. 8. */
  major: number;
  /** Base URL, e.g. http://127.0.0.1:43123 */
  url: string;
  /** The SDK API URL (`<url>/api`), what `unleash-client` and the admin helpers take. */
  apiUrl: string;
  port: number;
  /** An admin token (`*:*.<hex>`), for the admin API. */
  adminToken: string;
  /** A backend token for project `default`, environment `development`. */
  clientToken: string;
  databaseUrl: string;
  /** True while the server process runs. */
  readonly running: boolean;
  /** Stops the server process (SIGTERM, SIGKILL after 10 s) and keeps the database: for outage tests. */
  stopProcess(): Promise<void>;
  /**
   * Starts the process again on the same port and database, and waits for /health. `allowListIntegration` replaces
   * the start option for this and later starts (Unleash reads it only when it starts).
   */
  startProcess(options?: { allowListIntegration?: string[] }): Promise<void>;
  /** Stops the process and drops the database. */
  stop(): Promise<void>;
}

export interface StartUnleashServerOptions {
  /** Admin URL of the PostgreSQL server (default `RC_TEST_DATABASE_URL`); it must allow CREATE DATABASE. */
  adminDatabaseUrl?: string;
  /** How long to wait for /health (default 90 s: a cold start runs ~400 migrations). */
  startTimeoutMs?: number;
  /** unleash-server's log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * `UNLEASH_ALLOW_LIST_INTEGRATION` (8.x): hosts whose private addresses Unleash's addons may call. Unset by default
   * (Unleash 8's default: addons may only call public addresses), whatever the test process's environment says.
   */
  allowListIntegration?: string[];
}

/**
 * Creates a database `rc_unleash_<random>`, starts `tools/unleash-server/start.mjs` on a free port with fresh
 * tokens, and resolves once `GET /health` answers 200. Call `stop()` in an `after` hook.
 */
export async function startUnleashServer(options: StartUnleashServerOptions = {}): Promise<UnleashServer> {
  const adminDatabaseUrl = options.adminDatabaseUrl ?? requireTestDatabaseUrl();
  if (!adminDatabaseUrl) throw new Error('RC_TEST_DATABASE_URL is not set; the unleash-server needs PostgreSQL');
  if (!unleashServerInstalled()) throw new Error(`unleash-server is not installed: ${SETUP_HINT}`);
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const script = startScript();
  const installDir = serverDir();
  const version = unleashServerVersion();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const database: TestDatabase = await createTestDatabase(adminDatabaseUrl, { prefix: 'rc_unleash' });
  const databaseUrl = database.url;
  const adminToken = `*:*.${randomBytes(24).toString('hex')}`;
  const clientToken = `default:development.${randomBytes(24).toString('hex')}`;
  let child: SupervisedChild | undefined;

  // Unleash's own SSRF settings come only from the options, never from the environment the tests run in.
  const {
    UNLEASH_ALLOW_LIST_INTEGRATION: _list,
    UNLEASH_ALLOW_PRIVATE_URL_IN_INTEGRATION: _private,
    ...baseEnv
  } = process.env;

  let allowListIntegration = options.allowListIntegration;

  const startProcess = async (restart: { allowListIntegration?: string[] } = {}): Promise<void> => {
    if (child) return;
    if (restart.allowListIntegration) allowListIntegration = restart.allowListIntegration;
    const supervised = superviseChild(
      spawn(process.execPath, [script], {
        cwd: installDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...baseEnv,
          UNLEASH_SERVER_DIR: installDir,
          ...(allowListIntegration ? { UNLEASH_ALLOW_LIST_INTEGRATION: allowListIntegration.join(',') } : {}),
          DATABASE_URL: databaseUrl,
          PORT: String(port),
          UNLEASH_ADMIN_TOKEN: adminToken,
          UNLEASH_CLIENT_TOKEN: clientToken,
          UNLEASH_LOG_LEVEL: options.logLevel ?? 'warn',
          NODE_ENV: 'production',
        },
      }),
      // A test process that dies early must not leave unleash-servers behind.
      { exitSignal: 'SIGKILL' },
    );
    child = supervised;
    void supervised.exited.then(() => {
      if (child === supervised) child = undefined;
    });
    await waitUntilReady(supervised, () => healthy(url), {
      what: `unleash-server ${version} on port ${port}`,
      readyWhen: 'GET /health answers 200',
      timeoutMs: startTimeoutMs,
      intervalMs: 100,
      progressEveryMs: 5000,
    });
  };

  const stopProcess = async (): Promise<void> => {
    await child?.stop();
  };

  try {
    await startProcess();
  } catch (err) {
    await database.drop().catch(() => {});
    throw err;
  }

  return {
    version,
    major: Number(version.split('.')[0]),
    url,
    apiUrl: `${url}/api`,
    port,
    adminToken,
    clientToken,
    databaseUrl,
    get running() {
      return child !== undefined;
    },
    stopProcess,
    startProcess,
    async stop() {
      await stopProcess();
      await database.drop();
    },
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---- admin API ----

export interface UnleashConstraint {
  contextName: string;
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}

export interface UnleashVariantPayload {
  type: 'string' | 'number' | 'json' | 'csv';
  value: string;
}

export interface UnleashStrategyVariant {
  name: string;
  /** 0–1000; variable weights share what fixed ones leave. */
  weight: number;
  weightType?: 'variable' | 'fix';
  stickiness?: string;
  payload?: UnleashVariantPayload;
}

export interface UnleashStrategy {
  name: string;
  parameters?: Record<string, string>;
  constraints?: UnleashConstraint[];
  variants?: UnleashStrategyVariant[];
  segments?: number[];
}

/** A `flexibleRollout` strategy (Unleash's "gradual rollout"); `groupId` defaults to the flag name server-side. */
export function flexibleRollout(
  rollout: number,
  options: {
    stickiness?: string;
    groupId?: string;
    constraints?: UnleashConstraint[];
    variants?: UnleashStrategyVariant[];
  } = {},
): UnleashStrategy {
  const parameters: Record<string, string> = { rollout: String(rollout), stickiness: options.stickiness ?? 'default' };
  if (options.groupId) parameters.groupId = options.groupId;
  return {
    name: 'flexibleRollout',
    parameters,
    constraints: options.constraints ?? [],
    variants: (options.variants ?? []).map((v) => ({ weightType: 'variable', stickiness: 'default', ...v })),
  };
}

/** `<field> IN [values]` */
export function inConstraint(contextName: string, values: string[]): UnleashConstraint {
  return { contextName, operator: 'IN', values, inverted: false, caseInsensitive: false };
}

/** The admin API of one Unleash server (project `default`), authenticated with an admin token. */
export class UnleashAdmin {
  constructor(
    private readonly apiUrl: string,
    private readonly adminToken: string,
    private readonly project = 'default',
  ) {}

  static of(server: UnleashServer): UnleashAdmin {
    return new UnleashAdmin(server.apiUrl, server.adminToken);
  }

  /** Creates a flag (no strategies, off everywhere). */
  async createFlag(name: string, options: { type?: string; description?: string } = {}): Promise<void> {
    await this.request('POST', `/admin/projects/${this.project}/features`, {
      name,
      type: options.type ?? 'release',
      description: options.description ?? '',
    });
  }

  /** Adds a strategy in an environment; returns its id. */
  async addStrategy(flag: string, strategy: UnleashStrategy, environment = 'development'): Promise<string> {
    const created = (await this.request('POST', `${this.featurePath(flag)}/environments/${environment}/strategies`, {
      parameters: {},
      constraints: [],
      variants: [],
      segments: [],
      ...strategy,
    })) as { id: string };
    return created.id;
  }

  /** Replaces a strategy (anything left out, variants included, is dropped). */
  async updateStrategy(
    flag: string,
    id: string,
    strategy: UnleashStrategy,
    environment = 'development',
  ): Promise<void> {
    await this.request('PUT', `${this.featurePath(flag)}/environments/${environment}/strategies/${id}`, {
      parameters: {},
      constraints: [],
      variants: [],
      segments: [],
      ...strategy,
    });
  }

  /** Turns the flag on in an environment. With no strategy there, Unleash adds a 100 % flexibleRollout. */
  async enable(flag: string, environment = 'development'): Promise<void> {
    await this.request('POST', `${this.featurePath(flag)}/environments/${environment}/on`);
  }

  async disable(flag: string, environment = 'development'): Promise<void> {
    await this.request('POST', `${this.featurePath(flag)}/environments/${environment}/off`);
  }

  /** Creates a flag, adds the strategies and turns it on (unless `enabled: false`). */
  async createFeature(
    name: string,
    options: { strategies?: UnleashStrategy[]; enabled?: boolean; environment?: string; type?: string } = {},
  ): Promise<void> {
    await this.createFlag(name, { type: options.type });
    for (const strategy of options.strategies ?? []) await this.addStrategy(name, strategy, options.environment);
    if (options.enabled ?? true) await this.enable(name, options.environment);
  }

  /** Defines a custom context field (optional for constraints, but it is how the UI learns about a field). */
  async createContextField(name: string, legalValues: string[] = []): Promise<void> {
    await this.request('POST', '/admin/context', {
      name,
      description: '',
      stickiness: false,
      legalValues: legalValues.map((value) => ({ value })),
    });
  }

  private featurePath(flag: string): string {
    return `/admin/projects/${this.project}/features/${encodeURIComponent(flag)}`;
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: {
        Authorization: this.adminToken,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}
