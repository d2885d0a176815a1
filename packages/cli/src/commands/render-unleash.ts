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
} from '@runtime-control/unleash';
import { parseCommandArgs, rejectExtraPositionals, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError } from '../http-client.js';
import type { Output } from '../output.js';

export const RENDER_UNLEASH_HELP = `Usage: rctl render unleash --out DIR [--flags FILE] [--namespace NS] [--image IMAGE] [--rctl-image IMAGE]

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
  -h, --help          show this help
`;

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
    },
    command,
  );
  if (values.help) {
    out.line(RENDER_UNLEASH_HELP.trimEnd());
    return 0;
  }
  rejectExtraPositionals(positionals, 0, command);
  const outDir = requireValue(values.out, '--out DIR', command);
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
