import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, type CreatedToken, type TokenInfo, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { useEnvironments } from '../queries.js';

export function TokensPage() {
  const queryClient = useQueryClient();
  const environments = useEnvironments();
  const tokens = useQuery({
    queryKey: ['tokens'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/tokens'))).data.tokens,
  });
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'client' | 'admin'>('client');
  const [env, setEnv] = useState('');
  // The secret lives only in this state while the one-time dialog is open; closing it drops it.
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoking, setRevoking] = useState<TokenInfo | null>(null);
  const environment = env || environments.data?.[0] || '';

  const create = useMutation({
    mutationFn: async () =>
      (
        await unwrap(
          api.POST('/api/admin/tokens', {
            body: (kind === 'client' ? { kind, name: name.trim(), environment } : { kind, name: name.trim() }) as never,
          }),
        )
      ).data as CreatedToken,
    onSuccess: (token) => {
      setCreated(token);
      setName('');
      return queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(api.DELETE('/api/admin/tokens/{id}', { params: { path: { id } } })),
    onSuccess: () => {
      setRevoking(null);
      return queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };

  return (
    <section>
      <h1>Tokens</h1>
      <h2>Create a token</h2>
      <form className="inline" onSubmit={submit}>
        <label htmlFor="token-name">Name</label>
        <input
          id="token-name"
          value={name}
          maxLength={100}
          placeholder="api-gateway"
          onChange={(e) => setName(e.target.value)}
        />
        <label htmlFor="token-kind">Kind</label>
        <select id="token-kind" value={kind} onChange={(e) => setKind(e.target.value as 'client' | 'admin')}>
          <option value="client">client (one environment)</option>
          <option value="admin">admin</option>
        </select>
        {kind === 'client' && (
          <>
            <label htmlFor="token-env">Environment</label>
            <select id="token-env" value={environment} onChange={(e) => setEnv(e.target.value)}>
              {(environments.data ?? []).map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          </>
        )}
        <button type="submit" disabled={create.isPending || !name.trim()}>
          Create token
        </button>
      </form>
      <ErrorMessage error={create.error} />

      <h2>Tokens</h2>
      <ErrorMessage error={tokens.error ?? revoke.error} />
      {tokens.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Environment</th>
              <th scope="col">Created</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id} data-token={t.id}>
                <td>{t.name}</td>
                <td>{t.kind}</td>
                <td>{t.environment ?? '—'}</td>
                <td>
                  <time dateTime={t.createdAt}>{new Date(t.createdAt).toLocaleString()}</time>
                </td>
                <td>{t.revokedAt ? `revoked ${new Date(t.revokedAt).toLocaleString()}` : 'active'}</td>
                <td>
                  {!t.revokedAt && (
                    <button type="button" className="secondary small" onClick={() => setRevoking(t)}>
                      Revoke<span className="sr-only"> {t.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <Dialog.Root open={created !== null} onOpenChange={(open) => !open && setCreated(null)}>
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>Token “{created?.name}” created</Dialog.Title>
            <Dialog.Description>
              Copy it now: it is shown only once, and the server keeps only its hash.
            </Dialog.Description>
            <label htmlFor="created-token">Token</label>
            <input id="created-token" readOnly value={created?.token ?? ''} onFocus={(e) => e.target.select()} />
            <div className="actions">
              <button type="button" onClick={() => void navigator.clipboard?.writeText(created?.token ?? '')}>
                Copy
              </button>
              <Dialog.Close asChild>
                <button type="button" className="secondary">
                  Done
                </button>
              </Dialog.Close>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>

      <Dialog.Root open={revoking !== null} onOpenChange={(open) => !open && setRevoking(null)}>
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>Revoke “{revoking?.name}”?</Dialog.Title>
            <Dialog.Description>
              Immediate on every replica: its open streams close and its next request gets 401. This cannot be undone.
            </Dialog.Description>
            <div className="actions">
              <button
                type="button"
                className="danger"
                disabled={revoke.isPending}
                onClick={() => revoking && revoke.mutate(revoking.id)}
              >
                Revoke
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
