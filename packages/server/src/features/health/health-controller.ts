import type { FastifyInstance } from 'fastify';
import { hashEquals, hashToken } from '../../auth/tokens.js';
import { RedisBus } from '../../bus/redis-bus.js';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
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
function trackBusDegraded(rt: Runtime): void {
  const set = (reason: string | undefined) => rt.metrics.busDegraded.set(reason === undefined ? 0 : 1);
  if (rt.bus instanceof RedisBus) {
    set(rt.bus.degradedReason());
    rt.bus.onDegradedChange(set);
  } else set(undefined);
}

export async function healthController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/health', { schema: schemas.live }, async () => ({ status: 'ok' }));

  trackBusDegraded(rt);
  // Only the database makes a replica unready: without the bus, writes still commit and replicas converge through
  // reconciliation, so a Redis outage is reported as a degraded bus (and rc_bus_degraded), never as 503.
  app.get('/health/ready', { schema: schemas.ready }, async (_req, reply) => {
    const [database, bus] = await Promise.all([
      check(() => rt.store.ping()),
      check(() => rt.bus.ping(), BUS_CHECK_TIMEOUT_MS),
    ]);
    const checks = {
      database,
      bus: { kind: rt.bus.kind, ...(bus.status === 'ok' ? bus : { status: 'degraded' as const, error: bus.error }) },
    };
    const ok = database.status === 'ok';
    const body: Record<string, unknown> = { status: ok ? 'ok' : 'unavailable', revision: rt.state.revision, checks };
    // Stored records this replica isolated: it stays ready (everything else is served), but says which and why.
    const unloadable = rt.state.brokenRecords();
    if (unloadable.length > 0) body.unloadable = unloadable;
    return reply.code(ok ? 200 : 503).send(body);
  });

  // RC_METRICS_TOKEN set: a scraper must send it as a bearer token (compared as hashes, in constant time).
  const metricsTokenHash = rt.config.metricsToken ? hashToken(rt.config.metricsToken) : undefined;
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
    const body = await rt.metrics.registry.metrics();
    return reply.type(rt.metrics.registry.contentType).send(body);
  });
}
