import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  BackendRequestError,
  CasMismatchError,
  SecretNotFoundError,
  SecretsKeyError,
  SecretVersionDeletedError,
} from './errors.js';
import { LocalSecretBackend } from './local-backend.js';
import { generateSecretsKey, loadSecretsKey, SECRETS_KEY_FILE } from './secrets-key.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rc-secrets-local-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('loadSecretsKey', () => {
  it('creates a 0600 key file in the data directory once, then reads the same key', () => {
    const dir = join(tempDir(), 'data');
    const created = loadSecretsKey({ dataDir: dir, env: {} });
    assert.equal(created.source, 'created');
    assert.equal(created.key.length, 32);
    assert.equal(statSync(join(dir, SECRETS_KEY_FILE)).mode & 0o777, 0o600);
    const again = loadSecretsKey({ dataDir: dir, env: {} });
    assert.equal(again.source, 'file');
    assert.deepEqual(again.key, created.key);
  });

  it('prefers RC_SECRETS_KEY and refuses a malformed one without echoing it', () => {
    const value = generateSecretsKey();
    const fromEnv = loadSecretsKey({ dataDir: tempDir(), env: { RC_SECRETS_KEY: value } });
    assert.equal(fromEnv.source, 'env');
    assert.equal(fromEnv.key.toString('base64'), value);
    const short = 'c2hvcnQta2V5LXZhbHVlLW5vdC0zMg==';
    assert.throws(
      () => loadSecretsKey({ dataDir: tempDir(), env: { RC_SECRETS_KEY: short } }),
      (error: unknown) =>
        error instanceof SecretsKeyError && error.code === 'KEY_INVALID' && !error.message.includes(short),
    );
  });

  it('refuses a key file readable by group or others', () => {
    const dir = tempDir();
    const file = join(dir, SECRETS_KEY_FILE);
    writeFileSync(file, generateSecretsKey());
    chmodSync(file, 0o644);
    assert.throws(() => loadSecretsKey({ dataDir: dir, env: {} }), /chmod 600/);
  });
});

describe('LocalSecretBackend (AES-256-GCM in SQLite, KV v2 versions)', () => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const key = loadSecretsKey({ dataDir: tempDir(), env: {} }).key;
  const file = join(tempDir(), 'secrets.db');
  const store = new LocalSecretBackend({ database: file, key, now: () => clock, maxVersions: 3 });
  after(() => store.close());

  it('writes versions with check-and-set and keeps KV v2 metadata', async () => {
    const v1 = await store.write(
      'devmentor/api-gateway',
      { JWT_SECRET: 'local-jwt-1', REDIS_URL: 'redis://x' },
      { cas: 0 },
    );
    assert.deepEqual(v1, { version: 1, createdTime: '2026-12-01T10:00:00.000Z', deletionTime: '', destroyed: false });
    clock += 1000;
    await store.write('devmentor/api-gateway', { JWT_SECRET: 'local-jwt-2', REDIS_URL: 'redis://x' }, { cas: 1 });
    await assert.rejects(store.write('devmentor/api-gateway', { JWT_SECRET: 'late' }, { cas: 1 }), (error: unknown) => {
      assert.ok(error instanceof CasMismatchError);
      assert.equal(
        error.message,
        'local: write devmentor/api-gateway: check-and-set parameter did not match the current version',
      );
      assert.equal(error.expectedVersion, 1);
      return true;
    });
    await assert.rejects(store.write('devmentor/api-gateway', { A: 'b' }, { cas: 0 }), { code: 'CAS_MISMATCH' });
    const meta = await store.readMetadata('devmentor/api-gateway');
    assert.equal(meta.currentVersion, 2);
    assert.equal(meta.oldestVersion, 1);
    assert.equal(meta.createdTime, '2026-12-01T10:00:00.000Z');
    assert.equal(meta.updatedTime, '2026-12-01T10:00:01.000Z');
    assert.deepEqual(Object.keys(meta.versions), ['1', '2']);
    assert.deepEqual((await store.readSubkeys('devmentor/api-gateway')).subkeys, { JWT_SECRET: null, REDIS_URL: null });
    assert.equal((await store.readData('devmentor/api-gateway')).data.JWT_SECRET, 'local-jwt-2');
    assert.equal((await store.readData('devmentor/api-gateway', { version: 1 })).data.JWT_SECRET, 'local-jwt-1');
  });

  it('stores no value in clear in the SQLite file', () => {
    const bytes = [file, `${file}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('');
    assert.equal(bytes.includes('local-jwt-'), false);
    assert.equal(bytes.includes('redis://x'), false);
    assert.ok(bytes.includes('JWT_SECRET'), 'property names are kept in clear for status');
  });

  it('merge-patches, trims to max versions, soft-deletes, undeletes and destroys', async () => {
    await store.patch('devmentor/api-gateway', { JWT_SECRET: 'local-jwt-3' }, { cas: 2 });
    await store.patch('devmentor/api-gateway', { JWT_SECRET: 'local-jwt-4' }, { cas: 3 });
    const meta = await store.readMetadata('devmentor/api-gateway');
    assert.equal(meta.currentVersion, 4);
    assert.equal(meta.oldestVersion, 2);
    assert.deepEqual(Object.keys(meta.versions), ['2', '3', '4']);
    assert.deepEqual((await store.readData('devmentor/api-gateway')).data, {
      JWT_SECRET: 'local-jwt-4',
      REDIS_URL: 'redis://x',
    });
    await assert.rejects(store.readData('devmentor/api-gateway', { version: 1 }), SecretNotFoundError);

    await store.deleteVersions('devmentor/api-gateway', [4]);
    await assert.rejects(store.readData('devmentor/api-gateway'), (error: unknown) => {
      assert.ok(error instanceof SecretVersionDeletedError);
      assert.equal(error.version, 4);
      assert.equal(error.destroyed, false);
      return true;
    });
    await assert.rejects(store.patch('devmentor/api-gateway', { A: 'x' }, { cas: 4 }), SecretNotFoundError);
    await store.undeleteVersions('devmentor/api-gateway', [4]);
    assert.equal((await store.readData('devmentor/api-gateway')).version.version, 4);
    await store.destroyVersions('devmentor/api-gateway', [2]);
    await assert.rejects(store.readData('devmentor/api-gateway', { version: 2 }), {
      code: 'VERSION_DELETED',
      destroyed: true,
    });
    await store.undeleteVersions('devmentor/api-gateway', [2]);
    await assert.rejects(store.readData('devmentor/api-gateway', { version: 2 }), SecretVersionDeletedError);
  });

  it('lists like KV v2 (folders end with /, empty is not found) and refuses bad paths', async () => {
    await store.write('devmentor/ai-gateway', { OPENAI_KEY: 'k' });
    assert.deepEqual(await store.list('devmentor'), ['ai-gateway', 'api-gateway']);
    assert.deepEqual(await store.list(''), ['devmentor/']);
    await assert.rejects(store.list('nothing'), SecretNotFoundError);
    await assert.rejects(store.readMetadata('devmentor/../x'), BackendRequestError);
    await assert.rejects(store.write('a//b', { A: 'b' }), BackendRequestError);
  });

  it('honours cas_required per path', async () => {
    await store.writeMetadata('devmentor/strict', { casRequired: true });
    await assert.rejects(store.write('devmentor/strict', { A: 'v' }), { code: 'CAS_REQUIRED' });
    assert.equal((await store.write('devmentor/strict', { A: 'v' }, { cas: 0 })).version, 1);
  });

  it('refuses to open with another key, and reports an altered record as DECRYPT_FAILED without its content', async () => {
    assert.throws(
      () => new LocalSecretBackend({ database: file, key: Buffer.alloc(32, 7) }),
      (error: unknown) => error instanceof SecretsKeyError && error.code === 'KEY_INVALID',
    );
    const db = new Database(file);
    try {
      db.prepare('UPDATE rc_secret_versions SET path = path, tag = ? WHERE path = ? AND version = 4').run(
        Buffer.alloc(16),
        'devmentor/api-gateway',
      );
    } finally {
      db.close();
    }
    await assert.rejects(store.readData('devmentor/api-gateway'), (error: unknown) => {
      assert.ok(error instanceof SecretsKeyError);
      assert.equal(error.code, 'DECRYPT_FAILED');
      assert.equal(error.cause, undefined);
      return true;
    });
  });
});

describe('LocalSecretBackend: two stores (as two processes would) on one file', () => {
  it('of two stores on one file that read the same version, the second to write gets CAS_MISMATCH', async () => {
    const dir = tempDir();
    const key = loadSecretsKey({ dataDir: dir, env: {} }).key;
    const file = join(dir, 'shared.db');
    const a = new LocalSecretBackend({ database: file, key });
    const b = new LocalSecretBackend({ database: file, key });
    try {
      await a.write('svc/app', { TOKEN: 'first' }, { cas: 0 });
      const seenByA = (await a.readMetadata('svc/app')).currentVersion;
      const seenByB = (await b.readMetadata('svc/app')).currentVersion;
      assert.deepEqual([seenByA, seenByB], [1, 1]);
      const results = await Promise.allSettled([
        a.patch('svc/app', { TOKEN: 'from-a' }, { cas: seenByA }),
        b.patch('svc/app', { TOKEN: 'from-b' }, { cas: seenByB }),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(rejected.reason instanceof CasMismatchError);
      const meta = await b.readMetadata('svc/app');
      assert.equal(meta.currentVersion, 2);
      assert.ok(['from-a', 'from-b'].includes(String((await b.readData('svc/app')).data.TOKEN)));
    } finally {
      a.close();
      b.close();
    }
  });
});
