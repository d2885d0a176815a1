import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '@runtime-control/testkit';
import { type DevmentorFakes, startDevmentorFakes } from '../../testing/secrets-fakes.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * The secrets API with RC_SECRETS_BACKEND=vault against the fakes (FakeVault, FakeKubernetes, the FakeEsoController
 * simulation — fakes, not the real servers; see docs/secrets.md "Test fakes"): the DevMentor platform file's
 * ExternalSecrets and consumers applied, status in-sync with consumers running the current value, and a rotation
 * through all five steps with a supplied sentinel value that appears in no response, log line or audit record.
 */

describe('secrets API on the Vault backend (fakes: Vault, Kubernetes, ESO)', () => {
  let fakes: DevmentorFakes;
  let dir: string;
  let t: TestApp;
  const seen: string[] = [];

  // biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
  const api = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await t.app.inject({
      method,
      url: path,
      headers: t.admin,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    seen.push(res.body);
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  before(async () => {
    fakes = await startDevmentorFakes();
    dir = await mkdtemp(join(tmpdir(), 'rc-secrets-vault-'));
    t = await createTestApp({ RC_DATA_DIR: dir, ...fakes.env(), RC_LOG_LEVEL: 'debug' });
  });

  after(async () => {
    await t?.close();
    await fakes?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every bundle reaches in-sync, with the ExternalSecret Ready and the consumers on the current value', async () => {
    await eventually(
      async () =>
        (await api('GET', '/api/admin/secrets')).body.bundles.every((b: { state: string }) => b.state === 'in-sync'),
      15_000,
      'all in-sync',
    );
    const jwt = (await api('GET', '/api/admin/secrets/auth-service/jwt')).body;
    assert.equal(jwt.backend, 'vault');
    assert.equal(jwt.currentVersion, 1);
    assert.equal(jwt.externalSecret.ready, 'True');
    assert.equal(jwt.secret.managedByEso, true);
    assert.deepEqual(
      jwt.consumers.map((c: { deployment: string; runsCurrentValue: boolean }) => [c.deployment, c.runsCurrentValue]),
      [
        ['auth-service', true],
        ['api-gateway', true],
      ],
    );
  });

  it('rotates through all five steps; the Secret gets the value, consumers restart; the value is never shown', async () => {
    const sentinel = `redis://:${randomBytes(16).toString('base64url')}@cache:6379/0`;
    const started = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.deepEqual(started.body.steps, ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout']);
    let done: { status: string; version: number; history: { step: string; outcome: string }[] } | undefined;
    await eventually(
      async () => {
        const r = await api('GET', `/api/admin/secrets/api-gateway/redis/rotations/${started.body.id}`);
        done = r.body;
        return r.body.status !== 'running';
      },
      30_000,
      'rotation finished',
    );
    assert.equal(done!.status, 'completed', JSON.stringify(done));
    assert.equal(done!.version, 2);
    assert.deepEqual(
      done!.history.filter((h) => h.outcome === 'succeeded').map((h) => h.step),
      ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout'],
    );
    const secret = fakes.kube.get('Secret', 'devmentor-app', 'api-gateway-redis');
    assert.equal(Buffer.from(secret!.data!.REDIS_URL!, 'base64').toString('utf8'), sentinel);
    const show = await api('GET', '/api/admin/secrets/api-gateway/redis');
    assert.equal(show.body.state, 'in-sync');
    assert.equal(show.body.currentVersion, 2);
    assert.equal(show.body.consumers[0].runsCurrentValue, true);

    // Every step in the audit log, with versions; the value nowhere in it (checked below with the responses).
    await t.rt.secrets.auditWritten();
    const audit = await api('GET', '/api/admin/audit?type=secret&key=api-gateway/redis');
    assert.deepEqual(
      audit.body.records
        .filter((r: { after: { rotation: string } }) => r.after.rotation === started.body.id)
        .reverse()
        .filter((r: { after: { outcome?: string } }) => r.after.outcome !== 'started')
        .map((r: { after: { event: string; previousVersion?: number; version?: number } }) =>
          [r.after.event, r.after.previousVersion, r.after.version].join(' '),
        ),
      [
        'vault-written 1 2',
        'sync-forced 1 2',
        'synced 1 2',
        'consumers-restarted 1 2',
        'rolled-out 1 2',
        'completed 1 2',
      ],
    );

    const forms = [
      sentinel,
      Buffer.from(sentinel).toString('base64'),
      Buffer.from(sentinel).toString('hex'),
      encodeURIComponent(sentinel),
    ];
    for (const [where, texts] of [
      ['responses', seen],
      ['logs', t.logs],
    ] as const) {
      for (const text of texts) for (const form of forms) assert.ok(!text.includes(form), `value in ${where}`);
    }
    for (const text of [...t.logs, ...seen]) assert.ok(!text.includes(fakes.vault.rootToken), 'no Vault token');
  });
  it('a rotation failing at force-sync is audited with its reason; resumed by someone else, the rest is theirs', async () => {
    const es = (refreshInterval: string) =>
      fakes.kube.edit('ExternalSecret', 'devmentor-app', 'api-gateway-redis', (o) => {
        o.spec = { ...o.spec, refreshInterval };
      });
    es('0s');
    const sentinel = `redis://:${randomBytes(16).toString('base64url')}@cache:6379/3`;
    const started = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const path = `/api/admin/secrets/api-gateway/redis/rotations/${started.body.id}`;
    // biome-ignore lint/suspicious/noExplicitAny: the rotation view
    let state: any;
    await eventually(
      async () => {
        state = (await api('GET', path)).body;
        return state.status !== 'running';
      },
      30_000,
      'rotation stopped',
    );
    assert.equal(state.status, 'failed');
    assert.equal(state.error.step, 'force-sync');
    es('1h');
    const resumed = await t.app.inject({
      method: 'POST',
      url: `${path}/resume`,
      headers: { ...t.admin, 'x-rc-actor': 'oncall' },
      payload: '{}',
    });
    seen.push(resumed.body);
    assert.equal(resumed.statusCode, 202, resumed.body);
    await eventually(
      async () => {
        state = (await api('GET', path)).body;
        return state.status !== 'running';
      },
      30_000,
      'resumed rotation finished',
    );
    assert.equal(state.status, 'completed', JSON.stringify(state));
    assert.equal(state.version, 3);

    await t.rt.secrets.auditWritten();
    const audit = await api('GET', '/api/admin/audit?type=secret&key=api-gateway/redis');
    // biome-ignore lint/suspicious/noExplicitAny: audit records
    const ofThis = audit.body.records.filter((r: any) => r.after.rotation === started.body.id).reverse();
    assert.deepEqual(
      // biome-ignore lint/suspicious/noExplicitAny: audit records
      ofThis.map((r: any) => `${r.actor}: ${r.after.event} ${r.after.step}`),
      [
        'admin: started write',
        'admin: vault-written write',
        'admin: step-started force-sync',
        'admin: failed force-sync',
        'admin (oncall): resumed force-sync',
        'admin (oncall): step-started force-sync',
        'admin (oncall): sync-forced force-sync',
        'admin (oncall): step-started wait-synced',
        'admin (oncall): synced wait-synced',
        'admin (oncall): step-started restart',
        'admin (oncall): consumers-restarted restart',
        'admin (oncall): step-started wait-rollout',
        'admin (oncall): rolled-out wait-rollout',
        'admin (oncall): completed wait-rollout',
      ],
    );
    // biome-ignore lint/suspicious/noExplicitAny: audit records
    const failed = ofThis.find((r: any) => r.after.event === 'failed');
    assert.match(failed.after.reason, /refreshInterval 0s/);
    assert.equal(failed.after.previousVersion, 2);
    assert.equal(failed.after.version, 3);
    // biome-ignore lint/suspicious/noExplicitAny: audit records
    assert.equal(ofThis.find((r: any) => r.after.event === 'resumed').after.rotationActor, 'admin');
    for (const text of [...seen, ...t.logs]) {
      for (const form of [sentinel, Buffer.from(sentinel).toString('base64'), encodeURIComponent(sentinel)]) {
        assert.ok(!text.includes(form), 'the value in a response, audit record or log line');
      }
    }
  });
});
