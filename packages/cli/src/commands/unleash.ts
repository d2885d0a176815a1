import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import { type UnleashBridgeStatus, UsageError } from '../http-client.js';
import { type Output, prettyJson } from '../output.js';

export const UNLEASH_HELP = `Usage: rctl unleash <command> [options]

Commands:
  status [--json]   how the server's Unleash bridge is set up and doing: the webhook, the event watch
                    (state, last event id, last error), hints sent by source, connected UnleashProviders

With the event watch set up (RC_UNLEASH_URL, RC_UNLEASH_TOKEN), the server also asks Unleash for the bridge's
webhook addon: missing (e.g. Unleash 8 refused to create it), disabled, or failing (Unleash's last call failed,
e.g. Unleash 8 refusing a private address), with what to do and that the event watch still carries changes.

Exit code of "status": 0 when the bridge is enabled and its event watch (if set up) is reading Unleash's event
log, 1 otherwise (a missing or failing addon alone does not fail it while the watch carries changes).

Options:
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

export async function runUnleash(args: string[], io: CliIo, out: Output): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'status':
      return unleashStatus(rest, io, out);
    case '-h':
    case '--help':
    case 'help':
      out.line(UNLEASH_HELP.trimEnd());
      return 0;
    case undefined:
      out.error(UNLEASH_HELP.trimEnd());
      return 2;
    default:
      throw new UsageError(`unknown command "unleash ${subcommand}"\nRun "rctl unleash --help" for usage.`);
  }
}

async function unleashStatus(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'unleash status';
  const { values, positionals } = parseCommandArgs(args, { ...CONNECTION_OPTIONS, json: { type: 'boolean' } }, command);
  if (values.help) {
    out.line(UNLEASH_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const status = await createAdminClient(values, io).unleashBridgeStatus();
  const healthy = status.enabled && (!status.watch.enabled || status.watch.state === 'watching');
  if (values.json) {
    out.line(prettyJson(status));
    return healthy ? 0 : 1;
  }
  for (const line of describeStatus(status)) out.line(line);
  return healthy ? 0 : 1;
}

/** The status as lines a person reads, each problem with what to do about it. */
export function describeStatus(status: UnleashBridgeStatus): string[] {
  if (!status.enabled) {
    return [
      'bridge:  disabled — UnleashProviders only poll Unleash (15 s by default)',
      '         set RC_UNLEASH_WEBHOOK_SECRET (webhook) and/or RC_UNLEASH_URL + RC_UNLEASH_TOKEN (event watch)',
      '         on the server; see docs/unleash.md',
    ];
  }
  const lines = [
    `webhook: ${status.webhook.enabled ? 'on  (POST /api/integrations/unleash/webhook)' : 'off (RC_UNLEASH_WEBHOOK_SECRET not set)'}`,
    ...describeAddon(status),
  ];
  const w = status.watch;
  if (!w.enabled) {
    lines.push(
      'watch:   off (set RC_UNLEASH_URL and RC_UNLEASH_TOKEN for sub-second propagation; see docs/unleash.md)',
    );
  } else {
    const last = w.lastEventId === null ? 'none yet' : String(w.lastEventId);
    lines.push(`watch:   ${w.state} ${w.url} every ${w.intervalMs} ms, ${w.polls} reads, last event id ${last}`);
    if (w.lastError) lines.push(`         last error: ${w.lastError}`);
  }
  const sent = status.hintsSent;
  lines.push(
    `hints:   ${sent.webhook} from the webhook, ${sent.watch} from the watch, ${sent.relay} relayed by other replicas`,
  );
  lines.push(`clients: ${status.clients} UnleashProvider stream(s) connected to this replica`);
  return lines;
}

const ALLOW_LIST_FIX =
  'Unleash 8 refuses addon URLs whose host resolves to a private address (an in-cluster Service does) unless ' +
  'UNLEASH_ALLOW_LIST_INTEGRATION lists the host';

/** The webhook addon as Unleash has it, and what still carries changes when it does not work. */
function describeAddon(status: UnleashBridgeStatus): string[] {
  const addon = status.webhook.addon;
  const w = status.watch;
  const watchCarries =
    w.enabled && w.state === 'watching'
      ? `         the event watch alone still carries changes: providers hear of each within ~${w.intervalMs} ms (one read of the event log every ${w.intervalMs} ms)`
      : '         and the event watch is not reading Unleash either: providers only poll (15 s by default)';
  const seed = 'rctl seed FLAGS --target unleash --unleash-url URL --bridge-url RC_URL';
  switch (addon.state) {
    case 'unchecked':
    case 'present':
      return addon.state === 'present'
        ? [`addon:   present in Unleash (id ${addon.id})${addon.detail ? `; ${addon.detail}` : ''}`]
        : [];
    case 'unknown':
      return [`addon:   could not be checked: ${addon.detail ?? 'no reason given'}`];
    case 'missing':
      return [
        `addon:   missing in Unleash — create it with "${seed}"; if Unleash refused it (HTTP 400), ${ALLOW_LIST_FIX}`,
        watchCarries,
      ];
    case 'disabled':
      return [
        `addon:   disabled in Unleash (id ${addon.id}) — enable it in Unleash or run the seed with --reconcile`,
        watchCarries,
      ];
    case 'failing': {
      const host = addon.host ? `=${addon.host}` : '';
      return [
        `addon:   failing (id ${addon.id}): ${addon.detail ?? 'Unleash recorded a failed call'}`,
        `         check that Unleash reaches the bridge URL; ${ALLOW_LIST_FIX} (UNLEASH_ALLOW_LIST_INTEGRATION${host}; restart Unleash)`,
        watchCarries,
      ];
    }
  }
}
