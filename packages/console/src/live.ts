import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { useEffect, useState } from 'react';
import { notifyUnauthorized, session } from './api/client.js';

/** The admin stream's `change` (`AdminChangeFrameData` in @runtime-control/core): keys only, never values. */
interface AdminChange {
  revision: number;
  flags: string[];
  evaluators: string[];
  tokens: string[];
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** How long to wait before connecting again after the stream failed or ended (the server's SSE `retry`). */
const RETRY_MS = 1000;

/** Re-reads what a change touched; pages show it at once (the flags list highlights changed rows). */
export function applyChange(queryClient: QueryClient, change: AdminChange): Promise<unknown> {
  const work: Promise<unknown>[] = [
    queryClient.invalidateQueries({ queryKey: ['flags'] }),
    queryClient.invalidateQueries({ queryKey: ['audit'] }),
    // Every revision can leave a connected client behind (until its stream is sent it, or it polls again).
    queryClient.invalidateQueries({ queryKey: ['clients'] }),
  ];
  // An evaluator change can change how any flag that uses it is shown; a token change only the tokens page.
  if (change.evaluators.length > 0) work.push(queryClient.invalidateQueries({ queryKey: ['flag'] }));
  else for (const key of change.flags) work.push(queryClient.invalidateQueries({ queryKey: ['flag', key] }));
  if (change.tokens.length > 0) work.push(queryClient.invalidateQueries({ queryKey: ['tokens'] }));
  return Promise.all(work);
}

/**
 * The console's live view: follows `GET /api/admin/stream` (with the bearer token in a header, so `fetch` rather than
 * EventSource, which cannot send one) and re-reads what each change touched. A change made anywhere — the CLI,
 * another tab, another replica — shows without reload as soon as the replica this page talks to has applied it.
 * After a reconnect everything is re-read once (changes may have been missed meanwhile).
 */
export function useLiveChanges(): LiveState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  useEffect(() => {
    let stopped = false;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let connectedBefore = false;

    const onEvent = (event: EventSourceMessage) => {
      if (event.event === 'ready') {
        setState('live');
        if (connectedBefore) void queryClient.invalidateQueries();
        connectedBefore = true;
      } else if (event.event === 'change') {
        void applyChange(queryClient, JSON.parse(event.data) as AdminChange);
      } else if (event.event === 'reconnect') {
        // The replica is shutting down; another one answers the next connection.
        controller?.abort();
      }
    };

    const connect = async () => {
      const token = session.token();
      if (stopped || token === null) return;
      controller = new AbortController();
      try {
        const res = await fetch('/api/admin/stream', {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (res.status === 401) {
          notifyUnauthorized();
          return;
        }
        if (res.ok && res.body) {
          const parser = createParser({ onEvent });
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        }
      } catch {
        // Aborted or the connection failed: connect again below.
      }
      if (stopped) return;
      setState('reconnecting');
      timer = setTimeout(connect, RETRY_MS);
    };

    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    };
  }, [queryClient]);
  return state;
}
