import { randomUUID } from 'node:crypto';
import { isFlagSetName, isPlainObject } from '@runtime-control/core';
import { isReservedTokenName } from '../../auth/auth-hooks.js';
import { generateToken, hashToken } from '../../auth/tokens.js';
import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { ChangeSync } from '../../state/change-sync.js';
import type { Actor, Store, StoredToken } from '../../store/store.js';

/** What the API shows of a token: never its hash, and its secret only once, in the create response. */
export interface TokenView {
  id: string;
  name: string;
  kind: 'admin' | 'client';
  environment: string | null;
  /** The flag set a client token is limited to (flagd flagSetId); null: every flag of its environment. */
  flagSet: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export function toTokenView(t: StoredToken): TokenView {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind,
    environment: t.environment,
    flagSet: t.flagSet,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt,
  };
}

export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly sync: ChangeSync,
    private readonly environments: readonly string[],
  ) {}

  async create(input: unknown, actor: Actor): Promise<TokenView & { token: string }> {
    const issues: ErrorDetail[] = [];
    if (!isPlainObject(input)) throw new AppError('VALIDATION_FAILED', 'body must be a JSON object', { path: '' });
    for (const k of Object.keys(input)) {
      if (!['kind', 'environment', 'name', 'flagSet'].includes(k)) {
        issues.push({ path: `/${k}`, code: 'UNKNOWN_PROPERTY', message: `unknown property "${k}"` });
      }
    }
    const { kind, environment, name, flagSet } = input;
    if (kind !== 'client' && kind !== 'admin') {
      issues.push({ path: '/kind', code: 'INVALID_VALUE', message: 'kind must be "client" or "admin"' });
    }
    if (kind === 'client') {
      if (typeof environment !== 'string' || !this.environments.includes(environment)) {
        issues.push({
          path: '/environment',
          code: 'UNKNOWN_ENVIRONMENT',
          message: `a client token needs an environment (one of ${this.environments.join(', ')})`,
        });
      }
    } else if (kind === 'admin' && environment !== undefined && environment !== null) {
      issues.push({
        path: '/environment',
        code: 'INVALID_VALUE',
        message: 'admin tokens are not scoped to an environment',
      });
    }
    if (flagSet !== undefined && flagSet !== null) {
      if (kind === 'admin') {
        issues.push({
          path: '/flagSet',
          code: 'INVALID_VALUE',
          message: 'admin tokens are not limited to a flag set',
        });
      } else if (!isFlagSetName(flagSet)) {
        issues.push({
          path: '/flagSet',
          code: 'INVALID_FLAG_SET',
          message:
            'flagSet names a flag set (a flag\'s metadata.flagSetId): letters, digits, ".", "_" or "-", starting with a letter or digit (≤64)',
        });
      }
    }
    if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 100)) {
      issues.push({ path: '/name', code: 'INVALID_VALUE', message: 'name must be a string of 1–100 characters' });
    } else if (typeof name === 'string' && isReservedTokenName(name)) {
      // The audit log records the root admin token (RC_ADMIN_TOKEN) as "admin"; no API token may read the same.
      issues.push({
        path: '/name',
        code: 'RESERVED_NAME',
        message: `name "${name}" is reserved: the audit log records the root admin token as "admin"; pick another`,
      });
    }
    if (issues.length > 0) throw new AppError('VALIDATION_FAILED', issues[0]!.message, { details: issues });
    const tokenKind = kind as 'client' | 'admin';
    const token = generateToken(tokenKind);
    const id = randomUUID();
    const stored = await this.store.createToken(
      {
        id,
        name: typeof name === 'string' ? name : `${tokenKind}-${id.slice(0, 8)}`,
        kind: tokenKind,
        environment: tokenKind === 'client' ? (environment as string) : null,
        flagSet: tokenKind === 'client' && typeof flagSet === 'string' ? flagSet : null,
        hash: hashToken(token),
      },
      actor,
    );
    await this.sync.afterWrite(await this.store.currentRevision());
    return { ...toTokenView(stored), token };
  }

  async list(): Promise<TokenView[]> {
    return (await this.store.listTokens()).map(toTokenView);
  }

  async revoke(id: string, actor: Actor): Promise<void> {
    await this.store.revokeToken(id, actor);
    await this.sync.afterWrite(await this.store.currentRevision());
  }
}
