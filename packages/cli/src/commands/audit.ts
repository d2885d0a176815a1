import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import type { AuditView } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';

export const AUDIT_HELP = `Usage: rctl audit [--flag KEY] [--type T] [--key K] [--actor A] [--since T] [--until T] [--before REVISION]
                  [--limit N] [--json]

The audit log, newest first: every write with its revision, time, actor and action (create, update, delete, revoke,
revert). A flag's revisions are what "rctl flags revert KEY --to REVISION" takes. Each step of a secret rotation or
rollback is a record too (type secret, key SERVICE/BUNDLE, action rotate or rollback), shown with its event, the old
→ new version and a failure's reason: started, vault-written, sync-forced, synced, consumers-restarted, rolled-out,
failed, resumed, completed — never a secret value.

Options:
  --flag KEY     records of one flag
  --type T       flag, evaluator, token or secret
  --key K        records of one entity key (with --type; a secret's is SERVICE/BUNDLE)
  --actor A      records by one actor
  --since T      ISO-8601 time, inclusive
  --until T      ISO-8601 time, inclusive
  --before REVISION
                 records before this revision (the next page: the last REVISION shown)
  --limit N      at most N records (1–1000, default 100)
  --json         print the server's answer as JSON (with each record's before and after)
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

const FILTERS = ['flag', 'type', 'key', 'actor', 'since', 'until', 'before', 'limit'] as const;

/**
 * One line per record; what changed is in the console's history or `--json`. A secret rotation step also says which
 * step and how it went (`secret auth-service/jwt: vault-written write 1→2 (rotation 6f1c2a9b)`).
 */
export function renderAudit(view: AuditView): string {
  if (view.records.length === 0) return 'no audit records match';
  return formatTable(
    ['REVISION', 'AT', 'ACTOR', 'ACTION', 'ENTITY'],
    view.records.map((r) => [
      String(r.revision),
      r.at,
      r.actor,
      r.action,
      `${r.entityType} ${r.entityKey}${r.entityType === 'secret' ? `: ${secretStep(r.after)}` : ''}`,
    ]),
  );
}

/** A rotation step's event, step, versions, reason and rotation id — the fields the server records, never a value. */
function secretStep(after: unknown): string {
  const fields = (typeof after === 'object' && after !== null ? after : {}) as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const value = fields[key];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  };
  const version = text('version');
  const parts = [
    text('event') ?? '?',
    text('step'),
    version === undefined ? undefined : `${text('previousVersion') ?? '-'}→${version}`,
  ].filter((p) => p !== undefined);
  const reason = text('reason');
  const rotation = text('rotation');
  return `${parts.join(' ')}${reason === undefined ? '' : `: ${reason}`}${rotation === undefined ? '' : ` (rotation ${rotation.slice(0, 8)})`}`;
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
