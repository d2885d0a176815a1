import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  compareWithUnleash,
  formatUntranslatable,
  seedUnleash,
  translateFlags,
  UNLEASH_OSS_ENVIRONMENTS,
  UnleashAdminClient,
  UnleashApiError,
} from '@runtime-control/unleash';
import type { CliIo } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import type { Output } from '../output.js';
import { loadFlagsFile } from './seed.js';

export interface UnleashSeedOptions {
  file: string;
  unleashUrl: string | undefined;
  tokenFile: string | undefined;
  plan: boolean;
  reconcile: boolean;
}

async function unleashToken(io: CliIo, tokenFile: string | undefined): Promise<string> {
  if (tokenFile) {
    try {
      const token = (await readFile(resolve(io.cwd, tokenFile), 'utf8')).trim();
      if (token) return token;
    } catch (error) {
      throw new CliError(`cannot read the token file ${tokenFile}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    throw new CliError(`the token file ${tokenFile} is empty`);
  }
  const token = io.env.RC_UNLEASH_TOKEN;
  if (!token) throw new UsageError('no Unleash admin token: set RC_UNLEASH_TOKEN or pass --token-file FILE');
  return token;
}

/**
 * `rctl seed FILE --target unleash`: the same flags file, written to Unleash. Everything is translated first; a flag
 * Unleash cannot express stops the run before any request is sent. Existing features are left as they are unless
 * `--reconcile`; `--plan` only reads and prints.
 */
export async function runUnleashSeed(options: UnleashSeedOptions, io: CliIo, out: Output): Promise<number> {
  if (!options.unleashUrl) throw new UsageError('--target unleash needs --unleash-url URL (e.g. http://unleash:4242)');
  if (options.plan && options.reconcile) throw new UsageError('--plan and --reconcile exclude each other');
  const flagsFile = await loadFlagsFile(options.file, io, out);
  const translation = translateFlags(flagsFile.flags, flagsFile.evaluators, UNLEASH_OSS_ENVIRONMENTS);
  if (!translation.ok) {
    for (const p of translation.problems) out.error(`${options.file}: ${formatUntranslatable(p)}`);
    throw new CliError(
      `${translation.problems.length} flag(s) use what Unleash cannot express; nothing was written to Unleash.`,
    );
  }
  const client = new UnleashAdminClient(options.unleashUrl, await unleashToken(io, options.tokenFile));
  try {
    if (options.plan) {
      const comparisons = await compareWithUnleash(client, translation.features);
      for (const c of comparisons) {
        if (c.status === 'missing') out.line(`+ create ${c.name}`);
        else if (c.status === 'in-sync') out.line(`  in sync ${c.name}`);
        else {
          out.line(`~ drift  ${c.name}`);
          for (const ch of c.changes)
            out.line(`    ${ch.path}: ${JSON.stringify(ch.before)} → ${JSON.stringify(ch.after)}`);
        }
      }
      const count = (s: string) => comparisons.filter((c) => c.status === s).length;
      out.line(
        `plan: ${count('missing')} to create, ${count('drifted')} drifted, ${count('in-sync')} in sync (nothing was written)`,
      );
      return 0;
    }
    const report = await seedUnleash(client, translation.features, {
      reconcile: options.reconcile,
      progress: (line) => out.line(line),
    });
    for (const d of report.drifted) {
      if (!options.reconcile) continue;
      for (const ch of d.changes)
        out.line(`    ${d.name} ${ch.path}: ${JSON.stringify(ch.before)} → ${JSON.stringify(ch.after)}`);
    }
    out.line(
      `${report.created.length} created, ${report.existing.length} already present` +
        ` (${report.drifted.length} differ from the file), ${report.updated.length} updated`,
    );
    return 0;
  } catch (error) {
    if (error instanceof UnleashApiError) throw new CliError(error.message);
    throw error;
  }
}
