import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';

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

export async function healthController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (_req, reply) => {
    const checks: Record<string, { status: 'ok' | 'error'; error?: string }> = {
      database: await check(() => rt.store.ping()),
    };
    if (rt.bus.kind === 'redis') checks.redis = await check(() => rt.bus.ping());
    const ok = Object.values(checks).every((c) => c.status === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', revision: rt.state.revision, checks });
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await rt.metrics.registry.metrics();
    return reply.type(rt.metrics.registry.contentType).send(body);
  });
}
