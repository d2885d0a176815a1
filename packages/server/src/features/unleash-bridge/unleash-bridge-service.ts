import type { Logger } from 'pino';
import type { BusSignal, ChangeBus } from '../../bus/change-bus.js';
import type { ServerConfig } from '../../config/config.js';
import type { ServerMetrics } from '../../metrics/metrics.js';
import type { UnleashHintSink } from '../../streams/streams.js';
import { UnleashEventWatch, type UnleashRefreshHint } from './unleash-event-watch.js';

export { UNLEASH_REFRESH_EVENT } from '@runtime-control/core';
export const UNLEASH_SIGNAL_TOPIC = 'unleash-refresh';

/** How many recent event ids a replica remembers to relay each event once. */
const SEEN_CAPACITY = 2000;

/**
 * The Unleash bridge's engine: learns of Unleash feature changes (webhook, event watch, other replicas) and tells
 * this replica's connected UnleashProviders which flag to fetch, once per Unleash event.
 *
 * - A webhook reaches one replica; that replica relays it to the others over the bus (Redis pub/sub when scaled out).
 * - Every replica runs its own event watch (when configured), so the watch needs no relay.
 * - Hints are de-duplicated by Unleash's event id; a hint without an id (a customised webhook body) always goes out.
 */
export class UnleashBridgeService {
  readonly watch: UnleashEventWatch | undefined;
  private readonly seen = new Set<number>();
  /** Hints sent to this replica's clients, by source. */
  readonly delivered = { webhook: 0, watch: 0, relay: 0 };

  constructor(
    private readonly config: ServerConfig,
    private readonly bus: ChangeBus,
    private readonly hints: UnleashHintSink,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {
    bus.onSignal((signal) => this.onSignal(signal));
    if (config.unleashUrl && config.unleashToken) {
      this.watch = new UnleashEventWatch({
        url: config.unleashUrl,
        token: config.unleashToken,
        intervalMs: config.unleashWatchIntervalMs,
        logger,
        onHint: (hint) => this.deliver(hint, 'watch'),
        onError: () => metrics.unleashWatchErrors.inc(),
      });
    }
  }

  /** The bridge stream is served when at least one way of learning of changes is configured. */
  get enabled(): boolean {
    return this.webhookEnabled || this.watch !== undefined;
  }

  get webhookEnabled(): boolean {
    return this.config.unleashWebhookSecret !== undefined;
  }

  start(): void {
    this.watch?.start();
  }

  close(): void {
    this.watch?.stop();
  }

  /**
   * A webhook call: sent to this replica's clients and relayed to the other replicas. Returns the clients reached
   * here, or `duplicate` when this event was relayed already (by the watch, another replica, or an earlier call).
   */
  async receiveWebhook(hint: UnleashRefreshHint): Promise<{ clients: number; duplicate?: true }> {
    const clients = this.deliver(hint, 'webhook');
    if (clients === undefined) return { clients: 0, duplicate: true };
    await this.bus.publishSignal({ topic: UNLEASH_SIGNAL_TOPIC, payload: { ...hint }, origin: this.config.replicaId });
    return { clients };
  }

  private onSignal(signal: BusSignal): void {
    if (signal.topic !== UNLEASH_SIGNAL_TOPIC || signal.origin === this.config.replicaId) return;
    const hint = parseRelayedHint(signal.payload);
    if (!hint) {
      this.logger.warn({ origin: signal.origin }, 'ignoring a malformed relayed Unleash hint');
      return;
    }
    this.deliver(hint, 'relay');
  }

  /** Sends the hint to this replica's clients unless its event was relayed already; undefined for a duplicate. */
  private deliver(hint: UnleashRefreshHint, via: 'webhook' | 'watch' | 'relay'): number | undefined {
    if (hint.eventId !== null) {
      if (this.seen.has(hint.eventId)) return undefined;
      this.seen.add(hint.eventId);
      if (this.seen.size > SEEN_CAPACITY) this.seen.delete(this.seen.values().next().value as number);
    }
    const clients = this.hints.sendUnleashHint(hint);
    this.delivered[via]++;
    this.metrics.unleashHints.inc({ source: via });
    this.logger.debug({ via, unleashEvent: hint.type, feature: hint.feature, clients }, 'unleash: refresh hint sent');
    return clients;
  }
}

function parseRelayedHint(payload: Record<string, unknown>): UnleashRefreshHint | undefined {
  const { feature, type, environment, eventId, source } = payload;
  if (typeof type !== 'string') return undefined;
  if (feature !== null && typeof feature !== 'string') return undefined;
  if (environment !== null && typeof environment !== 'string') return undefined;
  if (eventId !== null && !Number.isSafeInteger(eventId)) return undefined;
  return {
    feature: feature as string | null,
    type,
    environment: environment as string | null,
    eventId: eventId as number | null,
    source: source === 'watch' ? 'watch' : 'webhook',
  };
}
