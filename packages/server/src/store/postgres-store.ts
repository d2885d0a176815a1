import type { Flag, JsonObject } from '@runtime-control/core';
import pg from 'pg';
import { AppError } from '../errors/app-error.js';
import { migratePostgres } from './migrations.js';
import { inTransaction } from './pg-transaction.js';
import type {
  Actor,
  AuditAction,
  AuditQuery,
  AuditRecord,
  CanaryDecisionInput,
  EntityType,
  FlagMutation,
  NewToken,
  ReplaceOptions,
  SecretAuditInput,
  Store,
  StoredCanary,
  StoredEvaluator,
  StoredFlag,
  StoredSecretRotation,
  StoredToken,
  WriteOptions,
  WriteResult,
} from './store.js';
import {
  assertDistinctKeys,
  assertSameKey,
  auditLimit,
  checkRevision,
  copyJson,
  isJsonObject,
  isoTime,
  jsonOrNull,
  readStoredFlag,
  tokenMetadata,
} from './store-rules.js';

type Client = pg.PoolClient;

/**
 * The store for scale-out. Every write transaction ends by bumping the single `rc_meta` row: that row lock is held
 * until COMMIT, so revisions are handed out in commit order and a reader of `changesSince(N)` cannot miss a lower
 * revision committed later. Precondition checks and the main write happen first (under row locks), so a write that
 * fails with 404/409/412 never touches the counter, and the counter is held only for the short tail of a write.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(url: string, options: { poolSize?: number } = {}) {
    this.pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client losing its connection must not crash the process; the next query (or ping) reports it.
    this.pool.on('error', () => {});
  }

  async migrate(): Promise<void> {
    await migratePostgres(this.pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async currentRevision(): Promise<number> {
    const { rows } = await this.pool.query<{ revision: string }>('SELECT revision FROM rc_meta WHERE id = 1');
    return Number(rows[0]!.revision);
  }

  async listFlags(): Promise<StoredFlag[]> {
    const { rows } = await this.pool.query<FlagRow>('SELECT * FROM flags ORDER BY key');
    return rows.map(toStoredFlag);
  }

  async getFlag(key: string): Promise<StoredFlag | undefined> {
    const { rows } = await this.pool.query<FlagRow>('SELECT * FROM flags WHERE key = $1', [key]);
    return rows[0] && toStoredFlag(rows[0]);
  }

  async createFlag(flag: Flag, actor: Actor): Promise<StoredFlag> {
    const stored = copyJson(flag);
    return this.transaction(async (client) => {
      const now = new Date().toISOString();
      // A concurrent create of the same key blocks on the unique index until the other commits, then finds it.
      const inserted = await client.query(
        `INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES ($1, $2, 0, $3, $3)
         ON CONFLICT (key) DO NOTHING`,
        [flag.key, JSON.stringify(stored), now],
      );
      if (inserted.rowCount === 0) throw new AppError('FLAG_EXISTS', `flag "${flag.key}" already exists`);
      const revision = await appendAudit(client, now, actor, 'flag', flag.key, 'create', null, stored);
      await client.query('UPDATE flags SET revision = $1 WHERE key = $2', [revision, flag.key]);
      return { flag: stored, revision, createdAt: now, updatedAt: now };
    });
  }

  async createFlags(flags: readonly Flag[], actor: Actor): Promise<{ created: StoredFlag[]; existing: string[] }> {
    assertDistinctKeys(flags);
    const copies = flags.map((f) => copyJson(f));
    return this.transaction(async (client) => {
      const created: StoredFlag[] = [];
      const existing: string[] = [];
      const now = new Date().toISOString();
      for (const stored of copies) {
        // As createFlag: a concurrent create of the same key blocks on the unique index, then finds it.
        const inserted = await client.query(
          `INSERT INTO flags (key, definition, revision, created_at, updated_at) VALUES ($1, $2, 0, $3, $3)
           ON CONFLICT (key) DO NOTHING`,
          [stored.key, JSON.stringify(stored), now],
        );
        if (inserted.rowCount === 0) {
          existing.push(stored.key);
          continue;
        }
        const revision = await appendAudit(client, now, actor, 'flag', stored.key, 'create', null, stored);
        await client.query('UPDATE flags SET revision = $1 WHERE key = $2', [revision, stored.key]);
        created.push({ flag: stored, revision, createdAt: now, updatedAt: now });
      }
      return { created, existing };
    });
  }

  async replaceFlag(key: string, flag: Flag, actor: Actor, options: ReplaceOptions = {}): Promise<StoredFlag> {
    assertSameKey(key, flag);
    const stored = copyJson(flag);
    return this.transaction(async (client) =>
      overwriteFlag(client, await lockFlag(client, key, options), stored, actor, options.action),
    );
  }

  async updateFlag(key: string, mutate: FlagMutation, actor: Actor, options: WriteOptions = {}): Promise<StoredFlag> {
    return this.transaction(async (client) => {
      const current = await lockFlag(client, key, options);
      const next = copyJson(mutate(copyJson(current.flag)));
      assertSameKey(key, next);
      return overwriteFlag(client, current, next, actor);
    });
  }

  async deleteFlag(key: string, actor: Actor, options: WriteOptions = {}): Promise<WriteResult> {
    return this.transaction(async (client) => {
      const current = await lockFlag(client, key, options);
      await client.query('DELETE FROM flags WHERE key = $1', [key]);
      const revision = await appendAudit(
        client,
        new Date().toISOString(),
        actor,
        'flag',
        key,
        'delete',
        current.flag,
        null,
      );
      return { revision };
    });
  }

  async listEvaluators(): Promise<StoredEvaluator[]> {
    const { rows } = await this.pool.query<EvaluatorRow>('SELECT * FROM evaluators ORDER BY name');
    return rows.map(toStoredEvaluator);
  }

  async getEvaluator(name: string): Promise<StoredEvaluator | undefined> {
    const { rows } = await this.pool.query<EvaluatorRow>('SELECT * FROM evaluators WHERE name = $1', [name]);
    return rows[0] && toStoredEvaluator(rows[0]);
  }

  async putEvaluator(
    name: string,
    logic: JsonObject,
    actor: Actor,
    options: WriteOptions = {},
  ): Promise<StoredEvaluator> {
    const stored = copyJson(logic);
    return this.transaction(async (client) => {
      let current = await lockEvaluator(client, name);
      if (!current) {
        checkRevision(`evaluator "${name}"`, undefined, options);
        const inserted = await client.query(
          'INSERT INTO evaluators (name, logic, revision) VALUES ($1, $2, 0) ON CONFLICT (name) DO NOTHING',
          [name, JSON.stringify(stored)],
        );
        // Lost a race with a concurrent create, which has committed by now: replace it like any existing one.
        if (inserted.rowCount === 0) current = await lockEvaluator(client, name);
      }
      if (current) {
        checkRevision(`evaluator "${name}"`, current.revision, options);
        await client.query('UPDATE evaluators SET logic = $2 WHERE name = $1', [name, JSON.stringify(stored)]);
      }
      const revision = await appendAudit(
        client,
        new Date().toISOString(),
        actor,
        'evaluator',
        name,
        current ? 'update' : 'create',
        current ? { name, logic: current.logic } : null,
        { name, logic: stored },
      );
      await client.query('UPDATE evaluators SET revision = $2 WHERE name = $1', [name, revision]);
      return { name, logic: stored, revision };
    });
  }

  async deleteEvaluator(name: string, actor: Actor, options: WriteOptions = {}): Promise<WriteResult> {
    return this.transaction(async (client) => {
      const current = await lockEvaluator(client, name);
      if (!current) throw new AppError('EVALUATOR_NOT_FOUND', `evaluator "${name}" not found`);
      checkRevision(`evaluator "${name}"`, current.revision, options);
      await client.query('DELETE FROM evaluators WHERE name = $1', [name]);
      const revision = await appendAudit(
        client,
        new Date().toISOString(),
        actor,
        'evaluator',
        name,
        'delete',
        { name, logic: current.logic },
        null,
      );
      return { revision };
    });
  }

  async createToken(token: NewToken, actor: Actor): Promise<StoredToken> {
    return this.transaction(async (client) => {
      const stored: StoredToken = {
        id: token.id,
        name: token.name,
        kind: token.kind,
        environment: token.environment,
        flagSet: token.flagSet ?? null,
        hash: token.hash,
        createdAt: new Date().toISOString(),
        revokedAt: null,
      };
      await client.query(
        `INSERT INTO tokens (id, name, kind, environment, flag_set, hash, created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
        [stored.id, stored.name, stored.kind, stored.environment, stored.flagSet, stored.hash, stored.createdAt],
      );
      await appendAudit(client, stored.createdAt, actor, 'token', stored.id, 'create', null, tokenMetadata(stored));
      return stored;
    });
  }

  async listTokens(): Promise<StoredToken[]> {
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id');
    return rows.map(toStoredToken);
  }

  async getToken(id: string): Promise<StoredToken | undefined> {
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM tokens WHERE id = $1', [id]);
    return rows[0] && toStoredToken(rows[0]);
  }

  async revokeToken(id: string, actor: Actor): Promise<StoredToken> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<TokenRow>('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw new AppError('TOKEN_NOT_FOUND', `token "${id}" not found`);
      const current = toStoredToken(rows[0]);
      if (current.revokedAt !== null) return current;
      const revokedAt = new Date().toISOString();
      const revoked: StoredToken = { ...current, revokedAt };
      await client.query('UPDATE tokens SET revoked_at = $2 WHERE id = $1', [id, revokedAt]);
      await appendAudit(
        client,
        revokedAt,
        actor,
        'token',
        id,
        'revoke',
        tokenMetadata(current),
        tokenMetadata(revoked),
      );
      return revoked;
    });
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const params: (string | number)[] = [];
    const where = (sql: (placeholder: string) => string, value: string | number) => {
      params.push(value);
      conditions.push(sql(`$${params.length}`));
    };
    if (query.entityType !== undefined) where((p) => `entity_type = ${p}`, query.entityType);
    if (query.entityKey !== undefined) where((p) => `entity_key = ${p}`, query.entityKey);
    if (query.actor !== undefined) where((p) => `actor = ${p}`, query.actor);
    if (query.since !== undefined) where((p) => `at >= ${p}`, isoTime(query.since, 'since'));
    if (query.until !== undefined) where((p) => `at <= ${p}`, isoTime(query.until, 'until'));
    if (query.beforeRevision !== undefined) where((p) => `revision < ${p}`, query.beforeRevision);
    params.push(auditLimit(query.limit));
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT * FROM audit ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY revision DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toAuditRecord);
  }

  async changesSince(revision: number): Promise<{ revision: number; entityType: EntityType; entityKey: string }[]> {
    const { rows } = await this.pool.query<Pick<AuditRow, 'revision' | 'entity_type' | 'entity_key'>>(
      'SELECT revision, entity_type, entity_key FROM audit WHERE revision > $1 ORDER BY revision',
      [revision],
    );
    return rows.map((r) => ({ revision: Number(r.revision), entityType: r.entity_type, entityKey: r.entity_key }));
  }

  async appendSecretAudit(input: SecretAuditInput): Promise<AuditRecord> {
    const at = isoTime(input.at, 'at');
    const details = copyJson(input.details);
    const revision = await this.transaction((client) =>
      appendAudit(client, at, input.actor, 'secret', input.bundle, input.action, null, details),
    );
    return {
      revision,
      at,
      actor: input.actor.name,
      entityType: 'secret',
      entityKey: input.bundle,
      action: input.action,
      before: null,
      after: details,
    };
  }

  async claimSecretRotation(rotation: StoredSecretRotation, staleBefore: number, now: number): Promise<boolean> {
    return this.transaction(async (client) => {
      // A transaction-scoped advisory lock per bundle: replicas claiming the same bundle at once take turns through
      // the check below, so exactly one sees no running holder (a row lock cannot cover a row that does not exist).
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SECRET_ROTATION_LOCK_KEY, rotation.bundle]);
      const holder = await client.query(
        "SELECT id FROM secret_rotations WHERE bundle = $1 AND status = 'running' AND id <> $2 AND updated_at > $3",
        [rotation.bundle, rotation.id, staleBefore],
      );
      if (holder.rows.length > 0) return false;
      await upsertSecretRotation(client, { ...rotation, status: 'running' }, now);
      return true;
    });
  }

  async saveSecretRotation(rotation: StoredSecretRotation, now: number): Promise<void> {
    await upsertSecretRotation(this.pool, rotation, now);
  }

  async getSecretRotation(id: string): Promise<StoredSecretRotation | undefined> {
    const { rows } = await this.pool.query<SecretRotationRow>('SELECT * FROM secret_rotations WHERE id = $1', [id]);
    return rows[0] && toStoredSecretRotation(rows[0]);
  }

  async listSecretRotations(bundle?: string): Promise<StoredSecretRotation[]> {
    const { rows } =
      bundle === undefined
        ? await this.pool.query<SecretRotationRow>('SELECT * FROM secret_rotations ORDER BY started_at DESC, id DESC')
        : await this.pool.query<SecretRotationRow>(
            'SELECT * FROM secret_rotations WHERE bundle = $1 ORDER BY started_at DESC, id DESC',
            [bundle],
          );
    return rows.map(toStoredSecretRotation);
  }

  async putPresence(replicaId: string, report: JsonObject, expiresAt: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO replica_presence (replica_id, report, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (replica_id) DO UPDATE SET report = excluded.report, expires_at = excluded.expires_at`,
      [replicaId, JSON.stringify(report), expiresAt],
    );
  }

  async listPresence(now: number): Promise<{ replicaId: string; report: JsonObject }[]> {
    await this.pool.query('DELETE FROM replica_presence WHERE expires_at <= $1', [now]);
    const { rows } = await this.pool.query<{ replica_id: string; report: unknown }>(
      'SELECT replica_id, report FROM replica_presence ORDER BY replica_id',
    );
    return rows.flatMap((r) =>
      isJsonObject(r.report) ? [{ replicaId: r.replica_id, report: r.report as JsonObject }] : [],
    );
  }

  async deletePresence(replicaId: string): Promise<void> {
    await this.pool.query('DELETE FROM replica_presence WHERE replica_id = $1', [replicaId]);
  }

  async listCanaries(): Promise<StoredCanary[]> {
    const { rows } = await this.pool.query<CanaryRow>('SELECT * FROM canaries ORDER BY service');
    return rows.map(toStoredCanary);
  }

  async getCanary(service: string): Promise<StoredCanary | undefined> {
    const { rows } = await this.pool.query<CanaryRow>('SELECT * FROM canaries WHERE service = $1', [service]);
    return rows[0] && toStoredCanary(rows[0]);
  }

  async saveCanary(
    service: string,
    state: JsonObject,
    decision: CanaryDecisionInput | undefined,
    expectedRevision: number | null,
  ): Promise<StoredCanary> {
    const stored = copyJson(state);
    return this.transaction(async (client) => {
      const now = new Date().toISOString();
      // The conditional write is the check: a racing replica either blocks on the row lock and then matches no
      // row (its revision is stale), or loses the INSERT on the primary key.
      const result =
        expectedRevision === null
          ? await client.query<CanaryRow>(
              `INSERT INTO canaries (service, state, revision, updated_at) VALUES ($1, $2, 1, $3)
               ON CONFLICT (service) DO NOTHING RETURNING *`,
              [service, JSON.stringify(stored), now],
            )
          : await client.query<CanaryRow>(
              `UPDATE canaries SET state = $2, revision = revision + 1, updated_at = $3
               WHERE service = $1 AND revision = $4 RETURNING *`,
              [service, JSON.stringify(stored), now, expectedRevision],
            );
      if (!result.rows[0]) {
        throw new AppError(
          'PRECONDITION_FAILED',
          `canary "${service}" is not at revision ${expectedRevision ?? 'none'} (changed concurrently)`,
        );
      }
      if (decision) {
        await client.query('INSERT INTO canary_decisions (service, run_id, at, decision) VALUES ($1, $2, $3, $4)', [
          service,
          decision.runId,
          decision.at,
          JSON.stringify(decision.decision),
        ]);
      }
      return toStoredCanary(result.rows[0]);
    });
  }

  async listCanaryDecisions(service: string, runId: string, limit = 1000): Promise<JsonObject[]> {
    const { rows } = await this.pool.query<{ decision: JsonObject }>(
      'SELECT decision FROM canary_decisions WHERE service = $1 AND run_id = $2 ORDER BY id DESC LIMIT $3',
      [service, runId, Math.max(1, Math.trunc(limit))],
    );
    return rows.reverse().map((r) => r.decision);
  }

  /** Runs `work` between BEGIN and COMMIT on one pooled connection; any throw rolls back and is rethrown. */
  private transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }
}

/** Connects, applies pending migrations (safe from several replicas at once) and returns the store. */
export async function createPostgresStore(url: string, options: { poolSize?: number } = {}): Promise<Store> {
  const store = new PostgresStore(url, options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** First key of the two-key advisory lock that serializes claims of one bundle's rotation (the second: the bundle). */
const SECRET_ROTATION_LOCK_KEY = 7_215_531;

async function upsertSecretRotation(
  client: Client | pg.Pool,
  rotation: StoredSecretRotation,
  now: number,
): Promise<void> {
  await client.query(
    `INSERT INTO secret_rotations (id, bundle, status, started_at, updated_at, state) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`,
    [rotation.id, rotation.bundle, rotation.status, rotation.startedAt, now, JSON.stringify(rotation.state)],
  );
}

interface SecretRotationRow {
  id: string;
  bundle: string;
  status: string;
  started_at: string;
  state: JsonObject;
}

function toStoredSecretRotation(row: SecretRotationRow): StoredSecretRotation {
  return { id: row.id, bundle: row.bundle, status: row.status, startedAt: row.started_at, state: row.state };
}

/**
 * Bumps the global revision and appends the audit record in one statement; returns the new revision. Called last in
 * a write transaction, so the `rc_meta` row lock that serializes writes is held only until the imminent COMMIT.
 */
async function appendAudit(
  client: Client,
  at: string,
  actor: Actor,
  entityType: EntityType,
  entityKey: string,
  action: AuditAction,
  before: unknown,
  after: unknown,
): Promise<number> {
  const { rows } = await client.query<{ revision: string }>(
    `WITH bumped AS (UPDATE rc_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision)
     INSERT INTO audit (revision, at, actor, entity_type, entity_key, action, before, after)
     SELECT revision, $1::timestamptz, $2, $3, $4, $5, $6::jsonb, $7::jsonb FROM bumped
     RETURNING revision`,
    [at, actor.name, entityType, entityKey, action, jsonOrNull(before), jsonOrNull(after)],
  );
  return Number(rows[0]!.revision);
}

/** Locks the flag row for the rest of the transaction and checks existence and the `ifRevision` precondition. */
async function lockFlag(client: Client, key: string, options: WriteOptions): Promise<StoredFlag> {
  const { rows } = await client.query<FlagRow>('SELECT * FROM flags WHERE key = $1 FOR UPDATE', [key]);
  if (!rows[0]) throw new AppError('FLAG_NOT_FOUND', `flag "${key}" not found`);
  const current = toStoredFlag(rows[0]);
  checkRevision(`flag "${key}"`, current.revision, options);
  return current;
}

async function lockEvaluator(client: Client, name: string): Promise<StoredEvaluator | undefined> {
  const { rows } = await client.query<EvaluatorRow>('SELECT * FROM evaluators WHERE name = $1 FOR UPDATE', [name]);
  return rows[0] && toStoredEvaluator(rows[0]);
}

async function overwriteFlag(
  client: Client,
  current: StoredFlag,
  next: Flag,
  actor: Actor,
  action: 'update' | 'revert' = 'update',
): Promise<StoredFlag> {
  const now = new Date().toISOString();
  await client.query('UPDATE flags SET definition = $2, updated_at = $3 WHERE key = $1', [
    next.key,
    JSON.stringify(next),
    now,
  ]);
  const revision = await appendAudit(client, now, actor, 'flag', next.key, action, current.flag, next);
  await client.query('UPDATE flags SET revision = $2 WHERE key = $1', [next.key, revision]);
  return { flag: next, revision, createdAt: current.createdAt, updatedAt: now };
}

/** pg returns bigint as string (it may exceed 2^53) and timestamptz as Date; the API wants numbers and ISO strings. */
interface FlagRow {
  key: string;
  definition: Flag;
  revision: string;
  created_at: Date;
  updated_at: Date;
}

interface EvaluatorRow {
  name: string;
  logic: JsonObject;
  revision: string;
}

interface TokenRow {
  id: string;
  name: string;
  kind: StoredToken['kind'];
  environment: string | null;
  flag_set: string | null;
  hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

interface AuditRow {
  revision: string;
  at: Date;
  actor: string;
  entity_type: EntityType;
  entity_key: string;
  action: AuditAction;
  before: unknown;
  after: unknown;
}

interface CanaryRow {
  service: string;
  state: JsonObject;
  revision: string;
  updated_at: Date;
}

function toStoredCanary(row: CanaryRow): StoredCanary {
  return {
    service: row.service,
    state: row.state,
    revision: Number(row.revision),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toStoredFlag(row: FlagRow): StoredFlag {
  const read = readStoredFlag(row.key, { ok: true, value: row.definition });
  const stored: StoredFlag = {
    flag: read.flag,
    revision: Number(row.revision),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
  if (read.unreadable) stored.unreadable = read.unreadable;
  return stored;
}

function toStoredEvaluator(row: EvaluatorRow): StoredEvaluator {
  return { name: row.name, logic: row.logic, revision: Number(row.revision) };
}

function toStoredToken(row: TokenRow): StoredToken {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    environment: row.environment,
    flagSet: row.flag_set,
    hash: row.hash,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    revision: Number(row.revision),
    at: row.at.toISOString(),
    actor: row.actor,
    entityType: row.entity_type,
    entityKey: row.entity_key,
    action: row.action,
    before: row.before ?? null,
    after: row.after ?? null,
  };
}
