import { parseCommandArgs, rejectExtraPositionals, requirePositional } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import {
  type AdminClient,
  CliError,
  type SecretBundleView,
  type SecretRotationView,
  type SecretsView,
  UsageError,
} from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';

// `rctl secrets list | show | rotate`: the server's secrets feature. Status and progress only: no command here
// prints a value, and a value given with --value-stdin goes to the server and nowhere else.

export const SECRETS_LIST_HELP = `Usage: rctl secrets list [--json]

Every secret bundle the server knows (the platform file's secrets section, RC_PLATFORM_FILE): its state (in-sync,
syncing, stale-pods, missing, overdue, error: <reason>), current version, age against its maximum age, and whether
its consumers run the current value. Never a value.

Options:
  --json         print the server's answer as JSON
  --url URL      server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN  admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help     show this help
`;

export const SECRETS_SHOW_HELP = `Usage: rctl secrets show SERVICE/BUNDLE [--json]

One bundle: state and why, Vault path and properties (names → env vars), version, age, rotation policy, the
ExternalSecret and target Secret (Vault backend), each consumer, and the last rotation. Never a value.

Options:
  --json         print the server's answer as JSON
  --url URL, --token TOKEN, -h/--help as for every command
`;

export const SECRETS_ROTATE_HELP = `Usage: rctl secrets rotate SERVICE/BUNDLE [--property P] [--value-stdin] [--expected-version N] [--json]
       rctl secrets rotate --auto [--dry-run] [--json]

Rotates one property of the bundle: write the new value with check-and-set → force an ESO sync → wait until synced →
restart the consumers → wait for their rollouts (on the local backend only the write runs). Progress is printed step
by step; exit 1 with the step and the reason when a step fails (resume or roll back through the API).

Options:
  --property P   the property to rotate (default: the bundle's only property)
  --value-stdin  read the new value from standard input (one trailing newline removed); otherwise it is generated
                 per the bundle's rotation policy (a "supplied" policy needs --value-stdin)
  --expected-version N
                 fail at write (CAS_MISMATCH) unless the current version is N, the one you looked at
  --json         print the finished rotation as JSON (with --auto: {rotated, skipped, failed})
  --auto         rotate every bundle past its maximum age ("overdue"), one after the other, each property of a
                 generated bundle in turn; an overdue bundle with a supplied policy is listed with the command to
                 run (its value must come from you). Exit 0 when nothing is left overdue, 1 otherwise. Run it from a
                 scheduler (cron, a Kubernetes CronJob) for scheduled rotation
  --dry-run      with --auto: only list what would be rotated
  --url URL, --token TOKEN, -h/--help as for every command
`;

export const SECRETS_DEFINE_HELP = `Usage: rctl secrets define SERVICE/BUNDLE --property NAME[=ENV]... [--path P]
                           [--generated [--length N] [--alphabet A] | --supplied] [--max-age D] [--json]

Defines (or replaces) a bundle on the server's local backend when no platform file lists it: its properties (each
becomes env var ENV, default NAME), its KV path (default SERVICE/BUNDLE) and its rotation policy. Then
"rctl secrets rotate SERVICE/BUNDLE" gives it a value. Bundles of the platform file are changed in the file.

Options:
  --property NAME[=ENV]  a property and the env var it becomes (repeat for several)
  --path P               KV path (default SERVICE/BUNDLE)
  --generated            values are generated on rotation (default when neither is given): --length N (8-4096,
                         default 32), --alphabet alphanumeric|hex|base64url
  --supplied             values are given on rotation (--value-stdin)
  --max-age D            e.g. 90d, 12h: older is "overdue"
  --json, --url URL, --token TOKEN, -h/--help as for every command
`;

export async function runSecretsDefine(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'secrets define';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      property: { type: 'string', multiple: true },
      path: { type: 'string' },
      generated: { type: 'boolean' },
      supplied: { type: 'boolean' },
      length: { type: 'string' },
      alphabet: { type: 'string' },
      'max-age': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(SECRETS_DEFINE_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 1, command);
  const { service, bundle } = bundleRef(requirePositional(positionals, 0, 'SERVICE/BUNDLE', command), command);
  if (!values.property || values.property.length === 0) {
    throw new UsageError(`missing --property NAME[=ENV]\nRun "rctl ${command} --help" for usage.`);
  }
  if (values.generated && values.supplied) throw new UsageError('give --generated or --supplied, not both');
  const properties: Record<string, string> = {};
  for (const spec of values.property) {
    const [name, env] = spec.split('=', 2) as [string, string | undefined];
    properties[name] = env ?? name;
  }
  let length: number | undefined;
  if (values.length !== undefined) {
    length = Number(values.length);
    if (!Number.isInteger(length)) throw new UsageError(`--length must be an integer, got "${values.length}"`);
  }
  const strategy = values.supplied ? 'supplied' : 'generated';
  const result = await createAdminClient(values, io).defineSecretBundle(service, bundle, {
    properties,
    ...(values.path === undefined ? {} : { path: values.path }),
    rotation: {
      strategy,
      ...(length === undefined ? {} : { length }),
      ...(values.alphabet === undefined ? {} : { alphabet: values.alphabet as 'alphanumeric' | 'hex' | 'base64url' }),
      ...(values['max-age'] === undefined ? {} : { maxAge: values['max-age'] }),
    },
  });
  if (values.json) out.line(prettyJson(result.bundle));
  else {
    out.line(`${result.created ? 'defined' : 'replaced'} ${service}/${bundle}: ${result.bundle.state}`);
    if (result.bundle.currentVersion === null)
      out.line(
        `give it a value: rctl secrets rotate ${service}/${bundle}${strategy === 'supplied' ? ' --value-stdin' : ''}`,
      );
  }
  return 0;
}

/** `SERVICE/BUNDLE` → its two names. */
export function bundleRef(text: string, command: string): { service: string; bundle: string } {
  const m = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)$/.exec(text);
  if (!m)
    throw new UsageError(`"${text}" is not SERVICE/BUNDLE (e.g. auth-service/jwt)\nRun "rctl ${command} --help".`);
  return { service: m[1]!, bundle: m[2]! };
}

/** Seconds as the largest whole unit: 42s, 5m, 3h, 12d. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

function consumersCell(b: SecretBundleView): string {
  if (b.consumers.length === 0) return '-';
  return b.consumers
    .map((c) => `${c.deployment}${c.runsCurrentValue === null ? '' : c.runsCurrentValue ? ' ✓' : ' (stale)'}`)
    .join(', ');
}

export function renderSecretsList(view: SecretsView): string {
  if (view.bundles.length === 0) {
    return `no secret bundles (backend ${view.backend}). Point the server at a platform file with a secrets section (RC_PLATFORM_FILE=examples/devmentor/platform.yaml), or define one: rctl secrets define SERVICE/BUNDLE --property NAME`;
  }
  const rows = view.bundles.map((b) => [
    `${b.service}/${b.bundle}`,
    b.state,
    b.currentVersion === null ? '-' : String(b.currentVersion),
    `${duration(b.ageSeconds)}${b.maxAgeSeconds === null ? '' : ` / ${duration(b.maxAgeSeconds)}`}`,
    b.updatedTime ?? '-',
    consumersCell(b),
  ]);
  return `${formatTable(['BUNDLE', 'STATE', 'VERSION', 'AGE / MAX', 'UPDATED', 'CONSUMERS'], rows)}\nbackend: ${view.backend}`;
}

export function renderSecretBundle(b: SecretBundleView): string {
  const lines = [
    `${b.service}/${b.bundle}: ${b.state}`,
    ...b.reasons.map((r) => `  ${r}`),
    `backend:   ${b.backend}`,
    `path:      ${b.path}`,
    `properties: ${b.properties.map((p) => (p.property === p.env ? p.env : `${p.property} → ${p.env}`)).join(', ')}`,
    `version:   ${b.currentVersion ?? '-'}${b.updatedTime ? ` (written ${b.updatedTime})` : ''}`,
    `age:       ${duration(b.ageSeconds)}${b.maxAgeSeconds === null ? '' : ` of at most ${duration(b.maxAgeSeconds)}${b.overdue ? ' — OVERDUE' : ''}`}`,
    `rotation:  ${b.rotation ? [b.rotation.strategy, b.rotation.length && `${b.rotation.length} chars`, b.rotation.alphabet, b.rotation.maxAge && `max age ${b.rotation.maxAge}`].filter(Boolean).join(', ') : '-'}`,
  ];
  if (b.externalSecret) {
    const es = b.externalSecret;
    lines.push(
      `external secret: ${es.namespace}/${es.name} Ready=${es.ready ?? '?'}${es.reason ? ` ${es.reason}` : ''}${es.refreshTime ? `, refreshed ${es.refreshTime}` : ''}`,
    );
  }
  if (b.secret)
    lines.push(`secret:    ${b.secret.exists ? 'exists' : 'absent'}${b.secret.managedByEso ? ', managed by ESO' : ''}`);
  for (const c of b.consumers) {
    const state =
      c.runsCurrentValue === null
        ? 'unknown (no cluster)'
        : c.runsCurrentValue
          ? `runs the current value (${c.pods} pods)`
          : `${c.stalePods} of ${c.pods} pods started before the current version${c.rolledOut ? '' : ', rolling out'}`;
    lines.push(`consumer:  ${c.namespace}/${c.deployment}: ${state}`);
  }
  if (b.lastRotation) {
    const r = b.lastRotation;
    lines.push(`last ${r.kind}: ${r.id} ${r.status} at ${r.step} (started ${r.startedAt})`);
  }
  return lines.join('\n');
}

export async function runSecretsList(args: string[], io: CliIo, out: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, json: { type: 'boolean' } },
    'secrets list',
  );
  if (values.help) {
    out.line(SECRETS_LIST_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, 'secrets list');
  const view = await createAdminClient(values, io).listSecrets();
  out.line(values.json ? prettyJson(view) : renderSecretsList(view));
  return 0;
}

export async function runSecretsShow(args: string[], io: CliIo, out: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...CONNECTION_OPTIONS, json: { type: 'boolean' } },
    'secrets show',
  );
  if (values.help) {
    out.line(SECRETS_SHOW_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 1, 'secrets show');
  const { service, bundle } = bundleRef(
    requirePositional(positionals, 0, 'SERVICE/BUNDLE', 'secrets show'),
    'secrets show',
  );
  const view = await createAdminClient(values, io).getSecretBundle(service, bundle);
  out.line(values.json ? prettyJson(view) : renderSecretBundle(view));
  return 0;
}

/** Reads all of standard input (the CLI's io may carry a stream for tests; the process's otherwise). */
async function readStdin(io: CliIo): Promise<string> {
  const stdin = (io as CliIo & { stdin?: AsyncIterable<Buffer | string> }).stdin ?? process.stdin;
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.length > 70_000) throw new CliError('--value-stdin: the value is longer than 65536 characters');
  }
  return text.replace(/\r?\n$/, '');
}

export async function runSecretsRotate(
  args: string[],
  io: CliIo,
  out: Output,
  options: { pollMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const command = 'secrets rotate';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      property: { type: 'string' },
      'value-stdin': { type: 'boolean' },
      'expected-version': { type: 'string' },
      json: { type: 'boolean' },
      auto: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(SECRETS_ROTATE_HELP.trimEnd());
    return 0;
  }
  if (values.auto) {
    rejectExtraPositionals(positionals, 0, `${command} --auto`);
    for (const option of ['property', 'value-stdin', 'expected-version'] as const) {
      if (values[option] !== undefined) {
        throw new UsageError(`--${option} applies to one bundle, not to --auto (rotate that bundle by name instead)`);
      }
    }
    return rotateOverdue(
      createAdminClient(values, io),
      out,
      { dryRun: values['dry-run'] === true, json: values.json === true },
      options,
    );
  }
  if (values['dry-run']) throw new UsageError('--dry-run applies to --auto only');
  rejectExtraPositionals(positionals, 1, command);
  const { service, bundle } = bundleRef(requirePositional(positionals, 0, 'SERVICE/BUNDLE', command), command);
  let value: string | undefined;
  if (values['value-stdin']) {
    value = await readStdin(io);
    if (value === '') throw new UsageError('--value-stdin: standard input is empty');
  }
  let expectedVersion: number | undefined;
  if (values['expected-version'] !== undefined) {
    expectedVersion = Number(values['expected-version']);
    if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
      throw new UsageError(`--expected-version must be a version number, got "${values['expected-version']}"`);
    }
  }
  const client = createAdminClient(values, io);
  const started = await client.rotateSecret(service, bundle, {
    ...(values.property === undefined ? {} : { property: values.property }),
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
    ...(value === undefined ? {} : { value }),
  });
  value = undefined;
  if (!values.json)
    out.line(
      `rotation ${started.id} of ${service}/${bundle} (${started.property}): steps ${started.steps.join(' → ')}`,
    );
  const final = await follow(client, started, values.json ? () => {} : (line) => out.line(line), options);
  if (values.json) out.line(prettyJson(final));
  if (final.status === 'completed') {
    if (!values.json)
      out.line(
        `done: ${service}/${bundle} is at version ${final.version ?? '?'} (was ${final.previousVersion ?? '-'})`,
      );
    return 0;
  }
  const error = final.error;
  throw new CliError(
    `rotation ${final.id} of ${service}/${bundle} failed at ${error?.step ?? final.step}: ${error ? `${error.code}: ${error.message}` : final.status}`,
  );
}

/** Polls the rotation and prints each history entry once, until it is no longer running. */
/**
 * `rotate --auto`: every overdue bundle, as the server's status says (its maximum age is the policy's), rotated with
 * a generated value property by property; supplied ones are left to a human with the command to run.
 */
async function rotateOverdue(
  client: AdminClient,
  out: Output,
  flags: { dryRun: boolean; json: boolean },
  options: { pollMs?: number; timeoutMs?: number },
): Promise<number> {
  const view = await client.listSecrets();
  const overdue = view.bundles.filter((b) => b.overdue);
  const rotated: { bundle: string; property: string; version: number | null }[] = [];
  const skipped: { bundle: string; reason: string; fix: string }[] = [];
  const failed: { bundle: string; property: string; step: string; code: string; message: string }[] = [];
  const print = (line: string) => {
    if (!flags.json) out.line(line);
  };
  if (overdue.length === 0) print('no bundle is past its maximum age');
  for (const b of overdue) {
    const id = `${b.service}/${b.bundle}`;
    const age = `age ${duration(b.ageSeconds)} of at most ${duration(b.maxAgeSeconds)}`;
    if (b.rotation?.strategy === 'supplied') {
      const fix = `rctl secrets rotate ${id}${b.properties.length > 1 ? ' --property P' : ''} --value-stdin`;
      skipped.push({ bundle: id, reason: 'supplied policy: the new value must come from you', fix });
      print(`skip ${id} (${age}): its policy is "supplied", give the value: ${fix}`);
      continue;
    }
    for (const { property } of b.properties) {
      if (flags.dryRun) {
        print(`would rotate ${id} ${property} (${age})`);
        continue;
      }
      print(`rotating ${id} ${property} (${age})`);
      try {
        const started = await client.rotateSecret(b.service, b.bundle, { property });
        const final = await follow(client, started, (line) => print(line), options);
        if (final.status === 'completed') {
          rotated.push({ bundle: id, property, version: final.version });
          print(`done: ${id} ${property} is at version ${final.version ?? '?'}`);
        } else {
          const e = final.error;
          failed.push({
            bundle: id,
            property,
            step: e?.step ?? final.step,
            code: e?.code ?? final.status,
            message: e?.message ?? '',
          });
          print(
            `failed: ${id} ${property} at ${e?.step ?? final.step}: ${e ? `${e.code}: ${e.message}` : final.status} (resume or roll back: rctl secrets show ${id})`,
          );
        }
      } catch (error) {
        // A refusal (409 ROTATION_IN_PROGRESS, …) stops this bundle, not the others.
        const message = (error as Error).message;
        failed.push({ bundle: id, property, step: 'start', code: 'REFUSED', message });
        print(`failed: ${id} ${property}: ${message}`);
        break;
      }
    }
  }
  if (flags.json) out.line(prettyJson({ dryRun: flags.dryRun, rotated, skipped, failed }));
  else if (overdue.length > 0 && !flags.dryRun) {
    out.line(`${rotated.length} rotated, ${skipped.length} need a value, ${failed.length} failed`);
  }
  if (flags.dryRun) return overdue.length === 0 ? 0 : 1;
  return skipped.length === 0 && failed.length === 0 ? 0 : 1;
}

async function follow(
  client: AdminClient,
  started: SecretRotationView,
  print: (line: string) => void,
  options: { pollMs?: number; timeoutMs?: number },
): Promise<SecretRotationView> {
  const pollMs = options.pollMs ?? 500;
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  let printed = 0;
  let state = started;
  for (;;) {
    for (const h of state.history.slice(printed)) {
      print(`  ${h.at}  ${h.step.padEnd(12)} ${h.outcome}${h.detail ? `: ${h.detail}` : ''}`);
    }
    printed = Math.max(printed, state.history.length);
    if (state.status !== 'running') return state;
    if (Date.now() > deadline)
      throw new CliError(`rotation ${state.id} still running at ${state.step}; follow it with rctl secrets show`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    state = await client.getSecretRotation(started.service, started.bundle, started.id);
  }
}
