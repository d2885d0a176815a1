import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretsKeyError } from './errors.js';

/** The file the key is kept in inside the data directory when `RC_SECRETS_KEY` is not set. */
export const SECRETS_KEY_FILE = 'secrets.key';

export interface SecretsKey {
  /** 32 bytes, AES-256. */
  key: Buffer;
  /** Where it came from: the environment, an existing key file, or a key file created just now. */
  source: 'env' | 'file' | 'created';
  /** The key file's path (source `file` or `created`). */
  file?: string;
}

const details = (operation: string) => ({ operation, backend: 'local' as const });

/**
 * The local store's key: `RC_SECRETS_KEY` (base64 of 32 bytes) when set, otherwise `<dataDir>/secrets.key`, created
 * with mode 0600 on first use. A key file readable by group or others is refused (as ssh refuses such a private key).
 * Errors never contain the key or any part of it.
 */
export function loadSecretsKey(options: { dataDir: string; env?: NodeJS.ProcessEnv }): SecretsKey {
  const fromEnv = (options.env ?? process.env).RC_SECRETS_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { key: decodeKey(fromEnv.trim(), 'RC_SECRETS_KEY'), source: 'env' };
  }
  const file = join(options.dataDir, SECRETS_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    // Written to a private temporary file, then linked into place: a second process starting at the same moment
    // either wins the link or reads the complete file, never a half-written one.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, file);
      unlinkSync(tmp);
      return { key: readKeyFile(file), source: 'created', file };
    } catch (error) {
      unlinkSync(tmp);
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return { key: readKeyFile(file), source: 'file', file };
}

/** A new random key as `RC_SECRETS_KEY` expects it (base64 of 32 bytes). */
export function generateSecretsKey(): string {
  return randomBytes(32).toString('base64');
}

/** A fingerprint that identifies a key without revealing it (HMAC of a fixed label). */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('runtime-control secrets key check v1').digest('hex').slice(0, 32);
}

function readKeyFile(file: string): Buffer {
  const mode = statSync(file).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new SecretsKeyError(
      'KEY_INVALID',
      `key file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
      details('loadSecretsKey'),
    );
  }
  return decodeKey(readFileSync(file, 'utf8').trim(), `key file ${file}`);
}

function decodeKey(text: string, where: string): Buffer {
  const valid = /^[A-Za-z0-9+/]{43}=$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text);
  const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  if (!valid || key.length !== 32) {
    throw new SecretsKeyError(
      'KEY_INVALID',
      `${where} must be the base64 of 32 random bytes (e.g. openssl rand -base64 32)`,
      details('loadSecretsKey'),
    );
  }
  return key;
}
