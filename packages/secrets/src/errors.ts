/**
 * Typed errors of every secret backend (Vault and the local store throw the same classes). Their messages and
 * properties carry the operation, the secret's path, an HTTP status and the backend's own error strings (with every
 * value the call sent and the token redacted) — never a secret value, a token or a request/response object.
 */

export type SecretsErrorCode =
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'VERSION_DELETED'
  | 'CAS_MISMATCH'
  | 'CAS_REQUIRED'
  | 'SEALED'
  | 'BAD_REQUEST'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'BAD_RESPONSE'
  | 'KEY_INVALID'
  | 'DECRYPT_FAILED';

export type SecretsBackendName = 'vault' | 'local' | 'kubernetes';

export interface SecretsErrorDetails {
  /** What was attempted: `readMetadata`, `write`, `kubernetesLogin`, ... */
  operation: string;
  /** The secret's path (`devmentor/api-gateway`) or the API path; paths are not secret. */
  path?: string;
  /** `vault`, `local` or `kubernetes`. */
  backend: SecretsBackendName;
  /** The HTTP status Vault answered. */
  status?: number;
  /** Vault's `errors` array, redacted. */
  backendErrors?: string[];
}

export class SecretsError extends Error {
  readonly code: SecretsErrorCode;
  readonly operation: string;
  readonly path: string | undefined;
  readonly backend: SecretsBackendName;
  readonly status: number | undefined;
  readonly backendErrors: string[];

  constructor(code: SecretsErrorCode, reason: string, details: SecretsErrorDetails) {
    const where = details.path === undefined ? details.operation : `${details.operation} ${details.path}`;
    const status = details.status === undefined ? '' : ` (${details.status})`;
    super(`${details.backend}: ${where}: ${reason}${status}`);
    this.name = new.target.name;
    this.code = code;
    this.operation = details.operation;
    this.path = details.path;
    this.backend = details.backend;
    this.status = details.status;
    this.backendErrors = details.backendErrors ?? [];
  }
}

/** 403: a missing, bad or expired token, or a policy without the capability. */
export class PermissionDeniedError extends SecretsError {}

/** 404: no such secret or version (Vault also answers 404 where a policy hides a path). */
export class SecretNotFoundError extends SecretsError {}

/** 404 with metadata: the version exists but was deleted or destroyed; its metadata is attached. */
export class SecretVersionDeletedError extends SecretsError {
  readonly version: number;
  readonly deletionTime: string | undefined;
  readonly destroyed: boolean;

  constructor(
    reason: string,
    details: SecretsErrorDetails & { version: number; deletionTime?: string; destroyed: boolean },
  ) {
    super('VERSION_DELETED', reason, details);
    this.version = details.version;
    this.deletionTime = details.deletionTime;
    this.destroyed = details.destroyed;
  }
}

/** 400 check-and-set: someone else wrote a version since the caller read the current one (or CAS is required). */
export class CasMismatchError extends SecretsError {
  /** The version the caller expected to be current. */
  readonly expectedVersion: number | undefined;

  constructor(
    code: 'CAS_MISMATCH' | 'CAS_REQUIRED',
    reason: string,
    details: SecretsErrorDetails & { expectedVersion?: number },
  ) {
    super(code, reason, details);
    this.expectedVersion = details.expectedVersion;
  }
}

/** 503: Vault is sealed. */
export class SealedError extends SecretsError {}

/** Vault could not be reached, timed out, or answered a 5xx other than sealed. */
export class BackendUnavailableError extends SecretsError {}

/** Any other 4xx, or a reply the client could not read. */
export class BackendRequestError extends SecretsError {}

/** The local store's key is missing, malformed, world-readable, or not the key the store was created with. */
export class SecretsKeyError extends SecretsError {}
