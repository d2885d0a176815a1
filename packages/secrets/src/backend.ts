/**
 * One interface over the places secrets live: Vault KV v2 (`VaultKvBackend`) and the embedded encrypted store
 * (`LocalSecretBackend`). Shapes follow KV v2's metadata so status reads the same whatever the backend. Everything
 * status needs (`readMetadata`, `readSubkeys`) returns no value; `readData` exists for the rare step that must
 * copy a value and is never used by status.
 */

/** A secret's data: property → value (strings in practice; KV v2 accepts any JSON). */
export type SecretData = Record<string, unknown>;

export interface SecretVersionMetadata {
  version: number;
  createdTime: string;
  /** Empty string while the version is live (as Vault answers). */
  deletionTime: string;
  destroyed: boolean;
}

/** KV v2 `metadata/<path>`. */
export interface SecretMetadata {
  path: string;
  casRequired: boolean;
  createdTime: string;
  updatedTime: string;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  customMetadata: Record<string, string> | null;
  versions: Record<string, Omit<SecretVersionMetadata, 'version'>>;
}

/** Keys of a version with `null` leaves (KV v2 `subkeys/<path>`); nested objects stay objects. */
export interface SecretSubkeys {
  path: string;
  subkeys: SubkeyTree;
  version: SecretVersionMetadata;
}

export interface SubkeyTree {
  [key: string]: SubkeyTree | null;
}

export interface WriteOptions {
  /**
   * Check-and-set: the version the caller believes is current (0 = the secret must not exist yet). A mismatch throws
   * `CasMismatchError`. Omit only where the backend does not require it.
   */
  cas?: number;
}

export interface SecretBackend {
  readonly kind: 'vault' | 'local';
  /** Metadata without values; `SecretNotFoundError` when the path has no secret. */
  readMetadata(path: string): Promise<SecretMetadata>;
  /** Property names of a version (latest by default), no values. */
  readSubkeys(path: string, options?: { version?: number }): Promise<SecretSubkeys>;
  /** Writes a whole new version; answers its metadata. */
  write(path: string, data: SecretData, options?: WriteOptions): Promise<SecretVersionMetadata>;
  /** JSON merge patch of the current version into a new one (only the given properties change; `null` removes). */
  patch(path: string, data: SecretData, options?: WriteOptions): Promise<SecretVersionMetadata>;
  /** A version's values. Only for a step that must copy a value; status never calls it. */
  readData(path: string, options?: { version?: number }): Promise<{ data: SecretData; version: SecretVersionMetadata }>;
  /** Child names under a folder (folders end with `/`); `SecretNotFoundError` when empty, as KV v2's LIST. */
  list(folder: string): Promise<string[]>;
  /** Soft-deletes versions (their data stays and can be undeleted). */
  deleteVersions(path: string, versions: number[]): Promise<void>;
  undeleteVersions(path: string, versions: number[]): Promise<void>;
}
