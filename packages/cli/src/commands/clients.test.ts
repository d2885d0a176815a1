import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { age, renderClients } from './clients.js';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');

describe('rctl clients rendering', () => {
  it('age is compact and never negative', () => {
    assert.equal(age('2026-12-01T11:59:18.000Z', NOW), '42s');
    assert.equal(age('2026-12-01T11:55:00.000Z', NOW), '5m');
    assert.equal(age('2026-12-01T09:00:00.000Z', NOW), '3h');
    assert.equal(age('2026-11-29T12:00:00.000Z', NOW), '2d');
    assert.equal(age('2026-12-01T12:00:05.000Z', NOW), '0s', 'a clock ahead of ours is not a negative age');
  });

  it('shows each client, marks one behind the environment revision, and sums up the replicas', () => {
    const client = {
      replica: 'rc-0',
      kind: 'sdk' as const,
      transport: 'stream' as const,
      app: 'api-gateway',
      instance: 'pod-a/1',
      agent: 'runtime-control-sdk/0.1.0 node/20.20.2',
      environment: 'production',
      token: { id: 't1', name: 'gw' },
      connectedSince: '2026-12-01T11:59:00.000Z',
      lastSeen: null,
      lastRevision: 41,
      environmentRevision: 42,
      upToDate: false,
    };
    const text = renderClients(
      {
        clients: [
          client,
          { ...client, kind: 'unleash', app: null, lastRevision: null, upToDate: null },
          {
            ...client,
            kind: 'ofrep',
            transport: 'polling',
            app: 'billing',
            agent: 'OpenFeature-OFREP/0.2',
            lastSeen: '2026-12-01T11:59:30.000Z',
          },
        ],
        replicas: [
          { id: 'rc-0', self: true, reportedAt: '2026-12-01T12:00:00.000Z', connections: 2, truncated: 0 },
          { id: 'rc-1', self: false, reportedAt: '2026-12-01T11:59:50.000Z', connections: 5001, truncated: 1 },
        ],
      },
      NOW,
    );
    assert.match(
      text,
      /api-gateway\s+pod-a\/1\s+runtime-control-sdk\/0\.1\.0 node\/20\.20\.2\s+sdk\s+production\s+gw\s+1m\s+41 \(behind 42\)\s+rc-0/,
    );
    assert.match(text, /^-\s+pod-a\/1\s+.*\s+unleash\s+.*\s+-\s+rc-0$/m);
    // A polling caller: when it was last seen, and its revision is not marked behind (it catches up at its next poll).
    assert.match(
      text,
      /^billing\s+pod-a\/1\s+OpenFeature-OFREP\/0\.2\s+ofrep \(polling, last 30s ago\)\s+production\s+gw\s+1m\s+41\s+rc-0$/m,
    );
    assert.match(
      text,
      /replicas: rc-0 \(2 connections, live\); rc-1 \(5001 connections, reported 10s ago, 1 not listed\)/,
    );
  });

  it('says so when nobody is connected', () => {
    const text = renderClients({ clients: [], replicas: [] }, NOW);
    assert.match(text, /^no clients connected$/m);
  });
});
