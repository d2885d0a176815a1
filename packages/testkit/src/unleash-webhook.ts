/** The feature events Unleash 7.5's webhook addon offers (GET /api/admin/addons), as the bridge wants them. */
export const UNLEASH_FEATURE_EVENTS = [
  'feature-created',
  'feature-updated',
  'feature-archived',
  'feature-revived',
  'feature-environment-enabled',
  'feature-environment-disabled',
  'feature-strategy-add',
  'feature-strategy-update',
  'feature-strategy-remove',
  'feature-metadata-updated',
  'feature-variants-updated',
  'feature-project-change',
];

/**
 * Configures Unleash's webhook addon to call the Runtime Control bridge: `POST /api/admin/addons` with provider
 * `webhook`, the bridge URL, and `authorization` (Unleash sends it verbatim as the Authorization header).
 */
export async function configureUnleashWebhook(
  unleash: { apiUrl: string; adminToken: string },
  webhookUrl: string,
  secret: string,
): Promise<number> {
  const res = await fetch(`${unleash.apiUrl}/admin/addons`, {
    method: 'POST',
    headers: { authorization: unleash.adminToken, 'content-type': 'application/json' },
    body: JSON.stringify({
      provider: 'webhook',
      description: 'Runtime Control refresh bridge',
      enabled: true,
      parameters: { url: webhookUrl, authorization: `Bearer ${secret}` },
      events: UNLEASH_FEATURE_EVENTS,
      projects: ['*'],
      environments: ['*'],
    }),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`configuring the webhook addon: ${res.status} ${text}`);
  return (JSON.parse(text) as { id: number }).id;
}
