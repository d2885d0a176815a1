import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseFlagsFile } from '@runtime-control/core';
import {
  formatUntranslatable,
  manifestYaml,
  renderUnleashManifests,
  translateFlags,
  UNLEASH_MANIFEST_DEFAULTS,
  UNLEASH_OSS_ENVIRONMENTS,
  WEBHOOK_SECRET_FILE,
} from '@runtime-control/unleash';
import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';

export const RENDER_UNLEASH_HELP = `Usage: rctl render unleash --out DIR [--flags FILE] [--namespace NS] [--image IMAGE] [--rctl-image IMAGE]
                           [--bridge-url URL [--webhook-secret-name NAME]]

Writes the Kubernetes manifests for Unleash as the flag provider: the Unleash Deployment and Service (DATABASE_URL
and the admin token from Secret ${UNLEASH_MANIFEST_DEFAULTS.secretName}, keys database-url and admin-token; port 4242;
/health probes; admin UI on /, API on /api), a ConfigMap holding the flags file, and a seed Job running
"rctl seed /config/flags.yaml --target unleash". The Job is idempotent: re-running it writes nothing once Unleash
matches the file. The flags file is checked first (including what Unleash cannot express); nothing is written if
it fails.

Options:
  --out DIR           directory to write to
  --flags FILE        flags file (default examples/devmentor/flags.yaml)
  --namespace NS      default ${UNLEASH_MANIFEST_DEFAULTS.namespace}
  --image IMAGE       unleash-server image (default ${UNLEASH_MANIFEST_DEFAULTS.unleashImage})
  --rctl-image IMAGE  image with rctl for the seed Job (default ${UNLEASH_MANIFEST_DEFAULTS.rctlImage})
  --bridge-url URL    the Runtime Control server as Unleash reaches it (e.g. http://runtime-control:4400): the seed
                      Job also creates the bridge's webhook addon ("rctl seed … --bridge-url URL
                      --webhook-secret-file ${WEBHOOK_SECRET_FILE}"), and Unleash gets
                      UNLEASH_ALLOW_LIST_INTEGRATION=<the URL's host>: Unleash 8 refuses addon URLs whose host
                      resolves to a private address (a Service's ClusterIP) unless the host is listed
  --webhook-secret-name NAME  Secret (key secret) holding the server's RC_UNLEASH_WEBHOOK_SECRET, mounted read-only
                      for the Job (default ${UNLEASH_MANIFEST_DEFAULTS.webhookSecretName})
  -h, --help          show this help
`;

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      !url.search &&
      !url.hash &&
      !url.username &&
      !url.password
    );
  } catch {
    return false;
  }
}

export async function runRenderUnleash(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'render unleash';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      out: { type: 'string' },
      flags: { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
      'rctl-image': { type: 'string' },
      'bridge-url': { type: 'string' },
      'webhook-secret-name': { type: 'string' },
    },
    command,
  );
  if (values.help) {
    out.line(RENDER_UNLEASH_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const outDir = requireValue(values.out, '--out DIR', command);
  const bridgeUrl = values['bridge-url'];
  const webhookSecretName = values['webhook-secret-name'];
  if (bridgeUrl === undefined && webhookSecretName !== undefined)
    throw new UsageError('--webhook-secret-name goes with --bridge-url');
  if (bridgeUrl !== undefined && !isHttpUrl(bridgeUrl))
    throw new UsageError(
      `--bridge-url must be the Runtime Control server's http(s) URL (e.g. http://runtime-control:4400), got "${bridgeUrl}"`,
    );
  // A Secret name is a DNS subdomain (RFC 1123).
  if (
    webhookSecretName !== undefined &&
    (webhookSecretName.length > 253 ||
      !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(webhookSecretName))
  )
    throw new UsageError(`--webhook-secret-name must be a Kubernetes Secret name, got "${webhookSecretName}"`);
  const flagsFile = values.flags ?? 'examples/devmentor/flags.yaml';
  let flagsYaml: string;
  try {
    flagsYaml = await readFile(resolve(io.cwd, flagsFile), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${flagsFile}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  // The Job would fail on a file the seed refuses; refuse it here, before anything reaches a cluster.
  const parsed = parseFlagsFile(flagsYaml, flagsFile);
  if (!parsed.ok) throw new CliError(`${flagsFile}: ${parsed.issues.length} problem(s); run "rctl seed" for details`);
  const translation = translateFlags(parsed.value.flags, parsed.value.evaluators, UNLEASH_OSS_ENVIRONMENTS);
  if (!translation.ok) {
    for (const p of translation.problems) out.error(`${flagsFile}: ${formatUntranslatable(p)}`);
    throw new CliError(`${flagsFile} uses what Unleash cannot express; nothing was written.`);
  }
  const rendered = renderUnleashManifests({
    flagsYaml,
    namespace: values.namespace,
    unleashImage: values.image,
    rctlImage: values['rctl-image'],
    bridgeUrl,
    webhookSecretName,
  });
  const target = resolve(io.cwd, outDir);
  try {
    await mkdir(target, { recursive: true });
    for (const r of rendered) await writeFile(join(target, r.name), manifestYaml(r.manifest));
  } catch (error) {
    throw new CliError(`cannot write to ${outDir}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  for (const r of rendered) out.line(`wrote ${join(outDir, r.name)} (${String(r.manifest.kind)})`);
  return 0;
}
