import type { Unleash } from 'unleash-client';

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

/**
 * Coalesces refresh requests: the first starts a fetch after `gatherMs` (a burst of webhook events arrives within a
 * few milliseconds of each other); requests while a fetch is in flight make one more fetch after it, because the
 * running one may have missed the change that caused them.
 *
 * A fetch that finds nothing new is retried a few times with growing delays: Unleash recomputes the revision behind
 * its client API's ETag on a 1 s timer, so a fetch right after the webhook can still be answered "304, unchanged".
 */
export class CoalescingRefresher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private again = false;
  private closed = false;
  private retry = 0;
  /** How many fetches ran (for tests and the benchmark). */
  fetches = 0;

  constructor(
    /** Resolves true when the fetch brought a change. */
    private readonly fetchNow: () => Promise<boolean>,
    private readonly gatherMs: number,
    private readonly onError: (err: unknown) => void,
    // Dense for the first ~2.5 s (Unleash's revision timer is 1 s), then a last try; polling remains the backstop.
    private readonly retryDelaysMs: readonly number[] = [100, 150, 200, 250, 250, 250, 300, 300, 400, 500, 2000],
  ) {}

  request(): void {
    this.retry = 0;
    this.schedule(this.gatherMs);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.inFlight = true;
    this.fetches++;
    let changed = false;
    try {
      changed = await this.fetchNow();
    } catch (err) {
      this.onError(err);
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.request();
      } else if (!changed && this.retry < this.retryDelaysMs.length) {
        this.schedule(this.retryDelaysMs[this.retry++]!);
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
