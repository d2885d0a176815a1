import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api, etagOf, unwrap } from './api/client.js';

/**
 * Flags, evaluators, tokens and the audit log follow the admin change stream (live.ts): their queries are re-read when
 * a change names them, not polled. Canary runs and secret rotations are not revisions of that stream (they move on
 * their own clock), so those pages poll every second while the tab is visible.
 */
export const LIVE_INTERVAL_MS = 1000;
/**
 * Connected clients are not revisions either, but they change slowly (a service starts, stops, polls): the clients
 * page polls every 5 s, and a revision re-reads it at once (live.ts) so "behind" shows without waiting.
 */
export const CLIENTS_INTERVAL_MS = 5000;

export function useEnvironments() {
  return useQuery({
    queryKey: ['environments'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/environments'))).data.environments,
    staleTime: 60_000,
  });
}

export function useFlags() {
  return useQuery({
    queryKey: ['flags'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/flags'))).data,
  });
}

export function useFlag(key: string) {
  return useQuery({
    queryKey: ['flag', key],
    queryFn: async () => {
      const { data, response } = await unwrap(api.GET('/api/admin/flags/{key}', { params: { path: { key } } }));
      return { flag: data, etag: etagOf(response) };
    },
  });
}

/**
 * Keys whose value changed since the previous render of `items` (not on the first load), for a short highlight.
 */
export function useChanged<T>(items: T[] | undefined, keyOf: (t: T) => string, ms = 2000): Set<string> {
  const previous = useRef<Map<string, string> | null>(null);
  const [changed, setChanged] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (!items) return;
    const now = new Map(items.map((t) => [keyOf(t), JSON.stringify(t)]));
    const before = previous.current;
    previous.current = now;
    if (!before) return;
    const keys = [...now].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
    if (keys.length === 0) return;
    setChanged((s) => new Set([...s, ...keys]));
    const timer = setTimeout(
      () =>
        setChanged((s) => {
          const next = new Set(s);
          for (const k of keys) next.delete(k);
          return next;
        }),
      ms,
    );
    return () => clearTimeout(timer);
  }, [items, keyOf, ms]);
  return changed;
}
