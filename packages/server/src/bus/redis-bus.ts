import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type BusSignal,
  type ChangeBus,
  type ChangeMessage,
  parseBusSignal,
  parseChangeMessage,
  serializeBusSignal,
} from './change-bus.js';

export const CHANGE_CHANNEL = 'runtime-control:changes';
/** Fire-and-forget hints (`BusSignal`), on the same subscriber connection as changes. */
export const SIGNAL_CHANNEL = 'runtime-control:signals';

/**
 * Redis pub/sub between replicas. Pub/sub is fire-and-forget: whatever is published while a subscriber is
 * disconnected is lost, so every (re)subscription fires `onReconnect`, and the replica re-reads from the database.
 */
export class RedisBus implements ChangeBus {
  readonly kind = 'redis' as const;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly messageHandlers: ((m: ChangeMessage) => void)[] = [];
  private readonly signalHandlers: ((s: BusSignal) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    const options = {
      // Keep retrying forever with a capped backoff; the database path keeps replicas correct meanwhile.
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    };
    this.publisher = new Redis(url, { ...options, connectionName: 'rc-publisher' });
    this.subscriber = new Redis(url, { ...options, connectionName: 'rc-subscriber', enableOfflineQueue: true });
    for (const client of [this.publisher, this.subscriber]) {
      // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
      client.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'redis connection error'));
    }
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel === CHANGE_CHANNEL) {
        const m = parseChangeMessage(raw);
        if (!m) {
          this.logger.warn('ignoring malformed change message on redis');
          return;
        }
        for (const h of this.messageHandlers) h(m);
      } else if (channel === SIGNAL_CHANNEL) {
        const s = parseBusSignal(raw);
        if (!s) {
          this.logger.warn('ignoring malformed signal on redis');
          return;
        }
        for (const h of this.signalHandlers) {
          // One failing handler must not starve the others (nor throw into ioredis).
          try {
            h(s);
          } catch (err) {
            this.logger.warn({ err: (err as Error).message, topic: s.topic }, 'signal handler failed');
          }
        }
      }
    });
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (connectedBefore) {
        this.logger.info('redis subscriber reconnected; catching up from the database');
        for (const h of this.reconnectHandlers) h();
      }
      connectedBefore = true;
    });
  }

  async connect(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    // ioredis re-subscribes both channels after a reconnect.
    await this.subscriber.subscribe(CHANGE_CHANNEL, SIGNAL_CHANNEL);
  }

  async publish(message: ChangeMessage): Promise<void> {
    try {
      await this.publisher.publish(CHANGE_CHANNEL, JSON.stringify(message));
    } catch (err) {
      // The write is committed; other replicas converge through reconciliation.
      this.logger.warn({ err: (err as Error).message, revision: message.revision }, 'could not publish change');
    }
  }

  onMessage(handler: (message: ChangeMessage) => void): void {
    this.messageHandlers.push(handler);
  }

  async publishSignal(signal: BusSignal): Promise<void> {
    const wire = serializeBusSignal(signal);
    if ('problem' in wire) {
      this.logger.warn({ topic: signal.topic, problem: wire.problem }, 'refusing to publish signal');
      return;
    }
    try {
      await this.publisher.publish(SIGNAL_CHANNEL, wire.raw);
    } catch (err) {
      // A lost hint costs latency only.
      this.logger.warn({ err: (err as Error).message, topic: signal.topic }, 'could not publish signal');
    }
  }

  onSignal(handler: (signal: BusSignal) => void): void {
    this.signalHandlers.push(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  async ping(): Promise<void> {
    if (this.subscriber.status !== 'ready') throw new Error(`redis subscriber is ${this.subscriber.status}`);
    await this.publisher.ping();
  }

  async close(): Promise<void> {
    const ended = (client: Redis) =>
      client.status === 'end'
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            client.once('end', () => resolve());
            setTimeout(resolve, 1000).unref();
          });
    const done = Promise.all([ended(this.publisher), ended(this.subscriber)]);
    this.publisher.disconnect();
    this.subscriber.disconnect();
    await done;
  }
}
