import type { Flag } from '@runtime-control/core';
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
