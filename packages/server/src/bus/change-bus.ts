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
  /**
   * Sends a hint to every replica, this one included. Never throws: an invalid or oversized signal, or an unreachable
   * bus, is logged as a warning and dropped.
   */
  publishSignal(signal: BusSignal): Promise<void>;
  /** Handlers receive every valid signal (never `ChangeMessage`s); they must not throw. */
  onSignal(handler: (signal: BusSignal) => void): void;
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

/** A hint every replica should relay to its own clients; never state (lost signals cost latency only). */
export interface BusSignal {
  /** What kind of hint, e.g. "unleash-refresh"; 1–64 chars of [a-z0-9-]. */
  topic: string;
  /** JSON object, at most 8 KiB serialized. */
  payload: Record<string, unknown>;
  /** Replica that published it. */
  origin: string;
}

/** Largest accepted `BusSignal.payload`, in UTF-8 bytes of its JSON serialization. */
export const MAX_SIGNAL_PAYLOAD_BYTES = 8 * 1024;
const SIGNAL_TOPIC = /^[a-z0-9-]{1,64}$/;
/** Raw messages longer than this cannot hold a valid signal worth parsing (payload cap plus generous envelope). */
const MAX_SIGNAL_RAW_CHARS = 2 * MAX_SIGNAL_PAYLOAD_BYTES;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Why `signal` cannot be sent as-is, or undefined when it is valid. Never throws (a payload that JSON cannot
 * serialize, e.g. a BigInt or a cycle, is reported as a problem).
 */
export function busSignalProblem(signal: BusSignal): string | undefined {
  if (typeof signal.topic !== 'string' || !SIGNAL_TOPIC.test(signal.topic))
    return 'topic must be 1-64 chars of [a-z0-9-]';
  if (!isPlainObject(signal.payload)) return 'payload must be a JSON object';
  if (typeof signal.origin !== 'string' || signal.origin.length === 0) return 'origin must be a non-empty string';
  let serialized: string;
  try {
    serialized = JSON.stringify(signal.payload);
  } catch (err) {
    return `payload is not serializable: ${(err as Error).message}`;
  }
  const bytes = Buffer.byteLength(serialized, 'utf8');
  if (bytes > MAX_SIGNAL_PAYLOAD_BYTES) return `payload is ${bytes} bytes, over ${MAX_SIGNAL_PAYLOAD_BYTES}`;
  return undefined;
}

/** The wire form of a valid signal, or its problem. Never throws. */
export function serializeBusSignal(signal: BusSignal): { raw: string } | { problem: string } {
  const problem = busSignalProblem(signal);
  if (problem !== undefined) return { problem };
  try {
    const raw = JSON.stringify({ topic: signal.topic, payload: signal.payload, origin: signal.origin });
    // Only a huge origin can get here; receivers would drop it unparsed.
    if (raw.length > MAX_SIGNAL_RAW_CHARS)
      return { problem: `signal is ${raw.length} chars, over ${MAX_SIGNAL_RAW_CHARS}` };
    return { raw };
  } catch (err) {
    return { problem: `signal is not serializable: ${(err as Error).message}` };
  }
}

/** Parses and validates a signal from the wire; undefined when malformed (extra fields are dropped). */
export function parseBusSignal(raw: string): BusSignal | undefined {
  if (raw.length > MAX_SIGNAL_RAW_CHARS) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isPlainObject(m)) return undefined;
  const signal = { topic: m.topic, payload: m.payload, origin: m.origin } as BusSignal;
  return busSignalProblem(signal) === undefined ? signal : undefined;
}
