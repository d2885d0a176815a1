import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, resolveServerUrl, resolveToken } from '../connection.js';
import { ApiError, CliError, UsageError, unreachableServerError } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';
import { FINAL_PHASES, renderWatch, type CanaryRun as WatchRun, watchChanges, watchExitCode } from './canary-watch.js';

export const CANARY_HELP = `Usage: rctl canary <command> [options]

Commands:
  start SERVICE --to V [options]     start a canary: shift traffic to version V step by step, analysing each interval
  status [SERVICE] [--watch]         all runs, or one run with every decision and the numbers behind it; --watch
                                     redraws its weight timeline and each check against its threshold until it
                                     ends (exit 0 promoted, 1 rolled back or aborted) [--poll-interval 1s]
  pause SERVICE                      stop analysing, keep the current split
  resume SERVICE                     resume a run paused by hand (not one at a gate: promote that)
  promote SERVICE [--full]           a paused run (at a --pause-at gate, or paused) goes on to its next step;
                                     --full: 100% to the canary now, skipping the remaining steps
  abort SERVICE                      roll back: 100% to the stable version

Start options:
  --from V                  stable version (default v1)
  --steps 5,10,25,50,100    canary weights in percent (reaching 100 is promotion; this is the default)
  --pause-at 50[,75]        manual gates: once the step at that weight has passed, hold there (phase paused,
                            analyses go on, a failing one still rolls back) until "rctl canary promote"
  --interval 60s            time between analyses (default: the server's RC_CANARY_INTERVAL_MS)
  --window 1m               PromQL range of each analysis (default 1m)
  --threshold N             failed analyses in a row before a rollback (default 3; a 5xx spike rolls back at once)
  --max-error-rate R        largest canary error share, 0–1 (default 0.01)
  --max-p95-ratio X         largest canary p95 ÷ stable p95 (default 1.25)
  --min-requests N          requests each version needs at the current weight before any judgement (default 50)
  --max-hold 5m             how long a step may go without the data to judge it (default 5 × interval) ...
  --missing-data-limit N    (older form: N × interval)
  --on-missing-data A       ... then "rollback" ("rolled back: not enough data", the default) or "pause"
  --pin-user ID             send this user to the canary whatever the weights (repeatable)
  --pin-header H            header carrying the user id (default x-user)
  --virtual-service NAME    Istio: the VirtualService holding the route (default: SERVICE)
  --namespace NS            Istio: its namespace (default: the server's RC_KUBERNETES_NAMESPACE)
  --notify-url URL          POST a JSON notification to URL on every step, promotion and rollback
  --notify-secret-file F    sign them (header x-rc-signature-256: sha256=HMAC) with the secret in F, a file
                            on the server's machine
  --json                    print the server's JSON

Options:
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

interface CheckView {
  name: string;
  status: string;
  value: number | null;
  threshold: number | null;
  detail: string;
}

interface DecisionView {
  at: string;
  action: string;
  actor: string;
  fromWeight: number;
  toWeight: number;
  failedChecks: number;
  reason: string;
  checks?: CheckView[];
}

interface CanaryView {
  service: string;
  phase: string;
  plan: {
    stable: string;
    canary: string;
    steps: number[];
    intervalMs: number;
    window: string;
    failureThreshold: number;
  };
  canaryWeight: number;
  weights: Record<string, number>;
  failedChecks: number;
  inconclusiveStreak: number;
  nextAnalysisAt: string | null;
  routerSynced: boolean;
  routerError: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** How the run ended: `promoted`, `rolled back: not enough data`, ... (absent from older servers). */
  outcome?: string | null;
  gate?: { weight: number; since: string } | null;
  decisions?: DecisionView[];
}

export async function runCanary(args: string[], io: CliIo, out: Output): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'start':
      return canaryStart(rest, io, out);
    case 'status':
      return canaryStatus(rest, io, out);
    case 'pause':
    case 'resume':
    case 'promote':
    case 'abort':
      return canaryCommand(subcommand, rest, io, out);
    case '-h':
    case '--help':
    case 'help':
      out.line(CANARY_HELP.trimEnd());
      return 0;
    case undefined:
      out.error(CANARY_HELP.trimEnd());
      return 2;
    default:
      throw new UsageError(`unknown command "canary ${subcommand}"\nRun "rctl canary --help" for usage.`);
  }
}

/** Turns the start flags into the API body; the server validates values (and answers with the field's path). */
export function startBody(service: string, values: Record<string, string | string[] | boolean | undefined>) {
  const command = 'canary start';
  const number = (flag: string): number | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
      throw new UsageError(
        `--${flag} must be a number (got "${String(raw)}")\nRun "rctl ${command} --help" for usage.`,
      );
    }
    return n;
  };
  const body: Record<string, unknown> = {
    service,
    to: requireValue(values.to as string | undefined, '--to V', command),
  };
  if (values.from !== undefined) body.from = values.from;
  if (values['pause-at'] !== undefined) {
    body.pauseAt = String(values['pause-at'])
      .split(',')
      .map((s) => {
        const n = Number(s.trim());
        if (s.trim() === '' || !Number.isFinite(n)) {
          throw new UsageError(
            `--pause-at must be comma-separated step weights such as 50 or 25,50 (got "${values['pause-at']}")`,
          );
        }
        return n;
      });
  }
  if (values.steps !== undefined) {
    body.steps = String(values.steps)
      .split(',')
      .map((s) => {
        const n = Number(s.trim());
        if (s.trim() === '' || !Number.isFinite(n)) {
          throw new UsageError(
            `--steps must be comma-separated percentages such as 5,10,25,50,100 (got "${values.steps}")`,
          );
        }
        return n;
      });
  }
  if (values.interval !== undefined) body.interval = values.interval;
  if (values.window !== undefined) body.window = values.window;
  if (values.threshold !== undefined) body.failureThreshold = number('threshold');
  const thresholds: Record<string, number> = {};
  const maxErrorRate = number('max-error-rate');
  const maxP95Ratio = number('max-p95-ratio');
  const minRequests = number('min-requests');
  if (maxErrorRate !== undefined) thresholds.maxErrorRate = maxErrorRate;
  if (maxP95Ratio !== undefined) thresholds.maxP95Ratio = maxP95Ratio;
  if (minRequests !== undefined) thresholds.minRequests = minRequests;
  if (Object.keys(thresholds).length > 0) body.thresholds = thresholds;
  const missingData: Record<string, unknown> = {};
  const limit = number('missing-data-limit');
  if (limit !== undefined) missingData.limit = limit;
  if (values['max-hold'] !== undefined) missingData.maxHold = values['max-hold'];
  if (values['on-missing-data'] !== undefined) missingData.action = values['on-missing-data'];
  if (Object.keys(missingData).length > 0) body.missingData = missingData;
  const users = values['pin-user'];
  if (Array.isArray(users) && users.length > 0) {
    body.pins = { values: users, ...(values['pin-header'] !== undefined ? { header: values['pin-header'] } : {}) };
  } else if (values['pin-header'] !== undefined) {
    throw new UsageError('--pin-header needs at least one --pin-user');
  }
  if (values['virtual-service'] !== undefined) body.virtualService = values['virtual-service'];
  if (values.namespace !== undefined) body.namespace = values.namespace;
  if (values['notify-url'] !== undefined) {
    body.notify = {
      url: values['notify-url'],
      ...(values['notify-secret-file'] !== undefined ? { secretFile: values['notify-secret-file'] } : {}),
    };
  } else if (values['notify-secret-file'] !== undefined) {
    throw new UsageError('--notify-secret-file needs --notify-url');
  }
  return body;
}

async function canaryStart(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'canary start';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      to: { type: 'string' },
      from: { type: 'string' },
      steps: { type: 'string' },
      'pause-at': { type: 'string' },
      interval: { type: 'string' },
      window: { type: 'string' },
      threshold: { type: 'string' },
      'max-error-rate': { type: 'string' },
      'max-p95-ratio': { type: 'string' },
      'min-requests': { type: 'string' },
      'missing-data-limit': { type: 'string' },
      'max-hold': { type: 'string' },
      'on-missing-data': { type: 'string' },
      'pin-user': { type: 'string', multiple: true },
      'pin-header': { type: 'string' },
      'virtual-service': { type: 'string' },
      namespace: { type: 'string' },
      'notify-url': { type: 'string' },
      'notify-secret-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(CANARY_HELP.trimEnd());
    return 0;
  }
  const service = requirePositional(positionals, 0, 'SERVICE', command);
  rejectExtraPositionals(positionals, 1, command);
  const body = startBody(service, values);
  const run = (await request(values, io, 'POST', '/api/admin/canaries', body)) as CanaryView;
  if (values.json) {
    out.line(prettyJson(run));
    return 0;
  }
  out.line(
    `started canary of ${run.service}: ${run.plan.stable} → ${run.plan.canary}, steps ${run.plan.steps.join(' → ')}, ` +
      `every ${run.plan.intervalMs / 1000}s over ${run.plan.window}; now ${formatWeights(run.weights)}`,
  );
  const traffic = (run as { traffic?: { requestsPerSecond: number | null; window: string; warnings: string[] } })
    .traffic;
  if (traffic && traffic.requestsPerSecond !== null) {
    out.line(`current traffic: ${Number(traffic.requestsPerSecond.toPrecision(3))} req/s (last ${traffic.window})`);
  }
  for (const warning of traffic?.warnings ?? []) out.error(`warning: ${warning}`);
  const gates = (run.plan as { pauseAt?: number[] }).pauseAt ?? [];
  if (gates.length > 0) {
    out.line(
      `pauses at ${gates.map((g) => `${g}%`).join(', ')} once each step passed; go on with: rctl canary promote ${run.service}`,
    );
  }
  out.line(`follow it with: rctl canary status ${run.service} --watch`);
  return 0;
}

async function canaryStatus(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'canary status';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      watch: { type: 'boolean' },
      'poll-interval': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(CANARY_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 1, command);
  const service = positionals[0];
  let pollMs = 1000;
  if (values['poll-interval'] !== undefined) {
    const parsed = parseDuration(values['poll-interval']);
    if (!values.watch) throw new UsageError('--poll-interval needs --watch');
    if (parsed === undefined || parsed < 50 || parsed > 60_000) {
      throw new UsageError(
        `--poll-interval must be a duration from 50ms to 60s, e.g. 1s or 500ms (got "${values['poll-interval']}")`,
      );
    }
    pollMs = parsed;
  }
  if (!service) {
    if (values.watch) throw new UsageError('--watch needs a SERVICE');
    const { canaries } = (await request(values, io, 'GET', '/api/admin/canaries')) as { canaries: CanaryView[] };
    if (values.json) {
      out.line(prettyJson({ canaries }));
      return 0;
    }
    if (canaries.length === 0) {
      out.line('no canaries; start one with "rctl canary start SERVICE --to v2"');
      return 0;
    }
    out.line(
      formatTable(
        ['SERVICE', 'PHASE', 'VERSIONS', 'WEIGHTS', 'FAILED CHECKS', 'NEXT ANALYSIS'],
        canaries.map((c) => [
          c.service,
          c.phase,
          `${c.plan.stable} → ${c.plan.canary}`,
          formatWeights(c.weights),
          `${c.failedChecks}/${c.plan.failureThreshold}`,
          c.nextAnalysisAt ?? '-',
        ]),
      ),
    );
    return 0;
  }
  const path = `/api/admin/canaries/${encodeURIComponent(service)}`;
  const run = (await request(values, io, 'GET', path)) as CanaryView;
  if (values.json && !values.watch) {
    out.line(prettyJson(run));
    return 0;
  }
  if (!values.watch) {
    printRun(run, out);
    return 0;
  }
  return watchRun(
    run as unknown as WatchRun,
    () => request(values, io, 'GET', path) as Promise<WatchRun>,
    io,
    out,
    pollMs,
  );
}

/**
 * Polls the run every `pollMs` until it is final (and the router applied it): on a terminal the frame is redrawn, on
 * anything else one line is printed per change. Exit 0 when promoted, 1 when rolled back or aborted (with the
 * reason). A server that stops answering is retried for a while, then the error is reported.
 */
async function watchRun(
  first: WatchRun,
  read: () => Promise<WatchRun>,
  io: CliIo,
  out: Output,
  pollMs: number,
): Promise<number> {
  let run = first;
  let previous: WatchRun | undefined;
  let failures = 0;
  for (;;) {
    if (io.isTTY) io.stdout(`\x1b[H\x1b[J${renderWatch(run).join('\n')}\n`);
    else for (const line of watchChanges(previous, run)) out.line(line);
    previous = run;
    if (FINAL_PHASES.has(run.phase) && run.routerSynced) break;
    await new Promise((r) => setTimeout(r, pollMs));
    try {
      run = await read();
      failures = 0;
    } catch (error) {
      if (error instanceof ApiError || ++failures > 30) throw error;
      out.error(`warning: ${(error as Error).message}; retrying`);
    }
  }
  const code = watchExitCode(run);
  out.line(`${run.service}: ${run.outcome ?? run.phase}, ${formatWeights(run.weights)}`);
  if (code !== 0) {
    const ended = [...run.history].reverse().find((s) => s.outcome === 'failed' || s.outcome === 'aborted');
    out.error(`${run.service}: ${run.outcome ?? run.phase}${ended ? ` — ${ended.detail}` : ''}`);
  }
  return code;
}

async function canaryCommand(
  action: 'pause' | 'resume' | 'promote' | 'abort',
  args: string[],
  io: CliIo,
  out: Output,
): Promise<number> {
  const command = `canary ${action}`;
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      json: { type: 'boolean' },
      ...(action === 'promote' ? { full: { type: 'boolean' } } : {}),
    },
    command,
  );
  if (values.help) {
    out.line(CANARY_HELP.trimEnd());
    return 0;
  }
  const service = requirePositional(positionals, 0, 'SERVICE', command);
  rejectExtraPositionals(positionals, 1, command);
  const full = (values as { full?: boolean }).full === true;
  const run = (await request(
    values,
    io,
    'POST',
    `/api/admin/canaries/${encodeURIComponent(service)}/${action}${full ? '?full=true' : ''}`,
  )) as CanaryView;
  if (values.json) {
    out.line(prettyJson(run));
    return 0;
  }
  out.line(`${run.service}: ${run.phase}, ${formatWeights(run.weights)}`);
  return 0;
}

function printRun(run: CanaryView, out: Output): void {
  out.line(`${run.service}: ${run.phase} — ${run.plan.stable} → ${run.plan.canary}, ${formatWeights(run.weights)}`);
  out.line(
    `  steps ${run.plan.steps.join(' → ')}, every ${run.plan.intervalMs / 1000}s over ${run.plan.window}; ` +
      `failed in a row ${run.failedChecks}/${run.plan.failureThreshold}, inconclusive in a row ${run.inconclusiveStreak}`,
  );
  if (run.outcome) out.line(`  outcome: ${run.outcome}`);
  if (run.gate) {
    out.line(`  paused at the gate at ${run.gate.weight}% since ${run.gate.since}: rctl canary promote ${run.service}`);
  }
  if (run.nextAnalysisAt) out.line(`  next analysis ${run.nextAnalysisAt}`);
  if (!run.routerSynced)
    out.line(`  router has not applied the last decision yet${run.routerError ? `: ${run.routerError}` : ''}`);
  for (const d of run.decisions ?? []) out.line(formatDecision(d));
}

export function formatDecision(d: DecisionView): string {
  const lines = [
    `  ${d.at}  ${d.action.padEnd(10)} ${String(d.fromWeight).padStart(3)}% → ${String(d.toWeight).padStart(3)}%  ${d.reason}${d.actor !== 'controller' ? ` [${d.actor}]` : ''}`,
  ];
  for (const c of d.checks ?? []) {
    if (c.name === 'request-count' && c.status === 'pass') continue;
    lines.push(`      ${c.status === 'pass' ? 'ok  ' : c.status === 'fail' ? 'FAIL' : 'n/a '} ${c.name}: ${c.detail}`);
  }
  return lines.join('\n');
}

/** `500ms`, `2s`, `1m` → milliseconds; undefined otherwise. */
function parseDuration(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^(\d+)(ms|s|m)$/.exec(value.trim()) : null;
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function formatWeights(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([v, w]) => `${v} ${w}%`)
    .join(' / ');
}

/** One admin API call; errors become the same messages as every other rctl command. */
async function request(
  values: { url?: string | undefined; token?: string | undefined },
  io: CliIo,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const url = resolveServerUrl(values, io);
  const token = resolveToken(values, io);
  const headers: Record<string, string> = { accept: 'application/json', 'x-rc-actor': io.env.USER || 'rctl' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw unreachableServerError(url, error);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (response.ok) return parsed;
  const error = (parsed as { error?: { code?: string; message?: string; path?: string; details?: [] } } | undefined)
    ?.error;
  if (error && typeof error.code === 'string') {
    throw new ApiError(response.status, error.code, error.message ?? '', error.path, error.details ?? []);
  }
  throw new CliError(`the server answered HTTP ${response.status}: ${text.slice(0, 200)}`);
}
