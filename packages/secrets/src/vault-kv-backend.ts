import type {
  SecretBackend,
  SecretData,
  SecretMetadata,
  SecretSubkeys,
  SecretVersionMetadata,
  SubkeyTree,
  WriteOptions,
} from './backend.js';
import { BackendRequestError, CasMismatchError, SecretNotFoundError } from './errors.js';
import { stringLeaves } from './redact.js';
import { encodePath, type VaultClient } from './vault-client.js';

/**
 * `SecretBackend` on a Vault KV version 2 mount (`secret` by default, as `vault server -dev` mounts it):
 * `metadata/`, `subkeys/`, `data/` (write with `options.cas`, merge-patch, read), LIST, delete/undelete.
 * Paths are relative to the mount, without `data/` (ESO's `remoteRef.key` form).
 */
export class VaultKvBackend implements SecretBackend {
  readonly kind = 'vault' as const;
  readonly mount: string;

  constructor(
    private readonly client: VaultClient,
    options: { mount?: string } = {},
  ) {
    this.mount = options.mount ?? 'secret';
  }

  async readMetadata(path: string): Promise<SecretMetadata> {
    const { body } = await this.client.request({
      operation: 'readMetadata',
      method: 'GET',
      apiPath: this.api('metadata', path),
      displayPath: this.display(path),
    });
    const d = dataOf('readMetadata', path, body);
    const versions: SecretMetadata['versions'] = {};
    for (const [n, v] of Object.entries((d.versions ?? {}) as Record<string, Record<string, unknown>>)) {
      versions[n] = {
        createdTime: str(v.created_time),
        deletionTime: str(v.deletion_time),
        destroyed: v.destroyed === true,
      };
    }
    return {
      path,
      casRequired: d.cas_required === true,
      createdTime: str(d.created_time),
      updatedTime: str(d.updated_time),
      currentVersion: num(d.current_version),
      oldestVersion: num(d.oldest_version),
      maxVersions: num(d.max_versions),
      customMetadata: (d.custom_metadata ?? null) as Record<string, string> | null,
      versions,
    };
  }

  async readSubkeys(path: string, options: { version?: number } = {}): Promise<SecretSubkeys> {
    const { body } = await this.client.request({
      operation: 'readSubkeys',
      method: 'GET',
      apiPath: this.api('subkeys', path),
      displayPath: this.display(path),
      ...(options.version === undefined ? {} : { query: { version: String(options.version) } }),
    });
    const d = dataOf('readSubkeys', path, body);
    return {
      path,
      subkeys: onlyKeys(d.subkeys),
      version: versionOf(d.metadata),
    };
  }

  async write(path: string, data: SecretData, options: WriteOptions = {}): Promise<SecretVersionMetadata> {
    const { body } = await this.client
      .request({
        operation: 'write',
        method: 'POST',
        apiPath: this.api('data', path),
        displayPath: this.display(path),
        body: { options: options.cas === undefined ? {} : { cas: options.cas }, data },
        sensitive: stringLeaves(data),
      })
      .catch((error: unknown) => rethrowCas(error, options.cas));
    return versionOf(dataOf('write', path, body));
  }

  async patch(path: string, data: SecretData, options: WriteOptions = {}): Promise<SecretVersionMetadata> {
    const { body } = await this.client
      .request({
        operation: 'patch',
        method: 'PATCH',
        apiPath: this.api('data', path),
        displayPath: this.display(path),
        contentType: 'application/merge-patch+json',
        body: { options: options.cas === undefined ? {} : { cas: options.cas }, data },
        sensitive: stringLeaves(data),
      })
      .catch((error: unknown) => rethrowCas(error, options.cas));
    return versionOf(dataOf('patch', path, body));
  }

  async readData(
    path: string,
    options: { version?: number } = {},
  ): Promise<{ data: SecretData; version: SecretVersionMetadata }> {
    const { body } = await this.client.request({
      operation: 'readData',
      method: 'GET',
      apiPath: this.api('data', path),
      displayPath: this.display(path),
      ...(options.version === undefined ? {} : { query: { version: String(options.version) } }),
    });
    const d = dataOf('readData', path, body);
    const data = d.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new BackendRequestError('BAD_RESPONSE', 'Vault answered no data object', {
        operation: 'readData',
        path: this.display(path),
        backend: 'vault',
      });
    }
    return { data: data as SecretData, version: versionOf(d.metadata) };
  }

  async list(folder: string): Promise<string[]> {
    const trimmed = folder.replace(/^\/+|\/+$/g, '');
    const { body } = await this.client.request({
      operation: 'list',
      method: 'LIST',
      apiPath: trimmed === '' ? `${encodePath(this.mount)}/metadata/` : `${this.api('metadata', trimmed)}/`,
      displayPath: `${this.mount}/${trimmed}/`,
    });
    const keys = dataOf('list', folder, body).keys;
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  }

  async deleteVersions(path: string, versions: number[]): Promise<void> {
    await this.client.request({
      operation: 'deleteVersions',
      method: 'POST',
      apiPath: this.api('delete', path),
      displayPath: this.display(path),
      body: { versions },
    });
  }

  async undeleteVersions(path: string, versions: number[]): Promise<void> {
    await this.client.request({
      operation: 'undeleteVersions',
      method: 'POST',
      apiPath: this.api('undelete', path),
      displayPath: this.display(path),
      body: { versions },
    });
  }

  private api(kind: string, path: string): string {
    return `${encodePath(this.mount)}/${kind}/${encodePath(path)}`;
  }

  private display(path: string): string {
    return `${this.mount}/${path}`;
  }
}

function rethrowCas(error: unknown, cas: number | undefined): never {
  if (error instanceof CasMismatchError && cas !== undefined) {
    throw new CasMismatchError(error.code as 'CAS_MISMATCH' | 'CAS_REQUIRED', `${error.backendErrors.join('; ')}`, {
      operation: error.operation,
      ...(error.path === undefined ? {} : { path: error.path }),
      backend: 'vault',
      ...(error.status === undefined ? {} : { status: error.status }),
      backendErrors: error.backendErrors,
      expectedVersion: cas,
    });
  }
  throw error;
}

function dataOf(operation: string, path: string, body: unknown): Record<string, unknown> {
  const data = (body as { data?: unknown } | undefined)?.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    // A 204 or an empty reply where data was expected: say so without echoing the body.
    throw new SecretNotFoundError('NOT_FOUND', 'Vault answered no data', { operation, path, backend: 'vault' });
  }
  return data as Record<string, unknown>;
}

function versionOf(metadata: unknown): SecretVersionMetadata {
  const m = (metadata ?? {}) as Record<string, unknown>;
  return {
    version: num(m.version),
    createdTime: str(m.created_time),
    deletionTime: str(m.deletion_time),
    destroyed: m.destroyed === true,
  };
}

/** Keeps the shape, drops anything that is not a nested key map (a misbehaving server cannot pass a value through). */
function onlyKeys(value: unknown): SubkeyTree {
  const out: SubkeyTree = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? onlyKeys(v) : null;
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
