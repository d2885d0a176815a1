import { UNLEASH_BRIDGE_ADDON_DESCRIPTION } from '@runtime-control/core';
import type { UnleashAddonDefinition, UnleashAddonState, UnleashAdminClient } from './unleash-admin-client.js';

/**
 * The Unleash webhook addon that feeds Runtime Control's bridge (`POST /api/integrations/unleash/webhook`), managed
 * as code by `rctl seed --target unleash --bridge-url URL`.
 *
 * Unleash masks a webhook's `url` and `authorization` when it lists addons, so the addon is recognised by its
 * description, and only what Unleash shows (enabled, events, projects, environments) can be compared. The secret
 * never leaves this module except in the definition sent to Unleash.
 */

export const BRIDGE_ADDON_DESCRIPTION = UNLEASH_BRIDGE_ADDON_DESCRIPTION;

/** The feature events the bridge turns into refresh hints. */
export const BRIDGE_ADDON_EVENTS: readonly string[] = [
  'feature-created',
  'feature-updated',
  'feature-archived',
  'feature-revived',
  'feature-environment-enabled',
  'feature-environment-disabled',
  'feature-strategy-add',
  'feature-strategy-update',
  'feature-strategy-remove',
  'feature-metadata-updated',
  'feature-variants-updated',
  'feature-project-change',
];

export const BRIDGE_WEBHOOK_PATH = '/api/integrations/unleash/webhook';

/** The webhook URL for a Runtime Control server URL (a URL that already ends in the webhook path is kept). */
export function bridgeWebhookUrl(bridgeUrl: string): string {
  const base = bridgeUrl.replace(/\/+$/, '');
  return base.endsWith(BRIDGE_WEBHOOK_PATH) ? base : `${base}${BRIDGE_WEBHOOK_PATH}`;
}

export function desiredBridgeAddon(bridgeUrl: string, secret: string): UnleashAddonDefinition {
  return {
    provider: 'webhook',
    enabled: true,
    description: BRIDGE_ADDON_DESCRIPTION,
    parameters: { url: bridgeWebhookUrl(bridgeUrl), authorization: `Bearer ${secret}` },
    events: [...BRIDGE_ADDON_EVENTS],
    projects: ['*'],
    environments: ['*'],
  };
}

export type BridgeAddonComparison =
  | { status: 'missing'; warnings: string[] }
  | {
      status: 'present';
      id: number;
      /** Visible differences from the desired addon, one line each (e.g. `enabled: false → true`). */
      drift: string[];
      warnings: string[];
    };

function setDrift(name: string, have: readonly string[] | undefined, want: readonly string[]): string | undefined {
  const haveSet = new Set(have ?? []);
  const wantSet = new Set(want);
  const missing = [...wantSet].filter((x) => !haveSet.has(x));
  const extra = [...haveSet].filter((x) => !wantSet.has(x));
  if (missing.length === 0 && extra.length === 0) return undefined;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
  if (extra.length > 0) parts.push(`extra ${extra.join(', ')}`);
  return `${name}: ${parts.join('; ')}`;
}

/** What differs between an addon as Unleash lists it and the desired one, leaving out the masked parameters. */
export function bridgeAddonDrift(addon: UnleashAddonState): string[] {
  const want = desiredBridgeAddon('http://masked.invalid', 'masked');
  const drift: string[] = [];
  if (addon.enabled !== want.enabled) drift.push(`enabled: ${JSON.stringify(addon.enabled ?? null)} → true`);
  for (const line of [
    setDrift('events', addon.events, want.events),
    setDrift('projects', addon.projects, want.projects),
    setDrift('environments', addon.environments, want.environments),
  ]) {
    if (line) drift.push(line);
  }
  return drift;
}

/** Picks the bridge addon out of Unleash's list: a webhook with our description, the lowest id if several. */
export function findBridgeAddon(addons: readonly UnleashAddonState[]): BridgeAddonComparison {
  const ours = addons
    .filter((a) => a.provider === 'webhook' && a.description === BRIDGE_ADDON_DESCRIPTION)
    .sort((a, b) => a.id - b.id);
  const [first, ...others] = ours;
  if (!first) return { status: 'missing', warnings: [] };
  const warnings =
    others.length > 0
      ? [
          `${ours.length} webhook addons are described "${BRIDGE_ADDON_DESCRIPTION}": using id ${first.id}; ` +
            `delete the others (id ${others.map((a) => a.id).join(', ')}) so Unleash does not call the bridge twice`,
        ]
      : [];
  return { status: 'present', id: first.id, drift: bridgeAddonDrift(first), warnings };
}

/** Looks the bridge addon up in Unleash, reading only. */
export async function compareBridgeAddon(client: UnleashAdminClient): Promise<BridgeAddonComparison> {
  return findBridgeAddon(await client.listAddons());
}

export type BridgeAddonAction = 'created' | 'would-create' | 'present' | 'updated';

export interface BridgeAddonResult {
  action: BridgeAddonAction;
  /** The addon's id (absent when it is still to be created). */
  id?: number;
  /** The webhook URL the addon calls (or would call once written). */
  url: string;
  /** Visible differences found before anything was written. */
  drift: string[];
  warnings: string[];
}

/**
 * Makes sure Unleash has the bridge addon. Missing: created (`plan`: only reported). Present: left as it is and its
 * visible drift reported, unless `reconcile`, which always rewrites it with the desired definition — Unleash masks
 * url and secret, so only a rewrite guarantees they match.
 */
export async function ensureBridgeAddon(
  client: UnleashAdminClient,
  bridgeUrl: string,
  secret: string,
  options: { reconcile: boolean; plan: boolean },
): Promise<BridgeAddonResult> {
  const desired = desiredBridgeAddon(bridgeUrl, secret);
  const url = desired.parameters.url as string;
  const found = await compareBridgeAddon(client);
  if (found.status === 'missing') {
    if (options.plan) return { action: 'would-create', url, drift: [], warnings: found.warnings };
    const id = await client.createAddon(desired);
    return { action: 'created', id, url, drift: [], warnings: found.warnings };
  }
  const { id, drift, warnings } = found;
  // `plan` only reads, whatever `reconcile` says.
  if (options.plan || !options.reconcile) return { action: 'present', id, url, drift, warnings };
  await client.updateAddon(id, desired);
  return { action: 'updated', id, url, drift, warnings };
}
