import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PollingCallers } from './polling-callers.js';

describe('PollingCallers', () => {
  const headers = (agent: string, app?: string) => ({ 'user-agent': agent, ...(app ? { 'x-rc-app': app } : {}) });
  const view = (name: string, revision: number) => ({ name, flagSet: null, revision });

  it('a caller that names nothing is one caller, told apart from each one that names something', () => {
    const callers = new PollingCallers();
    callers.seen('t', view('e', 1), {});
    callers.seen('t', view('e', 2), {});
    callers.seen('t', view('e', 2), { 'user-agent': '' });
    callers.seen('t', view('e', 2), { 'x-rc-app': 'billing' });
    callers.seen('t', view('e', 2), { 'x-rc-instance': 'pod-1' });
    callers.seen('t', view('e', 2), { 'user-agent': 'undefined' });
    const listed = callers.list().callers;
    assert.equal(listed.length, 4);
    const unnamed = listed.filter((c) => c.agent === undefined && c.app === undefined && c.instance === undefined);
    assert.equal(unnamed.length, 1);
    assert.equal(unnamed[0]?.lastRevision, 2);
  });

  it('one entry per token (one environment each) and what the caller says; updated on every call', () => {
    let now = 1000;
    const callers = new PollingCallers({ now: () => now });
    callers.seen('t1', view('production', 5), headers('ofrep/1', 'billing'));
    now = 2000;
    callers.seen('t1', view('production', 6), headers('ofrep/1', 'billing'));
    callers.seen('t2', view('production', 6), headers('ofrep/1', 'billing'));
    callers.seen('t1', view('production', 6), headers('ofrep/1'));
    const { callers: listed, overflow } = callers.list();
    assert.equal(overflow, 0);
    assert.equal(listed.length, 3);
    const first = listed.find((c) => c.tokenId === 't1' && c.environment === 'production');
    assert.deepEqual(first, {
      environment: 'production',
      flagSet: null,
      tokenId: 't1',
      app: 'billing',
      instance: undefined,
      agent: 'ofrep/1',
      firstSeen: 1000,
      lastSeen: 2000,
      lastRevision: 6,
    });
  });

  it('shows only printable, bounded header text', () => {
    const callers = new PollingCallers();
    callers.seen('t', view('e', 1), { 'user-agent': `x${'y'.repeat(300)}`, 'x-rc-app': 'caf\u00e9' });
    const [c] = callers.list().callers;
    assert.equal(c?.agent?.length, 120);
    assert.equal(c?.app, undefined);
  });

  it('forgets callers not seen within the expiry', () => {
    let now = 0;
    const callers = new PollingCallers({ now: () => now, expiryMs: 1000 });
    callers.seen('t', view('e', 1), headers('a'));
    now = 900;
    callers.seen('t', view('e', 1), headers('b'));
    now = 1500;
    assert.deepEqual(
      callers.list().callers.map((c) => c.agent),
      ['b'],
    );
  });

  it('holds at most `max` callers: a full map of live callers counts newcomers instead of growing', () => {
    let now = 0;
    const callers = new PollingCallers({ now: () => now, max: 3, expiryMs: 10_000 });
    for (let i = 0; i < 10; i++) callers.seen('t', view('e', 1), headers(`agent-${i}`));
    let listed = callers.list();
    assert.equal(listed.callers.length, 3);
    assert.equal(listed.overflow, 7);
    assert.equal(callers.list().overflow, 7, 'reading the count does not reset it (the report and the API agree)');
    // Known callers still update while the map is full.
    now = 5000;
    callers.seen('t', view('e', 2), headers('agent-0'));
    // Once the others expire, a newcomer takes a freed place (the sweep runs at most once a second).
    now = 12_000;
    callers.seen('t', view('e', 3), headers('newcomer'));
    listed = callers.list();
    assert.deepEqual(listed.callers.map((c) => c.agent).sort(), ['agent-0', 'newcomer']);
  });

  it('counts calls turned away over the trailing minute: older ones drop out, reads change nothing', () => {
    let now = 0;
    const callers = new PollingCallers({ now: () => now, max: 1, expiryMs: 10 * 60_000 });
    callers.seen('t', view('e', 1), headers('kept'));
    for (let i = 0; i < 4; i++) callers.seen('t', view('e', 1), headers(`away-${i}`));
    now = 30_000;
    for (let i = 0; i < 2; i++) callers.seen('t', view('e', 1), headers(`later-${i}`));
    assert.equal(callers.list().overflow, 6);
    assert.equal(callers.list().overflow, 6);
    // The first four were a minute ago (their bucket left the window); the last two were 30 s ago.
    now = 65_000;
    assert.equal(callers.list().overflow, 2);
    now = 100_000;
    assert.equal(callers.list().overflow, 0);
    // A gap longer than the window leaves no stale bucket behind.
    now = 10 * 60_000;
    callers.seen('t', view('e', 1), headers('again'));
    assert.equal(callers.list().overflow, 1);
  });
});
