import type { Logger } from 'pino';
import type { ChangeBus } from './bus/change-bus.js';
import type { ServerConfig } from './config/config.js';
import type { CanaryService } from './features/canaries/canary-service.js';
import type { ClientsService } from './features/clients/clients-service.js';
import type { PollingCallers } from './features/clients/polling-callers.js';
import type { EvaluatorService } from './features/evaluators/evaluator-service.js';
import type { FlagService } from './features/flags/flag-service.js';
import type { SecretsService } from './features/secrets/secrets-service.js';
import type { TokenService } from './features/tokens/token-service.js';
import type { UnleashBridgeService } from './features/unleash-bridge/unleash-bridge-service.js';
import type { ReplicaLifecycle } from './lifecycle/replica-lifecycle.js';
import type { ServerMetrics } from './metrics/metrics.js';
import type { ChangeSync } from './state/change-sync.js';
import type { ReplicaState } from './state/replica-state.js';
import type { Store } from './store/store.js';
import type { Streams } from './streams/streams.js';

/** Everything a request handler may need, built once per app by `createRuntime` (the composition root). */
export interface Runtime {
  config: ServerConfig;
  /** The admin token in force (RC_ADMIN_TOKEN or the generated development one). */
  adminToken: string;
  logger: Logger;
  store: Store;
  bus: ChangeBus;
  state: ReplicaState;
  sync: ChangeSync;
  metrics: ServerMetrics;
  /** This replica's SSE streams (client, OFREP, Unleash bridge). */
  sse: Streams;
  /** Serving or draining (shutting down). */
  lifecycle: ReplicaLifecycle;
  flags: FlagService;
  evaluators: EvaluatorService;
  tokens: TokenService;
  canaries: CanaryService;
  /** Who is connected, on every replica. */
  clients: ClientsService;
  /** OFREP callers that evaluate without a stream, for the clients view (recorded by the OFREP routes). */
  pollingCallers: PollingCallers;
  unleashBridge: UnleashBridgeService;
  /** Secret bundles: status and rotation (local backend by default), never a value. */
  secrets: SecretsService;
}
