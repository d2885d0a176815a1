import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link } from 'react-router';
import { api, type ConnectedClient, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { CLIENTS_INTERVAL_MS, useEnvironments } from '../queries.js';
import { useUrlFilters } from '../url-filters.js';

/** How long ago `iso` was, as of `now`: 42 s ago, 5 min ago, 3 h ago, 2 d ago (a clock ahead of ours reads 0 s). */
function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

const KIND_LABEL: Record<ConnectedClient['kind'], string> = { sdk: 'SDK', ofrep: 'OFREP', unleash: 'Unleash bridge' };

/**
 * Where a client stands against the revision its replica serves: a stream that was not sent the latest revision is
 * behind; a polling caller whose last answer is older only has not asked since the change (its next poll catches up).
 * The Unleash bridge carries no revision.
 */
type Standing = 'up-to-date' | 'behind' | 'poll-behind' | 'unknown';

function standingOf(c: ConnectedClient): Standing {
  if (c.upToDate === true) return 'up-to-date';
  if (c.upToDate === false) return c.transport === 'polling' ? 'poll-behind' : 'behind';
  return 'unknown';
}

const byText = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a.localeCompare(b);

/** App, then instance, then kind; the newest connection first among equals. */
function compareClients(a: ConnectedClient, b: ConnectedClient): number {
  return (
    byText(a.app, b.app) ||
    byText(a.instance, b.instance) ||
    a.kind.localeCompare(b.kind) ||
    b.connectedSince.localeCompare(a.connectedSince)
  );
}

/**
 * A stable React key per row: what identifies a connection (the API has no id), and a count for the rare two that
 * say the same (one process opening two streams in the same millisecond).
 */
function withKeys(rows: ConnectedClient[]): { key: string; client: ConnectedClient }[] {
  const seen = new Map<string, number>();
  return rows.map((client) => {
    const { replica, kind, transport, token, app, instance, agent, connectedSince } = client;
    const base = [replica, kind, transport, token.id, app, instance, agent, connectedSince].join('\n');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { key: n === 0 ? base : `${base}\n${n}`, client };
  });
}

function matches(c: ConnectedClient, q: string): boolean {
  return [c.app, c.instance, c.environment, c.agent, c.token.name, c.kind, c.replica].some((field) =>
    field?.toLowerCase().includes(q),
  );
}

/**
 * Who is connected, on every replica (`GET /api/admin/clients`, as `rctl clients` prints it): each SDK stream, OFREP
 * stream or polling OFREP caller, grouped by environment, with the revision it was sent against the one its replica
 * serves. Connections are not revisions, so the list is polled; a revision (the admin stream) re-reads it at once, so
 * "behind" shows without waiting for the next poll. Tokens by name only: the API never returns a secret.
 */
export function ClientsPage() {
  const environments = useEnvironments();
  const list = useQuery({
    queryKey: ['clients'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/clients'))).data,
    refetchInterval: CLIENTS_INTERVAL_MS,
  });
  const { params, set } = useUrlFilters();
  const search = params.get('q') ?? '';
  const onlyBehind = params.get('behind') === '1';

  const clients = list.data?.clients;
  const all = clients ?? [];
  const groups = useMemo(() => {
    const q = search.trim().toLowerCase();
    const shown = (clients ?? []).filter((c) => (!q || matches(c, q)) && (!onlyBehind || c.upToDate === false));
    const byEnvironment = new Map<string, ConnectedClient[]>();
    for (const c of shown) {
      const rows = byEnvironment.get(c.environment);
      if (rows) rows.push(c);
      else byEnvironment.set(c.environment, [c]);
    }
    // Environments in their configured order (development before production), any other after, by name.
    const order = environments.data ?? [];
    const rank = (e: string) => (order.includes(e) ? order.indexOf(e) : order.length);
    return [...byEnvironment]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([environment, rows]) => ({ environment, rows: withKeys(rows.sort(compareClients)) }));
  }, [clients, search, onlyBehind, environments.data]);

  const now = list.dataUpdatedAt || Date.now();
  const behind = all.filter((c) => c.upToDate === false).length;
  const replicas = list.data?.replicas ?? [];
  const unlisted = replicas.reduce((n, r) => n + r.truncated, 0);
  const filtered = search.trim() !== '' || onlyBehind;

  return (
    <section>
      <div className="page-head">
        <h1>Clients</h1>
        <p className="muted" aria-live="polite">
          {list.data
            ? `${all.length} connected${behind > 0 ? ` · ${behind} behind` : ''} · every replica · refreshed every ${CLIENTS_INTERVAL_MS / 1000} s`
            : 'loading…'}
        </p>
      </div>
      <p className="hint">
        Every SDK stream, OFREP stream and polling OFREP caller (seen in the last 5 minutes), each with the revision it
        last received and the one its replica serves now. The same as <code>rctl clients</code>.
      </p>
      <ErrorMessage error={list.error} />
      {list.data && all.length > 0 && (
        <div className="toolbar">
          <label htmlFor="clients-filter">Filter</label>
          <input
            id="clients-filter"
            type="search"
            placeholder="app, environment, instance or token"
            value={search}
            onChange={(e) => set('q', e.target.value)}
          />
          <label className="row">
            <input type="checkbox" checked={onlyBehind} onChange={(e) => set('behind', e.target.checked ? '1' : '')} />
            Behind only
          </label>
        </div>
      )}
      {unlisted > 0 && (
        <p role="status" data-testid="clients-unlisted">
          <strong>{unlisted} more not listed</strong>: streams and polling callers over a replica's cap (5,000 of each),
          and calls of polling callers turned away in the last minute while its tracker was full (counts per replica
          below).
        </p>
      )}
      {list.data && all.length === 0 && <NoClients />}
      {list.data && all.length > 0 && groups.length === 0 && (
        <p className="muted">
          No client matches{search.trim() ? ` “${search.trim()}”` : ''}
          {onlyBehind ? ' that is behind' : ''}.
        </p>
      )}
      {groups.length > 0 && (
        <table className="clients">
          <caption className="sr-only">Connected clients by environment{filtered ? ' (filtered)' : ''}</caption>
          <thead>
            <tr>
              <th scope="col">App / instance</th>
              <th scope="col">Kind</th>
              <th scope="col">Connected</th>
              <th scope="col">Revision (sent / current)</th>
              <th scope="col">Status</th>
              <th scope="col">Token</th>
              <th scope="col">Replica</th>
              <th scope="col">Agent</th>
            </tr>
          </thead>
          {groups.map(({ environment, rows }) => {
            const late = rows.filter(({ client }) => client.upToDate === false).length;
            return (
              <tbody key={environment} data-environment={environment}>
                <tr className="group">
                  <th scope="rowgroup" colSpan={8}>
                    {environment}{' '}
                    <span className="muted small">
                      · {rows.length} client{rows.length === 1 ? '' : 's'}
                      {late > 0 ? ` · ${late} behind` : ''}
                    </span>
                  </th>
                </tr>
                {rows.map(({ key, client }) => (
                  <ClientRow key={key} client={client} now={now} />
                ))}
              </tbody>
            );
          })}
        </table>
      )}
      {replicas.length > 0 && (
        <p className="muted small" data-testid="clients-replicas">
          Replicas:{' '}
          {replicas
            .map(
              (r) =>
                `${r.id} (${r.connections} connection${r.connections === 1 ? '' : 's'}, ${
                  r.self ? 'this one, live' : `reported ${ago(r.reportedAt, now)}`
                }${r.truncated > 0 ? `, ${r.truncated} not listed` : ''})`,
            )
            .join('; ')}
        </p>
      )}
    </section>
  );
}

function ClientRow({ client: c, now }: { client: ConnectedClient; now: number }) {
  const standing = standingOf(c);
  return (
    <tr data-app={c.app ?? ''} data-environment={c.environment} data-standing={standing}>
      <td className="app">
        <strong>{c.app ?? <span className="muted">(unnamed)</span>}</strong>
        {c.instance && <div className="muted small instance">{c.instance}</div>}
      </td>
      <td className="kind">
        {KIND_LABEL[c.kind]} <span className="muted small">{c.transport}</span>
      </td>
      <td className="connected">
        <time dateTime={c.connectedSince} title={new Date(c.connectedSince).toLocaleString()}>
          {ago(c.connectedSince, now)}
        </time>
        {c.lastSeen && (
          <div className="muted small">
            last poll{' '}
            <time dateTime={c.lastSeen} title={new Date(c.lastSeen).toLocaleString()}>
              {ago(c.lastSeen, now)}
            </time>
          </div>
        )}
      </td>
      <td className="revision">
        {c.lastRevision === null ? '—' : `r${c.lastRevision}`} /{' '}
        {c.environmentRevision === null ? '—' : `r${c.environmentRevision}`}
      </td>
      <td className="standing">
        {standing === 'up-to-date' && <span className="badge client-up-to-date">up to date</span>}
        {standing === 'behind' && <span className="badge client-behind">behind</span>}
        {standing === 'poll-behind' && (
          <>
            <span className="badge client-poll-behind">behind</span>
            <div className="muted small">until its next poll</div>
          </>
        )}
        {standing === 'unknown' && <span className="muted">—</span>}
      </td>
      <td className="token">{c.token.name ?? c.token.id ?? <span className="muted">—</span>}</td>
      <td className="small replica">{c.replica}</td>
      <td className="small agent">{c.agent ?? <span className="muted">—</span>}</td>
    </tr>
  );
}

/** Nobody connected: how to get a service listed here. */
function NoClients() {
  const origin = globalThis.location?.origin ?? 'http://127.0.0.1:4400';
  return (
    <div className="panel" data-testid="clients-empty">
      <p>
        <strong>No client is connected.</strong> Point an SDK at this server with a client token (create one on the{' '}
        <Link to="/tokens">Tokens</Link> page) and give it an app name, which is how it is listed here:
      </p>
      <pre>
        <code>{`new RuntimeControlProvider({ url: '${origin}', token, appName: 'my-service' })`}</code>
      </pre>
      <p className="muted small">
        OFREP callers are listed too, while they evaluate (an <code>X-RC-App</code> header names them). From a terminal:{' '}
        <code>rctl clients</code>.
      </p>
    </div>
  );
}
