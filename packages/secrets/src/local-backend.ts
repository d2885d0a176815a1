import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type {
  SecretBackend,
  SecretData,
  SecretMetadata,
  SecretSubkeys,
  SecretVersionMetadata,
  SubkeyTree,
  WriteOptions,
} from './backend.js';
import {
  BackendRequestError,
  CasMismatchError,
  SecretNotFoundError,
  SecretsKeyError,
  SecretVersionDeletedError,
} from './errors.js';
import { checkPath } from './paths.js';
import { keyFingerprint } from './secrets-key.js';
import { CAS_MISMATCH_MESSAGE, CAS_REQUIRED_MESSAGE } from './vault-client.js';

export interface LocalSecretBackendOptions {
  /** A SQLite file (`<dataDir>/secrets.db`), `:memory:`, or an open better-sqlite3 database to add tables to. */
  database: string | Database.Database;
  /** 32 bytes (see `loadSecretsKey`). */
  key: Buffer;
  /** Versions kept per secret before the oldest are removed; 10 as in KV v2. */
  maxVersions?: number;
  /** Every write must carry `cas` (KV v2's `cas_required` for every path). */
  casRequired?: boolean;
  now?: () => number;
}

interface SecretRow {
  path: string;
  cas_required: number;
  max_versions: number;
  created_time: string;
  updated_time: string;
  current_version: number;
  oldest_version: number;
  custom_metadata: string | null;
}

interface VersionRow {
  path: string;
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: number;
  subkeys: string;
  nonce: Buffer | null;
  ciphertext: Buffer | null;
  tag: Buffer | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rc_secrets_keycheck (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rc_secrets (
  path TEXT PRIMARY KEY,
  cas_required INTEGER NOT NULL DEFAULT 0,
  max_versions INTEGER NOT NULL DEFAULT 0,
  created_time TEXT NOT NULL,
  updated_time TEXT NOT NULL,
  current_version INTEGER NOT NULL,
  oldest_version INTEGER NOT NULL,
  custom_metadata TEXT
);
CREATE TABLE IF NOT EXISTS rc_secret_versions (
  path TEXT NOT NULL REFERENCES rc_secrets(path) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  created_time TEXT NOT NULL,
  deletion_time TEXT NOT NULL DEFAULT '',
  destroyed INTEGER NOT NULL DEFAULT 0,
  subkeys TEXT NOT NULL,
  nonce BLOB,
  ciphertext BLOB,
  tag BLOB,
  PRIMARY KEY (path, version)
);
`;

const DEFAULT_MAX_VERSIONS = 10;

/**
 * The embedded default: secrets in SQLite, each version's data encrypted with AES-256-GCM (a random 96-bit nonce per
 * version, the path and version number as additional data so a row cannot be moved to another secret or version),
 * with KV v2's versions and metadata (current/oldest version, created/updated times, soft delete, undelete, destroy,
 * check-and-set, max versions). Property names are kept in clear (KV v2's `subkeys/` shows them too) so that status
 * never decrypts anything. The key's fingerprint is stored to refuse a wrong key at open, before any write.
 */
export class LocalSecretBackend implements SecretBackend {
  readonly kind = 'local' as const;
  private readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly key: Buffer;
  private readonly maxVersions: number;
  private readonly casRequired: boolean;
  private readonly now: () => number;

  constructor(options: LocalSecretBackendOptions) {
    if (options.key.length !== 32) {
      throw new SecretsKeyError('KEY_INVALID', 'the key must be 32 bytes', { operation: 'open', backend: 'local' });
    }
    this.key = Buffer.from(options.key);
    this.maxVersions = options.maxVersions ?? DEFAULT_MAX_VERSIONS;
    this.casRequired = options.casRequired ?? false;
    this.now = options.now ?? Date.now;
    this.ownsDb = typeof options.database === 'string';
    this.db = typeof options.database === 'string' ? new Database(options.database) : options.database;
    if (this.ownsDb) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
    }
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    const fingerprint = keyFingerprint(this.key);
    const stored = this.db.prepare('SELECT fingerprint FROM rc_secrets_keycheck WHERE id = 1').get() as
      | { fingerprint: string }
      | undefined;
    if (!stored) {
      this.db.prepare('INSERT OR IGNORE INTO rc_secrets_keycheck (id, fingerprint) VALUES (1, ?)').run(fingerprint);
    } else if (stored.fingerprint !== fingerprint) {
      if (this.ownsDb) this.db.close();
      throw new SecretsKeyError(
        'KEY_INVALID',
        'this key is not the one the secrets store was created with (check RC_SECRETS_KEY or the key file)',
        { operation: 'open', backend: 'local' },
      );
    }
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  async readMetadata(path: string): Promise<SecretMetadata> {
    checkPath(path, 'local', 'readMetadata');
    const secret = this.secret(path);
    if (!secret) throw notFound('readMetadata', path);
    const versions: SecretMetadata['versions'] = {};
    for (const v of this.db
      .prepare(
        'SELECT version, created_time, deletion_time, destroyed FROM rc_secret_versions WHERE path = ? ORDER BY version',
      )
      .all(path) as VersionRow[]) {
      versions[String(v.version)] = {
        createdTime: v.created_time,
        deletionTime: v.deletion_time,
        destroyed: v.destroyed === 1,
      };
    }
    return {
      path,
      casRequired: secret.cas_required === 1 || this.casRequired,
      createdTime: secret.created_time,
      updatedTime: secret.updated_time,
      currentVersion: secret.current_version,
      oldestVersion: secret.oldest_version,
      maxVersions: secret.max_versions,
      customMetadata:
        secret.custom_metadata === null ? null : (JSON.parse(secret.custom_metadata) as Record<string, string>),
      versions,
    };
  }

  async readSubkeys(path: string, options: { version?: number } = {}): Promise<SecretSubkeys> {
    checkPath(path, 'local', 'readSubkeys');
    const row = this.liveVersion('readSubkeys', path, options.version);
    return { path, subkeys: JSON.parse(row.subkeys) as SubkeyTree, version: versionMeta(row) };
  }

  async write(path: string, data: SecretData, options: WriteOptions = {}): Promise<SecretVersionMetadata> {
    checkPath(path, 'local', 'write');
    checkData('write', path, data);
    return this.db
      .transaction(() => {
        this.checkCas('write', path, this.secret(path), options.cas);
        return this.insertVersion(path, data);
      })
      .immediate();
  }

  async patch(path: string, data: SecretData, options: WriteOptions = {}): Promise<SecretVersionMetadata> {
    checkPath(path, 'local', 'patch');
    checkData('patch', path, data);
    return this.db
      .transaction(() => {
        const secret = this.secret(path);
        const current = secret && this.versionRow(path, secret.current_version);
        if (!secret || !current || current.deletion_time !== '' || current.destroyed === 1)
          throw notFound('patch', path);
        this.checkCas('patch', path, secret, options.cas);
        const merged = mergePatch(this.decrypt('patch', current), data) as SecretData;
        return this.insertVersion(path, merged);
      })
      .immediate();
  }

  async readData(
    path: string,
    options: { version?: number } = {},
  ): Promise<{ data: SecretData; version: SecretVersionMetadata }> {
    checkPath(path, 'local', 'readData');
    const row = this.liveVersion('readData', path, options.version);
    return { data: this.decrypt('readData', row), version: versionMeta(row) };
  }

  async list(folder: string): Promise<string[]> {
    const trimmed = folder.replace(/^\/+|\/+$/g, '');
    const base = trimmed === '' ? '' : `${trimmed}/`;
    const keys = new Set<string>();
    for (const { path } of this.db.prepare('SELECT path FROM rc_secrets ORDER BY path').all() as { path: string }[]) {
      if (!path.startsWith(base)) continue;
      const rest = path.slice(base.length);
      const slash = rest.indexOf('/');
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) throw notFound('list', base);
    return [...keys].sort();
  }

  async deleteVersions(path: string, versions: number[]): Promise<void> {
    checkPath(path, 'local', 'deleteVersions');
    const stmt = this.db.prepare(
      "UPDATE rc_secret_versions SET deletion_time = ? WHERE path = ? AND version = ? AND deletion_time = '' AND destroyed = 0",
    );
    const now = this.timestamp();
    this.db.transaction(() => {
      for (const v of versions) stmt.run(now, path, v);
      this.touch(path, now);
    })();
  }

  async undeleteVersions(path: string, versions: number[]): Promise<void> {
    checkPath(path, 'local', 'undeleteVersions');
    const stmt = this.db.prepare(
      "UPDATE rc_secret_versions SET deletion_time = '' WHERE path = ? AND version = ? AND destroyed = 0",
    );
    this.db.transaction(() => {
      for (const v of versions) stmt.run(path, v);
      this.touch(path, this.timestamp());
    })();
  }

  /** KV v2 `destroy`: the version's ciphertext is removed for good; its metadata stays. */
  async destroyVersions(path: string, versions: number[]): Promise<void> {
    checkPath(path, 'local', 'destroyVersions');
    const stmt = this.db.prepare(
      'UPDATE rc_secret_versions SET destroyed = 1, nonce = NULL, ciphertext = NULL, tag = NULL WHERE path = ? AND version = ?',
    );
    this.db.transaction(() => {
      for (const v of versions) stmt.run(path, v);
      this.touch(path, this.timestamp());
    })();
  }

  /** KV v2 `metadata` write: `cas_required`, `max_versions`, `custom_metadata` for one path (created if absent). */
  async writeMetadata(
    path: string,
    options: { casRequired?: boolean; maxVersions?: number; customMetadata?: Record<string, string> },
  ): Promise<void> {
    checkPath(path, 'local', 'writeMetadata');
    const now = this.timestamp();
    this.db.transaction(() => {
      if (!this.secret(path)) {
        this.db
          .prepare(
            'INSERT INTO rc_secrets (path, created_time, updated_time, current_version, oldest_version) VALUES (?, ?, ?, 0, 0)',
          )
          .run(path, now, now);
      }
      if (options.casRequired !== undefined) {
        this.db.prepare('UPDATE rc_secrets SET cas_required = ? WHERE path = ?').run(options.casRequired ? 1 : 0, path);
      }
      if (options.maxVersions !== undefined) {
        this.db.prepare('UPDATE rc_secrets SET max_versions = ? WHERE path = ?').run(options.maxVersions, path);
      }
      if (options.customMetadata !== undefined) {
        this.db
          .prepare('UPDATE rc_secrets SET custom_metadata = ? WHERE path = ?')
          .run(JSON.stringify(options.customMetadata), path);
      }
      this.touch(path, now);
    })();
  }

  // ------------------------------------------------------------------ internals

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }

  private secret(path: string): SecretRow | undefined {
    return this.db.prepare('SELECT * FROM rc_secrets WHERE path = ?').get(path) as SecretRow | undefined;
  }

  private versionRow(path: string, version: number): VersionRow | undefined {
    return this.db.prepare('SELECT * FROM rc_secret_versions WHERE path = ? AND version = ?').get(path, version) as
      | VersionRow
      | undefined;
  }

  private touch(path: string, now: string): void {
    this.db.prepare('UPDATE rc_secrets SET updated_time = ? WHERE path = ?').run(now, path);
  }

  private liveVersion(operation: string, path: string, version: number | undefined): VersionRow {
    const secret = this.secret(path);
    if (!secret) throw notFound(operation, path);
    const wanted = version === undefined || version === 0 ? secret.current_version : version;
    const row = this.versionRow(path, wanted);
    if (!row) throw notFound(operation, path);
    if (row.deletion_time !== '' || row.destroyed === 1) {
      const destroyed = row.destroyed === 1;
      return raise(
        new SecretVersionDeletedError(
          `version ${row.version} is ${destroyed ? 'destroyed' : `deleted (at ${row.deletion_time})`}`,
          {
            operation,
            path,
            backend: 'local',
            version: row.version,
            destroyed,
            ...(row.deletion_time ? { deletionTime: row.deletion_time } : {}),
          },
        ),
      );
    }
    return row;
  }

  private checkCas(operation: string, path: string, secret: SecretRow | undefined, cas: number | undefined): void {
    const required = this.casRequired || secret?.cas_required === 1;
    if (cas === undefined) {
      if (required) {
        throw new CasMismatchError('CAS_REQUIRED', CAS_REQUIRED_MESSAGE, { operation, path, backend: 'local' });
      }
      return;
    }
    if (cas !== (secret?.current_version ?? 0)) {
      throw new CasMismatchError('CAS_MISMATCH', CAS_MISMATCH_MESSAGE, {
        operation,
        path,
        backend: 'local',
        expectedVersion: cas,
      });
    }
  }

  private insertVersion(path: string, data: SecretData): SecretVersionMetadata {
    const now = this.timestamp();
    let secret = this.secret(path);
    if (!secret) {
      this.db
        .prepare(
          'INSERT INTO rc_secrets (path, created_time, updated_time, current_version, oldest_version) VALUES (?, ?, ?, 0, 0)',
        )
        .run(path, now, now);
      secret = this.secret(path)!;
    }
    const version = secret.current_version + 1;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad(path, version));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    this.db
      .prepare(
        'INSERT INTO rc_secret_versions (path, version, created_time, subkeys, nonce, ciphertext, tag) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(path, version, now, JSON.stringify(subkeysOf(data)), nonce, ciphertext, tag);
    const max = secret.max_versions > 0 ? secret.max_versions : this.maxVersions;
    let oldest = secret.oldest_version === 0 ? version : secret.oldest_version;
    if (version - oldest + 1 > max) {
      oldest = version - max + 1;
      this.db.prepare('DELETE FROM rc_secret_versions WHERE path = ? AND version < ?').run(path, oldest);
    }
    this.db
      .prepare('UPDATE rc_secrets SET current_version = ?, oldest_version = ?, updated_time = ? WHERE path = ?')
      .run(version, oldest, now, path);
    return { version, createdTime: now, deletionTime: '', destroyed: false };
  }

  private decrypt(operation: string, row: VersionRow): SecretData {
    if (!row.nonce || !row.ciphertext || !row.tag) {
      throw new SecretVersionDeletedError(`version ${row.version} is destroyed`, {
        operation,
        path: row.path,
        backend: 'local',
        version: row.version,
        destroyed: true,
      });
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, row.nonce);
      decipher.setAAD(aad(row.path, row.version));
      decipher.setAuthTag(row.tag);
      const text = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
      return JSON.parse(text) as SecretData;
    } catch {
      // Never the cause: a JSON.parse error would quote the plaintext.
      throw new SecretsKeyError(
        'DECRYPT_FAILED',
        `version ${row.version} cannot be decrypted (wrong key, or the record was altered)`,
        { operation, path: row.path, backend: 'local' },
      );
    }
  }
}

function raise(error: Error): never {
  throw error;
}

function aad(path: string, version: number): Buffer {
  return Buffer.from(`rc-secrets:v1:${path}:${version}`, 'utf8');
}

function versionMeta(row: VersionRow): SecretVersionMetadata {
  return {
    version: row.version,
    createdTime: row.created_time,
    deletionTime: row.deletion_time,
    destroyed: row.destroyed === 1,
  };
}

function notFound(operation: string, path: string): SecretNotFoundError {
  return new SecretNotFoundError('NOT_FOUND', 'not found', { operation, path, backend: 'local' });
}

function checkData(operation: string, path: string, data: unknown): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new BackendRequestError('BAD_REQUEST', 'data must be an object of properties', {
      operation,
      path,
      backend: 'local',
    });
  }
}

function subkeysOf(data: Record<string, unknown>): SubkeyTree {
  const out: SubkeyTree = {};
  for (const [k, v] of Object.entries(data)) {
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? subkeysOf(v as Record<string, unknown>) : null;
  }
  return out;
}

/** RFC 7396 JSON merge patch (what KV v2's PATCH applies). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
