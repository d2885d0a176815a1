import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api, etagOf, unwrap } from './api/client.js';

/**
 * Live view. The server has no admin change stream yet (its SSE stream is for client tokens, one environment), so
 * the console polls every second while the tab is visible: a change made elsewhere (CLI, another tab, another
 * replica) shows within about a second. Switch to an admin SSE stream when the server offers one.
 */
export const LIVE_INTERVAL_MS = 1000;

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
    refetchInterval: LIVE_INTERVAL_MS,
  });
}

export function useFlag(key: string) {
  return useQuery({
    queryKey: ['flag', key],
    queryFn: async () => {
      const { data, response } = await unwrap(api.GET('/api/admin/flags/{key}', { params: { path: { key } } }));
      return { flag: data, etag: etagOf(response) };
    },
    refetchInterval: LIVE_INTERVAL_MS,
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
