import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  canonicalJson,
  diffJson,
  type Evaluators,
  FLAG_FIELDS,
  type Flag,
  type FlagsFile,
  formatFlagsFileIssue,
  type JsonChange,
  parseFlagsFile,
} from '@runtime-control/core';
import { parseCommandArgs, rejectExtraPositionals, requirePositional } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import { type AdminClient, ApiError, CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';
import { runUnleashSeed } from './seed-unleash.js';

export const SEED_HELP = `Usage: rctl seed FILE [--reconcile] [--dry-run]
       rctl seed FILE --target unleash --unleash-url URL [--token-file FILE] [--plan | --reconcile]
                 [--bridge-url URL [--webhook-secret-file FILE]]

Creates the evaluators and flags of a flags file (YAML or JSON) on the server. Safe to repeat: flags that already
exist are left as they are, so hand changes made since are kept. New flags are sent in batches of up to 500, each
created in one transaction (all of the batch or, if the server refuses one flag, none).

Options:
  --reconcile    also update existing flags and evaluators that differ from the file (prints each difference)
  --dry-run      report what would change and write nothing
  --target T     runtime-control (default) or unleash
  --unleash-url URL  Unleash base URL (with --target unleash)
  --token-file FILE  file holding the Unleash admin token (default: RC_UNLEASH_TOKEN)
  --plan         with --target unleash: print what would be created and what has drifted, write nothing
  --bridge-url URL  with --target unleash: the Runtime Control server (e.g. http://runtime-control:4400); after the
                 flags, also create Unleash's webhook addon calling URL/api/integrations/unleash/webhook, recognised
                 by its description. An existing one is left as is (visible drift is reported); --reconcile rewrites
                 it (Unleash masks its url and secret, so only a rewrite guarantees they match)
  --webhook-secret-file FILE  file holding the webhook secret (default: RC_UNLEASH_WEBHOOK_SECRET; the server's
                 value, at least 16 characters without whitespace)
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

/**
 * The parts of a flag the file controls, in one normal form, so a server copy (which may carry timestamps or
 * spell "nothing" as null, {} or an explicit DISABLED environment) compares equal to the file it came from.
 */
export function comparableFlag(flag: Flag): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const source = flag as unknown as Record<string, unknown>;
  for (const field of FLAG_FIELDS) {
    const value = source[field];
    if (value === undefined || value === null) continue;
    if (field === 'sensitive' && value === false) continue;
    result[field] = value;
  }
  const environments: Record<string, unknown> = {};
  for (const [env, raw] of Object.entries(flag.environments ?? {})) {
    const settings: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw as unknown as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      if (name === 'overrides' && Object.keys(value as object).length === 0) continue;
      settings[name] = value;
    }
    // A flag without settings for an environment is disabled there; an explicit DISABLED says the same.
    if (Object.keys(settings).length === 1 && settings.state === 'DISABLED') continue;
    environments[env] = settings;
  }
  result.environments = environments;
  return result;
}

function formatChangeValue(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** One line per difference, e.g. `  ~ /environments/production/state: "DISABLED" → "ENABLED"`. */
export function formatChanges(changes: readonly JsonChange[]): string[] {
  return changes.map((c) => {
    if (c.before === undefined) return `  + ${c.path || '/'}: ${formatChangeValue(c.after)}`;
    if (c.after === undefined) return `  - ${c.path || '/'}: ${formatChangeValue(c.before)}`;
    return `  ~ ${c.path || '/'}: ${formatChangeValue(c.before)} → ${formatChangeValue(c.after)}`;
  });
}

/**
 * Reads and validates a flags file; any problem is reported as `file:line:col: message` and nothing is written.
 * The file is checked against the default environments without contacting the server; only when it names an
 * environment outside those are the server's configured environments fetched (`serverEnvironments`) to recheck.
 */
export async function loadFlagsFile(
  file: string,
  io: CliIo,
  out: Output,
  serverEnvironments?: () => Promise<string[]>,
): Promise<FlagsFile> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot read ${file}: ${code}`);
  }
  let parsed = parseFlagsFile(text, file);
  if (!parsed.ok && serverEnvironments && parsed.issues.some((i) => i.code === 'UNKNOWN_ENVIRONMENT')) {
    parsed = parseFlagsFile(text, file, await serverEnvironments());
  }
  if (!parsed.ok) {
    for (const issue of parsed.issues) out.error(formatFlagsFileIssue(issue));
    const count = parsed.issues.length;
    throw new CliError(`${file}: ${count} problem${count === 1 ? '' : 's'}; nothing was written.`);
  }
  return parsed.value;
}

interface SeedOptions {
  reconcile: boolean;
  dryRun: boolean;
}

export async function runSeed(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'seed';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      reconcile: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      target: { type: 'string' },
      'unleash-url': { type: 'string' },
      'token-file': { type: 'string' },
      plan: { type: 'boolean' },
      'bridge-url': { type: 'string' },
      'webhook-secret-file': { type: 'string' },
    },
    command,
  );
  if (values.help) {
    out.line(SEED_HELP.trimEnd());
    return 0;
  }
  const file = requirePositional(positionals, 0, 'FILE', command);
  rejectExtraPositionals(positionals, 1, command);
  const target = values.target ?? 'runtime-control';
  if (target === 'unleash') {
    return runUnleashSeed(
      {
        file,
        unleashUrl: values['unleash-url'],
        tokenFile: values['token-file'],
        plan: values.plan === true,
        reconcile: values.reconcile === true,
        bridgeUrl: values['bridge-url'],
        webhookSecretFile: values['webhook-secret-file'],
      },
      io,
      out,
    );
  }
  if (target !== 'runtime-control') {
    throw new UsageError(
      `unknown --target "${target}" (runtime-control or unleash)\nRun "rctl seed --help" for usage.`,
    );
  }
  if (
    values.plan ||
    values['unleash-url'] ||
    values['token-file'] ||
    values['bridge-url'] !== undefined ||
    values['webhook-secret-file'] !== undefined
  ) {
    throw new UsageError(
      '--plan, --unleash-url, --token-file, --bridge-url and --webhook-secret-file go with --target unleash',
    );
  }
  const options: SeedOptions = { reconcile: values.reconcile === true, dryRun: values['dry-run'] === true };

  // The file is checked completely before the server is contacted, so a bad file never half-seeds.
  const client = createAdminClient(values, io);
  const flagsFile = await loadFlagsFile(file, io, out, () => client.listEnvironments());
  await seedEvaluators(client, flagsFile.evaluators, options, out);
  const summary = await seedFlags(client, flagsFile.flags, options, out);
  const verb = options.dryRun ? 'would be ' : '';
  out.line(
    `${summary.created} ${verb}created, ${summary.present} already present, ${summary.updated} ${verb}updated` +
      (options.dryRun ? ' (dry run: nothing was written)' : ''),
  );
  return 0;
}

async function seedEvaluators(
  client: AdminClient,
  evaluators: Evaluators,
  options: SeedOptions,
  out: Output,
): Promise<void> {
  const names = Object.keys(evaluators);
  if (names.length === 0) return;
  // Flags may `$ref` these, so they must exist before any flag is created.
  const existing = await client.listEvaluators();
  for (const name of names) {
    const logic = evaluators[name]!;
    const current = existing[name];
    if (current === undefined) {
      if (!options.dryRun) await client.putEvaluator(name, logic);
      out.line(`${action(options, 'created', 'create')} evaluator ${name}`);
    } else if (canonicalJson(current) === canonicalJson(logic)) {
      out.line(`${options.reconcile ? 'unchanged' : 'exists '} evaluator ${name}`);
    } else if (options.reconcile) {
      for (const line of formatChanges(diffJson(current, logic))) out.line(line);
      if (!options.dryRun) await client.putEvaluator(name, logic);
      out.line(`${action(options, 'updated', 'update')} evaluator ${name}`);
    } else {
      out.line(`exists  evaluator ${name} (differs from the file; left as is, --reconcile updates it)`);
    }
  }
}

interface SeedSummary {
  created: number;
  present: number;
  updated: number;
}

async function seedFlags(
  client: AdminClient,
  flags: readonly Flag[],
  options: SeedOptions,
  out: Output,
): Promise<SeedSummary> {
  const summary: SeedSummary = { created: 0, present: 0, updated: 0 };
  const report = async (flag: Flag, exists: boolean) => {
    if (!exists) {
      summary.created++;
      out.line(`${action(options, 'created', 'create')} ${flag.key}`);
      return;
    }
    summary.present++;
    if (!options.reconcile) {
      out.line(`exists  ${flag.key} (left as is)`);
      return;
    }
    if (await reconcileFlag(client, flag, options, out)) summary.updated++;
  };
  if (options.dryRun) {
    // A dry run cannot probe by creating, so it reads the current keys once instead.
    const existingKeys = new Set((await client.listFlags()).flags.map((f) => f.key));
    for (const flag of flags) await report(flag, existingKeys.has(flag.key));
    return summary;
  }
  // Create-if-absent in batches: one request and one transaction per batch (the server leaves existing keys as they
  // are and names them), so seeding thousands of flags takes seconds, not one round trip and one write each.
  for (const batch of batches(flags)) {
    const existing = new Set(await createBatch(client, batch));
    for (const flag of batch) await report(flag, existing.has(flag.key));
  }
  return summary;
}

/** Flags per bulk request: the server's limit (1000), and well under its default 1 MiB body limit. */
const BATCH_FLAGS = 500;
const BATCH_BYTES = 512 * 1024;

/** The flags in file order, cut into requests of at most BATCH_FLAGS flags and about BATCH_BYTES of JSON. */
export function batches(flags: readonly Flag[]): Flag[][] {
  const out: Flag[][] = [];
  let current: Flag[] = [];
  let bytes = 0;
  for (const flag of flags) {
    const size = Buffer.byteLength(JSON.stringify(flag));
    if (current.length > 0 && (current.length >= BATCH_FLAGS || bytes + size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(flag);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Creates a batch; returns the keys that already existed. A refused batch writes nothing and is reported against
 * the flag it names, as a single create's error would be. A server without the bulk route gets one create per flag.
 */
async function createBatch(client: AdminClient, batch: readonly Flag[]): Promise<string[]> {
  try {
    return (await client.createFlags(batch)).existing;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.code === 'NOT_FOUND' && error.path === undefined) {
      const existing: string[] = [];
      for (const flag of batch) {
        const result = await withFlagContext(flag.key, () => client.createFlag(flag));
        if (result.status === 'exists') existing.push(flag.key);
      }
      return existing;
    }
    const index = error instanceof ApiError ? /^\/flags\/(\d+)(\/.*)?$/.exec(error.path ?? '') : null;
    const flag = index ? batch[Number(index[1])] : undefined;
    if (!flag || !(error instanceof ApiError)) throw error;
    // Paths relative to the flag, as a single create reports them.
    const prefix = `/flags/${index![1]}`;
    const strip = (p: string) => (p.startsWith(prefix) ? p.slice(prefix.length) : p);
    const own = error.details.filter((d) => d.path.startsWith(`${prefix}/`) || d.path === prefix);
    const first = own[0];
    throw addFlagContext(
      flag.key,
      new ApiError(
        error.status,
        error.code,
        first?.message ?? error.serverMessage,
        strip(error.path ?? ''),
        own.map((d) => ({ ...d, path: strip(d.path) })),
      ),
    );
  }
}

/** Brings an existing flag to the file's content; returns whether it differed. */
async function reconcileFlag(client: AdminClient, flag: Flag, options: SeedOptions, out: Output): Promise<boolean> {
  const current = await withFlagContext(flag.key, () => client.getFlag(flag.key));
  const before = comparableFlag(current.flag);
  const after = comparableFlag(flag);
  if (canonicalJson(before) === canonicalJson(after)) {
    out.line(`unchanged ${flag.key}`);
    return false;
  }
  for (const line of formatChanges(diffJson(before, after))) out.line(line);
  if (!options.dryRun) {
    try {
      // If-Match: the diff above is only true of the version read; a concurrent change must not be overwritten.
      await client.replaceFlag(flag, current.etag);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'PRECONDITION_FAILED') {
        throw new CliError(
          `flag "${flag.key}" changed on the server while it was being reconciled; nothing was written to it. ` +
            'Run the seed again to compare with the new version.',
        );
      }
      throw addFlagContext(flag.key, error);
    }
  }
  out.line(`${action(options, 'updated', 'update')} ${flag.key}`);
  return true;
}

/** `created`, or `would create` in a dry run. */
function action(options: SeedOptions, done: string, planned: string): string {
  return options.dryRun ? `would ${planned}` : done;
}

function addFlagContext(key: string, error: unknown): unknown {
  // Token problems are not about this flag; their message already says what to do.
  if (error instanceof ApiError && error.status !== 401 && error.status !== 403)
    return new CliError(`flag "${key}": ${error.message}`, error.exitCode);
  return error;
}

async function withFlagContext<T>(key: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw addFlagContext(key, error);
  }
}
