import type { UnleashRefreshFrameData } from '@runtime-control/core';
import type { Logger } from 'pino';
import { changesEvaluation, refreshHintOf } from './unleash-webhook-event.js';

/**
 * One feature change as the bridge relays it, whichever way it learnt of it: what the bridge stream's `unleash-refresh` frame carries (`feature` null for bulk events: then
 * providers fetch everything; `eventId`, one sequence for the whole Unleash instance, is what replicas and paths
 * de-duplicate on), and where it came from.
 */
export interface UnleashRefreshHint extends UnleashRefreshFrameData {
  source: 'webhook' | 'watch';
}

export interface UnleashEventWatchOptions {
  /** Unleash base URL (without `/api`). */
  url: string;
  /** A token Unleash's admin API accepts; sent as the raw Authorization header, as Unleash expects. */
  token: string;
  intervalMs: number;
  logger: Logger;
  onHint: (hint: UnleashRefreshHint) => void;
  onError?: () => void;
  fetchImpl?: typeof fetch;
}

export type UnleashWatchState = 'starting' | 'watching' | 'failing' | 'stopped';

/** How many events one poll reads; more new events than this since the last poll means "fetch everything". */
export const WATCH_PAGE = 50;
const MAX_BACKOFF_MS = 10_000;

interface EventRow {
  id: number;
  type: string;
  featureName: string | null;
  environment: string | null;
}

/**
 * Reads Unleash's event log (`GET /api/admin/search/events`) every `intervalMs` and reports each new event that
 * changes evaluation (feature events, and segment edits, which the webhook addon cannot send).
 *
 * Why it exists beside the webhook: Unleash writes an event the moment a flag changes, but hands events to addons
 * (the webhook) from a job that runs once a second, so the webhook alone leaves 0–1 s after the change. Reading the
 * log directly sees the change within one interval (250 ms by default). The two paths complement each other: the
 * watch is faster, the webhook also catches an event whose transaction committed after a later one the watch
 * already passed; both carry Unleash's event id, so the bridge relays each event once.
 *
 * The first successful read only records where the log stands (nothing before the watch started is relayed: a
 * provider refreshes fully whenever its stream connects). Failures back off up to 10 s and are logged once per
 * outage; the token never appears in logs or errors.
 */
export class UnleashEventWatch {
  private timer: NodeJS.Timeout | undefined;
  private lastId: number | undefined;
  private failures = 0;
  private running = false;
  state: UnleashWatchState = 'starting';
  lastError: string | undefined;
  /** Successful reads of the event log. */
  polls = 0;

  constructor(private readonly options: UnleashEventWatchOptions) {}

  /** The newest event id seen (undefined before the first successful read). */
  get lastEventId(): number | undefined {
    return this.lastId;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    this.state = 'stopped';
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => {
        const backoff = Math.min(this.options.intervalMs * 2 ** this.failures, MAX_BACKOFF_MS);
        this.schedule(this.failures === 0 ? this.options.intervalMs : backoff);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One read of the event log (exported for tests: `start` calls it on a timer). */
  async poll(): Promise<void> {
    const { url, token, logger } = this.options;
    // `from=IS:<date>` means "on or after that day" (UTC yesterday): enough for any gap between two polls, and it keeps Unleash's count query small.
    const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const query = new URLSearchParams({ offset: '0', limit: String(WATCH_PAGE), from: `IS:${since}` });
    const target = `${url}/api/admin/search/events?${query}`;
    let rows: EventRow[];
    try {
      const res = await (this.options.fetchImpl ?? fetch)(target, {
        headers: { authorization: token, accept: 'application/json' },
        signal: AbortSignal.timeout(Math.max(2000, this.options.intervalMs * 4)),
      });
      if (!res.ok) {
        await res.body?.cancel();
        const hint =
          res.status === 401 || res.status === 403
            ? 'Unleash rejected RC_UNLEASH_TOKEN: give it a token its admin API accepts (an admin token, or a service account token)'
            : `check RC_UNLEASH_URL (${url}) and that Unleash is healthy`;
        throw new Error(`GET /api/admin/search/events answered ${res.status}; ${hint}`);
      }
      rows = parseEvents(await res.json());
    } catch (err) {
      if (this.state !== 'stopped') this.fail(describeFailure(err, url));
      return;
    }
    // Stopped while the request was in flight: report nothing more.
    if (this.state === 'stopped') return;
    this.polls++;
    if (this.state !== 'watching') {
      logger.info({ url, lastEventId: this.lastId }, 'unleash event watch: reading the event log');
    }
    this.failures = 0;
    this.lastError = undefined;
    this.state = 'watching';
    const newest = rows.reduce((max, r) => Math.max(max, r.id), this.lastId ?? 0);
    if (this.lastId === undefined) {
      this.lastId = newest;
      return;
    }
    const fresh = rows.filter((r) => r.id > this.lastId!).sort((a, b) => a.id - b.id);
    if (fresh.length === WATCH_PAGE) {
      // A full page of new events: older ones may be beyond it. One hint without a flag makes providers fetch all.
      this.options.onHint({
        feature: null,
        type: 'features-changed',
        environment: null,
        eventId: null,
        source: 'watch',
      });
    }
    for (const row of fresh) {
      if (!changesEvaluation({ type: row.type })) continue;
      this.options.onHint(refreshHintOf(row, 'watch'));
    }
    this.lastId = newest;
  }

  private fail(message: string): void {
    this.failures++;
    this.options.onError?.();
    if (this.state !== 'failing' || this.lastError !== message) {
      this.options.logger.warn(
        { url: this.options.url },
        `unleash event watch: ${message}; the webhook and the providers' own polling still deliver changes`,
      );
    }
    this.lastError = message;
    this.state = 'failing';
  }
}

/** One line saying what went wrong, for logs and the status route (never the token: it is in no error here). */
function describeFailure(err: unknown, url: string): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return `reading Unleash's event log at ${url} timed out`;
  // fetch() reports network failures as "fetch failed" with the reason in `cause`.
  if (err.message === 'fetch failed' && err.cause instanceof Error) {
    const code = (err.cause as { code?: unknown }).code;
    return `cannot reach Unleash at ${url}: ${typeof code === 'string' ? code : err.cause.message}`;
  }
  return err.message;
}

/** Validates the parts of `eventSearchResponseSchema` the watch reads; anything else is an error, not a guess. */
function parseEvents(body: unknown): EventRow[] {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new Error('Unleash answered the event search without an "events" array');
  return events.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.id) || typeof e.type !== 'string') {
      throw new Error(`Unleash's event search returned an event without a numeric id and a type (index ${i})`);
    }
    return {
      id: e.id as number,
      type: e.type,
      featureName: typeof e.featureName === 'string' ? e.featureName : null,
      environment: typeof e.environment === 'string' ? e.environment : null,
    };
  });
}
