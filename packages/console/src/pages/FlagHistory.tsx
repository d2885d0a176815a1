import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { type AuditRecord, api, type Flag, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';

function isFlag(value: unknown, key: string): value is Flag {
  return typeof value === 'object' && value !== null && (value as { key?: unknown }).key === key;
}

/**
 * The flag's history from the audit log, newest first, each change with its before and after. "Revert to this
 * version" asks the server to write that revision's flag back (POST …/revert with If-Match, so a change made meanwhile
 * is not overwritten); the audit log records it with action `revert`.
 */
export function FlagHistory({ flag, etag }: { flag: Flag; etag: string | undefined }) {
  const queryClient = useQueryClient();
  const id = useId();
  const [target, setTarget] = useState<AuditRecord | null>(null);
  const history = useQuery({
    queryKey: ['audit', 'flag', flag.key],
    queryFn: async () =>
      (await unwrap(api.GET('/api/admin/audit', { params: { query: { flag: flag.key, limit: '20' } } }))).data.records,
  });
  const revert = useMutation({
    mutationFn: async (record: AuditRecord) => {
      if (!isFlag(record.after, flag.key)) throw new Error('That record holds no version of this flag.');
      return unwrap(
        api.POST('/api/admin/flags/{key}/revert', {
          params: { path: { key: flag.key } },
          body: { revision: record.revision },
          headers: { ...(etag ? { 'if-match': etag } : {}), 'x-rc-actor': 'console' },
        }),
      );
    },
    onSuccess: () => {
      setTarget(null);
      return Promise.all([
        queryClient.invalidateQueries({ queryKey: ['flag', flag.key] }),
        queryClient.invalidateQueries({ queryKey: ['audit'] }),
      ]);
    },
  });
  const records = history.data ?? [];
  const current = JSON.stringify(flag);
  return (
    <section aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>History</h2>
      <ErrorMessage error={history.error} />
      {records.length === 0 && <p className="muted">No changes recorded.</p>}
      {records.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">When and who</th>
              <th scope="col">Change</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={r.revision} data-revision={r.revision}>
                <td>r{r.revision}</td>
                <td>
                  <time dateTime={r.at}>{new Date(r.at).toLocaleString()}</time>
                  <div className="muted small">{r.actor}</div>
                </td>
                <td>
                  <details>
                    <summary>{r.action}: before / after</summary>
                    <div className="diff">
                      <figure>
                        <figcaption>before</figcaption>
                        <pre>{JSON.stringify(r.before, null, 2)}</pre>
                      </figure>
                      <figure>
                        <figcaption>after</figcaption>
                        <pre>{JSON.stringify(r.after, null, 2)}</pre>
                      </figure>
                    </div>
                  </details>
                </td>
                <td>
                  {isFlag(r.after, flag.key) && JSON.stringify(r.after) !== current && (
                    <button type="button" className="secondary small" onClick={() => setTarget(r)}>
                      Revert to r{r.revision}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Dialog.Root
        open={target !== null}
        onOpenChange={(open) => {
          if (!open) {
            setTarget(null);
            revert.reset();
          }
        }}
      >
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>
              Revert {flag.key} to r{target?.revision}?
            </Dialog.Title>
            <Dialog.Description>
              The flag is written back as it was after revision {target?.revision}, in every environment. The audit log
              records the revert as a new change.
            </Dialog.Description>
            <ErrorMessage error={revert.error} />
            <div className="actions">
              <button type="button" disabled={revert.isPending} onClick={() => target && revert.mutate(target)}>
                Revert
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
