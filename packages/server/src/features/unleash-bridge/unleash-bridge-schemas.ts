import { Type } from '@sinclair/typebox';
import {
  ADMIN_SECURITY,
  CLIENT_SECURITY,
  errors,
  StringEnum,
  textResponse,
  validatedByCore,
  WEBHOOK_SECURITY,
} from '../../schemas/common.js';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** Unleash's webhook event; checked by parseUnleashWebhookEvent (400 names the field: `/type`, `/id`, …). */
export const UnleashWebhookEvent = Type.Object(
  {
    id: Type.Optional(nullable(Type.Integer({ description: 'Unleash event id (de-duplicates webhook and watch)' }))),
    type: Type.String({ description: 'Unleash event type, e.g. feature-updated' }),
    featureName: Type.Optional(nullable(Type.String())),
    environment: Type.Optional(nullable(Type.String())),
    project: Type.Optional(nullable(Type.String())),
    createdAt: Type.Optional(nullable(Type.String())),
  },
  { additionalProperties: true },
);

const WatchDisabled = Type.Object({ enabled: Type.Literal(false) });
const WatchEnabled = Type.Object({
  enabled: Type.Literal(true),
  url: Type.String(),
  intervalMs: Type.Integer(),
  state: StringEnum(['starting', 'watching', 'failing', 'stopped']),
  lastEventId: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  polls: Type.Integer(),
});

const WebhookAddon = Type.Object(
  {
    state: StringEnum(['unchecked', 'missing', 'disabled', 'failing', 'present', 'unknown'], {
      description:
        "The bridge's webhook addon in Unleash (read with the event watch's URL and token): `unchecked` without them, `failing` when Unleash's last call failed (e.g. Unleash 8 refusing a private address not in UNLEASH_ALLOW_LIST_INTEGRATION), `unknown` when Unleash could not be asked",
    }),
    id: nullable(Type.Integer()),
    detail: nullable(Type.String({ description: "Unleash's record of its last call, or why the check failed" })),
    host: nullable(Type.String({ description: 'The host the addon calls, when Unleash recorded it' })),
  },
  { additionalProperties: false },
);

export const UnleashBridgeStatus = Type.Object(
  {
    enabled: Type.Boolean(),
    webhook: Type.Object({ enabled: Type.Boolean(), addon: WebhookAddon }),
    watch: Type.Union([WatchDisabled, WatchEnabled]),
    hintsSent: Type.Object({ webhook: Type.Integer(), watch: Type.Integer(), relay: Type.Integer() }),
    clients: Type.Integer(),
  },
  { $id: 'UnleashBridgeStatus', description: 'Bridge status (never a secret or token)' },
);

export const unleashBridgeSchemas = {
  webhook: {
    summary:
      'Unleash webhook addon target: a feature event makes connected UnleashProviders refresh (404 unless RC_UNLEASH_WEBHOOK_SECRET is set)',
    security: WEBHOOK_SECURITY,
    body: validatedByCore(UnleashWebhookEvent),
    response: {
      202: Type.Object(
        {
          accepted: Type.Boolean(),
          clients: Type.Optional(Type.Integer({ description: 'Providers told to refresh on this replica' })),
          duplicate: Type.Optional(Type.Boolean({ description: 'The event id was already relayed' })),
          reason: Type.Optional(Type.String({ description: 'Why the event was ignored' })),
        },
        { description: 'Accepted: `accepted` says whether a refresh was sent (feature events)' },
      ),
      ...errors(400, 401, 404, 413, 415),
    },
  },
  stream: {
    summary:
      'SSE for UnleashProviders: `ready` on connect, then `unleash-refresh` ({feature, type, environment, eventId}) once per Unleash feature event (404 unless the webhook or the event watch is configured)',
    security: CLIENT_SECURITY,
    response: { 200: textResponse('text/event-stream', 'Server-sent events'), ...errors(401, 403, 404, 429) },
  },
  status: {
    summary: 'How the Unleash bridge is configured and doing: webhook, event watch state, hints sent, clients',
    security: ADMIN_SECURITY,
    response: { 200: Type.Ref(UnleashBridgeStatus), ...errors(401, 403) },
  },
};
