import type { Flag, JsonObject } from '@runtime-control/core';
import { AppError } from '../errors/app-error.js';
import type { StoredToken, WriteOptions } from './store.js';

/** Rules both stores apply the same way, kept in one place so SQLite and PostgreSQL cannot drift apart. */

export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A deep copy that is exactly what a later read returns (undefined members dropped), and shares nothing with the caller. */
export function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function assertSameKey(key: string, flag: Flag): void {
  if (flag.key !== key) {
    throw new AppError('VALIDATION_FAILED', `flag key "${flag.key}" does not match "${key}"`, { path: '/key' });
  }
}

/** A batch names each key once (the same key twice would make its outcome depend on the order). */
export function assertDistinctKeys(flags: readonly Flag[]): void {
  const seen = new Set<string>();
  flags.forEach((flag, i) => {
    if (seen.has(flag.key)) {
      throw new AppError('VALIDATION_FAILED', `flag key "${flag.key}" appears more than once`, {
        path: `/flags/${i}/key`,
        details: [{ path: `/flags/${i}/key`, code: 'DUPLICATE_KEY', message: `"${flag.key}" appears more than once` }],
      });
    }
    seen.add(flag.key);
  });
}

/** `ifRevision` on an absent entity fails too: the caller expected a version that does not exist (HTTP If-Match). */
export function checkRevision(what: string, current: number | undefined, options: WriteOptions): void {
  if (options.ifRevision !== undefined && current !== options.ifRevision) {
    throw new AppError('PRECONDITION_FAILED', `${what} is at revision ${current ?? 'none'}, not ${options.ifRevision}`);
  }
}

/** Token audit records carry metadata only: the hash must never reach the audit log. */
export function tokenMetadata(token: StoredToken): Omit<StoredToken, 'hash'> {
  return {
    id: token.id,
    name: token.name,
    kind: token.kind,
    environment: token.environment,
    flagSet: token.flagSet,
    createdAt: token.createdAt,
    revokedAt: token.revokedAt,
  };
}

export function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return 100;
  return Math.min(Math.max(Math.trunc(limit), 1), 1000);
}

export function isoTime(value: string, name: string): string {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new AppError('VALIDATION_FAILED', `${name} must be an ISO-8601 timestamp, got "${value}"`, { path: name });
  }
  return time.toISOString();
}

/** Parses stored JSON text; a row that is not JSON (a hand edit) is reported, not thrown, so one row cannot stop a replica. */
export function parseStoredJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'the stored definition is not valid JSON' };
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A presence report as stored (JSON text), or undefined when the row is not a JSON object (it is skipped). */
export function parsePresenceReport(text: string): JsonObject | undefined {
  const parsed = parseStoredJson(text);
  return parsed.ok && isJsonObject(parsed.value) ? (parsed.value as JsonObject) : undefined;
}

/**
 * A stored flag row as read: the definition is kept only if it is a JSON object whose key is the row's key;
 * otherwise the row is reported `unreadable` (with `flag` holding just the row key) so readers can name it.
 */
export function readStoredFlag(
  rowKey: string,
  parsed: { ok: true; value: unknown } | { ok: false; problem: string },
): { flag: Flag; unreadable?: string } {
  if (!parsed.ok) return { flag: { key: rowKey } as Flag, unreadable: parsed.problem };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { flag: { key: rowKey } as Flag, unreadable: 'the stored definition is not a JSON object' };
  }
  const key = (value as { key?: unknown }).key;
  if (key !== rowKey) {
    return {
      flag: { key: rowKey } as Flag,
      unreadable: `the stored definition names key ${JSON.stringify(key)}, not its row's "${rowKey}"`,
    };
  }
  return { flag: value as Flag };
}
