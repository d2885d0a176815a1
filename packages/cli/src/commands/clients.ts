import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import type { ClientsView } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';

export const CLIENTS_HELP = `Usage: rctl clients [--env E] [--app NAME] [--json]

Who is connected, on every replica: each SDK client stream, OFREP stream and Unleash bridge stream, and each OFREP
caller that evaluates without a stream (listed while seen in the last 5 minutes), with the application (the SDK's
appName, or X-RC-App), instance, SDK or user agent, environment, token, when it connected (first seen) and the last
revision it was sent (its last evaluation was computed from). The first check when "flags are not toggling": is the service connected, to the right environment, and
on the latest revision? Other replicas' clients are as of their last report (RC_PRESENCE_INTERVAL_MS).

Options:
  --env E        only clients of environment E
  --app NAME     only clients of this application
  --json         print the server's answer as JSON
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

/** How long ago `iso` was, compactly: 42s, 5m, 3h, 2d. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** The clients view as a table, with a line per replica that reported. */
export function renderClients(view: ClientsView, now = Date.now()): string {
  const lines: string[] = [];
  if (view.clients.length === 0) {
    lines.push('no clients connected');
  } else {
    const rows = view.clients.map((c) => [
      c.app ?? '-',
      c.instance ?? '-',
      c.agent ?? '-',
      c.transport === 'polling' ? `${c.kind} (polling, last ${age(c.lastSeen ?? c.connectedSince, now)} ago)` : c.kind,
      c.environment,
      c.token.name ?? c.token.id ?? '-',
      age(c.connectedSince, now),
      c.lastRevision === null
        ? '-'
        : `${c.lastRevision}${c.upToDate === false && c.transport === 'stream' ? ` (behind ${c.environmentRevision})` : ''}`,
      c.replica,
    ]);
    lines.push(
      formatTable(['APP', 'INSTANCE', 'SDK', 'STREAM', 'ENVIRONMENT', 'TOKEN', 'SINCE', 'REVISION', 'REPLICA'], rows),
    );
  }
  const replicas = view.replicas.map((r) => {
    const when = r.self ? 'live' : `reported ${age(r.reportedAt, now)} ago`;
    const cut = r.truncated > 0 ? `, ${r.truncated} not listed` : '';
    return `${r.id} (${r.connections} connection${r.connections === 1 ? '' : 's'}, ${when}${cut})`;
  });
  lines.push(`replicas: ${replicas.join('; ')}`);
  return lines.join('\n');
}

export async function runClients(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'clients';
  const { values, positionals } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, env: { type: 'string' }, app: { type: 'string' }, json: { type: 'boolean' } },
    command,
  );
  if (values.help) {
    out.line(CLIENTS_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const view = await createAdminClient(values, io).listClients({
    ...(values.env !== undefined ? { environment: values.env } : {}),
    ...(values.app !== undefined ? { app: values.app } : {}),
  });
  out.line(values.json ? prettyJson(view) : renderClients(view));
  return 0;
}
