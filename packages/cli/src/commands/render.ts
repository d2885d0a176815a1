import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  checkPlatformFile,
  formatPlatformFileIssue,
  formatSchemaIssue,
  type PlatformFileIssue,
  parsePlatformFile,
  renderPlatform,
  validateManifests,
} from '@runtime-control/traffic';
import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import type { CliIo } from '../connection.js';
import { CliError } from '../http-client.js';
import type { Output } from '../output.js';
import { runRenderUnleash } from './render-unleash.js';

export const RENDER_HELP = `Usage: rctl render PLATFORM_FILE --out DIR
       rctl render unleash --out DIR [--flags FILE]   (Unleash Deployment, Service, flags ConfigMap, seed Job;
                                                      see "rctl render unleash --help")

Checks a platform file (hosts, services, versions, routes, egress, mTLS; see docs/traffic.md) and writes its Istio
manifests (networking.istio.io/v1, security.istio.io/v1), one YAML file per kind, plus the canary Grafana dashboard.
Runs locally; no server or cluster is contacted.

Nothing is written when the file is invalid, when a troubleshooting check fails (subset labels matching no
Deployment, weights not summing to 100, a header route after a weighted route, a namespace without
istio-injection=enabled, egress to a host that is not approved), or when a manifest does not validate against
Istio's CRD schemas.

Options:
  --out DIR    directory to write to (created if missing; files of the same name are replaced)
  -h, --help   show this help
`;

function problems(count: number): string {
  return `${count} problem${count === 1 ? '' : 's'}`;
}

function reportAndFail(file: string, issues: readonly PlatformFileIssue[], out: Output, what: string): never {
  for (const issue of issues) out.error(formatPlatformFileIssue(issue));
  throw new CliError(`${file}: ${problems(issues.length)}${what}; nothing was written.`);
}

export async function runRender(args: string[], io: CliIo, out: Output): Promise<number> {
  if (args[0] === 'unleash') return runRenderUnleash(args.slice(1), io, out);
  const command = 'render';
  const { values, positionals } = parseCommandArgs(args, { out: { type: 'string' } }, command);
  if (values.help) {
    out.line(RENDER_HELP.trimEnd());
    return 0;
  }
  const file = requirePositional(positionals, 0, 'PLATFORM_FILE', command);
  rejectExtraPositionals(positionals, 1, command);
  const outDir = requireValue(values.out, '--out DIR', command);

  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot read ${file}: ${code}`);
  }
  const parsed = parsePlatformFile(text, file);
  if (!parsed.ok) reportAndFail(file, parsed.issues, out, '');
  const checkIssues = checkPlatformFile(parsed.value);
  if (checkIssues.length > 0) reportAndFail(file, checkIssues, out, ' found by the troubleshooting checks');

  const { files, manifests } = renderPlatform(parsed.value.platform);
  // Our renderer wrote these, so a schema failure is our bug; still, nothing invalid may reach a cluster.
  const schemaIssues = validateManifests(manifests);
  if (schemaIssues.length > 0) {
    for (const issue of schemaIssues) out.error(`schema: ${formatSchemaIssue(issue)}`);
    throw new CliError(`${problems(schemaIssues.length)} against Istio's CRD schemas; nothing was written.`);
  }

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
    `${manifests.length} Istio resources and 1 dashboard in ${files.length} files; ` +
      'checks passed, manifests valid against the Istio CRD schemas',
  );
  return 0;
}
