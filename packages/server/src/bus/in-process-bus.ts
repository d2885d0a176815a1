import type { ChangeBus, ChangeMessage } from './change-bus.js';

/** The embedded (single-process) bus: delivery is a function call. */
export class InProcessBus implements ChangeBus {
  readonly kind = 'in-process' as const;
  private readonly handlers: ((m: ChangeMessage) => void)[] = [];

  async publish(message: ChangeMessage): Promise<void> {
    for (const h of this.handlers) queueMicrotask(() => h(message));
  }

  onMessage(handler: (message: ChangeMessage) => void): void {
    this.handlers.push(handler);
  }

  onReconnect(): void {
    // Never disconnects.
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}
