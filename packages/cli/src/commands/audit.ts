import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import type { AuditView } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';

export const AUDIT_HELP = `Usage: rctl audit [--flag KEY] [--type T] [--key K] [--actor A] [--since T] [--until T] [--limit N] [--json]

The audit log, newest first: every write with its revision, time, actor and action (create, update, delete, revoke,
revert). A flag's revisions are what "rctl flags revert KEY --to REVISION" takes.

Options:
  --flag KEY     records of one flag
  --type T       flag, evaluator or token
  --key K        records of one entity key (with --type)
  --actor A      records by one actor
  --since T      ISO-8601 time, inclusive
  --until T      ISO-8601 time, inclusive
  --limit N      at most N records (1–1000, default 100)
  --json         print the server's answer as JSON (with each record's before and after)
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

const FILTERS = ['flag', 'type', 'key', 'actor', 'since', 'until', 'limit'] as const;

/** One line per record; what changed is in the console's history or `--json`. */
export function renderAudit(view: AuditView): string {
  if (view.records.length === 0) return 'no audit records match';
  return formatTable(
    ['REVISION', 'AT', 'ACTOR', 'ACTION', 'ENTITY'],
    view.records.map((r) => [String(r.revision), r.at, r.actor, r.action, `${r.entityType} ${r.entityKey}`]),
  );
}

export async function runAudit(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'audit';
  const options = Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' }] as const)) as Record<
    (typeof FILTERS)[number],
    { type: 'string' }
  >;
  const { values, positionals } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, ...options, json: { type: 'boolean' } },
    command,
  );
  if (values.help) {
    out.line(AUDIT_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  // The server checks each filter and names the one it refuses (VALIDATION_FAILED with its path).
  const query: Partial<Record<(typeof FILTERS)[number], string>> = {};
  for (const f of FILTERS) {
    const value = (values as Record<string, unknown>)[f];
    if (typeof value === 'string') query[f] = value;
  }
  const view = await createAdminClient(values, io).listAudit(query);
  out.line(values.json ? prettyJson(view) : renderAudit(view));
  return 0;
}
