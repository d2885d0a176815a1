import { readFile } from 'node:fs/promises';
import { PermissionDeniedError } from './errors.js';
import { type SecretsLogger, silentLogger } from './logger.js';
import type { VaultAuth, VaultClient, VaultTokenSource } from './vault-client.js';

/** Where a pod's projected service-account token is mounted. */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubernetesAuthOptions {
  /** A client without a token (login needs none). */
  client: VaultClient;
  role: string;
  /** Kubernetes auth mount; `kubernetes` when omitted. */
  mount?: string;
  /** The service-account JWT, read at every login (projected tokens rotate); the mounted token by default. */
  jwt?: () => string | Promise<string>;
  /** Renew when this fraction of the lease has passed; 2/3 when omitted. */
  renewAtFraction?: number;
  now?: () => number;
  logger?: SecretsLogger;
}

interface Held {
  token: string;
  renewable: boolean;
  /** ms */
  expiresAt: number;
  renewAt: number;
  leaseSeconds: number;
}

/**
 * A Vault token from Kubernetes auth (`auth/<mount>/login` with the role and the service-account JWT), renewed
 * (`auth/token/renew-self`) once `renewAtFraction` of its lease has passed, and replaced by a new login when it is
 * not renewable, its renewal is refused, or renewal no longer extends it (its max TTL is reached). Concurrent callers
 * share one login or renewal. `start()` renews in the background so a quiet process keeps a live token.
 */
export class KubernetesAuth implements VaultTokenSource {
  private held: Held | undefined;
  private inflight: Promise<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly logger: SecretsLogger;
  private readonly fraction: number;
  /** Logins and renewals so far (for status and tests). */
  readonly counts = { logins: 0, renewals: 0 };

  constructor(private readonly options: KubernetesAuthOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.fraction = options.renewAtFraction ?? 2 / 3;
  }

  token(): Promise<string> {
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  invalidate(): void {
    this.held = undefined;
  }

  /** The current token's expiry (ms since epoch), or undefined before the first login. */
  get expiresAt(): number | undefined {
    return this.held?.expiresAt;
  }

  /** Keeps the token fresh in the background (checks every `intervalMs`, 5 s by default); the timer is unref'd. */
  start(intervalMs = 5_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.token().catch((error: unknown) => {
        this.logger.warn(
          { role: this.options.role, error: error instanceof Error ? error.message : 'unknown' },
          'vault token refresh failed',
        );
      });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refresh(): Promise<string> {
    const held = this.held;
    const now = this.now();
    if (held && (held.expiresAt === 0 || now < held.renewAt)) return held.token;
    if (held?.renewable && now < held.expiresAt) {
      try {
        const auth = await this.options.client.renewSelf(held.token, held.leaseSeconds);
        this.counts.renewals += 1;
        // Renewal that no longer extends the lease (max TTL reached) is no renewal: log in again at renewAt.
        const extended = auth.leaseDurationSeconds >= held.leaseSeconds * (1 - this.fraction);
        this.held = this.hold(auth, held.leaseSeconds, extended);
        this.logger.debug(
          { role: this.options.role, leaseSeconds: auth.leaseDurationSeconds, extended },
          'vault token renewed',
        );
        return held.token;
      } catch (error) {
        if (!(error instanceof PermissionDeniedError) && now < held.expiresAt) {
          // Vault is briefly unreachable: the token is still valid, use it and retry on the next call.
          this.logger.warn(
            { role: this.options.role, code: (error as { code?: string }).code },
            'vault renewal failed',
          );
          return held.token;
        }
      }
    }
    return this.login();
  }

  private async login(): Promise<string> {
    const jwt = await (this.options.jwt ?? (() => readFile(SERVICE_ACCOUNT_TOKEN_PATH, 'utf8')))();
    const auth = await this.options.client.kubernetesLogin({
      role: this.options.role,
      jwt: jwt.trim(),
      ...(this.options.mount === undefined ? {} : { mount: this.options.mount }),
    });
    this.counts.logins += 1;
    this.held = this.hold(auth, auth.leaseDurationSeconds, true);
    this.logger.debug(
      { role: this.options.role, leaseSeconds: auth.leaseDurationSeconds, renewable: auth.renewable },
      'vault kubernetes login',
    );
    return auth.clientToken;
  }

  private hold(auth: VaultAuth, leaseSeconds: number, renewable: boolean): Held {
    const now = this.now();
    const lease = auth.leaseDurationSeconds;
    return {
      token: auth.clientToken,
      renewable: auth.renewable && renewable,
      expiresAt: lease === 0 ? 0 : now + lease * 1000,
      renewAt: lease === 0 ? Number.POSITIVE_INFINITY : now + lease * 1000 * this.fraction,
      leaseSeconds: Math.max(leaseSeconds, 1),
    };
  }
}
