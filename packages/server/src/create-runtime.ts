import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DestinationStream, type Logger, pino } from 'pino';
import { generateToken } from './auth/tokens.js';
import type { ChangeBus } from './bus/change-bus.js';
import { InProcessBus } from './bus/in-process-bus.js';
import { RedisBus } from './bus/redis-bus.js';
import type { ServerConfig } from './config/config.js';
import { CanaryService } from './features/canaries/canary-service.js';
import { ClientsService } from './features/clients/clients-service.js';
import { PollingCallers } from './features/clients/polling-callers.js';
import { EvaluatorService } from './features/evaluators/evaluator-service.js';
import { FlagService } from './features/flags/flag-service.js';
import { loadBundles, SecretsService } from './features/secrets/secrets-service.js';
import { TokenService } from './features/tokens/token-service.js';
import { UnleashBridgeService } from './features/unleash-bridge/unleash-bridge-service.js';
import { ReplicaLifecycle } from './lifecycle/replica-lifecycle.js';
import { createMetrics } from './metrics/metrics.js';
import type { Runtime } from './runtime.js';
import { ChangeSync } from './state/change-sync.js';
import { ReplicaState } from './state/replica-state.js';
import { createStore } from './store/create-store.js';
import type { Store } from './store/store.js';
import { Streams } from './streams/streams.js';

export interface RuntimeOptions {
  /** Use this store instead of the one `config.databaseUrl` names (tests). */
  store?: Store;
  bus?: ChangeBus;
  /** Where JSON logs go (default stdout). */
  logStream?: DestinationStream;
  /** Collect Node process metrics (off in tests that build many apps). */
  defaultMetrics?: boolean;
}

/** The URL without its query string: queries can carry secrets (the OFREP stream key), paths never do. */
export function pathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

export function createLogger(config: ServerConfig, stream?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { replica: config.replicaId },
      // Fastify's request logs use these serializers (the instance's own take precedence over Fastify's defaults,
      // whose `url` includes the query string). Only the path is logged; headers never are.
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: pathOf(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      // Belt and braces: the serializer never includes headers, and these paths are censored if anything ever logs
      // a request or a token-bearing object.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          'token',
          '*.token',
          'query.key',
        ],
        censor: '[redacted]',
      },
    },
    stream,
  );
}

/**
 * The admin token in force. In development without RC_ADMIN_TOKEN one is generated once and kept in the data
 * directory (mode 0600) so `rctl` on the same machine can use it; `generated` tells the caller to print it.
 */
export function resolveAdminToken(config: ServerConfig): { token: string; generated: boolean; file?: string } {
  if (config.adminToken) return { token: config.adminToken, generated: false };
  const file = join(config.dataDir, 'admin-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return { token, generated: true, file };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const token = generateToken('admin');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, generated: true, file };
}

/** The composition root: builds every service once, wires state changes to streams, starts reconciliation. */
export async function createRuntime(config: ServerConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = createLogger(config, options.logStream);
  // The platform file's secret bundles are read first: a broken file stops the start before anything is opened.
  const secretBundles = loadBundles(config.secretsBundlesFile);
  const adminToken = resolveAdminToken(config).token;
  const store = options.store ?? (await createStore(config.databaseUrl, config.dataDir));
  let bus = options.bus;
  if (!bus) {
    if (config.redisUrl) {
      const redis = new RedisBus(config.redisUrl, logger.child({ component: 'redis-bus' }));
      await redis.connect();
      bus = redis;
    } else {
      bus = new InProcessBus();
    }
  }
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics });
  const state = new ReplicaState(store, config.environments, logger.child({ component: 'state' }));
  const countUnloadable = (broken: readonly { entityType: 'flag' | 'evaluator' }[]) => {
    for (const entity of ['flag', 'evaluator'] as const) {
      metrics.unloadableRecords.set({ entity }, broken.filter((b) => b.entityType === entity).length);
    }
  };
  state.onBrokenChange(countUnloadable);
  await state.load();
  const sync = new ChangeSync(state, bus, metrics, logger, config.replicaId, config.reconcileIntervalMs);
  // Follows the state from here on: changes go out as frames, a revoked token's streams close.
  const sse = new Streams(state, metrics, logger.child({ component: 'sse' }), {
    heartbeatMs: config.sseHeartbeatMs,
    maxStreamsPerToken: config.maxStreamsPerToken,
    corsOrigins: config.corsOrigins,
  });
  sync.start();
  const unleashBridge = new UnleashBridgeService(
    config,
    bus,
    sse,
    metrics,
    logger.child({ component: 'unleash-bridge' }),
  );
  unleashBridge.start();
  const pollingCallers = new PollingCallers();
  const clients = new ClientsService(store, sse, pollingCallers, state, logger.child({ component: 'clients' }), {
    replicaId: config.replicaId,
    reportIntervalMs: config.presenceIntervalMs,
  });
  clients.start();
  return {
    config,
    adminToken,
    logger,
    store,
    bus,
    state,
    sync,
    metrics,
    sse,
    lifecycle: new ReplicaLifecycle(),
    flags: new FlagService(store, state, sync, config.environments),
    evaluators: new EvaluatorService(store, state, sync, config.environments),
    tokens: new TokenService(store, sync, config.environments),
    canaries: new CanaryService(config, store, metrics.registry, logger.child({ component: 'canary' })),
    unleashBridge,
    clients,
    pollingCallers,
    secrets: new SecretsService(
      config,
      metrics,
      logger.child({ component: 'secrets' }),
      sse,
      { store, bus, replicaId: config.replicaId },
      secretBundles,
    ),
  };
}
