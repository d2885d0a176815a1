import { type Dirent, promises as fs } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  checkManifestText,
  checkSecrets,
  type ManifestIssue,
  planSecrets,
  type SecretsCheckResult,
  type SecretsPlan,
} from '@runtime-control/secrets';
import type { ParsedPlatformFile, PlatformFileIssue } from '@runtime-control/traffic';
import { CliError } from '../http-client.js';

/** A check problem placed in the platform file, with its one-line fix. */
export type SecretsFileIssue = PlatformFileIssue & { fix: string };

export interface SecretsCheckReport {
  plan: SecretsPlan;
  checks: (Omit<SecretsCheckResult, 'issues'> & { issues: SecretsFileIssue[] })[];
}

/** The offline checks of a parsed platform file's secrets section, each problem at its line; undefined without one. */
export function secretsChecksOf(parsed: ParsedPlatformFile, service?: string): SecretsCheckReport | undefined {
  const plan = planSecrets(parsed.platform);
  if (!plan) return undefined;
  const checks = checkSecrets(plan, parsed.platform, service === undefined ? {} : { service }).map((check) => ({
    ...check,
    issues: check.issues.map(
      (issue): SecretsFileIssue => ({
        file: parsed.file,
        ...parsed.locate(issue.path),
        path: issue.path,
        code: issue.code,
        message: issue.message,
        fix: issue.fix,
      }),
    ),
  }));
  return { plan, checks };
}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;
const MAX_FILES = 2000;
const MAX_DEPTH = 8;
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * The hand-written manifests under `dir` (`*.yaml`, `*.yml`, `*.json`, recursively; symbolic links are not
 * followed), checked for External Secrets API versions ESO no longer serves and KV v2 store paths with /data.
 * Problems name the file relative to the working directory.
 */
export async function checkManifestDir(dir: string, cwd: string): Promise<{ files: number; issues: ManifestIssue[] }> {
  const root = resolve(cwd, dir);
  const files: string[] = [];
  const walk = async (at: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(at, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CliError(`cannot read --manifests ${dir}: ${code}`);
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(at, entry.name);
      if (entry.isDirectory() && depth < MAX_DEPTH && entry.name !== 'node_modules' && !entry.name.startsWith('.')) {
        await walk(path, depth + 1);
      } else if (entry.isFile() && MANIFEST_EXTENSIONS.test(entry.name)) {
        if (files.length >= MAX_FILES) throw new CliError(`--manifests ${dir}: more than ${MAX_FILES} manifest files`);
        files.push(path);
      }
    }
  };
  await walk(root, 0);
  const issues: ManifestIssue[] = [];
  for (const path of files) {
    const name = relative(cwd, path) || path;
    let text: string;
    try {
      if ((await fs.stat(path)).size > MAX_BYTES) {
        throw new CliError(`${name}: larger than ${MAX_BYTES / 1024 / 1024} MiB`);
      }
      text = await fs.readFile(path, 'utf8');
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    issues.push(...checkManifestText(text, name));
  }
  return { files: files.length, issues };
}
