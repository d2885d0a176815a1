import * as Dialog from '@radix-ui/react-dialog';
import type { components } from '@runtime-control/core/http-api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { LIVE_INTERVAL_MS } from '../queries.js';

type Bundle = components['schemas']['SecretBundleStatus'];
type Rotation = components['schemas']['SecretRotation'];

function age(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/**
 * Secret bundles: state, version, age against the maximum age, consumers, last rotation — never a value. A generated
 * rotation can be started here (the server makes the value; the console never sees one) and its steps followed live.
 */
export function SecretsPage() {
  const queryClient = useQueryClient();
  const [target, setTarget] = useState<Bundle | null>(null);
  const [following, setFollowing] = useState<{ service: string; bundle: string; id: string } | null>(null);
  const list = useQuery({
    queryKey: ['secrets'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/secrets'))).data,
    refetchInterval: LIVE_INTERVAL_MS,
  });
  const rotate = useMutation({
    mutationFn: async (b: Bundle) =>
      (
        await unwrap(
          api.POST('/api/admin/secrets/{service}/{bundle}/rotate', {
            params: { path: { service: b.service, bundle: b.bundle } },
            body: {},
          }),
        )
      ).data as Rotation,
    onSuccess: (rotation) => {
      setTarget(null);
      setFollowing({ service: rotation.service, bundle: rotation.bundle, id: rotation.id });
      return queryClient.invalidateQueries({ queryKey: ['secrets'] });
    },
  });
  const bundles = list.data?.bundles ?? [];
  return (
    <section>
      <h1>Secrets</h1>
      <p className="muted">
        Backend {list.data?.backend ?? '…'}. Status only: the console never shows or receives a secret value.
      </p>
      <ErrorMessage error={list.error} />
      {list.data && bundles.length === 0 && (
        <p className="muted">No secret bundles (define them in the platform file or with rctl secrets).</p>
      )}
      {bundles.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Bundle</th>
              <th scope="col">State</th>
              <th scope="col">Version</th>
              <th scope="col">Age / max</th>
              <th scope="col">Consumers</th>
              <th scope="col">Last rotation</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {bundles.map((b) => (
              <tr key={`${b.service}/${b.bundle}`} data-bundle={`${b.service}/${b.bundle}`}>
                <td>
                  {b.service}/{b.bundle}
                  <div className="muted small">{b.properties.map((p) => p.env).join(', ')}</div>
                </td>
                <td>
                  <span className={`badge state-${b.state.split(':')[0]}`}>{b.state}</span>
                  {b.reasons.map((r) => (
                    <div key={r} className="muted small">
                      {r}
                    </div>
                  ))}
                </td>
                <td>{b.currentVersion ?? '—'}</td>
                <td className={b.overdue ? 'error' : undefined}>
                  {age(b.ageSeconds)} / {age(b.maxAgeSeconds)}
                </td>
                <td>
                  {b.consumers.length === 0
                    ? '—'
                    : b.consumers.map((c) => (
                        <div key={`${c.namespace}/${c.deployment}`} className="small">
                          {c.deployment}
                          {c.runsCurrentValue === false ? ' (stale)' : ''}
                        </div>
                      ))}
                </td>
                <td>{b.lastRotation ? `${b.lastRotation.status} (${b.lastRotation.step})` : '—'}</td>
                <td>
                  {b.rotation?.strategy === 'generated' && (
                    <button type="button" className="secondary small" onClick={() => setTarget(b)}>
                      Rotate<span className="sr-only">{` ${b.service}/${b.bundle}`}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {following && <RotationProgress {...following} />}
      <Dialog.Root
        open={target !== null}
        onOpenChange={(open) => {
          if (!open) {
            setTarget(null);
            rotate.reset();
          }
        }}
      >
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>
              Rotate {target?.service}/{target?.bundle}?
            </Dialog.Title>
            <Dialog.Description>
              The server generates a new value by the bundle's policy, writes it, and rolls its consumers. The value is
              never shown.
            </Dialog.Description>
            <ErrorMessage error={rotate.error} />
            <div className="actions">
              <button type="button" disabled={rotate.isPending} onClick={() => target && rotate.mutate(target)}>
                Rotate
              </button>
              <Dialog.Close asChild>
                <button type="button" className="secondary">
                  Cancel
                </button>
              </Dialog.Close>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </section>
  );
}

/** A rotation's steps, each with its outcome, refreshed while it runs. */
function RotationProgress({ service, bundle, id }: { service: string; bundle: string; id: string }) {
  const rotation = useQuery({
    queryKey: ['rotation', service, bundle, id],
    queryFn: async () =>
      (
        await unwrap(
          api.GET('/api/admin/secrets/{service}/{bundle}/rotations/{id}', {
            params: { path: { service, bundle, id } },
          }),
        )
      ).data as Rotation,
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 500 : false),
  });
  const r = rotation.data;
  return (
    <section aria-labelledby="rotation-h" className="panel" data-testid="rotation">
      <h2 id="rotation-h">
        Rotation of {service}/{bundle}
      </h2>
      <ErrorMessage error={rotation.error} />
      {r && (
        <>
          <p aria-live="polite">
            <span className={`badge rotation-${r.status}`}>{r.status}</span> version {r.previousVersion ?? '—'} →{' '}
            {r.version ?? '…'}
          </p>
          <ol className="steps">
            {r.steps.map((step) => {
              const events = r.history.filter((h) => h.step === step);
              const last = events.at(-1);
              return (
                <li key={step} data-step={step} data-outcome={last?.outcome ?? 'pending'}>
                  <code>{step}</code>: {last ? last.outcome : 'pending'}
                  {last?.detail && <span className="muted small"> — {last.detail}</span>}
                </li>
              );
            })}
          </ol>
          {r.error && (
            <p role="alert" className="error">
              {r.error.step}: {r.error.message} <code>{r.error.code}</code>
            </p>
          )}
        </>
      )}
    </section>
  );
}
