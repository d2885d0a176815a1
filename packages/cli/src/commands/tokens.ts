import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import { UsageError } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';

export const TOKENS_HELP = `Usage: rctl tokens <command> [options]

Commands:
  create --kind client --env E [--flag-set S] [--name N] [--json]
                                                     create a client token scoped to E; with --flag-set, limited
                                                     to the flags whose metadata.flagSetId is S (flagd flag sets)
  create --kind admin [--name N] [--json]            create an admin token
  list [--json]                                      list tokens (never their secrets)
  revoke ID                                          revoke a token

"create" prints the token on stdout; it is shown only once, so store it right away.

Options:
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

export async function runTokens(args: string[], io: CliIo, out: Output): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'create':
      return tokensCreate(rest, io, out);
    case 'list':
      return tokensList(rest, io, out);
    case 'revoke':
      return tokensRevoke(rest, io, out);
    case '-h':
    case '--help':
    case 'help':
      out.line(TOKENS_HELP.trimEnd());
      return 0;
    case undefined:
      out.error(TOKENS_HELP.trimEnd());
      return 2;
    default:
      throw new UsageError(`unknown command "tokens ${subcommand}"\nRun "rctl tokens --help" for usage.`);
  }
}

async function tokensCreate(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'tokens create';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      kind: { type: 'string' },
      env: { type: 'string' },
      name: { type: 'string' },
      'flag-set': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(TOKENS_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const kind = requireValue(values.kind, '--kind (client or admin)', command);
  if (kind !== 'client' && kind !== 'admin') {
    throw new UsageError(`--kind must be "client" or "admin" (got "${kind}")`);
  }
  if (kind === 'client' && values.env === undefined) {
    throw new UsageError('a client token is scoped to one environment: pass --env E');
  }
  if (kind === 'admin' && values.env !== undefined) {
    throw new UsageError('admin tokens are not scoped to an environment: drop --env');
  }
  const flagSet = values['flag-set'];
  if (kind === 'admin' && flagSet !== undefined) {
    throw new UsageError('admin tokens are not limited to a flag set: drop --flag-set');
  }
  const created = await createAdminClient(values, io).createToken({
    kind,
    ...(values.env !== undefined ? { environment: values.env } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    // The server checks the name (400 INVALID_FLAG_SET at /flagSet), so the CLI and the API refuse the same names.
    ...(flagSet !== undefined ? { flagSet } : {}),
  });
  if (values.json) {
    out.line(prettyJson(created));
    return 0;
  }
  // The secret goes alone to stdout so `RC_TOKEN=$(rctl tokens create …)` works; the explanation goes to stderr.
  const scope =
    (created.environment ? ` for ${created.environment}` : '') +
    (created.flagSet ? `, flag set ${created.flagSet} only` : '');
  out.error(`created ${created.kind} token ${created.id} "${created.name}"${scope}; it is shown only once:`);
  out.line(created.token);
  return 0;
}

async function tokensList(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'tokens list';
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS, json: { type: 'boolean' } }, command);
  if (values.help) {
    out.line(TOKENS_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const tokens = await createAdminClient(values, io).listTokens();
  if (values.json) {
    out.line(prettyJson({ tokens }));
    return 0;
  }
  if (tokens.length === 0) {
    out.line('no tokens; create one with "rctl tokens create --kind client --env development"');
    return 0;
  }
  const rows = tokens.map((t) => [
    t.id,
    t.name,
    t.kind,
    t.environment ?? '-',
    t.flagSet ?? '-',
    t.createdAt,
    t.revokedAt ? `revoked ${t.revokedAt}` : 'active',
  ]);
  out.line(formatTable(['ID', 'NAME', 'KIND', 'ENVIRONMENT', 'FLAG SET', 'CREATED', 'STATUS'], rows));
  return 0;
}

async function tokensRevoke(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'tokens revoke';
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS }, command);
  if (values.help) {
    out.line(TOKENS_HELP.trimEnd());
    return 0;
  }
  const id = requirePositional(positionals, 0, 'ID', command);
  rejectExtraPositionals(positionals, 1, command);
  await createAdminClient(values, io).revokeToken(id);
  out.line(`revoked token ${id}`);
  return 0;
}
