import type { Flag } from '@runtime-control/core';
import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import { UsageError } from '../http-client.js';
import { compactJson, formatTable, type Output, prettyJson } from '../output.js';

const KEY_ENV_OPTIONS = { ...CONNECTION_OPTIONS, env: { type: 'string' } } as const;

/**
 * Parses `rctl flags <command> KEY --env E [options]`, the shape of every command that changes one flag in one
 * environment: the key, the environment and the parsed options, or undefined once `--help` has been answered.
 */
function parseFlagEnvCommand<const O extends Parameters<typeof parseCommandArgs>[1]>(
  args: string[],
  options: O,
  command: string,
  out: Output,
) {
  const { values, positionals } = parseCommandArgs(args, { ...KEY_ENV_OPTIONS, ...options }, command);
  // Inside this generic function TypeScript cannot resolve parseArgs' value types; callers get them fully typed.
  const common = values as { help?: boolean; env?: string };
  if (common.help) {
    out.line(FLAGS_HELP.trimEnd());
    return undefined;
  }
  const key = requirePositional(positionals, 0, 'KEY', command);
  rejectExtraPositionals(positionals, 1, command);
  const env = requireValue(common.env, '--env', command);
  return { values, key, env };
}

export const FLAGS_HELP = `Usage: rctl flags <command> [options]

Commands:
  list [--env E] [--json]                          list flags with each environment's state
  get KEY [--json]                                 show one flag
  enable KEY --env E                               set the flag's state to ENABLED in E
  disable KEY --env E                              set the flag's state to DISABLED in E
  override KEY --env E --user TARGETING_KEY --variant V
                                                   serve V to one targeting key in E
  override KEY --env E --user TARGETING_KEY --remove
                                                   remove that override
  rollout KEY --env E --variant V --percentage P   serve V to P% of targeting keys in E
  rollout KEY --env E --clear                      remove the rollout
  revert KEY --to REVISION                         put back the flag as it was after the change at REVISION
                                                   (a new write, audited as a revert; revisions: rctl audit)

Options:
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

export async function runFlags(args: string[], io: CliIo, out: Output): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list':
      return flagsList(rest, io, out);
    case 'get':
      return flagsGet(rest, io, out);
    case 'enable':
    case 'disable':
      return flagsSetState(subcommand, rest, io, out);
    case 'override':
      return flagsOverride(rest, io, out);
    case 'rollout':
      return flagsRollout(rest, io, out);
    case 'revert':
      return flagsRevert(rest, io, out);
    case '-h':
    case '--help':
    case 'help':
      out.line(FLAGS_HELP.trimEnd());
      return 0;
    case undefined:
      out.error(FLAGS_HELP.trimEnd());
      return 2;
    default:
      throw new UsageError(`unknown command "flags ${subcommand}"\nRun "rctl flags --help" for usage.`);
  }
}

/** Environment names in the order the flags first mention them, so columns are stable between runs. */
function environmentNames(flags: readonly Flag[]): string[] {
  const names = new Set<string>();
  for (const flag of flags) for (const env of Object.keys(flag.environments ?? {})) names.add(env);
  return [...names];
}

function ruleSummary(flag: Flag, env: string): string {
  const settings = flag.environments?.[env];
  if (!settings) return '';
  const parts: string[] = [];
  const overrides = Object.keys(settings.overrides ?? {}).length;
  if (overrides > 0) parts.push(`${overrides} override${overrides === 1 ? '' : 's'}`);
  if (settings.targeting) parts.push('targeting');
  if (settings.rollout) parts.push(`rollout ${settings.rollout.percentage}% → ${settings.rollout.variant}`);
  return parts.join(', ');
}

async function flagsList(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'flags list';
  const { values, positionals } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, env: { type: 'string' }, json: { type: 'boolean' } },
    command,
  );
  if (values.help) {
    out.line(FLAGS_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const list = await createAdminClient(values, io).listFlags();
  if (values.json) {
    out.line(prettyJson(list));
    return 0;
  }
  if (list.flags.length === 0) {
    out.line('no flags yet; seed some with "rctl seed FILE"');
    return 0;
  }
  const flags = [...list.flags].sort((a, b) => a.key.localeCompare(b.key));
  if (values.env) {
    const env = values.env;
    const rows = flags.map((f) => [
      f.key,
      f.type,
      f.environments?.[env]?.state ?? '-',
      f.defaultVariant ?? '(code default)',
      ruleSummary(f, env),
    ]);
    out.line(formatTable(['KEY', 'TYPE', env.toUpperCase(), 'DEFAULT', 'RULES'], rows));
    return 0;
  }
  const envs = environmentNames(flags);
  const rows = flags.map((f) => [f.key, f.type, ...envs.map((env) => f.environments?.[env]?.state ?? '-')]);
  out.line(formatTable(['KEY', 'TYPE', ...envs.map((e) => e.toUpperCase())], rows));
  return 0;
}

async function flagsRevert(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'flags revert';
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS, to: { type: 'string' } }, command);
  if (values.help) {
    out.line(FLAGS_HELP.trimEnd());
    return 0;
  }
  const key = requirePositional(positionals, 0, 'KEY', command);
  rejectExtraPositionals(positionals, 1, command);
  const raw = requireValue(values.to, '--to', command);
  if (!/^[1-9]\d{0,15}$/.test(raw)) {
    throw new UsageError(
      `--to must be a revision number (a positive integer), got "${raw}"\nRun "rctl audit --flag ${key}" for its revisions.`,
    );
  }
  const { etag } = await createAdminClient(values, io).revertFlag(key, Number(raw));
  out.line(
    `reverted ${key} to its version at revision ${raw}${etag ? ` (now revision ${etag.replace(/"/g, '')})` : ''}`,
  );
  return 0;
}

async function flagsGet(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'flags get';
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS, json: { type: 'boolean' } }, command);
  if (values.help) {
    out.line(FLAGS_HELP.trimEnd());
    return 0;
  }
  const key = requirePositional(positionals, 0, 'KEY', command);
  rejectExtraPositionals(positionals, 1, command);
  const { flag, etag } = await createAdminClient(values, io).getFlag(key);
  if (values.json) {
    out.line(prettyJson(flag));
    return 0;
  }
  out.line(`${flag.key} (${flag.type}${flag.sensitive ? ', sensitive' : ''})`);
  if (flag.description) out.line(`  description: ${flag.description}`);
  if (flag.owner) out.line(`  owner:       ${flag.owner}`);
  if (etag) out.line(`  revision:    ${etag.replace(/^W\//, '').replace(/"/g, '')}`);
  out.line(`  default:     ${flag.defaultVariant ?? '(none: the code default)'}`);
  out.line('  variants:');
  for (const [name, value] of Object.entries(flag.variants)) out.line(`    ${name}: ${compactJson(value)}`);
  if (flag.schema) out.line(`  schema:      ${compactJson(flag.schema)}`);
  for (const [env, settings] of Object.entries(flag.environments ?? {})) {
    out.line(`  ${env}: ${settings.state}`);
    for (const [targetingKey, variant] of Object.entries(settings.overrides ?? {})) {
      out.line(`    override  ${targetingKey} → ${variant}`);
    }
    if (settings.targeting) out.line(`    targeting ${compactJson(settings.targeting)}`);
    if (settings.rollout) out.line(`    rollout   ${settings.rollout.percentage}% → ${settings.rollout.variant}`);
  }
  return 0;
}

async function flagsSetState(action: 'enable' | 'disable', args: string[], io: CliIo, out: Output): Promise<number> {
  const parsed = parseFlagEnvCommand(args, {}, `flags ${action}`, out);
  if (!parsed) return 0;
  const { values, key, env } = parsed;
  const state = action === 'enable' ? 'ENABLED' : 'DISABLED';
  await createAdminClient(values, io).patchEnvironment(key, env, { state });
  out.line(`${action}d ${key} in ${env}`);
  return 0;
}

async function flagsOverride(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'flags override';
  const parsed = parseFlagEnvCommand(
    args,
    { user: { type: 'string' }, variant: { type: 'string' }, remove: { type: 'boolean' } },
    command,
    out,
  );
  if (!parsed) return 0;
  const { values, key, env } = parsed;
  const user = requireValue(values.user, '--user', command);
  const client = createAdminClient(values, io);
  if (values.remove) {
    if (values.variant !== undefined) throw new UsageError('--remove and --variant cannot be used together');
    await client.removeOverride(key, env, user);
    out.line(`removed the override of ${key} for ${user} in ${env}`);
    return 0;
  }
  const variant = requireValue(values.variant, '--variant (or --remove)', command);
  await client.setOverride(key, env, user, variant);
  out.line(`${key} serves "${variant}" to ${user} in ${env}`);
  return 0;
}

/** Percentages are 0–100 with at most two decimals (the server buckets in basis points). */
export function parsePercentage(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100 || !/^\d+(\.\d{1,2})?$/.test(text)) {
    throw new UsageError(`--percentage must be a number from 0 to 100 with at most two decimals (got "${text}")`);
  }
  return value;
}

async function flagsRollout(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'flags rollout';
  const parsed = parseFlagEnvCommand(
    args,
    { variant: { type: 'string' }, percentage: { type: 'string' }, clear: { type: 'boolean' } },
    command,
    out,
  );
  if (!parsed) return 0;
  const { values, key, env } = parsed;
  const client = createAdminClient(values, io);
  if (values.clear) {
    if (values.variant !== undefined || values.percentage !== undefined) {
      throw new UsageError('--clear cannot be combined with --variant or --percentage');
    }
    await client.patchEnvironment(key, env, { rollout: null });
    out.line(`cleared the rollout of ${key} in ${env}`);
    return 0;
  }
  const variant = requireValue(values.variant, '--variant', command);
  const percentage = parsePercentage(requireValue(values.percentage, '--percentage', command));
  await client.patchEnvironment(key, env, { rollout: { variant, percentage } });
  out.line(`${key} serves "${variant}" to ${percentage}% of targeting keys in ${env}`);
  return 0;
}
