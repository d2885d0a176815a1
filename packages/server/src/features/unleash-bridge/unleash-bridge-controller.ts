import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashEquals, hashToken } from '../../auth/tokens.js';
import type { ServerConfig } from '../../config/config.js';
import { AppError } from '../../errors/app-error.js';
import type { Streams } from '../../streams/streams.js';
import { checkBridgeAddon, type UnleashAddonCheck } from './unleash-addon-check.js';

const ADDON_CHECK_TTL_MS = 2000;

import { unleashBridgeSchemas as schemas } from './unleash-bridge-schemas.js';
import type { UnleashBridgeService } from './unleash-bridge-service.js';
import { changesEvaluation, parseUnleashWebhookEvent, refreshHintOf } from './unleash-webhook-event.js';

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export { UNLEASH_REFRESH_EVENT } from './unleash-bridge-service.js';

/**
 * The Unleash bridge. Open-source Unleash has no push to its SDKs (they poll, 15 s by default). The bridge learns of
 * feature changes — from Unleash's webhook addon, and from its event log when the event watch is configured — and
 * tells connected UnleashProviders (over SSE) which flag to fetch at once. It carries no flag data: Unleash stays
 * the source of truth, and a lost hint only means the provider's own polling picks the change up later.
 *
 * - `POST /api/integrations/unleash/webhook`: `Authorization: Bearer <RC_UNLEASH_WEBHOOK_SECRET>` (constant-time
 *   comparison); feature events → 202 and an `unleash-refresh` event on every replica's stream; other events → 202,
 *   ignored. 404 without RC_UNLEASH_WEBHOOK_SECRET.
 * - `GET /api/integrations/unleash/stream`: any client token (any environment: one Unleash change may concern every
 *   environment's providers, and the hint reveals only a flag name). 404 when neither the webhook nor the watch is
 *   configured.
 * - `GET /api/admin/integrations/unleash`: admin token; how the bridge is configured and doing (never the secrets).
 */
export interface UnleashBridgeRouteDeps {
  unleashBridge: UnleashBridgeService;
  config: Pick<ServerConfig, 'unleashWebhookSecret' | 'unleashUrl' | 'unleashToken' | 'unleashWatchIntervalMs'>;
  sse: Pick<Streams, 'openUnleashStream' | 'count'>;
}

export async function unleashBridgeController(
  scope: FastifyInstance,
  deps: UnleashBridgeRouteDeps,
  requireClient: Guard,
  requireAdmin: Guard,
): Promise<void> {
  const { unleashBridge: bridge, config, sse } = deps;
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const secret = config.unleashWebhookSecret;
  const secretHash = secret ? hashToken(secret) : undefined;

  app.post('/api/integrations/unleash/webhook', { schema: schemas.webhook }, async (req, reply) => {
    if (!secretHash) {
      throw new AppError('NOT_FOUND', 'the Unleash webhook is disabled (set RC_UNLEASH_WEBHOOK_SECRET to enable it)');
    }
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
    if (!changesEvaluation(event)) {
      return reply.code(202).send({ accepted: false, reason: `event type "${event.type}" does not change features` });
    }
    const result = await bridge.receiveWebhook(refreshHintOf(event, 'webhook'));
    req.log.info({ unleashEvent: event.type, feature: event.featureName, ...result }, 'unleash webhook received');
    return reply.code(202).send({ accepted: true, ...result });
  });

  app.get('/api/integrations/unleash/stream', { schema: schemas.stream, preHandler: requireClient }, (req, reply) => {
    if (!bridge.enabled) {
      throw new AppError(
        'NOT_FOUND',
        'the Unleash bridge is disabled (set RC_UNLEASH_WEBHOOK_SECRET, or RC_UNLEASH_URL and RC_UNLEASH_TOKEN)',
      );
    }
    sse.openUnleashStream(reply, req.clientEnvironment!);
  });

  // The console polls this route: one check of Unleash's addons serves every status request for ADDON_CHECK_TTL_MS.
  let lastCheck: { at: number; result: Promise<UnleashAddonCheck> } | undefined;
  const addonCheck = (url: string, token: string): Promise<UnleashAddonCheck> => {
    if (!lastCheck || Date.now() - lastCheck.at > ADDON_CHECK_TTL_MS)
      lastCheck = { at: Date.now(), result: checkBridgeAddon({ url, token }) };
    return lastCheck.result;
  };

  app.get('/api/admin/integrations/unleash', { schema: schemas.status, preHandler: requireAdmin }, async () => {
    const watch = bridge.watch;
    // The watch exists only when RC_UNLEASH_URL (and its token) are set.
    const watchUrl = config.unleashUrl;
    const addon =
      config.unleashUrl && config.unleashToken
        ? await addonCheck(config.unleashUrl, config.unleashToken)
        : {
            state: 'unchecked' as const,
            id: null,
            detail: 'the server asks Unleash only with RC_UNLEASH_URL and RC_UNLEASH_TOKEN set',
            host: null,
          };
    return {
      enabled: bridge.enabled,
      webhook: { enabled: bridge.webhookEnabled, addon },
      watch:
        watch && watchUrl
          ? {
              enabled: true as const,
              url: watchUrl,
              intervalMs: config.unleashWatchIntervalMs,
              state: watch.state,
              lastEventId: watch.lastEventId ?? null,
              lastError: watch.lastError ?? null,
              polls: watch.polls,
            }
          : { enabled: false as const },
      hintsSent: { ...bridge.delivered },
      clients: sse.count('unleash'),
    };
  });
}
