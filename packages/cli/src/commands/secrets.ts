import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ManifestIssue } from '@runtime-control/secrets';
import { formatPlatformFileIssue, parsePlatformFile } from '@runtime-control/traffic';
import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import { formatTable, type Output, prettyJson } from '../output.js';
import { checkManifestDir, type SecretsFileIssue, secretsChecksOf } from './secrets-inputs.js';
import { runSecretsDefine, runSecretsList, runSecretsRotate, runSecretsShow } from './secrets-status.js';

export const SECRETS_HELP = `Usage: rctl secrets check [SERVICE] --file PLATFORM_FILE [--manifests DIR] [--offline] [--json]
       rctl secrets list | show SERVICE/BUNDLE | rotate SERVICE/BUNDLE [--property P] [--value-stdin]
       rctl secrets rotate --auto [--dry-run]

Secrets: Vault KV v2 → External Secrets → Kubernetes Secret → Deployment env (docs/secrets.md).

Commands:
  check [SERVICE]   diagnose "ExternalSecret stuck pending" and friends (runbook §7) from the platform file's
                    secrets section: each check passes or fails, with the fix in one line; exit 1 on a failure.
                    See "rctl secrets check --help".
  list              every bundle the server knows: state, version, age / max age, consumers (never a value)
  show S/B          one bundle in detail
  rotate S/B        rotate a bundle (generated per its policy, or --value-stdin), progress step by step
  rotate --auto     rotate every bundle past its maximum age (generated ones; supplied ones are listed)
  define S/B        define a bundle on the local backend without a platform file (--property NAME[=ENV] ...)
`;

export const SECRETS_CHECK_HELP = `Usage: rctl secrets check [SERVICE] --file PLATFORM_FILE [--manifests DIR] [--offline] [--json]

Runs the offline checks on the platform file's secrets section (runbook §7 "ExternalSecret stuck pending"):
  kv-path                the store path is the KV mount only and bundle paths have no "data/": with version v2
                         ESO inserts "/data" itself
  refresh-interval       no bundle with a rotation policy has refreshInterval 0 (ESO then ignores force-sync)
  env-provided           every env var a service "needs" reaches each of its Deployments from a bundle
  store-auth             the store's Kubernetes auth names a role, a service account and an audience
  manifests-api-version  with --manifests: hand-written External Secrets manifests use external-secrets.io/v1
                         (v1beta1 is no longer served by ESO >= 0.17), KV v2 store paths without /data
Each prints PASS or FAIL; a failure prints file:line: [CODE] message and the fix. Exit 0 when all pass, 1 otherwise.

Only the platform file (and --manifests) is read: Vault and the cluster are not contacted, and no secret value is
read or printed. --offline says so explicitly; it is what every run does until the online checks (store readiness,
Vault path and properties, ESO CRDs, unmanaged Secrets) exist.

Arguments:
  SERVICE                only this service's bundles and needs (the store's checks always run)

Options:
  --file PLATFORM_FILE   the platform file (e.g. examples/devmentor/platform.yaml)
  --manifests DIR        also check the hand-written manifests there (*.yaml, *.yml, *.json, recursively)
  --offline              check files only (the default)
  --json                 print {file, ok, offline, checks: [{id, title, status, issues: [{file, line, code, message, fix}]}]}
  -h, --help             show this help
`;

interface CheckLine {
  id: string;
  title: string;
  status: 'pass' | 'fail' | 'skip';
  issues: { file: string; line: number; column?: number; path?: string; code: string; message: string; fix: string }[];
}

export async function runSecrets(args: string[], io: CliIo, out: Output): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
      out.error(SECRETS_HELP.trimEnd());
      return 2;
    case '-h':
    case '--help':
    case 'help':
      out.line(SECRETS_HELP.trimEnd());
      return 0;
    case 'check':
      return runSecretsCheck(rest, io, out);
    case 'list':
      return runSecretsList(rest, io, out);
    case 'show':
      return runSecretsShow(rest, io, out);
    case 'rotate':
      return runSecretsRotate(rest, io, out);
    case 'define':
      return runSecretsDefine(rest, io, out);
    default:
      throw new UsageError(`unknown secrets command "${sub}"\nRun "rctl secrets --help" for usage.`);
  }
}

async function runSecretsCheck(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'secrets check';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      file: { type: 'string', short: 'f' },
      manifests: { type: 'string' },
      offline: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(SECRETS_CHECK_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 1, command);
  const service = positionals[0];
  const file = requireValue(values.file, '--file PLATFORM_FILE', command);
  const manifestDir =
    values.manifests === undefined ? undefined : requireValue(values.manifests, '--manifests DIR', command);

  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CliError(`cannot read ${file}: ${code}`);
  }
  const parsed = parsePlatformFile(text, file);
  if (!parsed.ok) {
    if (values.json) {
      out.line(prettyJson({ file, ok: false, offline: true, issues: parsed.issues, checks: [] }));
    } else {
      for (const issue of parsed.issues) out.error(formatPlatformFileIssue(issue));
    }
    throw new CliError(`${file}: the platform file is invalid (${parsed.issues.length}); no check ran.`);
  }
  const report = secretsChecksOf(parsed.value, service);
  if (!report) throw new CliError(`${file} has no secrets section (see docs/secrets.md, "Secrets as code").`);
  const services = (parsed.value.platform.secrets?.services ?? []).map((s) => s.name);
  if (service !== undefined && !services.includes(service)) {
    throw new CliError(
      `no service "${service}" in the secrets section of ${file} (services: ${services.join(', ') || 'none'})`,
    );
  }

  const lines: CheckLine[] = report.checks.map((c) => ({
    id: c.id,
    title: c.title,
    status: c.issues.length > 0 ? 'fail' : 'pass',
    issues: c.issues.map((i: SecretsFileIssue) => ({
      file: i.file,
      line: i.line,
      column: i.column,
      path: i.path,
      code: i.code,
      message: i.message,
      fix: i.fix,
    })),
  }));
  const manifests = manifestDir === undefined ? undefined : await checkManifestDir(manifestDir, io.cwd);
  const manifestIssues = (manifests?.issues ?? []).map((i: ManifestIssue) => ({
    file: i.file,
    line: i.line,
    code: i.code,
    message: i.message,
    fix: i.fix,
  }));
  lines.push({
    id: 'manifests-api-version',
    title:
      manifests === undefined
        ? 'hand-written External Secrets manifests (skipped: no --manifests DIR)'
        : `hand-written External Secrets manifests use external-secrets.io/v1 (${manifests.files} file${manifests.files === 1 ? '' : 's'})`,
    status: manifests === undefined ? 'skip' : manifestIssues.length > 0 ? 'fail' : 'pass',
    issues: manifestIssues,
  });
  const failed = lines.filter((l) => l.status === 'fail').length;
  const ok = failed === 0;

  if (values.json) {
    out.line(prettyJson({ file, ...(service ? { service } : {}), ok, offline: true, checks: lines }));
    return ok ? 0 : 1;
  }
  out.line(
    `Secrets of ${file}${service ? `, service ${service}` : ''} (offline: the platform file${manifests ? ' and manifests' : ''} only; Vault and the cluster are not contacted)`,
  );
  out.line(
    formatTable(
      ['RESULT', 'CHECK', 'WHAT'],
      lines.map((l) => [l.status.toUpperCase(), l.id, l.title]),
    ),
  );
  for (const l of lines) {
    for (const issue of l.issues) {
      out.line('');
      out.line(`${issue.file}:${issue.line}: [${issue.code}] ${issue.message}`);
      out.line(`  fix: ${issue.fix}`);
    }
  }
  const passed = lines.filter((l) => l.status === 'pass').length;
  const skipped = lines.filter((l) => l.status === 'skip').length;
  out.line('');
  out.line(
    `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}` +
      (ok ? '' : '; fix the file and run again (rctl render refuses to write until these pass)'),
  );
  return ok ? 0 : 1;
}
