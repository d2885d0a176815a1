import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashEquals, hashToken } from '../../auth/tokens.js';
import { AppError } from '../../errors/app-error.js';
import type { Runtime } from '../../runtime.js';
import { sseFrame } from '../client-stream/sse-hub.js';
import { isFeatureEvent, parseUnleashWebhookEvent } from './unleash-webhook-event.js';

type ClientGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export const UNLEASH_REFRESH_EVENT = 'unleash-refresh';

/**
 * The Unleash webhook bridge. Open-source Unleash has no push to its SDKs (they poll, 15 s by default); its webhook
 * addon does call out on every change. This feature receives those calls and tells connected UnleashProviders
 * (over SSE) to fetch from Unleash at once. It carries no flag data: Unleash stays the source of truth, and a lost
 * hint only means the provider's own polling picks the change up later.
 *
 * - `POST /api/integrations/unleash/webhook`: `Authorization: Bearer <RC_UNLEASH_WEBHOOK_SECRET>` (constant-time
 *   comparison); feature events → 202 and an `unleash-refresh` event on the stream; other events → 202, ignored.
 * - `GET /api/integrations/unleash/stream`: any client token (any environment: one Unleash change may concern every
 *   environment's providers, and the hint reveals only a flag name).
 *
 * Without `RC_UNLEASH_WEBHOOK_SECRET` both routes answer 404. A webhook reaches one replica only: providers
 * connected to other replicas then fall back to polling (documented in docs/unleash.md).
 */
export async function unleashBridgeController(
  app: FastifyInstance,
  rt: Runtime,
  requireClient: ClientGuard,
): Promise<void> {
  const secret = rt.config.unleashWebhookSecret;
  const secretHash = secret ? hashToken(secret) : undefined;
  const disabled = () =>
    new AppError('NOT_FOUND', 'the Unleash webhook bridge is disabled (set RC_UNLEASH_WEBHOOK_SECRET to enable it)');

  app.post('/api/integrations/unleash/webhook', async (req, reply) => {
    if (!secretHash) throw disabled();
    const header = req.headers.authorization;
    const presented = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    // Hashing both sides gives equal-length inputs, so timingSafeEqual leaks neither content nor length.
    if (!presented || !hashEquals(hashToken(presented), secretHash)) {
      throw new AppError(
        'UNAUTHORIZED',
        'missing or wrong webhook secret: send "Authorization: Bearer <RC_UNLEASH_WEBHOOK_SECRET>"',
      );
    }
    const event = parseUnleashWebhookEvent(req.body);
    if (!isFeatureEvent(event)) {
      return reply.code(202).send({ accepted: false, reason: `event type "${event.type}" does not change features` });
    }
    const data = JSON.stringify({ feature: event.featureName, type: event.type, environment: event.environment });
    const clients = rt.sse.broadcast('unleash', sseFrame(UNLEASH_REFRESH_EVENT, data));
    req.log.info({ unleashEvent: event.type, feature: event.featureName, clients }, 'unleash webhook: refresh sent');
    return reply.code(202).send({ accepted: true, clients });
  });

  app.get('/api/integrations/unleash/stream', { preHandler: requireClient }, (req, reply) => {
    if (!secretHash) throw disabled();
    reply.hijack();
    const client = rt.sse.open(reply.raw, req.clientEnvironment!, 'unleash');
    // Tells the provider the stream is live; it refreshes once then, covering hints missed while disconnected.
    rt.sse.send(client, sseFrame('ready', '{}'));
  });
}
