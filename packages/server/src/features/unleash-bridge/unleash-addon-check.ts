import { UNLEASH_BRIDGE_ADDON_DESCRIPTION } from '@runtime-control/core';

/**
 * Whether Unleash has the bridge's webhook addon and whether its calls get through, as the status route reports it.
 *
 * Why it exists: Unleash 8 refuses an addon URL whose host resolves to a private address unless the host is in
 * `UNLEASH_ALLOW_LIST_INTEGRATION` — at creation (the seed then fails, and the addon is missing) and again before
 * each call (an addon created before an upgrade, or after the variable was removed, then fails every call). Either
 * way only the event watch still carries changes, which nothing else would tell the operator.
 *
 * Read with the event watch's URL and token (`GET /api/admin/addons`, then the addon's integration events); without
 * them the server cannot ask Unleash, and says so.
 */
export type UnleashAddonState = 'unchecked' | 'missing' | 'disabled' | 'failing' | 'present' | 'unknown';

export interface UnleashAddonCheck {
  state: UnleashAddonState;
  /** The addon's id in Unleash (the lowest, should there be several). */
  id: number | null;
  /**
   * What Unleash recorded about its last call (state, time, its own details) or why the check could not be made.
   * Never a token or secret: Unleash masks the addon's parameters, and its call records carry none.
   */
  detail: string | null;
  /** The host the addon calls, from Unleash's record of its last call (for the allow-list fix), if known. */
  host: string | null;
}

const TIMEOUT_MS = 3000;

export async function checkBridgeAddon(options: {
  url: string;
  token: string;
  fetchImpl?: typeof fetch;
}): Promise<UnleashAddonCheck> {
  const get = async (path: string): Promise<unknown> => {
    const res = await (options.fetchImpl ?? fetch)(`${options.url}${path}`, {
      headers: { authorization: options.token, accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403 ? ': RC_UNLEASH_TOKEN may not read addons (an admin token can)' : '';
      throw new Error(`GET ${path} answered ${res.status}${hint}`);
    }
    return res.json();
  };
  let addons: unknown;
  try {
    addons = ((await get('/api/admin/addons')) as { addons?: unknown } | null)?.addons;
  } catch (err) {
    return unknown(err);
  }
  if (!Array.isArray(addons)) return unknown(new Error('Unleash listed addons without an "addons" array'));
  const ours = addons
    .filter(
      (a): a is { id: number; enabled?: unknown } =>
        typeof a === 'object' &&
        a !== null &&
        (a as Record<string, unknown>).provider === 'webhook' &&
        (a as Record<string, unknown>).description === UNLEASH_BRIDGE_ADDON_DESCRIPTION &&
        Number.isSafeInteger((a as Record<string, unknown>).id),
    )
    .sort((a, b) => a.id - b.id);
  const addon = ours[0];
  if (!addon) return { state: 'missing', id: null, detail: null, host: null };
  if (addon.enabled !== true) return { state: 'disabled', id: addon.id, detail: null, host: null };
  let events: unknown;
  try {
    events = ((await get(`/api/admin/addons/${addon.id}/events?limit=1`)) as { integrationEvents?: unknown } | null)
      ?.integrationEvents;
  } catch (err) {
    return { ...unknown(err), id: addon.id };
  }
  const last = Array.isArray(events) ? lastCall(events) : undefined;
  if (!last) return { state: 'present', id: addon.id, detail: 'no call recorded yet', host: null };
  const said = `Unleash's last call (${last.at}) ${last.state}${last.details ? `: ${last.details}` : ''}`;
  return { state: last.state === 'failed' ? 'failing' : 'present', id: addon.id, detail: said, host: last.host };
}

function unknown(err: unknown): UnleashAddonCheck {
  const message =
    err instanceof Error
      ? err.name === 'TimeoutError'
        ? `Unleash did not answer within ${TIMEOUT_MS} ms`
        : err.message === 'fetch failed'
          ? 'cannot reach Unleash'
          : err.message
      : String(err);
  return { state: 'unknown', id: null, detail: message, host: null };
}

/** The newest integration event, validated field by field (Unleash's `integrationEventSchema`). */
function lastCall(events: unknown[]): { state: string; at: string; details: string; host: string | null } | undefined {
  const rows = events
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .filter((e) => typeof e.state === 'string' && typeof e.createdAt === 'string')
    .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const newest = rows[0];
  if (!newest) return undefined;
  const url = (newest.details as { url?: unknown } | null | undefined)?.url;
  let host: string | null = null;
  if (typeof url === 'string') {
    try {
      host = new URL(url).hostname;
    } catch {
      host = null;
    }
  }
  const details = typeof newest.stateDetails === 'string' ? newest.stateDetails.replace(/\s+/g, ' ').trim() : '';
  return { state: newest.state as string, at: newest.createdAt as string, details: details.slice(0, 300), host };
}
