import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatEsoSchemaIssue, renderSecrets, validateEsoManifests } from '@runtime-control/secrets';
import {
  checkPlatformFile,
  formatPlatformFileIssue,
  formatSchemaIssue,
  type PlatformFileIssue,
  parsePlatformFile,
  renderMonitoring,
  renderPlatform,
  validateManifests,
  validateMonitoring,
} from '@runtime-control/traffic';
import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError } from '../http-client.js';
import type { Output } from '../output.js';
import { runRenderControlPlane } from './render-control-plane.js';
import { runRenderUnleash } from './render-unleash.js';
import { checkManifestDir, type SecretsFileIssue, secretsChecksOf } from './secrets-inputs.js';

export const RENDER_HELP = `Usage: rctl render PLATFORM_FILE --out DIR [--manifests DIR]
       rctl render unleash --out DIR [--flags FILE]   (Unleash Deployment, Service, flags ConfigMap, seed Job;
                                                      see "rctl render unleash --help")
       rctl render control-plane --out DIR --image IMAGE --client-namespaces NS   (Runtime Control itself;
                                                      see "rctl render control-plane --help")

Checks a platform file (hosts, services, versions, routes, egress, mTLS; see docs/traffic.md) and writes its Istio
manifests (networking.istio.io/v1, security.istio.io/v1), one YAML file per kind, plus the canary Grafana dashboard.
With a \`secrets\` section (docs/secrets.md) it also writes cluster-secret-store.yaml and external-secrets.yaml
(external-secrets.io/v1: a ClusterSecretStore for Vault, one ExternalSecret per bundle) and one
deployment-env-<deployment>.yaml per consumer (a strategic-merge patch wiring the Secret keys into its env).
Monitoring (docs/observability.md): monitors.yaml (monitoring.coreos.com/v1 ServiceMonitor for the control plane,
a PodMonitor per service and per namespace's Istio sidecars), prometheus-rules.yaml (a PrometheusRule) and
grafana-dashboards.yaml (a dashboard per service and one for the control plane, as ConfigMaps labelled
grafana_dashboard: "1" for Grafana's sidecar).
Runs locally; no server, Vault or cluster is contacted, and no secret value is written — only references.

Nothing is written when the file is invalid, when a troubleshooting check fails (subset labels matching no
Deployment, weights not summing to 100, a header route after a weighted route, a namespace without
istio-injection=enabled, egress to a host that is not approved; for secrets: a KV v2 path with data/, refreshInterval
0 with rotation, an env var a service needs that no bundle gives one of its Deployments, store auth without role,
service account or audience), when a --manifests file uses external-secrets.io/v1beta1, or when a manifest does not
validate against Istio's CRD schemas or ESO's.

Options:
  --out DIR        directory to write to (created if missing; files of the same name are replaced)
  --manifests DIR  also check the hand-written manifests there (*.yaml, *.yml, *.json) for ESO API versions no
                   longer served (v1beta1) and KV v2 store paths with /data
  -h, --help       show this help
`;

function problems(count: number): string {
  return `${count} problem${count === 1 ? '' : 's'}`;
}

function reportAndFail(file: string, issues: readonly PlatformFileIssue[], out: Output, what: string): never {
  for (const issue of issues) {
    const fix = (issue as Partial<SecretsFileIssue>).fix;
    out.error(`${formatPlatformFileIssue(issue)}${fix ? ` Fix: ${fix}.` : ''}`);
  }
  throw new CliError(`${file}: ${problems(issues.length)}${what}; nothing was written.`);
}

export async function runRender(args: string[], io: CliIo, out: Output): Promise<number> {
  if (args[0] === 'unleash') return runRenderUnleash(args.slice(1), io, out);
  if (args[0] === 'control-plane') return runRenderControlPlane(args.slice(1), io, out);
  const command = 'render';
  const { values, positionals } = parseCommandArgs(
    args,
    { out: { type: 'string' }, manifests: { type: 'string' } },
    command,
  );
  if (values.help) {
    out.line(RENDER_HELP.trimEnd());
    return 0;
  }
  const file = requirePositional(positionals, 0, 'PLATFORM_FILE', command);
  rejectExtraPositionals(positionals, 1, command);
  const outDir = requireValue(values.out, '--out DIR', command);
  const manifestDir =
    values.manifests === undefined ? undefined : requireValue(values.manifests, '--manifests DIR', command);

  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot read ${file}: ${code}`);
  }
  const parsed = parsePlatformFile(text, file);
  if (!parsed.ok) reportAndFail(file, parsed.issues, out, '');
  const secretsReport = secretsChecksOf(parsed.value);
  const checkIssues = [...checkPlatformFile(parsed.value), ...(secretsReport?.checks.flatMap((c) => c.issues) ?? [])];
  if (checkIssues.length > 0) reportAndFail(file, checkIssues, out, ' found by the troubleshooting checks');
  if (manifestDir !== undefined) {
    const { issues } = await checkManifestDir(manifestDir, io.cwd);
    for (const issue of issues)
      out.error(`${issue.file}:${issue.line}: [${issue.code}] ${issue.message} Fix: ${issue.fix}.`);
    if (issues.length > 0) {
      throw new CliError(`${manifestDir}: ${problems(issues.length)} in hand-written manifests; nothing was written.`);
    }
  }

  const { files, manifests } = renderPlatform(parsed.value.platform);
  const secrets = secretsReport ? renderSecrets(secretsReport.plan) : undefined;
  // Our renderers wrote these, so a schema failure is our bug; still, nothing invalid may reach a cluster.
  const schemaIssues = validateManifests(manifests);
  const esoIssues = secrets ? validateEsoManifests(secrets.manifests) : [];
  if (schemaIssues.length + esoIssues.length > 0) {
    for (const issue of schemaIssues) out.error(`schema: ${formatSchemaIssue(issue)}`);
    for (const issue of esoIssues) out.error(`schema: ${formatEsoSchemaIssue(issue)}`);
    const against = [schemaIssues.length > 0 ? "Istio's CRD schemas" : '', esoIssues.length > 0 ? "ESO's schemas" : '']
      .filter(Boolean)
      .join(' and ');
    throw new CliError(`${problems(schemaIssues.length + esoIssues.length)} against ${against}; nothing was written.`);
  }
  const monitoring = renderMonitoring(parsed.value.platform);
  const monitoringIssues = validateMonitoring(monitoring);
  if (monitoringIssues.length > 0) {
    for (const issue of monitoringIssues) out.error(`schema: ${formatSchemaIssue(issue)}`);
    throw new CliError(
      `${problems(monitoringIssues.length)} against prometheus-operator's CRD schemas; nothing was written.`,
    );
  }
  const istioFiles = files.length;
  if (secrets) files.push(...secrets.files);
  files.push(...monitoring.files);

  const target = resolve(io.cwd, outDir);
  try {
    await mkdir(target, { recursive: true });
    for (const rendered of files) await writeFile(join(target, rendered.name), rendered.content);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot write to ${outDir}: ${code}`);
  }
  for (const rendered of files) out.line(`wrote ${join(outDir, rendered.name)} (${rendered.summary})`);
  out.line(
    `${manifests.length} Istio resources and 1 dashboard in ${istioFiles} files; ` +
      'checks passed, manifests valid against the Istio CRD schemas',
  );
  if (secrets) {
    out.line(
      `${secrets.manifests.length} External Secrets resources (external-secrets.io/v1) and ${secrets.patches.length} ` +
        `Deployment env patches in ${secrets.files.length} files; secrets checks passed, valid against ESO's schemas`,
    );
  }
  out.line(
    `${monitoring.manifests.length} monitoring resources (monitoring.coreos.com/v1) and ${monitoring.configMaps.length} ` +
      `Grafana dashboard ConfigMaps in ${monitoring.files.length} files; valid against prometheus-operator's CRD schemas`,
  );
  return 0;
}
