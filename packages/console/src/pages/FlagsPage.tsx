import * as Switch from '@radix-ui/react-switch';
import * as Tabs from '@radix-ui/react-tabs';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link } from 'react-router';
import { api, type Flag, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { TypeBadge } from '../components/TypeBadge.js';
import { useChanged, useEnvironments, useFlags } from '../queries.js';
import { useUrlFilters } from '../url-filters.js';

const flagKey = (f: Flag) => f.key;

export function FlagsPage() {
  const environments = useEnvironments();
  const flags = useFlags();
  const { params, set } = useUrlFilters();
  const envs = environments.data ?? [];
  const env = params.get('env') && envs.includes(params.get('env')!) ? params.get('env')! : envs[0];
  const search = params.get('q') ?? '';
  const changed = useChanged(flags.data?.flags, flagKey);

  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    const all = flags.data?.flags ?? [];
    return q
      ? all.filter(
          (f) =>
            f.key.toLowerCase().includes(q) ||
            (f.description ?? '').toLowerCase().includes(q) ||
            f.type.includes(q) ||
            (f.owner ?? '').toLowerCase().includes(q),
        )
      : all;
  }, [flags.data, search]);

  return (
    <section>
      <div className="page-head">
        <h1>Flags</h1>
        <p className="muted" aria-live="polite">
          {flags.data ? `revision ${flags.data.revision} · ${flags.data.flags.length} flags · live` : 'loading…'}
        </p>
        <Link className="button-link" to="/new-flag">
          New flag
        </Link>
      </div>
      <ErrorMessage error={environments.error ?? flags.error} />
      <div className="toolbar">
        <label htmlFor="flag-search">Search</label>
        <input
          id="flag-search"
          type="search"
          placeholder="key, description, owner or type"
          value={search}
          onChange={(e) => set('q', e.target.value)}
        />
      </div>
      {env && (
        <Tabs.Root value={env} onValueChange={(v) => set('env', v)}>
          <Tabs.List aria-label="Environment" className="tabs">
            {envs.map((e) => (
              <Tabs.Trigger key={e} value={e}>
                {e}
              </Tabs.Trigger>
            ))}
          </Tabs.List>
          {envs.map((e) => (
            <Tabs.Content key={e} value={e}>
              <FlagTable flags={shown} env={e} changed={changed} />
            </Tabs.Content>
          ))}
        </Tabs.Root>
      )}
    </section>
  );
}

function FlagTable({ flags, env, changed }: { flags: Flag[]; env: string; changed: Set<string> }) {
  const queryClient = useQueryClient();
  const toggle = useMutation({
    mutationFn: async ({ key, on }: { key: string; on: boolean }) =>
      unwrap(
        api.PATCH('/api/admin/flags/{key}/environments/{env}', {
          params: { path: { key, env } },
          body: { state: on ? 'ENABLED' : 'DISABLED' },
        }),
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['flags'] }),
  });
  if (flags.length === 0) return <p className="muted">No flags match.</p>;
  return (
    <>
      <ErrorMessage error={toggle.error} />
      <table className="flags">
        <caption className="sr-only">Flags in {env}</caption>
        <thead>
          <tr>
            <th scope="col">Flag</th>
            <th scope="col">Type</th>
            <th scope="col">Default</th>
            <th scope="col">Enabled in {env}</th>
          </tr>
        </thead>
        <tbody>
          {flags.map((f) => {
            const state = f.environments[env]?.state ?? 'DISABLED';
            const overrides = Object.keys(f.environments[env]?.overrides ?? {}).length;
            return (
              <tr key={f.key} data-flag={f.key} className={changed.has(f.key) ? 'changed' : undefined}>
                <td>
                  <Link to={`/flags/${encodeURIComponent(f.key)}?env=${encodeURIComponent(env)}`}>{f.key}</Link>
                  {f.description && <div className="muted small">{f.description}</div>}
                  {overrides > 0 && (
                    <div className="muted small">
                      {overrides} override{overrides === 1 ? '' : 's'}
                    </div>
                  )}
                </td>
                <td>
                  <TypeBadge type={f.type} />
                  {f.sensitive && <span className="badge badge-sensitive">sensitive</span>}
                </td>
                <td>
                  <code>{f.defaultVariant ?? '(code default)'}</code>
                </td>
                <td>
                  <Switch.Root
                    className="switch"
                    checked={state === 'ENABLED'}
                    aria-label={`${f.key} enabled in ${env}`}
                    disabled={toggle.isPending}
                    onCheckedChange={(on) => toggle.mutate({ key: f.key, on })}
                  >
                    <Switch.Thumb className="switch-thumb" />
                  </Switch.Root>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
