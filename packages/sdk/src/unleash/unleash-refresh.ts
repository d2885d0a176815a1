import type { Unleash } from 'unleash-client';
import { get } from 'unleash-client/lib/request.js';

/**
 * "Fetch from Unleash now" for unleash-client 6.x, which has no public call for it.
 *
 * The choice: call the polling fetcher's own `fetch()` (the one its timer calls), so the request, ETag handling,
 * parsing, storage and `changed`/`unchanged` events are all the client's own. That fetch reschedules the next poll
 * with `timedFetch` *without* clearing the pending timer, so every extra fetch would add a second polling loop for
 * good; `timedFetch` is therefore wrapped once to clear the previous timer first (one loop, whoever fetches). The
 * alternatives were worse: `repository.stop()/start()` removes every listener; stopping and starting the polling
 * fetcher still leaks a loop when a poll is in flight; fetching `/client/features` ourselves would duplicate the
 * client's parsing and bypass its ETag and storage.
 *
 * Everything is feature-detected: with another client version, or in streaming mode, `bindUnleashRefresh` returns
 * undefined and the caller stays with plain polling.
 */

interface PollingFetcherInternals {
  fetch(): Promise<void>;
  timedFetch(interval: number): void;
  timer?: NodeJS.Timeout;
}

const patched = new WeakSet<object>();

function isPollingFetcher(value: unknown): value is PollingFetcherInternals {
  const candidate = value as Partial<PollingFetcherInternals> | undefined;
  return typeof candidate?.fetch === 'function' && typeof candidate.timedFetch === 'function';
}

/** Returns a function that makes the client fetch now, or undefined when this client version offers no safe way. */
export function bindUnleashRefresh(client: Unleash): (() => Promise<void>) | undefined {
  const repository = (client as unknown as { repository?: { fetcher?: unknown } }).repository;
  const fetcher = repository?.fetcher as { pollingFetcher?: unknown; currentFetcher?: unknown } | undefined;
  // 6.x: an AdaptiveFetcher holding a PollingFetcher (and, in streaming mode, a StreamingFetcher that pushes anyway).
  const polling = fetcher?.pollingFetcher ?? fetcher;
  if (!isPollingFetcher(polling)) return undefined;
  if (fetcher?.currentFetcher !== undefined && fetcher.currentFetcher !== polling) return undefined;
  if (!patched.has(polling)) {
    const original = polling.timedFetch;
    polling.timedFetch = function timedFetchOnce(this: PollingFetcherInternals, interval: number) {
      clearTimeout(this.timer);
      original.call(this, interval);
    };
    patched.add(polling);
  }
  return () => polling.fetch();
}

/** A flag as Unleash's client API returns it (the parts checked here; the rest is passed through untouched). */
interface ClientFeature {
  name: string;
  enabled: boolean;
  strategies?: { segments?: number[] }[];
  [key: string]: unknown;
}

interface RepositoryInternals {
  save(
    response: { type: 'delta' | 'full'; features?: ClientFeature[]; events?: unknown[] },
    fromApi: boolean,
  ): Promise<void>;
  getSegment(id: number): unknown;
}

interface PollingOptions {
  url: string;
  appName: string;
  instanceId?: string;
  connectionId: string;
  headers?: Record<string, string>;
  customHeadersFunction?: () => Promise<Record<string, string>>;
  refreshInterval?: number;
  timeout?: number;
  httpOptions?: unknown;
  projectName?: string;
  namePrefix?: string;
  tags?: unknown[];
  onSave: RepositoryInternals['save'];
}

/** What `update` did: applied every named flag, or found something only a full fetch can bring (a new segment). */
export type FeatureUpdateResult = 'applied' | 'needs-full-fetch';

/** Fetches named flags one by one and applies them to an unleash-client's repository. */
export interface UnleashFeatureUpdater {
  update(names: readonly string[]): Promise<FeatureUpdateResult>;
}

/** How long a flag fetched one by one outranks a full response (Unleash's revision timer is 1 s; ample margin). */
const OVERLAY_MS = 5000;

function isClientFeature(value: unknown, name: string): value is ClientFeature {
  const f = value as Partial<ClientFeature> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    f.name === name &&
    typeof f.enabled === 'boolean' &&
    (f.strategies === undefined || Array.isArray(f.strategies))
  );
}

/**
 * "Apply these flags now", bypassing the revision cache of Unleash's client API.
 *
 * Why: `GET /api/client/features` answers with an ETag derived from a revision that Unleash recomputes on a 1 s
 * timer (and, with its response cache on, the body memoized under that ETag), so a fetch right after a change can
 * still be "304, unchanged". `GET /api/client/features/:name` reads the database on every call. So, for a hint that
 * names a flag, the provider fetches that flag alone (with the client's own URL, headers, token and HTTP options)
 * and hands it to the repository as a delta — the same path unleash-client's streaming mode uses — which updates the
 * flag, keeps the other flags, writes the backup and emits `changed`.
 *
 * One hazard is guarded: a full response fetched just after such an update may come from Unleash's memo of the
 * previous revision and would put the old definition back. For a few seconds after an update, full responses keep
 * the flags fetched one by one, and those flags are fetched again at once, so the database decides.
 *
 * Returns undefined (the caller then does full fetches) for client versions without these internals, in streaming
 * mode, or with tag filters (the single-flag endpoint cannot apply them).
 */
export function bindUnleashFeatureUpdates(client: Unleash): UnleashFeatureUpdater | undefined {
  const repository = (client as unknown as { repository?: Partial<RepositoryInternals> & { fetcher?: unknown } })
    .repository;
  if (typeof repository?.save !== 'function' || typeof repository.getSegment !== 'function') return undefined;
  const fetcher = repository.fetcher as { pollingFetcher?: unknown; currentFetcher?: unknown } | undefined;
  const polling = (fetcher?.pollingFetcher ?? fetcher) as { options?: Partial<PollingOptions> } | undefined;
  if (fetcher?.currentFetcher !== undefined && fetcher.currentFetcher !== polling) return undefined;
  const options = polling?.options;
  if (typeof options?.url !== 'string' || typeof options.appName !== 'string') return undefined;
  if (typeof options.connectionId !== 'string' || (options.tags?.length ?? 0) > 0) return undefined;
  if (typeof options.onSave !== 'function') return undefined;
  const opts = options as PollingOptions;
  // One updater per client: several providers over one client share its overlay of recently fetched flags.
  const existing = updaters.get(opts);
  if (existing) return existing;
  const repo = repository as RepositoryInternals;

  const base = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
  const featureUrl = (name: string) => {
    const url = new URL(`client/features/${encodeURIComponent(name)}`, base);
    if (opts.projectName) url.searchParams.set('project', opts.projectName);
    return url.toString();
  };
  /** Flags fetched one by one, and when: they outrank full responses for OVERLAY_MS. */
  const recent = new Map<string, { feature: ClientFeature | null; at: number }>();

  const fetchOne = async (name: string): Promise<ClientFeature | null> => {
    const url = featureUrl(name);
    const headers = opts.customHeadersFunction ? await opts.customHeadersFunction() : opts.headers;
    const res = await get({
      url,
      appName: opts.appName,
      instanceId: opts.instanceId,
      connectionId: opts.connectionId,
      interval: opts.refreshInterval,
      timeout: opts.timeout,
      headers,
      httpOptions: opts.httpOptions as never,
      supportedSpecVersion: '5.2.0',
    });
    // 404: archived, deleted, or outside this token's projects — in every case not a flag this client may see.
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`${url} responded ${res.status}`);
    const body: unknown = await res.json();
    if (!isClientFeature(body, name)) throw new Error(`${url} answered something that is not the flag "${name}"`);
    return body;
  };

  const update = async (names: readonly string[]): Promise<FeatureUpdateResult> => {
    const wanted = [...new Set(names)].filter((n) => !opts.namePrefix || n.startsWith(opts.namePrefix));
    const fetched = await Promise.all(wanted.map(async (name) => [name, await fetchOne(name)] as const));
    // A segment this client has never seen comes only with the full list: then nothing is applied here.
    const unknownSegment = fetched.some(([, feature]) =>
      (feature?.strategies ?? []).some((s) => (s.segments ?? []).some((id) => repo.getSegment(id) === undefined)),
    );
    if (unknownSegment) return 'needs-full-fetch';
    const now = Date.now();
    for (const [name, feature] of fetched) recent.set(name, { feature, at: now });
    const events = fetched.map(([name, feature]) =>
      feature === null
        ? { type: 'feature-removed', featureName: name, project: opts.projectName ?? '' }
        : { type: 'feature-updated', eventId: 0, feature },
    );
    if (events.length > 0) await repo.save({ type: 'delta', events }, true);
    return 'applied';
  };

  // The fetcher hands its responses to `options.onSave` (the repository's save, bound when the client was built).
  const originalSave = opts.onSave;
  opts.onSave = (response, fromApi) => {
    const now = Date.now();
    for (const [name, entry] of recent) if (now - entry.at > OVERLAY_MS) recent.delete(name);
    if (response.type !== 'full' || recent.size === 0 || !Array.isArray(response.features)) {
      return originalSave(response, fromApi);
    }
    const kept = [...recent];
    const features = response.features.filter((f) => !recent.has(f.name));
    for (const [, entry] of kept) if (entry.feature) features.push(entry.feature);
    // Then let the database decide: if the full response was the newer one, this brings it back.
    const names = kept.map(([name]) => name);
    setImmediate(() => {
      void update(names).catch(() => {});
    });
    return originalSave({ ...response, features }, fromApi);
  };
  const updater = { update };
  updaters.set(opts, updater);
  return updater;
}

const updaters = new WeakMap<object, UnleashFeatureUpdater>();

/**
 * Coalesces refresh requests. A request names flags (a webhook or event-log hint) or none (reconnect, bulk change).
 * The first request starts work after `gatherMs` (one change produces several events within milliseconds); requests
 * while work is in flight make one more round after it, because the running one may have missed their change.
 *
 * - Named flags are fetched one by one through `fetchFeatures`, which reads Unleash's database directly; when that
 *   is unavailable, fails, or needs the full list, the round becomes a full fetch.
 * - A full fetch that finds nothing new is retried a few times with growing delays: Unleash recomputes the revision
 *   behind its client API's ETag on a 1 s timer, so a fetch right after a change can still be "304, unchanged".
 */
export class CoalescingRefresher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private again = false;
  private closed = false;
  private retry = 0;
  private full = false;
  /** Whether the current full-fetch round follows a real change (and so retries an unchanged answer). */
  private retrying = false;
  private timerDue = 0;
  private readonly names = new Set<string>();
  /** How many fetch rounds ran (for tests and the benchmark). */
  fetches = 0;
  /** How many rounds fetched named flags one by one. */
  featureFetches = 0;

  constructor(
    /** Fetches every flag; resolves true when that brought a change. */
    private readonly fetchAll: () => Promise<boolean>,
    /** Fetches and applies the named flags; resolves false when only a full fetch can do. */
    private readonly fetchFeatures: ((names: readonly string[]) => Promise<boolean>) | undefined,
    private readonly gatherMs: number,
    private readonly onError: (err: unknown) => void,
    // Dense for the first ~2.5 s (Unleash's revision timer is 1 s), then a last try; polling remains the backstop.
    private readonly retryDelaysMs: readonly number[] = [100, 150, 200, 250, 250, 250, 300, 300, 400, 500, 2000],
  ) {}

  /**
   * Asks for the named flags, or (no names) for everything. `retryUnchanged: false` is for a full fetch that follows
   * no known change (the stream's `ready` on every connect): one fetch, no retries when it finds nothing new.
   */
  request(names?: readonly string[], options: { retryUnchanged?: boolean } = {}): void {
    if (!names || names.length === 0) {
      this.full = true;
      if (options.retryUnchanged !== false) {
        this.retrying = true;
        this.retry = 0;
      }
    } else {
      for (const name of names) this.names.add(name);
    }
    // A request must not wait behind a long retry delay that is already pending.
    if (this.timer && this.timerDue > Date.now() + this.gatherMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule(this.gatherMs);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timerDue = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.inFlight = true;
    this.fetches++;
    const names = [...this.names];
    this.names.clear();
    let full = this.full;
    this.full = false;
    let changed = false;
    try {
      if (names.length > 0) {
        if (this.fetchFeatures) {
          this.featureFetches++;
          if (!(await this.fetchFeatures(names))) full = true;
        } else {
          full = true;
        }
        if (full) {
          this.retrying = true;
          this.retry = 0;
        }
      }
      if (full) changed = await this.fetchAll();
    } catch (err) {
      this.onError(err);
      if (!full) {
        // The one-by-one path failed (network, 5xx, an unexpected answer): a full fetch takes over.
        this.full = true;
        this.retrying = true;
        this.retry = 0;
        this.again = true;
      }
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.schedule(this.gatherMs);
      } else if (full && !changed && this.retrying && this.retry < this.retryDelaysMs.length) {
        this.full = true;
        this.schedule(this.retryDelaysMs[this.retry++]!);
      } else if (full) {
        this.retrying = false;
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
