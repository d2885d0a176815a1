import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { hashEquals, hashToken } from '../../auth/tokens.js';
import type { ChangeBus } from '../../bus/change-bus.js';
import { RedisBus } from '../../bus/redis-bus.js';
import { AppError } from '../../errors/app-error.js';
import type { ReplicaLifecycle } from '../../lifecycle/replica-lifecycle.js';
import type { ServerMetrics } from '../../metrics/metrics.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Store } from '../../store/store.js';
import { healthSchemas as schemas } from './health-schemas.js';

/** The bus check must not hold readiness: a hung Redis is reported degraded after at most this. */
const BUS_CHECK_TIMEOUT_MS = 500;

async function check(fn: () => Promise<void>, timeoutMs = 2000): Promise<{ status: 'ok' | 'error'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'error', error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Keeps `rc_bus_degraded` in step with the bus: its connection events and probes (the in-process bus is always 0). */
function trackBusDegraded(bus: ChangeBus, metrics: Pick<ServerMetrics, 'busDegraded'>): void {
  const set = (reason: string | undefined) => metrics.busDegraded.set(reason === undefined ? 0 : 1);
  if (bus instanceof RedisBus) {
    set(bus.degradedReason());
    bus.onDegradedChange(set);
  } else set(undefined);
}

export interface HealthRouteDeps {
  store: Pick<Store, 'ping'>;
  bus: ChangeBus;
  state: Pick<ReplicaState, 'revision' | 'brokenRecords'>;
  metrics: Pick<ServerMetrics, 'busDegraded' | 'registry'>;
  lifecycle: Pick<ReplicaLifecycle, 'draining'>;
  /** RC_METRICS_TOKEN, when /metrics requires one. */
  metricsToken?: string;
}

export async function healthController(scope: FastifyInstance, deps: HealthRouteDeps): Promise<void> {
  const { store, bus: changeBus, state, metrics } = deps;
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/health', { schema: schemas.live }, async () => ({ status: 'ok' as const }));

  trackBusDegraded(changeBus, metrics);
  // Only the database makes a replica unready: without the bus, writes still commit and replicas converge through
  // reconciliation, so a Redis outage is reported as a degraded bus (and rc_bus_degraded), never as 503.
  app.get('/health/ready', { schema: schemas.ready }, async (_req, reply) => {
    const [database, bus] = await Promise.all([
      check(() => store.ping()),
      check(() => changeBus.ping(), BUS_CHECK_TIMEOUT_MS),
    ]);
    const checks = {
      database,
      bus:
        bus.status === 'ok'
          ? { kind: changeBus.kind, status: 'ok' as const }
          : { kind: changeBus.kind, status: 'degraded' as const, error: bus.error },
    };
    const ok = database.status === 'ok' && !deps.lifecycle.draining;
    // Stored records this replica isolated: it stays ready (everything else is served), but says which and why.
    const unloadable = state.brokenRecords();
    return reply.code(ok ? 200 : 503).send({
      status: deps.lifecycle.draining ? ('draining' as const) : ok ? ('ok' as const) : ('unavailable' as const),
      revision: state.revision,
      checks,
      ...(unloadable.length > 0 ? { unloadable: [...unloadable] } : {}),
    });
  });

  // RC_METRICS_TOKEN set: a scraper must send it as a bearer token (compared as hashes, in constant time).
  const metricsTokenHash = deps.metricsToken ? hashToken(deps.metricsToken) : undefined;
  app.get('/metrics', { schema: schemas.metrics }, async (req, reply) => {
    if (metricsTokenHash) {
      const header = req.headers.authorization;
      const presented = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
      if (!presented || !hashEquals(hashToken(presented), metricsTokenHash)) {
        throw new AppError(
          'UNAUTHORIZED',
          'missing or wrong metrics token: send "Authorization: Bearer <RC_METRICS_TOKEN>"',
        );
      }
    }
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
