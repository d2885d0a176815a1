import type { Evaluators, Flag, JsonObject } from '@runtime-control/core';

/**
 * Storage for everything the control plane holds. Two implementations (SQLite, PostgreSQL) pass one contract
 * suite (`store-contract.ts`).
 *
 * Invariants every implementation keeps:
 * - Every write bumps one global, monotonic revision and appends its audit record in the same transaction.
 *   Revisions are assigned in commit order (writes are serialized on the revision counter), so a reader that has
 *   applied revision N and reads `changesSince(N)` never misses a change committed later with a lower number.
 * - A flag's `revision` is the revision of its last write; it is the flag's ETag.
 * - `ifRevision` on a write is an optimistic-concurrency precondition: if the flag's current revision differs the
 *   write fails with PRECONDITION_FAILED and nothing is written.
 * - Token secrets are never stored: only their SHA-256 hash. Audit records never contain the hash either.
 */

export interface Actor {
  /** Who made the change: the token's name, optionally with the human the client named (`X-RC-Actor`). */
  name: string;
}

/**
 * A stored flag as read. Stored rows are not trusted to be valid (an older version or a hand edit may have written
 * them): readers validate `flag` before serving it, and a row that is not even JSON comes back with `unreadable`
 * set and `flag` holding only its key.
 */
export interface StoredFlag {
  flag: Flag;
  revision: number;
  createdAt: string;
  updatedAt: string;
  /** Why the stored definition cannot be read at all (not JSON); absent for readable rows. */
  unreadable?: string;
}

export interface StoredEvaluator {
  name: string;
  logic: JsonObject;
  revision: number;
  /** Why the stored logic cannot be read at all (not JSON); absent for readable rows. */
  unreadable?: string;
}

export type TokenKind = 'admin' | 'client';

export interface StoredToken {
  id: string;
  name: string;
  kind: TokenKind;
  /** Client tokens are scoped to one environment; admin tokens have none. */
  environment: string | null;
  /**
   * A client token limited to one flag set (flagd `flagSetId`) receives only that set's flags; null: every flag of
   * its environment.
   */
  flagSet: string | null;
  /** SHA-256 (hex) of the token; never returned over the API. */
  hash: string;
  createdAt: string;
  revokedAt: string | null;
}

/** What `createToken` stores; `flagSet` defaults to null (every flag of the environment). */
export type NewToken = Omit<StoredToken, 'createdAt' | 'revokedAt' | 'flagSet'> & { flagSet?: string | null };

/** `secret`: a secret bundle (`service/bundle`) — its rotations' steps; the records carry versions, never a value. */
export type EntityType = 'flag' | 'evaluator' | 'token' | 'secret';
/**
 * `revert`: a flag replaced by its own earlier version (POST /flags/{key}/revert), recorded apart from edits.
 * `rotate` / `rollback`: one step of a secret bundle's rotation or rollback (`after` says which and how it went).
 */
export type AuditAction = 'create' | 'update' | 'delete' | 'revoke' | 'revert' | 'rotate' | 'rollback';

/**
 * One step of a secret rotation for the audit log. `details` holds the rotation id, the event, step, outcome,
 * versions and a reason — names, numbers and times only; the caller never puts a value in it.
 */
export interface SecretAuditInput {
  at: string;
  actor: Actor;
  /** `service/bundle`. */
  bundle: string;
  action: 'rotate' | 'rollback';
  details: JsonObject;
}

/**
 * A secret rotation's state as the secrets feature keeps it (a JSON object with id, bundle, status, startedAt, steps,
 * versions, times and reasons — never a value). The store indexes the first four; the rest is opaque to it.
 */
export interface StoredSecretRotation {
  id: string;
  bundle: string;
  status: string;
  startedAt: string;
  state: JsonObject;
}

export interface AuditRecord {
  revision: number;
  at: string;
  actor: string;
  entityType: EntityType;
  entityKey: string;
  action: AuditAction;
  /** The entity before and after the change (null when absent). Token records hold metadata, never hashes. */
  before: unknown;
  after: unknown;
}

export interface AuditQuery {
  entityType?: EntityType;
  entityKey?: string;
  actor?: string;
  /** ISO timestamps, inclusive. */
  since?: string;
  until?: string;
  /** Only records with a revision below this (for paging backwards). */
  beforeRevision?: number;
  /** Default 100, max 1000. Newest first. */
  limit?: number;
}

export interface WriteOptions {
  ifRevision?: number;
}

/** A whole-flag replacement: an edit (`update`, the default) or a return to an earlier version (`revert`). */
export interface ReplaceOptions extends WriteOptions {
  action?: 'update' | 'revert';
}

export interface WriteResult {
  revision: number;
}

/** A canary run's state as the traffic package defines it, stored as JSON with its own revision. */
export interface StoredCanary {
  service: string;
  state: JsonObject;
  /** Bumped by every save; the optimistic-concurrency token of `saveCanary`. */
  revision: number;
  updatedAt: string;
}

export interface CanaryDecisionInput {
  runId: string;
  at: string;
  decision: JsonObject;
}

/** Mutates a copy of the current flag inside the write transaction; throw an AppError to abort with nothing written. */
export type FlagMutation = (current: Flag) => Flag;

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending versioned migrations; safe to call from several replicas at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Throws when the database cannot answer (readiness). */
  ping(): Promise<void>;
  currentRevision(): Promise<number>;

  listFlags(): Promise<StoredFlag[]>;
  getFlag(key: string): Promise<StoredFlag | undefined>;
  /** Throws AppError FLAG_EXISTS (and writes nothing, bumps no revision) if the key exists. */
  createFlag(flag: Flag, actor: Actor): Promise<StoredFlag>;
  /**
   * Creates each flag whose key does not exist yet, in one transaction: all of them or none. Each created flag is
   * a change of its own (its own revision, in the order given, and its own audit record); a key that exists is left
   * as it is and listed in `existing`. Keys must be distinct.
   */
  createFlags(flags: readonly Flag[], actor: Actor): Promise<{ created: StoredFlag[]; existing: string[] }>;
  /** Throws FLAG_NOT_FOUND or PRECONDITION_FAILED. `flag.key` must equal `key`. */
  replaceFlag(key: string, flag: Flag, actor: Actor, options?: ReplaceOptions): Promise<StoredFlag>;
  /** Read-modify-write in one transaction (row locked on PostgreSQL). Throws FLAG_NOT_FOUND / PRECONDITION_FAILED. */
  updateFlag(key: string, mutate: FlagMutation, actor: Actor, options?: WriteOptions): Promise<StoredFlag>;
  deleteFlag(key: string, actor: Actor, options?: WriteOptions): Promise<WriteResult>;

  listEvaluators(): Promise<StoredEvaluator[]>;
  getEvaluator(name: string): Promise<StoredEvaluator | undefined>;
  /** Creates or replaces. */
  putEvaluator(name: string, logic: JsonObject, actor: Actor, options?: WriteOptions): Promise<StoredEvaluator>;
  /** Throws EVALUATOR_NOT_FOUND. */
  deleteEvaluator(name: string, actor: Actor, options?: WriteOptions): Promise<WriteResult>;

  createToken(token: NewToken, actor: Actor): Promise<StoredToken>;
  listTokens(): Promise<StoredToken[]>;
  getToken(id: string): Promise<StoredToken | undefined>;
  /** Throws TOKEN_NOT_FOUND; revoking a revoked token is a no-op that returns it unchanged (no revision). */
  revokeToken(id: string, actor: Actor): Promise<StoredToken>;

  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;

  listCanaries(): Promise<StoredCanary[]>;
  getCanary(service: string): Promise<StoredCanary | undefined>;
  /**
   * Writes the canary's state and appends `decision` (if any) in one transaction, only if its revision is
   * `expectedRevision` (null: no row may exist yet); otherwise throws PRECONDITION_FAILED and writes nothing.
   */
  saveCanary(
    service: string,
    state: JsonObject,
    decision: CanaryDecisionInput | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanary>;
  /** A run's decisions, oldest first; the newest `limit` (default 1000) when there are more. */
  listCanaryDecisions(service: string, runId: string, limit?: number): Promise<JsonObject[]>;
  /**
   * Replaces this replica's presence report (who is connected to it), valid until `expiresAt` (epoch ms). Reports
   * are JSON objects the clients feature writes and reads; the store keeps them as they are.
   */
  putPresence(replicaId: string, report: JsonObject, expiresAt: number): Promise<void>;
  /** Every report not expired at `now`, by replica id; expired rows are deleted on the way. */
  listPresence(now: number): Promise<{ replicaId: string; report: JsonObject }[]>;
  deletePresence(replicaId: string): Promise<void>;
  /**
   * Appends a secret rotation step to the audit log: bumps the revision like any write (the audit log is keyed by
   * it) and returns the record. Replicas catching up skip `secret` entries (there is no state to reload).
   */
  appendSecretAudit(input: SecretAuditInput): Promise<AuditRecord>;

  /**
   * Saves `rotation` as running for its bundle unless another rotation of the same bundle is running and was saved
   * after `staleBefore` (epoch ms; older ones are abandoned, their process gone). Returns false, writing nothing,
   * when another holds the bundle. Atomic across processes and replicas sharing the database.
   */
  claimSecretRotation(rotation: StoredSecretRotation, staleBefore: number, now: number): Promise<boolean>;
  /** Creates or replaces the rotation's row (`now`, epoch ms, is its heartbeat). */
  saveSecretRotation(rotation: StoredSecretRotation, now: number): Promise<void>;
  getSecretRotation(id: string): Promise<StoredSecretRotation | undefined>;
  /** Newest first (by start time); every bundle's when `bundle` is omitted. */
  listSecretRotations(bundle?: string): Promise<StoredSecretRotation[]>;

  /** Entities changed after `revision`, oldest first; used by replicas to catch up. */
  changesSince(revision: number): Promise<{ revision: number; entityType: EntityType; entityKey: string }[]>;
}

export type { Evaluators };
