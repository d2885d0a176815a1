import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatEsoSchemaIssue, validateEsoManifests } from '@runtime-control/secrets';
import {
  CONTROL_PLANE_DEFAULTS,
  type ControlPlaneOptions,
  controlPlaneProblems,
  formatSchemaIssue,
  MONITORING_KINDS,
  renderControlPlane,
  SUPPORTED_KINDS,
  validateManifests,
  validateMonitoringManifest,
} from '@runtime-control/traffic';
import { manifestYaml } from '@runtime-control/unleash';
import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';

export const RENDER_CONTROL_PLANE_HELP = `Usage: rctl render control-plane --out DIR --image IMAGE --client-namespaces NS[,NS…] [options]

Writes the manifests that run Runtime Control itself on Kubernetes, next to the services it serves (docs/deploy.md):
a Deployment of 2+ replicas (PostgreSQL + Redis; readiness on /health/ready, liveness on /health; graceful drain:
RC_DRAIN_DELAY_MS 5 s within a 20 s grace period; non-root, read-only root filesystem, no capabilities), its
ServiceAccount, Service, PodDisruptionBudget (one replica always up), NetworkPolicy (which namespaces may connect),
Istio AuthorizationPolicy (which of them may use the admin API, the client endpoints, /metrics), ServiceMonitor, and
an ExternalSecret (external-secrets.io/v1) that brings RC_ADMIN_TOKEN, RC_DATABASE_URL and RC_REDIS_URL from Vault
through ESO. Kubernetes kinds are validated against the API's schemas (kubernetes-models), the AuthorizationPolicy
against Istio's, the ServiceMonitor against prometheus-operator's and the ExternalSecret against ESO's; nothing is
written if one does not validate.

Options:
  --out DIR                    directory to write to (created if missing)
  --image IMAGE                the image built from the repository's Dockerfile
  --client-namespaces NS,…     namespaces whose services use flags (SDK stream, OFREP, Unleash bridge)
  --admin-namespaces NS,…      namespaces that may use the admin API (default: none besides its own)
  --namespace NS               default ${CONTROL_PLANE_DEFAULTS.namespace}
  --replicas N                 default ${CONTROL_PLANE_DEFAULTS.replicas} (at least 2)
  --environments E,…           RC_ENVIRONMENTS (default ${CONTROL_PLANE_DEFAULTS.environments.join(',')})
  --monitoring-namespace NS    where Prometheus runs (default ${CONTROL_PLANE_DEFAULTS.monitoringNamespace})
  --secret-store NAME          ClusterSecretStore to read from (default ${CONTROL_PLANE_DEFAULTS.secretStore})
  --vault-path PATH            KV path with properties admin-token, database-url, redis-url
                               (default ${CONTROL_PLANE_DEFAULTS.vaultPath})
  --public-url URL             RC_PUBLIC_URL, advertised to OFREP clients
  -h, --help                   show this help
`;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

const FILE_NAMES: Record<string, string> = {
  ServiceAccount: 'serviceaccount.yaml',
  ExternalSecret: 'external-secret.yaml',
  Deployment: 'deployment.yaml',
  Service: 'service.yaml',
  PodDisruptionBudget: 'poddisruptionbudget.yaml',
  NetworkPolicy: 'networkpolicy.yaml',
  AuthorizationPolicy: 'authorizationpolicy.yaml',
  ServiceMonitor: 'servicemonitor.yaml',
};

export async function runRenderControlPlane(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'render control-plane';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      out: { type: 'string' },
      image: { type: 'string' },
      'client-namespaces': { type: 'string' },
      'admin-namespaces': { type: 'string' },
      namespace: { type: 'string' },
      replicas: { type: 'string' },
      environments: { type: 'string' },
      'monitoring-namespace': { type: 'string' },
      'secret-store': { type: 'string' },
      'vault-path': { type: 'string' },
      'public-url': { type: 'string' },
    },
    command,
  );
  if (values.help) {
    out.line(RENDER_CONTROL_PLANE_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const outDir = requireValue(values.out, '--out DIR', command);
  const image = requireValue(values.image, '--image IMAGE', command);
  const replicas = values.replicas === undefined ? CONTROL_PLANE_DEFAULTS.replicas : Number(values.replicas);
  const options: ControlPlaneOptions = {
    namespace: values.namespace ?? CONTROL_PLANE_DEFAULTS.namespace,
    image,
    replicas,
    environments: values.environments === undefined ? CONTROL_PLANE_DEFAULTS.environments : list(values.environments),
    clientNamespaces: list(values['client-namespaces']),
    adminNamespaces: list(values['admin-namespaces']),
    monitoringNamespace: values['monitoring-namespace'] ?? CONTROL_PLANE_DEFAULTS.monitoringNamespace,
    secretStore: values['secret-store'] ?? CONTROL_PLANE_DEFAULTS.secretStore,
    vaultPath: values['vault-path'] ?? CONTROL_PLANE_DEFAULTS.vaultPath,
    ...(values['public-url'] !== undefined ? { publicUrl: values['public-url'] } : {}),
  };
  const problems = controlPlaneProblems(options);
  if (problems.length > 0) {
    throw new UsageError(problems.map((p) => `${p.option}: ${p.message}`).join('\n'));
  }
  const manifests = renderControlPlane(options);
  // Each manifest against the schema of its kind: Kubernetes' and Istio's here, ESO's for the ExternalSecret.
  const keyOf = (m: Record<string, unknown>) => `${String(m.apiVersion)}/${String(m.kind)}`;
  const schemaIssues = [
    ...validateManifests(manifests.filter((m) => SUPPORTED_KINDS.includes(keyOf(m)))).map(formatSchemaIssue),
    ...manifests
      .filter((m) => MONITORING_KINDS.includes(keyOf(m)))
      .flatMap(validateMonitoringManifest)
      .map(formatSchemaIssue),
    ...validateEsoManifests(manifests.filter((m) => m.kind === 'ExternalSecret')).map(formatEsoSchemaIssue),
  ];
  if (schemaIssues.length > 0) {
    for (const issue of schemaIssues) out.error(issue);
    throw new CliError(`${schemaIssues.length} manifest(s) do not validate; nothing was written.`);
  }
  const unchecked = manifests.filter(
    (m) => !SUPPORTED_KINDS.includes(keyOf(m)) && !MONITORING_KINDS.includes(keyOf(m)) && m.kind !== 'ExternalSecret',
  );
  const target = resolve(io.cwd, outDir);
  try {
    await mkdir(target, { recursive: true });
    for (const m of manifests) {
      await writeFile(
        join(target, FILE_NAMES[String(m.kind)] ?? `${String(m.kind).toLowerCase()}.yaml`),
        manifestYaml(m),
      );
    }
  } catch (error) {
    throw new CliError(`cannot write to ${outDir}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  for (const m of manifests) out.line(`wrote ${join(outDir, FILE_NAMES[String(m.kind)] ?? '')} (${String(m.kind)})`);
  if (unchecked.length > 0) {
    out.error(`not schema-checked here (no vendored schema): ${unchecked.map((m) => String(m.kind)).join(', ')}`);
  }
  return 0;
}
