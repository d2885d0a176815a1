/**
 * Announces "revision N was committed" to every replica. The message is only a doorbell: receivers re-read the
 * changes from the database (`Store.changesSince`), so a lost message costs latency, never correctness — the
 * periodic reconciliation and the reconnect hook pick up whatever pub/sub dropped.
 */
export interface ChangeMessage {
  revision: number;
  /** Commit time (epoch ms) on the writing replica, for the propagation-lag metric. */
  committedAt: number;
  /** Replica that wrote it. */
  origin: string;
}

export interface ChangeBus {
  readonly kind: 'in-process' | 'redis';
  publish(message: ChangeMessage): Promise<void>;
  onMessage(handler: (message: ChangeMessage) => void): void;
  /** Called after the bus (re)connects, when messages may have been missed. */
  onReconnect(handler: () => void): void;
  /** Throws when the bus cannot deliver (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function parseChangeMessage(raw: string): ChangeMessage | undefined {
  try {
    const m = JSON.parse(raw) as Partial<ChangeMessage>;
    if (typeof m.revision !== 'number' || !Number.isInteger(m.revision) || m.revision < 0) return undefined;
    return {
      revision: m.revision,
      committedAt: typeof m.committedAt === 'number' ? m.committedAt : Date.now(),
      origin: typeof m.origin === 'string' ? m.origin : 'unknown',
    };
  } catch {
    return undefined;
  }
}
