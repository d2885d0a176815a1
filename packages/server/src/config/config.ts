import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_ENVIRONMENTS, ENVIRONMENT_NAME_PATTERN, webhookSecretProblem } from '@runtime-control/core';

/**
 * Server configuration, read once from `RC_*` environment variables, validated and frozen. Nothing else in the
 * server reads `process.env`: tests pass an explicit `env` object.
 */
export interface ServerConfig {
  readonly mode: 'development' | 'production';
  /** RC_HOST; unset: 127.0.0.1 in development (not reachable from the network), 0.0.0.0 in production. */
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://…` selects PostgreSQL; unset means the embedded SQLite file in `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** Set for scale-out: changes are announced to other replicas over Redis pub/sub. */
  readonly redisUrl: string | undefined;
  /** Undefined in development means "generate one" (see `resolveAdminToken`). */
  readonly adminToken: string | undefined;
  readonly environments: readonly string[];
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  /** How often a replica checks the database for revisions it has not seen (bounds staleness if pub/sub loses one). */
  readonly reconcileIntervalMs: number;
  readonly sseHeartbeatMs: number;
  /**
   * On SIGTERM, how long the replica keeps serving with readiness already 503 before it hands its streams over and
   * closes the listener: the time load balancers need to stop routing here (a few seconds in Kubernetes; 0 locally).
   */
  readonly drainDelayMs: number;
  /** Bound on closing: requests still in flight this long after the listener closed are cut. */
  readonly shutdownTimeoutMs: number;
  /** How often a replica writes its report of connected clients for the others (`GET /api/admin/clients`). */
  readonly presenceIntervalMs: number;
  /**
   * Advertised in OFREP `eventStreams`. Unset: `http://<RC_HOST, or 127.0.0.1 for a wildcard host>:<port>`, never the
   * request's Host header (which a client chooses).
   */
  readonly publicUrl: string | undefined;
  /** Open SSE streams one token may hold on one replica (SDK, OFREP and Unleash bridge streams together). */
  readonly maxStreamsPerToken: number;
  /** Origins (exact `scheme://host[:port]`) answered with CORS headers; empty: no CORS headers at all. */
  readonly corsOrigins: readonly string[];
  /** When set, `GET /metrics` needs `Authorization: Bearer <this>`; unset: open. */
  readonly metricsToken: string | undefined;
  readonly seedFile: string | undefined;
  readonly replicaId: string;
  /** Canary traffic router: `none` (canary API answers 503), `local` (the embedded router) or `istio`. */
  readonly canaryRouter: 'none' | 'local' | 'istio';
  /** Prometheus the canary analysis queries (required unless `canaryRouter` is `none`). */
  readonly prometheusUrl: string | undefined;
  /** Admin URL of a running local router (`canaryRouter=local`). */
  readonly localRouterUrl: string | undefined;
  /** Kubernetes API server (`canaryRouter=istio`); unset: in-cluster service account or ~/.kube/config. */
  readonly kubernetesApiUrl: string | undefined;
  readonly kubernetesToken: string | undefined;
  /** Namespace of VirtualServices when a canary names none. */
  readonly kubernetesNamespace: string;
  /** Default analysis interval of a canary that sets none. */
  readonly canaryIntervalMs: number;
  /**
   * Shared secret of the Unleash webhook bridge (`Authorization: Bearer <secret>` on
   * `POST /api/integrations/unleash/webhook`); unset disables the bridge (its routes answer 404).
   */
  readonly unleashWebhookSecret: string | undefined;
  /**
   * The Unleash event watch: this server reads Unleash's event log (admin API, `RC_UNLEASH_TOKEN`) every
   * `unleashWatchIntervalMs` and relays feature events to the bridge stream — faster than the webhook addon, which
   * Unleash sends from a once-a-second job. Unset: webhook only.
   */
  readonly unleashUrl: string | undefined;
  /** An Unleash token the admin API accepts (RC_UNLEASH_TOKEN, or the file RC_UNLEASH_TOKEN_FILE names). */
  readonly unleashToken: string | undefined;
  readonly unleashWatchIntervalMs: number;
  /**
   * Where the secrets feature keeps values: `local` (the embedded default: AES-256-GCM in `<dataDir>/secrets.db`,
   * key from `RC_SECRETS_KEY` or `<dataDir>/secrets.key`) or `vault` (KV v2 at `vaultAddr`, Kubernetes/ESO through
   * the `RC_KUBERNETES_*` settings).
   */
  readonly secretsBackend: 'local' | 'vault';
  /** RC_SECRETS_KEY (base64 of 32 bytes) for the local backend; unset: the key file in the data directory. */
  readonly secretsKey: string | undefined;
  /** The platform file whose `secrets` section lists the bundles (RC_SECRETS_BUNDLES_FILE or RC_PLATFORM_FILE). */
  readonly secretsBundlesFile: string | undefined;
  readonly vaultAddr: string | undefined;
  readonly vaultToken: string | undefined;
  /** The KV v2 mount (RC_VAULT_MOUNT); unset: the platform file's store path, else `secret`. */
  readonly vaultMount: string | undefined;
  /**
   * How the server gets its Vault token (RC_VAULT_AUTH): `token` (RC_VAULT_TOKEN as given) or `kubernetes` (log in
   * at `auth/<vaultK8sMount>/login` with `vaultK8sRole` and the pod's service-account JWT, renew the token, log in
   * again when it cannot be renewed).
   */
  readonly vaultAuth: 'token' | 'kubernetes';
  /** RC_VAULT_K8S_ROLE: the Vault role (required with `vaultAuth=kubernetes`). */
  readonly vaultK8sRole: string | undefined;
  /** RC_VAULT_K8S_MOUNT: the Kubernetes auth mount; `kubernetes` by default. */
  readonly vaultK8sMount: string;
  /**
   * RC_VAULT_K8S_TOKEN_FILE: the service-account JWT's file, checked readable at start and read again at every login
   * (projected tokens are rotated by the kubelet); the pod's mounted token by default.
   */
  readonly vaultK8sTokenFile: string;
}

/** Where Kubernetes mounts a pod's service-account token (as `SERVICE_ACCOUNT_TOKEN_PATH` in the secrets package). */
const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const mode = env.RC_MODE ?? (env.NODE_ENV === 'production' ? 'production' : 'development');
  if (mode !== 'development' && mode !== 'production') {
    throw new ConfigError('RC_MODE', `must be "development" or "production", got "${mode}"`);
  }
  const databaseUrl = env.RC_DATABASE_URL || undefined;
  if (databaseUrl && !/^(postgres(ql)?:\/\/|sqlite:)/.test(databaseUrl)) {
    throw new ConfigError('RC_DATABASE_URL', 'must start with postgres://, postgresql:// or sqlite:');
  }
  const redisUrl = env.RC_REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('RC_REDIS_URL', 'must start with redis:// or rediss://');
  }
  const adminToken = env.RC_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('RC_ADMIN_TOKEN', 'must be at least 16 characters');
  }
  if (mode === 'production' && adminToken === undefined) {
    throw new ConfigError('RC_ADMIN_TOKEN', 'is required in production (RC_MODE=production)');
  }
  const environments = (env.RC_ENVIRONMENTS ?? DEFAULT_ENVIRONMENTS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (environments.length === 0) throw new ConfigError('RC_ENVIRONMENTS', 'must name at least one environment');
  for (const e of environments) {
    if (!ENVIRONMENT_NAME_PATTERN.test(e)) {
      throw new ConfigError('RC_ENVIRONMENTS', `"${e}" is not a valid environment name (lowercase, digits, "-")`);
    }
  }
  const logLevel = env.RC_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('RC_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const publicUrl = env.RC_PUBLIC_URL || undefined;
  if (publicUrl && !/^https?:\/\//.test(publicUrl)) {
    throw new ConfigError('RC_PUBLIC_URL', 'must be an http(s) URL');
  }
  const corsOrigins = (env.RC_CORS_ORIGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    // An origin is exactly what browsers send in `Origin`: scheme, host and optional port; no path, no wildcard.
    if (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/.test(origin)) {
      throw new ConfigError(
        'RC_CORS_ORIGINS',
        `"${origin}" is not an origin: give comma-separated exact origins like https://app.example.com (lowercase, no path, no "*")`,
      );
    }
  }
  const metricsToken = env.RC_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('RC_METRICS_TOKEN', 'must be at least 16 characters without whitespace');
  }
  const canaryRouter = env.RC_CANARY_ROUTER || 'none';
  if (canaryRouter !== 'none' && canaryRouter !== 'local' && canaryRouter !== 'istio') {
    throw new ConfigError('RC_CANARY_ROUTER', `must be "none", "local" or "istio", got "${canaryRouter}"`);
  }
  const httpUrl = (name: string): string | undefined => {
    const value = env[name] || undefined;
    if (value && !/^https?:\/\//.test(value)) throw new ConfigError(name, 'must be an http(s) URL');
    return value?.replace(/\/+$/, '');
  };
  const prometheusUrl = httpUrl('RC_PROMETHEUS_URL');
  const localRouterUrl = httpUrl('RC_LOCAL_ROUTER_URL');
  const kubernetesApiUrl = httpUrl('RC_KUBERNETES_API_URL');
  if (canaryRouter !== 'none' && !prometheusUrl) {
    throw new ConfigError('RC_PROMETHEUS_URL', `is required with RC_CANARY_ROUTER=${canaryRouter}`);
  }
  if (canaryRouter === 'local' && !localRouterUrl) {
    throw new ConfigError('RC_LOCAL_ROUTER_URL', 'is required with RC_CANARY_ROUTER=local (the router admin URL)');
  }
  const unleashWebhookSecret = env.RC_UNLEASH_WEBHOOK_SECRET || undefined;
  const webhookSecretRule = unleashWebhookSecret === undefined ? undefined : webhookSecretProblem(unleashWebhookSecret);
  if (webhookSecretRule) throw new ConfigError('RC_UNLEASH_WEBHOOK_SECRET', webhookSecretRule);
  const unleashUrl = httpUrl('RC_UNLEASH_URL')?.replace(/\/api$/, '');
  let unleashToken = env.RC_UNLEASH_TOKEN || undefined;
  const unleashTokenFile = env.RC_UNLEASH_TOKEN_FILE || undefined;
  if (unleashToken && unleashTokenFile) {
    throw new ConfigError('RC_UNLEASH_TOKEN_FILE', 'set either RC_UNLEASH_TOKEN or RC_UNLEASH_TOKEN_FILE, not both');
  }
  if (unleashTokenFile) {
    try {
      unleashToken = readFileSync(unleashTokenFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('RC_UNLEASH_TOKEN_FILE', `cannot read ${unleashTokenFile}: ${(err as Error).message}`);
    }
    if (!unleashToken) throw new ConfigError('RC_UNLEASH_TOKEN_FILE', `${unleashTokenFile} is empty`);
  }
  if (unleashToken !== undefined && /\s/.test(unleashToken)) {
    throw new ConfigError(
      unleashTokenFile ? 'RC_UNLEASH_TOKEN_FILE' : 'RC_UNLEASH_TOKEN',
      'must not contain whitespace',
    );
  }
  if (unleashUrl && !unleashToken) {
    throw new ConfigError('RC_UNLEASH_TOKEN', "is required with RC_UNLEASH_URL (a token for Unleash's admin API)");
  }
  if (unleashToken && !unleashUrl) {
    throw new ConfigError('RC_UNLEASH_URL', 'is required with RC_UNLEASH_TOKEN (the Unleash base URL)');
  }
  const secretsBackend = env.RC_SECRETS_BACKEND || 'local';
  if (secretsBackend !== 'local' && secretsBackend !== 'vault') {
    throw new ConfigError('RC_SECRETS_BACKEND', `must be "local" or "vault", got "${secretsBackend}"`);
  }
  const secretsKey = env.RC_SECRETS_KEY?.trim() || undefined;
  if (secretsKey !== undefined && !/^[A-Za-z0-9+/]{43}=$|^[A-Za-z0-9_-]{43}$/.test(secretsKey)) {
    // Never quoted: it is a key.
    throw new ConfigError('RC_SECRETS_KEY', 'must be the base64 of 32 random bytes (e.g. openssl rand -base64 32)');
  }
  if (env.RC_SECRETS_BUNDLES_FILE && env.RC_PLATFORM_FILE && env.RC_SECRETS_BUNDLES_FILE !== env.RC_PLATFORM_FILE) {
    throw new ConfigError(
      'RC_SECRETS_BUNDLES_FILE',
      'set either RC_SECRETS_BUNDLES_FILE or RC_PLATFORM_FILE, not both',
    );
  }
  const bundlesFile = env.RC_SECRETS_BUNDLES_FILE || env.RC_PLATFORM_FILE || undefined;
  const vaultAddr = httpUrl('RC_VAULT_ADDR');
  const vaultToken = env.RC_VAULT_TOKEN || undefined;
  if (secretsBackend === 'vault' && !vaultAddr) {
    throw new ConfigError('RC_VAULT_ADDR', 'is required with RC_SECRETS_BACKEND=vault');
  }
  const vaultMount = env.RC_VAULT_MOUNT || undefined;
  if (vaultMount !== undefined && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(vaultMount)) {
    throw new ConfigError('RC_VAULT_MOUNT', `"${vaultMount}" is not a mount path (e.g. secret)`);
  }
  const vaultAuth = env.RC_VAULT_AUTH || 'token';
  if (vaultAuth !== 'token' && vaultAuth !== 'kubernetes') {
    throw new ConfigError('RC_VAULT_AUTH', `must be "token" or "kubernetes", got "${vaultAuth}"`);
  }
  const vaultK8sRole = env.RC_VAULT_K8S_ROLE || undefined;
  const vaultK8sMount = env.RC_VAULT_K8S_MOUNT || 'kubernetes';
  const vaultK8sTokenFile = resolve(env.RC_VAULT_K8S_TOKEN_FILE || SERVICE_ACCOUNT_TOKEN_FILE);
  if (vaultAuth === 'kubernetes') {
    if (secretsBackend !== 'vault') {
      throw new ConfigError(
        'RC_VAULT_AUTH',
        'kubernetes needs RC_SECRETS_BACKEND=vault (the local backend uses no Vault)',
      );
    }
    if (vaultToken !== undefined) {
      throw new ConfigError('RC_VAULT_TOKEN', 'set either RC_VAULT_TOKEN or RC_VAULT_AUTH=kubernetes, not both');
    }
    if (!vaultK8sRole) {
      throw new ConfigError(
        'RC_VAULT_K8S_ROLE',
        'is required with RC_VAULT_AUTH=kubernetes (the Vault role to log in as)',
      );
    }
    // Vault role names: letters, digits, - _ . (as `vault write auth/kubernetes/role/NAME` accepts them).
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(vaultK8sRole)) {
      throw new ConfigError('RC_VAULT_K8S_ROLE', `"${vaultK8sRole}" is not a role name (letters, digits, - _ .)`);
    }
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(vaultK8sMount)) {
      throw new ConfigError('RC_VAULT_K8S_MOUNT', `"${vaultK8sMount}" is not a mount path (e.g. kubernetes)`);
    }
    try {
      // Only that it can be read: the JWT itself is read at every login, never kept in the configuration.
      accessSync(vaultK8sTokenFile, fsConstants.R_OK);
    } catch (err) {
      throw new ConfigError(
        'RC_VAULT_K8S_TOKEN_FILE',
        `cannot read ${vaultK8sTokenFile} (${(err as NodeJS.ErrnoException).code}): mount the pod's service-account token (automountServiceAccountToken or a projected volume) or point RC_VAULT_K8S_TOKEN_FILE at it`,
      );
    }
  } else {
    for (const name of ['RC_VAULT_K8S_ROLE', 'RC_VAULT_K8S_MOUNT', 'RC_VAULT_K8S_TOKEN_FILE']) {
      if (env[name]) throw new ConfigError(name, 'applies only with RC_VAULT_AUTH=kubernetes');
    }
  }
  return Object.freeze({
    mode,
    // Development listens on loopback only; production (or an explicit RC_HOST) on every interface.
    host: env.RC_HOST || (mode === 'production' ? '0.0.0.0' : '127.0.0.1'),
    port: integer(env, 'RC_PORT', 4400, 0, 65535),
    dataDir: resolve(env.RC_DATA_DIR || '.runtime-control'),
    databaseUrl,
    redisUrl,
    adminToken,
    environments: Object.freeze([...new Set(environments)]),
    logLevel,
    bodyLimitBytes: integer(env, 'RC_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    reconcileIntervalMs: integer(env, 'RC_RECONCILE_INTERVAL_MS', 5000, 100, 3_600_000),
    sseHeartbeatMs: integer(env, 'RC_SSE_HEARTBEAT_MS', 15_000, 100, 300_000),
    drainDelayMs: integer(env, 'RC_DRAIN_DELAY_MS', 0, 0, 300_000),
    shutdownTimeoutMs: integer(env, 'RC_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 300_000),
    presenceIntervalMs: integer(env, 'RC_PRESENCE_INTERVAL_MS', 10_000, 100, 600_000),
    publicUrl: publicUrl?.replace(/\/$/, ''),
    maxStreamsPerToken: integer(env, 'RC_MAX_STREAMS_PER_TOKEN', 100, 1, 1_000_000),
    corsOrigins: Object.freeze([...new Set(corsOrigins)]),
    metricsToken,
    seedFile: env.RC_SEED_FILE || undefined,
    replicaId: env.RC_REPLICA_ID || `${hostname()}-${process.pid}`,
    canaryRouter,
    prometheusUrl,
    localRouterUrl,
    kubernetesApiUrl,
    kubernetesToken: env.RC_KUBERNETES_TOKEN || undefined,
    kubernetesNamespace: env.RC_KUBERNETES_NAMESPACE || 'default',
    canaryIntervalMs: integer(env, 'RC_CANARY_INTERVAL_MS', 60_000, 100, 86_400_000),
    unleashWebhookSecret,
    unleashUrl,
    unleashToken,
    unleashWatchIntervalMs: integer(env, 'RC_UNLEASH_WATCH_INTERVAL_MS', 250, 50, 60_000),
    secretsBackend,
    secretsKey,
    secretsBundlesFile: bundlesFile === undefined ? undefined : resolve(bundlesFile),
    vaultAddr,
    vaultToken,
    vaultMount,
    vaultAuth,
    vaultK8sRole,
    vaultK8sMount,
    vaultK8sTokenFile,
  });
}
