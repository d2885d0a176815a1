import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseCommandArgs, rejectExtraPositionals } from '../args.js';
import {
  type CliIo,
  CONNECTION_OPTIONS,
  type ConnectionValues,
  createAdminClient,
  resolveServerUrl,
  resolveToken,
} from '../connection.js';
import { ApiError, CliError, type ClientsView, UsageError } from '../http-client.js';
import { type Output, prettyJson } from '../output.js';
import { secretsChecksOf } from './secrets-inputs.js';

export const DOCTOR_HELP = `Usage: rctl doctor [--service NAME] [--flag KEY] [--env E] [--platform FILE]
                   [--cluster [--namespace NS,…] [--kube-api URL]] [--json]

Runs the runbook's troubleshooting checks (§7) and prints each as pass or fail with what it saw and, for a
failure, the fix in one line. Exit code 1 when any check fails.

  Flags not toggling   the server answers and is ready (no unloadable records, not draining); the admin token is
                       accepted; --service NAME is connected (its SDK's appName), to --env, on the latest
                       revision; --flag KEY exists and is ENABLED in --env.
  Traffic not splitting, sidecars missing
                       with --platform FILE: the platform file's checks (subset labels that select no Deployment,
                       weights that do not add up to 100, header routes shadowed by a weighted route, namespaces
                       without istio-injection=enabled), and for its secrets section the checks of
                       "rctl secrets check" (KV v2 path with data/, refreshInterval 0 with rotation, an env var no
                       bundle provides, store auth without role, service account or audience). Offline.
                       with --cluster: the same symptoms in the live cluster (read-only): DestinationRule subsets
                       whose labels select no Deployment, VirtualService weights not adding up to 100, namespaces
                       without injection, running pods without an istio-proxy sidecar.

Options:
  --service NAME  the application that does not see changes (as it names itself: appName / OTEL_SERVICE_NAME)
  --flag KEY      the flag that does not toggle
  --env E         the environment it should toggle in (default: the one the service is connected to)
  --platform FILE also run the platform file's checks
  --cluster       also check the live cluster (kubeconfig or in-cluster account; RC_KUBERNETES_API_URL and
                  RC_KUBERNETES_TOKEN, or --kube-api, to name one)
  --namespace NS  namespaces to check in the cluster, comma-separated (default: the platform file's, else default)
  --kube-api URL  Kubernetes API server (with RC_KUBERNETES_TOKEN)
  --json          print {ok, checks:[{section, name, status, evidence, fix}]}
  --url URL       server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN   admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help      show this help
`;

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface DoctorCheck {
  section: 'flags' | 'traffic' | 'sidecars' | 'egress' | 'secrets';
  name: string;
  status: CheckStatus;
  /** What was seen. */
  evidence: string;
  /** For a failure or warning: what to do, in one line. */
  fix?: string;
}

const SECTION_TITLES: Record<DoctorCheck['section'], string> = {
  flags: 'Flags not toggling',
  traffic: 'Traffic not splitting',
  sidecars: 'Sidecars missing',
  egress: 'Egress blocked',
  secrets: 'ExternalSecret stuck pending',
};

/** The platform file's troubleshooting codes by the runbook symptom they explain. */
const PLATFORM_SECTIONS: Record<string, DoctorCheck['section']> = {
  SUBSET_MATCHES_NO_DEPLOYMENT: 'traffic',
  WEIGHTS_NOT_100: 'traffic',
  HEADER_ROUTE_AFTER_WEIGHTED_ROUTE: 'traffic',
  NAMESPACE_INJECTION_DISABLED: 'sidecars',
  EGRESS_HOST_NOT_APPROVED: 'egress',
};

const MARKS: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };

export function renderChecks(checks: readonly DoctorCheck[]): string {
  const lines: string[] = [];
  let section: string | undefined;
  for (const c of checks) {
    if (c.section !== section) {
      if (section !== undefined) lines.push('');
      section = c.section;
      lines.push(SECTION_TITLES[c.section]);
    }
    lines.push(`  ${MARKS[c.status]}  ${c.name}: ${c.evidence}`);
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) lines.push(`        fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  lines.push('');
  lines.push(failed === 0 ? `all ${checks.length} checks passed` : `${failed} of ${checks.length} checks failed`);
  return lines.join('\n');
}

interface Options {
  service?: string;
  flag?: string;
  env?: string;
}

/** GET a public JSON endpoint; undefined body when it is not JSON. Throws on a network error. */
async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    headers: { accept: 'application/json', ...headers },
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: res.status, body: undefined };
  }
}

function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.status} ${error.code}: ${error.message}`;
  return (error as Error)?.message ?? String(error);
}

/** The "flags not toggling" checks, in the order a person would run them; later ones are skipped when pointless. */
export async function flagChecks(values: ConnectionValues, io: CliIo, options: Options): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (check: Omit<DoctorCheck, 'section'>) => checks.push({ section: 'flags', ...check });
  const url = resolveServerUrl(values, io);

  let index: { status: number; body: unknown };
  try {
    index = await getJson(`${url}/api`);
  } catch (error) {
    add({
      name: 'server reachable',
      status: 'fail',
      evidence: `${url} does not answer (${(error as Error).message})`,
      fix: 'start it (npx rctl up) or point --url / RC_URL at it',
    });
    return checks;
  }
  const about = index.body as { name?: string; version?: string; revision?: number } | undefined;
  if (index.status !== 200 || about?.name !== 'Runtime Control') {
    add({
      name: 'server reachable',
      status: 'fail',
      evidence: `${url}/api answered ${index.status}, not Runtime Control's index`,
      fix: 'something else listens there: point --url / RC_URL at the Runtime Control server',
    });
    return checks;
  }
  add({ name: 'server reachable', status: 'pass', evidence: `${url}: Runtime Control ${about.version}` });

  const ready = await getJson(`${url}/health/ready`).catch((error: Error) => ({ status: 0, body: error.message }));
  const readiness = ready.body as
    | { status?: string; revision?: number; checks?: { bus?: { status?: string; error?: string } } }
    | undefined;
  const unloadable = (ready.body as { unloadable?: { entityType: string; key: string; problem: string }[] })
    ?.unloadable;
  if (ready.status === 200) {
    const bus = readiness?.checks?.bus;
    add({
      name: 'server ready',
      status: bus?.status === 'degraded' ? 'warn' : 'pass',
      evidence: `revision ${readiness?.revision}; bus ${bus?.status ?? 'unknown'}${bus?.error ? ` (${bus.error})` : ''}`,
      ...(bus?.status === 'degraded'
        ? {
            fix: 'Redis does not answer: replicas converge only by reconciliation (RC_RECONCILE_INTERVAL_MS) until it does',
          }
        : {}),
    });
  } else {
    add({
      name: 'server ready',
      status: 'fail',
      evidence: `/health/ready answered ${ready.status}${readiness?.status ? ` (${readiness.status})` : ''}`,
      fix:
        readiness?.status === 'draining'
          ? 'this replica is shutting down; check the others'
          : 'the database does not answer: check RC_DATABASE_URL and the database',
    });
  }
  if (unloadable && unloadable.length > 0) {
    add({
      name: 'stored records load',
      status: 'fail',
      evidence: unloadable.map((u) => `${u.entityType} "${u.key}": ${u.problem}`).join('; '),
      fix: 'fix each with a PUT (rctl seed --reconcile) or delete it; it answers PARSE_ERROR until then',
    });
  }

  const admin = createAdminClient(values, io);
  let clients: ClientsView;
  try {
    clients = await admin.listClients();
    add({ name: 'admin token', status: 'pass', evidence: 'accepted' });
  } catch (error) {
    add({
      name: 'admin token',
      status: 'fail',
      evidence: describeError(error),
      fix: 'pass --token or RC_TOKEN with an admin token (the dev server writes one to .runtime-control/admin-token)',
    });
    return checks;
  }

  let environment = options.env;
  if (options.service !== undefined) {
    // SDK streams and OFREP callers (streaming or polling) that name themselves; the Unleash bridge carries no app.
    const mine = clients.clients.filter((c) => c.app === options.service && c.kind !== 'unleash');
    const replicas = clients.replicas.map((r) => r.id).join(', ');
    if (mine.length === 0) {
      const others = [...new Set(clients.clients.map((c) => c.app).filter((a) => a !== null))];
      add({
        name: `${options.service} connected`,
        status: 'fail',
        evidence: `no stream or OFREP caller from "${options.service}" on ${clients.replicas.length} replica(s) (${replicas}); connected: ${others.length > 0 ? others.join(', ') : 'none'}`,
        fix: `start ${options.service}'s provider with this server's URL and a client token, and appName '${options.service}'`,
      });
    } else {
      const envs = [...new Set(mine.map((c) => c.environment))];
      environment ??= envs.length === 1 ? envs[0] : undefined;
      const wrongEnv = options.env !== undefined ? mine.filter((c) => c.environment !== options.env) : [];
      add({
        name: `${options.service} connected`,
        status: wrongEnv.length > 0 ? 'fail' : 'pass',
        evidence: `${describeConnections(mine)}, environment ${envs.join(', ')}, token ${[...new Set(mine.map((c) => c.token.name ?? c.token.id ?? '?'))].join(', ')}, via ${[...new Set(mine.map((c) => c.replica))].join(', ')}`,
        ...(wrongEnv.length > 0
          ? {
              fix: `its token is for ${[...new Set(wrongEnv.map((c) => c.environment))].join(', ')}, not ${options.env}: create one with rctl tokens create --kind client --env ${options.env}`,
            }
          : {}),
      });
      // A polling caller is behind between a change and its next poll, which is expected; a stream never should be.
      const behind = mine.filter((c) => c.transport === 'stream' && c.upToDate === false);
      add({
        name: `${options.service} on the latest revision`,
        status: behind.length > 0 ? 'fail' : 'pass',
        evidence:
          behind.length > 0
            ? behind
                .map(
                  (c) =>
                    `${c.instance ?? c.replica}: revision ${c.lastRevision}, environment at ${c.environmentRevision}`,
                )
                .join('; ')
            : `revision ${mine[0]?.lastRevision}`,
        ...(behind.length > 0
          ? {
              fix: "the replica it is connected to has not applied the change: check that replica's bus and /health/ready",
            }
          : {}),
      });
    }
  } else {
    const apps = [...new Set(clients.clients.map((c) => c.app ?? '(unnamed)'))];
    add({
      name: 'clients connected',
      status: clients.clients.length > 0 ? 'pass' : 'warn',
      evidence:
        clients.clients.length > 0
          ? `${clients.clients.length} stream(s): ${apps.join(', ')}`
          : 'no client is connected',
      ...(clients.clients.length === 0 ? { fix: 'pass --service NAME to check one service; start its provider' } : {}),
    });
  }

  if (options.flag !== undefined) {
    try {
      const { flag } = await admin.getFlag(options.flag);
      if (environment === undefined) {
        add({
          name: `flag ${options.flag}`,
          status: 'pass',
          evidence: `exists; environments: ${Object.entries(flag.environments)
            .map(([e, s]) => `${e} ${(s as { state?: string }).state}`)
            .join(', ')}`,
        });
      } else {
        const settings = (flag.environments as Record<string, { state?: string } | undefined>)[environment];
        const state = Object.hasOwn(flag.environments, environment) ? settings?.state : undefined;
        add({
          name: `flag ${options.flag} in ${environment}`,
          status: state === 'ENABLED' ? 'pass' : 'fail',
          evidence: state === undefined ? `not configured for ${environment}` : `state ${state}`,
          ...(state === 'ENABLED' ? {} : { fix: `rctl flags enable ${options.flag} --env ${environment}` }),
        });
      }
    } catch (error) {
      const missing = error instanceof ApiError && error.status === 404;
      add({
        name: `flag ${options.flag}`,
        status: 'fail',
        evidence: missing ? 'no such flag' : describeError(error),
        fix: missing ? 'check the key (rctl flags list) or create it (rctl seed FILE)' : 'see the error above',
      });
    }
  }
  return checks;
}

/**
 * A check's message says what is wrong and ends with what to change: its last sentence ("Move …", "Label …"), or
 * the clause after its last "; " ("…; give each destination …"). Splits it into evidence and fix.
 */
export function splitFix(message: string): { what: string; fix: string } {
  const sentence = [...message.matchAll(/\.\s+(?=[A-Z])/g)].at(-1);
  if (sentence?.index !== undefined) {
    return { what: message.slice(0, sentence.index + 1), fix: message.slice(sentence.index).replace(/^\.\s+/, '') };
  }
  const clause = message.lastIndexOf('; ');
  if (clause >= 0) return { what: message.slice(0, clause), fix: message.slice(clause + 2) };
  return { what: message, fix: message };
}

/** The platform file's troubleshooting checks, by symptom; every symptom gets a line (pass when nothing is wrong). */
export async function platformChecks(file: string): Promise<DoctorCheck[]> {
  const { checkPlatformFile, formatPlatformFileIssue, parsePlatformFile } = await import('@runtime-control/traffic');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const parsed = parsePlatformFile(text, file);
  if (!parsed.ok) {
    return [
      {
        section: 'traffic',
        name: 'platform file valid',
        status: 'fail',
        evidence: parsed.issues.map(formatPlatformFileIssue).join('; '),
        fix: `fix ${file} (rctl render checks it the same way)`,
      },
    ];
  }
  const issues = checkPlatformFile(parsed.value);
  const checks: DoctorCheck[] = [];
  const secrets = secretsChecksOf(parsed.value);
  for (const section of ['traffic', 'sidecars', 'egress'] as const) {
    const mine = issues.filter((i) => PLATFORM_SECTIONS[i.code] === section);
    if (mine.length === 0) {
      checks.push({ section, name: 'platform file', status: 'pass', evidence: `${file}: nothing found` });
      continue;
    }
    for (const issue of mine) {
      const { what, fix } = splitFix(issue.message);
      checks.push({ section, name: issue.code, status: 'fail', evidence: `${issue.file}:${issue.line}: ${what}`, fix });
    }
  }
  for (const check of secrets?.checks ?? []) {
    if (check.issues.length === 0) {
      checks.push({ section: 'secrets', name: check.title, status: 'pass', evidence: `${file}: nothing found` });
      continue;
    }
    for (const issue of check.issues) {
      checks.push({
        section: 'secrets',
        name: issue.code,
        status: 'fail',
        evidence: `${issue.file}:${issue.line}: ${issue.message}`,
        fix: issue.fix,
      });
    }
  }
  return checks;
}

const CLUSTER_SECTIONS: Record<string, DoctorCheck['section']> = { traffic: 'traffic', sidecars: 'sidecars' };

interface CanarySummary {
  service: string;
  phase: string;
  canaryWeight: number;
  stepIndex: number;
  plan?: { steps?: number[] };
}

/** Traffic not splitting as planned may simply be a canary moving the split: say so, with how to follow or stop it. */
export async function canaryCheck(values: ConnectionValues, io: CliIo): Promise<DoctorCheck | undefined> {
  const url = resolveServerUrl(values, io);
  const token = resolveToken(values, io);
  let res: { status: number; body: unknown };
  try {
    res = await getJson(`${url}/api/admin/canaries`, token ? { authorization: `Bearer ${token}` } : {});
  } catch {
    return undefined; // the server checks above already said it does not answer
  }
  const body = res.body as { canaries?: CanarySummary[]; error?: { code?: string } } | undefined;
  if (res.status === 503 && body?.error?.code === 'CANARIES_DISABLED') {
    return {
      section: 'traffic',
      name: 'canary in progress',
      status: 'pass',
      evidence: 'canaries are off on this server',
    };
  }
  if (res.status !== 200 || !Array.isArray(body?.canaries)) return undefined;
  const active = body.canaries.filter((c) => c.phase === 'progressing' || c.phase === 'paused');
  if (active.length === 0) {
    return { section: 'traffic', name: 'canary in progress', status: 'pass', evidence: 'none' };
  }
  const first = active[0]!;
  return {
    section: 'traffic',
    name: 'canary in progress',
    status: 'warn',
    evidence: active
      .map(
        (c) =>
          `${c.service}: ${c.phase} at ${c.canaryWeight} % (step ${c.stepIndex + 1} of ${c.plan?.steps?.length ?? '?'})`,
      )
      .join('; '),
    fix: `the split is the canary's while it runs: follow it with rctl canary status ${first.service} --watch, or stop it with rctl canary abort ${first.service}`,
  };
}

/** The live checks, one line per symptom when all is well, else one per problem. */
export async function clusterChecks(
  namespaces: readonly string[],
  connection: { apiUrl?: string; token?: string },
): Promise<DoctorCheck[]> {
  const { readCluster, runClusterChecks } = await import('@runtime-control/traffic');
  let read: Awaited<ReturnType<typeof readCluster>>;
  try {
    read = await readCluster(namespaces, connection);
  } catch (error) {
    return [
      {
        section: 'traffic',
        name: 'cluster reachable',
        status: 'fail',
        evidence: (error as Error).message,
        fix: 'check your kubeconfig context (kubectl cluster-info), or set RC_KUBERNETES_API_URL and RC_KUBERNETES_TOKEN',
      },
    ];
  }
  const checks: DoctorCheck[] = read.problems.map((problem) => ({
    section: 'traffic' as const,
    name: 'cluster read',
    status: 'fail' as const,
    evidence: problem,
    fix: problem.includes('CRDs are not installed')
      ? 'install Istio (istioctl install) or point at the cluster that runs it'
      : 'check the namespace names and that your account may list them (kubectl auth can-i list pods -n NS)',
  }));
  const issues = runClusterChecks(read.snapshot);
  for (const section of ['traffic', 'sidecars'] as const) {
    const mine = issues.filter((i) => CLUSTER_SECTIONS[i.symptom] === section);
    if (mine.length === 0) {
      checks.push({ section, name: 'cluster', status: 'pass', evidence: `${namespaces.join(', ')}: nothing found` });
    }
    for (const issue of mine) {
      checks.push({
        section,
        name: issue.code,
        status: 'fail',
        evidence: `${issue.resource}: ${issue.evidence}`,
        fix: issue.fix,
      });
    }
  }
  return checks;
}

/** The namespaces a platform file declares (for --cluster without --namespace). */
async function platformNamespaces(file: string): Promise<string[]> {
  const { parsePlatformFile } = await import('@runtime-control/traffic');
  const parsed = parsePlatformFile(await readFile(file, 'utf8'), file);
  return parsed.ok ? parsed.value.platform.namespaces.map((n) => n.name) : [];
}

export async function runDoctor(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'doctor';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      service: { type: 'string' },
      flag: { type: 'string' },
      env: { type: 'string' },
      platform: { type: 'string' },
      cluster: { type: 'boolean' },
      namespace: { type: 'string' },
      'kube-api': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(DOCTOR_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const checks = await flagChecks(values, io, {
    ...(values.service !== undefined ? { service: values.service } : {}),
    ...(values.flag !== undefined ? { flag: values.flag } : {}),
    ...(values.env !== undefined ? { env: values.env } : {}),
  });
  if (checks.some((c) => c.name === 'admin token' && c.status === 'pass')) {
    const canary = await canaryCheck(values, io);
    if (canary) checks.push(canary);
  }
  const platformFile = values.platform === undefined ? undefined : resolve(io.cwd, values.platform);
  if (platformFile !== undefined) checks.push(...(await platformChecks(platformFile)));
  if (values.namespace !== undefined && !values.cluster) throw new UsageError('--namespace goes with --cluster');
  if (values.cluster) {
    const named = values.namespace
      ?.split(',')
      .map((n) => n.trim())
      .filter((n) => n.length > 0);
    const namespaces = named?.length ? named : platformFile ? await platformNamespaces(platformFile) : [];
    const apiUrl = values['kube-api'] ?? io.env.RC_KUBERNETES_API_URL;
    const token = io.env.RC_KUBERNETES_TOKEN;
    checks.push(
      ...(await clusterChecks(namespaces.length > 0 ? namespaces : ['default'], {
        ...(apiUrl ? { apiUrl } : {}),
        ...(token ? { token } : {}),
      })),
    );
  }
  const ok = checks.every((c) => c.status !== 'fail');
  out.line(values.json ? prettyJson({ ok, checks }) : renderChecks(checks));
  return ok ? 0 : 1;
}

/** "2 stream(s)", "1 polling OFREP caller", or both. */
function describeConnections(clients: readonly ClientsView['clients'][number][]): string {
  const streams = clients.filter((c) => c.transport === 'stream').length;
  const polling = clients.length - streams;
  const parts: string[] = [];
  if (streams > 0) parts.push(`${streams} stream(s)`);
  if (polling > 0) parts.push(`${polling} polling OFREP caller(s)`);
  return parts.join(' and ');
}
