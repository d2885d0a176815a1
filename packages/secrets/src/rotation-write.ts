import { randomInt } from 'node:crypto';
import type { SecretBackend } from './backend.js';
import { CasMismatchError, SecretNotFoundError } from './errors.js';
import { type SecretsLogger, silentLogger } from './logger.js';

/**
 * The first step of a rotation, on any backend: write the new value of one property as a new version with
 * check-and-set on the current one, so a concurrent writer makes this step fail (`CasMismatchError`) instead of being
 * overwritten. It uses a merge-patch (KV v2 `PATCH data/`), so the other properties are kept without this process
 * ever reading them. The previous version stays in the backend for a rollback (`restoreVersion`).
 */
export interface RotationWriteResult {
  path: string;
  property: string;
  previousVersion: number;
  version: number;
  createdTime: string;
}

export async function writeRotatedValue(
  backend: SecretBackend,
  options: {
    path: string;
    property: string;
    value: string;
    /** The version the rotation planned from (status it showed); a different current version fails the step. */
    expectedVersion?: number;
    /**
     * When no secret exists at the path yet, create it (version 1, check-and-set 0 = create only) with this one
     * property instead of failing with `SecretNotFoundError`: how the local backend gets its first value.
     */
    create?: boolean;
    logger?: SecretsLogger;
  },
): Promise<RotationWriteResult> {
  const logger = options.logger ?? silentLogger;
  let metadata: Awaited<ReturnType<SecretBackend['readMetadata']>>;
  try {
    metadata = await backend.readMetadata(options.path);
  } catch (error) {
    if (!options.create || !(error instanceof SecretNotFoundError) || (options.expectedVersion ?? 0) !== 0) throw error;
    const created = await backend.write(options.path, { [options.property]: options.value }, { cas: 0 });
    logger.debug(
      { path: options.path, property: options.property, previousVersion: 0, version: created.version },
      'secret created: first version written',
    );
    return {
      path: options.path,
      property: options.property,
      previousVersion: 0,
      version: created.version,
      createdTime: created.createdTime,
    };
  }
  const current = metadata.currentVersion;
  if (options.expectedVersion !== undefined && options.expectedVersion !== current) {
    throw new CasMismatchError(
      'CAS_MISMATCH',
      `current version is ${current}, the rotation expected ${options.expectedVersion}`,
      { operation: 'rotate', path: options.path, backend: backend.kind, expectedVersion: options.expectedVersion },
    );
  }
  const written = await backend.patch(options.path, { [options.property]: options.value }, { cas: current });
  logger.debug(
    { path: options.path, property: options.property, previousVersion: current, version: written.version },
    'secret rotated: new version written',
  );
  return {
    path: options.path,
    property: options.property,
    previousVersion: current,
    version: written.version,
    createdTime: written.createdTime,
  };
}

/**
 * Rollback: writes the data of an earlier version as a new version (check-and-set on the current one), the way
 * `vault kv rollback` does. This is the one place that reads values, and only to copy them back.
 */
export async function restoreVersion(
  backend: SecretBackend,
  options: { path: string; version: number; expectedCurrentVersion: number; logger?: SecretsLogger },
): Promise<RotationWriteResult & { restoredFrom: number }> {
  const { data } = await backend.readData(options.path, { version: options.version });
  const written = await backend.write(options.path, data, { cas: options.expectedCurrentVersion });
  (options.logger ?? silentLogger).debug(
    { path: options.path, restoredFrom: options.version, version: written.version },
    'secret version restored',
  );
  return {
    path: options.path,
    property: '*',
    previousVersion: options.expectedCurrentVersion,
    version: written.version,
    createdTime: written.createdTime,
    restoredFrom: options.version,
  };
}

export const ALPHABETS = {
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  hex: '0123456789abcdef',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
} as const;

/**
 * A generated value for a `generated` rotation policy: `length` characters drawn uniformly (crypto.randomInt, no
 * modulo bias) from an alphabet name or an explicit set of at least 2 distinct characters.
 */
export function generateSecretValue(
  options: { length?: number; alphabet?: keyof typeof ALPHABETS | string } = {},
): string {
  const length = options.length ?? 32;
  const name = options.alphabet ?? 'alphanumeric';
  const alphabet = [...new Set(name in ALPHABETS ? ALPHABETS[name as keyof typeof ALPHABETS] : name)];
  if (!Number.isInteger(length) || length < 8 || length > 4096 || alphabet.length < 2) {
    throw new RangeError(
      'a generated value needs a length of 8 to 4096 and an alphabet of at least 2 distinct characters',
    );
  }
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
