import type { Logger } from 'pino';
import {
  type BusSignal,
  type ChangeBus,
  type ChangeMessage,
  parseBusSignal,
  serializeBusSignal,
} from './change-bus.js';

/** The embedded (single-process) bus: delivery is a function call. */
export class InProcessBus implements ChangeBus {
  readonly kind = 'in-process' as const;
  private readonly handlers: ((m: ChangeMessage) => void)[] = [];
  private readonly signalHandlers: ((s: BusSignal) => void)[] = [];

  /** `logger` receives the warning for a refused signal; without one, refused signals are dropped silently. */
  constructor(private readonly logger?: Pick<Logger, 'warn'>) {}

  async publish(message: ChangeMessage): Promise<void> {
    for (const h of this.handlers) queueMicrotask(() => h(message));
  }

  onMessage(handler: (message: ChangeMessage) => void): void {
    this.handlers.push(handler);
  }

  async publishSignal(signal: BusSignal): Promise<void> {
    // Same rules and semantics as over Redis: validated, and each handler gets its own copy of the wire form.
    const wire = serializeBusSignal(signal);
    if ('problem' in wire) {
      this.logger?.warn({ topic: signal.topic, problem: wire.problem }, 'refusing to publish signal');
      return;
    }
    for (const h of this.signalHandlers) {
      const copy = parseBusSignal(wire.raw);
      if (!copy) continue;
      queueMicrotask(() => {
        // As over Redis, a failing handler is logged, not thrown (an uncaught microtask error would end the process).
        try {
          h(copy);
        } catch (err) {
          this.logger?.warn({ err: (err as Error).message, topic: copy.topic }, 'signal handler failed');
        }
      });
    }
  }

  onSignal(handler: (signal: BusSignal) => void): void {
    this.signalHandlers.push(handler);
  }

  onReconnect(): void {
    // Never disconnects.
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.length = 0;
    this.signalHandlers.length = 0;
  }
}
