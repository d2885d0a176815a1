import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ChangeFrameData,
  changeFrame,
  ofrepRefetchFrame,
  readyFrame,
  reconnectFrame,
  secretRotatedFrame,
  snapshotFrame,
  unleashReadyFrame,
  unleashRefreshFrame,
} from './stream-frames.js';

describe('stream frames (the SSE wire format)', () => {
  it('client stream: snapshot and change carry the revision as id; ready does not', () => {
    const config = '{"flags":{"a":{"state":"ENABLED"}}}';
    assert.equal(snapshotFrame(config, 7), `id: 7\nevent: snapshot\ndata: ${config}\n\n`);
    const change = changeFrame(8, ['a', 'b'], config);
    assert.equal(change, `id: 8\nevent: change\ndata: {"revision":8,"changed":["a","b"],"config":${config}}\n\n`);
    const data = JSON.parse(change.split('\n')[2]!.slice('data: '.length)) as ChangeFrameData;
    assert.deepEqual(data, { revision: 8, changed: ['a', 'b'], config: JSON.parse(config) });
    assert.equal(readyFrame({ revision: 9 }), 'event: ready\ndata: {"revision":9}\n\n');
  });

  it('OFREP: an unnamed-type message with refetchEvaluation and the ETag', () => {
    assert.equal(ofrepRefetchFrame('abc'), 'event: message\ndata: {"type":"refetchEvaluation","etag":"abc"}\n\n');
  });

  it('Unleash bridge: ready {} and unleash-refresh with exactly the hint fields', () => {
    assert.equal(unleashReadyFrame(), 'event: ready\ndata: {}\n\n');
    const extra = { feature: 'f', type: 'feature-updated', environment: null, eventId: 4, source: 'webhook' };
    assert.equal(
      unleashRefreshFrame(extra),
      'event: unleash-refresh\ndata: {"feature":"f","type":"feature-updated","environment":null,"eventId":4}\n\n',
    );
  });

  it('secret-rotated: names and versions only, extra fields (a value) dropped', () => {
    const data = { service: 's', bundle: 'b', version: 3, rotation: 'r1', at: '2026-01-01T00:00:00.000Z' };
    const withValue = { ...data, value: 'hunter2-sentinel' };
    const frame = secretRotatedFrame(withValue);
    assert.equal(frame, `event: secret-rotated\ndata: ${JSON.stringify(data)}\n\n`);
    assert.ok(!frame.includes('hunter2'));
  });

  it('reconnect: the last frame of a draining replica, one line of JSON with the reason', () => {
    assert.equal(
      reconnectFrame('replica shutting down'),
      'event: reconnect\ndata: {"reason":"replica shutting down"}\n\n',
    );
    assert.equal(reconnectFrame('a\nb').split('\n').length, 4, 'a newline in the reason stays inside the JSON string');
  });
});
