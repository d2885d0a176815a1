import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { webhookSecretProblem } from '@runtime-control/core';
import {
  type BridgeAddonResult,
  compareWithUnleash,
  ensureBridgeAddon,
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
  /** The Runtime Control server URL: when set, the seed also manages the bridge's webhook addon. */
  bridgeUrl?: string | undefined;
  webhookSecretFile?: string | undefined;
}

/** The bridge addon's target and secret, checked before anything is sent to Unleash. */
interface BridgeSettings {
  url: string;
  secret: string;
}

async function bridgeSettings(options: UnleashSeedOptions, io: CliIo): Promise<BridgeSettings | undefined> {
  if (options.bridgeUrl === undefined) {
    if (options.webhookSecretFile !== undefined) throw new UsageError('--webhook-secret-file goes with --bridge-url');
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(options.bridgeUrl);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    parsed.search ||
    parsed.hash ||
    parsed.username ||
    parsed.password
  ) {
    throw new UsageError(
      `--bridge-url must be the Runtime Control server's http(s) URL (e.g. http://runtime-control:4400), got "${options.bridgeUrl}"`,
    );
  }
  let secret: string | undefined;
  let source: string;
  if (options.webhookSecretFile !== undefined) {
    source = `the webhook secret file ${options.webhookSecretFile} (--webhook-secret-file)`;
    try {
      secret = (await readFile(resolve(io.cwd, options.webhookSecretFile), 'utf8')).trim();
    } catch (error) {
      throw new CliError(
        `cannot read the webhook secret file ${options.webhookSecretFile}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  } else {
    source = 'RC_UNLEASH_WEBHOOK_SECRET';
    secret = io.env.RC_UNLEASH_WEBHOOK_SECRET;
    if (!secret)
      throw new UsageError(
        '--bridge-url needs the webhook secret: set RC_UNLEASH_WEBHOOK_SECRET or pass --webhook-secret-file FILE',
      );
  }
  // The server's rule for RC_UNLEASH_WEBHOOK_SECRET; the secret itself is never printed.
  const problem = webhookSecretProblem(secret);
  if (problem) {
    throw new UsageError(
      `the webhook secret from ${source} ${problem} (the rule of the Runtime Control server's RC_UNLEASH_WEBHOOK_SECRET)`,
    );
  }
  return { url: options.bridgeUrl, secret };
}

function reportBridgeAddon(result: BridgeAddonResult, out: Output): void {
  for (const w of result.warnings) out.error(`warning: ${w}`);
  const drift = result.drift.join('; ');
  switch (result.action) {
    case 'would-create':
      out.line(`+ create webhook addon → ${result.url}`);
      break;
    case 'created':
      out.line(`created webhook addon ${result.id} → ${result.url} (Unleash starts sending within a minute)`);
      break;
    case 'present':
      if (result.drift.length === 0)
        out.line(
          `  webhook addon present (id ${result.id}; Unleash masks its url and secret, --reconcile rewrites them)`,
        );
      else out.line(`~ drift webhook addon: ${drift} (id ${result.id}; left as is — use --reconcile to update)`);
      break;
    case 'updated':
      out.line(
        `updated webhook addon ${result.id} → ${result.url}${drift ? ` (was: ${drift})` : ''}; --reconcile always rewrites it: ` +
          'Unleash masks url and secret, so only a rewrite guarantees they match',
      );
      break;
  }
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
  const bridge = await bridgeSettings(options, io);
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
      if (bridge)
        reportBridgeAddon(
          await ensureBridgeAddon(client, bridge.url, bridge.secret, { plan: true, reconcile: false }),
          out,
        );
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
    // After the flags: the addon sends events about them, and a failure here leaves the flags seeded.
    if (bridge) {
      const result = await ensureBridgeAddon(client, bridge.url, bridge.secret, {
        plan: false,
        reconcile: options.reconcile,
      });
      reportBridgeAddon(result, out);
    }
    return 0;
  } catch (error) {
    if (error instanceof UnleashApiError) throw new CliError(error.message);
    throw error;
  }
}
