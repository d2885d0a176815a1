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

/** Longest wait for any Redis reply; a hung server (TCP open, no answers) costs a caller at most this. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
/** A connection that gets no data this long after a command is dropped and reconnected (a hung or half-open peer). */
const REDIS_SOCKET_TIMEOUT_MS = 3000;
/** How often an idle bus pings both connections, so a hung server is noticed without traffic. */
const PROBE_INTERVAL_MS = 1000;

export interface RedisBusOptions {
  /** Default `REDIS_COMMAND_TIMEOUT_MS`. */
  commandTimeoutMs?: number;
  /** Default 1000 ms; 0 disables the periodic probe (ping() still probes). */
  probeIntervalMs?: number;
}

/**
 * Redis pub/sub between replicas. Pub/sub is fire-and-forget: whatever is published while a subscriber is
 * disconnected is lost, so every (re)subscription fires `onReconnect`, and the replica re-reads from the database.
 *
 * Redis is never on the write path's critical wait: every command times out after about a second, and while the bus
 * is degraded (a connection down, or the last probe or publish unanswered) `publish` skips Redis at once. Replicas
 * then converge through reconciliation; `degradedReason()` / `onDegradedChange` report the state (readiness, metric).
 */
export class RedisBus implements ChangeBus {
  readonly kind = 'redis' as const;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly messageHandlers: ((m: ChangeMessage) => void)[] = [];
  private readonly signalHandlers: ((s: BusSignal) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private readonly degradedHandlers: ((reason: string | undefined) => void)[] = [];
  /** Why the last probe or publish failed; cleared by the next successful probe. */
  private unanswered: string | undefined;
  /** Last reported state: undefined = healthy. */
  private reported: string | undefined;
  private probing: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probeIntervalMs: number;
  /** Set once connect() succeeded: before that the bus is starting, not degraded. */
  private started = false;

  constructor(
    url: string,
    private readonly logger: Logger,
    options: RedisBusOptions = {},
  ) {
    this.probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
    const clientOptions = {
      // Keep retrying forever with a capped backoff; the database path keeps replicas correct meanwhile.
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
      // A hung server accepts connections and commands but never answers: bound every command, the connect and
      // handshake, and recycle a connection that stays silent after a command.
      commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 2000,
      socketTimeout: Math.max(REDIS_SOCKET_TIMEOUT_MS, 2 * (options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS)),
    };
    this.publisher = new Redis(url, { ...clientOptions, connectionName: 'rc-publisher' });
    this.subscriber = new Redis(url, { ...clientOptions, connectionName: 'rc-subscriber', enableOfflineQueue: true });
    for (const client of [this.publisher, this.subscriber]) {
      // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
      client.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'redis connection error'));
      for (const event of ['ready', 'close', 'reconnecting', 'end']) client.on(event, () => this.report());
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
    this.started = true;
    this.report();
    if (this.probeIntervalMs > 0 && !this.probeTimer) {
      this.probeTimer = setInterval(() => void this.probe().catch(() => {}), this.probeIntervalMs);
      this.probeTimer.unref();
    }
  }

  async publish(message: ChangeMessage): Promise<void> {
    // The write is committed; other replicas converge through reconciliation. While Redis is known not to answer,
    // do not wait on it again (the probe notices the recovery).
    if (this.unanswered !== undefined) {
      this.logger.debug({ reason: this.unanswered, revision: message.revision }, 'bus degraded; change not published');
      return;
    }
    try {
      await this.publisher.publish(CHANGE_CHANNEL, JSON.stringify(message));
    } catch (err) {
      this.failed(err);
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
    if (this.unanswered !== undefined) {
      this.logger.debug({ reason: this.unanswered, topic: signal.topic }, 'bus degraded; signal not published');
      return;
    }
    try {
      await this.publisher.publish(SIGNAL_CHANNEL, wire.raw);
    } catch (err) {
      // A lost hint costs latency only.
      this.failed(err);
      this.logger.warn({ err: (err as Error).message, topic: signal.topic }, 'could not publish signal');
    }
  }

  onSignal(handler: (signal: BusSignal) => void): void {
    this.signalHandlers.push(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /**
   * Rejects when the bus cannot deliver. While it is known to be degraded this rejects at once (and probes again in
   * the background); otherwise it pings both connections, each bounded by the command timeout.
   */
  async ping(): Promise<void> {
    const known = this.degradedReason();
    if (known !== undefined) {
      void this.probe().catch(() => {});
      throw new Error(known);
    }
    await this.probe();
  }

  /** Why the bus cannot deliver right now, or undefined when it can. */
  degradedReason(): string | undefined {
    return this.connectionProblem() ?? this.unanswered;
  }

  /** Called with the reason when the bus becomes degraded, and with undefined when it recovers. */
  onDegradedChange(handler: (reason: string | undefined) => void): void {
    this.degradedHandlers.push(handler);
  }

  private connectionProblem(): string | undefined {
    if (this.subscriber.status !== 'ready') return `redis subscriber is ${this.subscriber.status}`;
    if (this.publisher.status !== 'ready') return `redis publisher is ${this.publisher.status}`;
    return undefined;
  }

  /** One PING on each connection at a time; callers share the probe in flight. */
  private probe(): Promise<void> {
    if (this.probing) return this.probing;
    const run = async (): Promise<void> => {
      const problem = this.connectionProblem();
      if (problem !== undefined) {
        this.report();
        throw new Error(problem);
      }
      try {
        await Promise.all([this.publisher.ping(), this.subscriber.ping()]);
        this.unanswered = undefined;
      } catch (err) {
        this.failed(err);
        throw err;
      } finally {
        this.report();
      }
    };
    this.probing = run().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private failed(err: unknown): void {
    // A refused command (connection not ready) is already reported by the connection state.
    if (this.connectionProblem() === undefined) this.unanswered = `redis: ${(err as Error).message}`;
    this.report();
  }

  /** Tells the handlers when the bus turns degraded or recovers. */
  private report(): void {
    if (!this.started) return;
    const reason = this.degradedReason();
    if ((reason === undefined) === (this.reported === undefined)) {
      this.reported = reason;
      return;
    }
    this.reported = reason;
    if (reason === undefined) this.logger.info('redis bus recovered');
    else this.logger.warn({ reason }, 'redis bus degraded; replicas converge through reconciliation');
    for (const h of this.degradedHandlers) {
      try {
        h(reason);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'degraded-state handler failed');
      }
    }
  }

  async close(): Promise<void> {
    this.started = false;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
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
