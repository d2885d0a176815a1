import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { LIVE_INTERVAL_MS } from '../queries.js';

/** The Unleash bridge's status: webhook, event watch, hints sent by source, connected providers (never a secret). */
export function IntegrationsPage() {
  const status = useQuery({
    queryKey: ['integrations', 'unleash'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/integrations/unleash'))).data,
    refetchInterval: LIVE_INTERVAL_MS,
  });
  const s = status.data;
  return (
    <section>
      <h1>Integrations</h1>
      <h2>Unleash bridge</h2>
      <ErrorMessage error={status.error} />
      {s && (
        <dl className="result" data-testid="unleash-bridge">
          <dt>Bridge</dt>
          <dd>{s.enabled ? 'on' : 'off'}</dd>
          <dt>Webhook</dt>
          <dd>{s.webhook.enabled ? 'on (RC_UNLEASH_WEBHOOK_SECRET set)' : 'off'}</dd>
          <dt>Webhook addon in Unleash</dt>
          <dd data-testid="unleash-addon">
            <code>{s.webhook.addon.state}</code>
            {s.webhook.addon.id !== null && ` (id ${s.webhook.addon.id})`}
            {s.webhook.addon.detail && `: ${s.webhook.addon.detail}`}
            {(s.webhook.addon.state === 'missing' || s.webhook.addon.state === 'failing') && (
              <div className="error">
                Unleash 8 refuses addon URLs whose host resolves to a private address unless
                UNLEASH_ALLOW_LIST_INTEGRATION lists it{s.webhook.addon.host && ` (${s.webhook.addon.host})`}; the event
                watch alone still carries changes while it reads Unleash's event log.
              </div>
            )}
          </dd>
          <dt>Event watch</dt>
          <dd>
            {s.watch.enabled ? (
              <>
                <code>{s.watch.state}</code> on {s.watch.url}, every {s.watch.intervalMs} ms; last event{' '}
                {s.watch.lastEventId ?? '—'}; {s.watch.polls} polls
                {s.watch.lastError && <div className="error">{s.watch.lastError}</div>}
              </>
            ) : (
              'off (set RC_UNLEASH_URL and RC_UNLEASH_TOKEN)'
            )}
          </dd>
          <dt>Hints sent</dt>
          <dd>
            webhook {s.hintsSent.webhook}, watch {s.hintsSent.watch}, relay {s.hintsSent.relay}
          </dd>
          <dt>Connected providers</dt>
          <dd>{s.clients}</dd>
        </dl>
      )}
      <p className="muted small">See docs/unleash.md for how the bridge tells UnleashProviders which flag changed.</p>
    </section>
  );
}
