/**
 * Whether an error means the database cannot answer right now — a connection refused, dropped or timed out, the
 * server shutting down or starting up, too many connections, SQLite busy — rather than a bug: such a request is
 * answered 503 (retry), not 500. Recognised by error codes, never by message text the database composed, except pg's
 * own fixed messages for a dropped or unobtainable connection (they carry no code).
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NODE_CONNECTION_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01–57P03 (admin/crash shutdown, cannot connect now), 53300 (too
    // many connections).
    if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code) || code === '53300') return true;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return true;
  }
  return PG_CONNECTION_MESSAGES.some((m) => err.message.startsWith(m));
}

const NODE_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** node-postgres's own messages for a lost or unobtainable connection (its errors for these have no code). */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];
