import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { useUrlFilters } from '../url-filters.js';

export function AuditPage() {
  const { params, set } = useUrlFilters();
  const flag = params.get('flag') ?? '';
  const actor = params.get('actor') ?? '';
  const since = params.get('since') ?? '';
  const until = params.get('until') ?? '';
  // <input type="datetime-local"> gives local time without a zone; the API takes ISO-8601 instants.
  const iso = (local: string) => {
    const d = new Date(local);
    return local && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
  };
  const audit = useQuery({
    queryKey: ['audit', flag, actor, since, until],
    queryFn: async () =>
      (
        await unwrap(
          api.GET('/api/admin/audit', {
            params: {
              query: {
                ...(flag ? { flag } : {}),
                ...(actor ? { actor } : {}),
                ...(iso(since) ? { since: iso(since) } : {}),
                ...(iso(until) ? { until: iso(until) } : {}),
                limit: '100',
              },
            },
          }),
        )
      ).data.records,
  });
  return (
    <section>
      <h1>Audit log</h1>
      <div className="toolbar">
        <label htmlFor="audit-flag">Flag</label>
        <input id="audit-flag" value={flag} maxLength={200} onChange={(e) => set('flag', e.target.value)} />
        <label htmlFor="audit-actor">Actor</label>
        <input id="audit-actor" value={actor} maxLength={200} onChange={(e) => set('actor', e.target.value)} />
        <label htmlFor="audit-since">From</label>
        <input id="audit-since" type="datetime-local" value={since} onChange={(e) => set('since', e.target.value)} />
        <label htmlFor="audit-until">To</label>
        <input id="audit-until" type="datetime-local" value={until} onChange={(e) => set('until', e.target.value)} />
      </div>
      <ErrorMessage error={audit.error} />
      {audit.data && audit.data.length === 0 && <p className="muted">No records.</p>}
      {audit.data && audit.data.length > 0 && (
        <table>
          <caption className="sr-only">Audit records, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {audit.data.map((r) => (
              <tr key={r.revision}>
                <td>{r.revision}</td>
                <td>
                  <time dateTime={r.at}>{new Date(r.at).toLocaleString()}</time>
                </td>
                <td>{r.actor}</td>
                <td>
                  {r.action} {r.entityType}{' '}
                  {r.entityType === 'flag' ? (
                    <Link to={`/flags/${encodeURIComponent(r.entityKey)}`}>{r.entityKey}</Link>
                  ) : (
                    <code>{r.entityKey}</code>
                  )}
                </td>
                <td>
                  <details>
                    <summary>before / after</summary>
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
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
