import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { UnleashEventWatch, type UnleashRefreshHint, WATCH_PAGE } from './unleash-event-watch.js';

/**
 * The watch's own logic, fed answers shaped like Unleash 7.5's `GET /api/admin/search/events` (newest first). The
 * path against a real unleash-server is covered by packages/sdk/src/unleash/unleash-bridge.e2e.test.ts.
 */

type Row = { id: number; type: string; featureName?: string | null; environment?: string | null };

function watchWith(answers: (() => Response)[]) {
  const hints: UnleashRefreshHint[] = [];
  const requests: { url: string; authorization: string | null }[] = [];
  let errors = 0;
  const watch = new UnleashEventWatch({
    url: 'http://unleash.test',
    token: '*:*.token-sentinel',
    intervalMs: 250,
    logger: pino({ level: 'silent' }),
    onHint: (h) => hints.push(h),
    onError: () => errors++,
    fetchImpl: async (input, init) => {
      requests.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      return next();
    },
  });
  return { watch, hints, requests, errors: () => errors };
}

const page = (rows: Row[]) => () =>
  new Response(JSON.stringify({ events: [...rows].sort((a, b) => b.id - a.id), total: rows.length }), {
    headers: { 'content-type': 'application/json' },
  });

describe('UnleashEventWatch', () => {
  it('records where the log stands first, then reports each new feature event once, oldest first', async () => {
    const t = watchWith([
      page([{ id: 7, type: 'feature-created', featureName: 'old' }]),
      page([
        { id: 7, type: 'feature-created', featureName: 'old' },
        { id: 8, type: 'feature-environment-enabled', featureName: 'a', environment: 'production' },
        { id: 9, type: 'user-created' },
        { id: 10, type: 'feature-strategy-update', featureName: 'b', environment: 'development' },
        { id: 11, type: 'segment-updated' },
        { id: 12, type: 'segment-created' },
      ]),
      page([{ id: 12, type: 'segment-created' }]),
    ]);
    await t.watch.poll();
    assert.deepEqual(t.hints, [], 'nothing from before the watch started');
    assert.equal(t.watch.lastEventId, 7);
    assert.equal(t.watch.state, 'watching');
    await t.watch.poll();
    assert.deepEqual(t.hints, [
      { feature: 'a', type: 'feature-environment-enabled', environment: 'production', eventId: 8, source: 'watch' },
      { feature: 'b', type: 'feature-strategy-update', environment: 'development', eventId: 10, source: 'watch' },
      // A segment edit changes every flag using it: no flag named, providers fetch everything.
      { feature: null, type: 'segment-updated', environment: null, eventId: 11, source: 'watch' },
    ]);
    await t.watch.poll();
    assert.equal(t.hints.length, 3, 'an event already seen is not reported again');
    assert.equal(t.watch.lastEventId, 12);
    const url = new URL(t.requests[0]!.url);
    assert.equal(url.pathname, '/api/admin/search/events');
    assert.equal(url.searchParams.get('limit'), String(WATCH_PAGE));
    assert.match(url.searchParams.get('from') ?? '', /^IS:\d{4}-\d{2}-\d{2}$/);
    // Unleash takes its API tokens as the raw Authorization header.
    assert.equal(t.requests[0]!.authorization, '*:*.token-sentinel');
  });

  it('a full page of new events means some may be beyond it: one hint without a flag (fetch everything)', async () => {
    const burst = Array.from({ length: WATCH_PAGE }, (_, i) => ({
      id: 100 + i,
      type: 'feature-created',
      featureName: `f${i}`,
    }));
    const t = watchWith([page([{ id: 1, type: 'feature-created', featureName: 'x' }]), page(burst)]);
    await t.watch.poll();
    await t.watch.poll();
    assert.deepEqual(t.hints[0], {
      feature: null,
      type: 'features-changed',
      environment: null,
      eventId: null,
      source: 'watch',
    });
    assert.equal(t.hints.length, WATCH_PAGE + 1);
    assert.equal(t.watch.lastEventId, 100 + WATCH_PAGE - 1);
  });

  it('reports failures (rejected token, unreachable, not an event list) without the token, then recovers', async () => {
    const t = watchWith([
      () => new Response('{"message":"no"}', { status: 401 }),
      () => {
        // What Node's fetch throws for a refused connection.
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4242'), { code: 'ECONNREFUSED' }),
        });
      },
      () => new Response('{"items":[]}', { headers: { 'content-type': 'application/json' } }),
      () => new Response('{"events":[{"type":"feature-created"}]}'),
      page([{ id: 3, type: 'feature-created', featureName: 'x' }]),
    ]);
    await t.watch.poll();
    assert.equal(t.watch.state, 'failing');
    assert.match(t.watch.lastError!, /answered 401.*RC_UNLEASH_TOKEN/);
    await t.watch.poll();
    assert.match(t.watch.lastError!, /cannot reach Unleash at http:\/\/unleash.test: ECONNREFUSED/);
    await t.watch.poll();
    assert.match(t.watch.lastError!, /without an "events" array/);
    await t.watch.poll();
    assert.match(t.watch.lastError!, /without a numeric id/);
    assert.equal(t.errors(), 4);
    for (const message of [t.watch.lastError ?? '']) assert.doesNotMatch(message, /sentinel/);
    await t.watch.poll();
    assert.equal(t.watch.state, 'watching');
    assert.equal(t.watch.lastError, undefined);
    assert.equal(t.watch.lastEventId, 3);
    assert.deepEqual(t.hints, []);
  });

  it('polls on its interval once started, and stops', async () => {
    const answers = Array.from({ length: 50 }, () => page([]));
    const t = watchWith(answers);
    const fast = new UnleashEventWatch({
      url: 'http://unleash.test',
      token: 't',
      intervalMs: 50,
      logger: pino({ level: 'silent' }),
      onHint: () => {},
      fetchImpl: async () => answers.shift()!(),
    });
    fast.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    fast.stop();
    const polls = fast.polls;
    assert.ok(polls >= 3, `polled ${polls} times in 300 ms at a 50 ms interval`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(fast.polls, polls, 'no poll after stop');
    assert.equal(fast.state, 'stopped');
    assert.equal(t.requests.length, 0);
  });
});
