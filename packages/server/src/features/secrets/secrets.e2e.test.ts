import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SecretRotatedFrameData } from '@runtime-control/core';
import { generateSecretsKey, LocalSecretBackend } from '@runtime-control/secrets';
import { eventJson, openSse, type SseClient } from '@runtime-control/testkit';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

/**
 * The secrets feature through the API on the local backend (the embedded default): bundles from the DevMentor
 * platform file (the api-gateway/redis bundle's maximum age shortened to 1 s to see `overdue`), status states,
 * rotations end to end with their audit trail, 409, input errors, metrics, the `secret-rotated` stream frame, and a
 * sentinel: values rotated in appear in no response, log line (debug), metrics output, audit record or frame.
 */

const PLATFORM = new URL('../../../../../examples/devmentor/platform.yaml', import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: test helper over several response shapes
type AnyBody = any;

describe('secrets API (local backend)', () => {
  let dir: string;
  let t: TestApp;
  let url: string;
  let stream: SseClient;
  let key: string;
  /** Every response body and every stream frame, for the sentinel. */
  const seen: string[] = [];

  const api = async (
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: AnyBody }> => {
    const res = await t.app.inject({
      method,
      url: path,
      headers: t.admin,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    seen.push(res.body);
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  const finished = async (service: string, bundle: string, id: string) => {
    for (let i = 0; i < 100; i++) {
      const r = await api('GET', `/api/admin/secrets/${service}/${bundle}/rotations/${id}`);
      assert.equal(r.status, 200);
      if (r.body.status !== 'running') return r.body;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('rotation did not finish');
  };

  const rotate = async (service: string, bundle: string, body: Record<string, unknown> = {}) => {
    const r = await api('POST', `/api/admin/secrets/${service}/${bundle}/rotate`, body);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return finished(service, bundle, r.body.id);
  };

  /** The values the local backend holds now (read directly, as only a test may). */
  const storedValues = async (): Promise<string[]> => {
    const backend = new LocalSecretBackend({ database: join(dir, 'secrets.db'), key: Buffer.from(key, 'base64') });
    const out: string[] = [];
    try {
      for (const path of ['devmentor/auth-service/jwt', 'devmentor/api-gateway', 'devmentor/ai-gateway']) {
        const meta = await backend.readMetadata(path).catch(() => undefined);
        if (!meta) continue;
        for (let v = meta.oldestVersion; v <= meta.currentVersion; v++) {
          const { data } = await backend.readData(path, { version: v });
          for (const value of Object.values(data)) out.push(String(value));
        }
      }
    } finally {
      backend.close();
    }
    return out;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rc-secrets-api-'));
    const platform = (await readFile(PLATFORM, 'utf8')).replace(
      'rotation: { strategy: supplied, maxAge: 180d }',
      'rotation: { strategy: supplied, maxAge: 1s }',
    );
    assert.ok(platform.includes('maxAge: 1s'));
    await writeFile(join(dir, 'platform.yaml'), platform);
    key = generateSecretsKey();
    t = await createTestApp({
      RC_DATA_DIR: dir,
      RC_PLATFORM_FILE: join(dir, 'platform.yaml'),
      RC_SECRETS_KEY: key,
      RC_LOG_LEVEL: 'debug',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const client = await t.clientHeaders('development');
    stream = await openSse(`${url}/api/client/stream`, { headers: { authorization: client.authorization! } });
  });

  after(async () => {
    stream?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every bundle of the platform file, missing before a first value; no value field anywhere', async () => {
    const r = await api('GET', '/api/admin/secrets');
    assert.equal(r.status, 200);
    assert.equal(r.body.backend, 'local');
    assert.deepEqual(
      r.body.bundles.map(
        (b: { service: string; bundle: string; state: string }) => `${b.service}/${b.bundle}:${b.state}`,
      ),
      [
        'auth-service/jwt:missing',
        'api-gateway/redis:missing',
        'ai-gateway/providers:missing',
        'project-service/database:missing',
      ],
    );
    const jwt = r.body.bundles[0];
    assert.equal(jwt.currentVersion, null);
    assert.deepEqual(jwt.properties, [{ property: 'JWT_SECRET', env: 'JWT_SECRET' }]);
    assert.deepEqual(jwt.rotation, { strategy: 'generated', length: 64, alphabet: 'base64url', maxAge: '90d' });
    assert.deepEqual(
      jwt.consumers.map((c: { deployment: string; runsCurrentValue: unknown }) => [c.deployment, c.runsCurrentValue]),
      [
        ['auth-service', null],
        ['api-gateway', null],
      ],
    );
    assert.ok(!/"value"/.test(JSON.stringify(r.body)));
  });

  it('rotates a generated bundle end to end: versions move, status shows it, audit has every step', async () => {
    const started = await api('POST', '/api/admin/secrets/auth-service/jwt/rotate', {});
    assert.equal(started.status, 202);
    assert.deepEqual(started.body.steps, ['write']);
    assert.equal(started.body.property, 'JWT_SECRET');
    const first = await finished('auth-service', 'jwt', started.body.id);
    assert.equal(first.status, 'completed');
    assert.equal(first.previousVersion, 0);
    assert.equal(first.version, 1);
    assert.equal(first.actor, 'admin');
    assert.deepEqual(
      first.history.map((h: { step: string; outcome: string }) => `${h.step}:${h.outcome}`),
      ['write:started', 'write:succeeded'],
    );

    const second = await rotate('auth-service', 'jwt');
    assert.equal(second.previousVersion, 1);
    assert.equal(second.version, 2);
    const [generated] = (await storedValues()).slice(-1);
    assert.match(generated!, /^[A-Za-z0-9_-]{64}$/, 'generated per the policy: 64 base64url characters');

    const show = await api('GET', '/api/admin/secrets/auth-service/jwt');
    assert.equal(show.status, 200);
    assert.equal(show.body.state, 'in-sync');
    assert.equal(show.body.currentVersion, 2);
    assert.ok(show.body.ageSeconds >= 0 && show.body.ageSeconds < 60);
    assert.equal(show.body.maxAgeSeconds, 90 * 86400);
    assert.equal(show.body.overdue, false);
    assert.equal(show.body.lastRotation.id, second.id);

    const list = await api('GET', '/api/admin/secrets/auth-service/jwt/rotations');
    assert.deepEqual(
      list.body.rotations.map((r: { id: string }) => r.id),
      [second.id, first.id],
    );
    // Audit records in the log: each step with versions and actor.
    const audit = t.logs
      .map((l) => JSON.parse(l))
      .filter((l) => l.audit === 'secret-rotation' && l.rotation === second.id);
    assert.deepEqual(
      audit.map((a) => [a.step, a.outcome, a.actor]),
      [
        ['write', 'started', 'admin'],
        ['write', 'succeeded', 'admin'],
      ],
    );
    assert.equal(audit[1].previousVersion, 1);
    assert.equal(audit[1].version, 2);

    // The same steps in the audit log (`/api/admin/audit`, entity `secret`), oldest first: actor, time, versions.
    await t.rt.secrets.auditWritten();
    const records = await api('GET', '/api/admin/audit?type=secret&key=auth-service/jwt');
    assert.equal(records.status, 200);
    const ofSecond = records.body.records
      .filter((r: AnyBody) => r.after.rotation === second.id)
      .reverse()
      .map((r: AnyBody) => ({
        entity: `${r.entityType}:${r.entityKey}`,
        action: r.action,
        actor: r.actor,
        event: r.after.event,
        versions: `${r.after.previousVersion ?? '-'}→${r.after.version ?? '-'}`,
      }));
    const row = (event: string, versions: string) => ({
      entity: 'secret:auth-service/jwt',
      action: 'rotate',
      actor: 'admin',
      event,
      versions,
    });
    assert.deepEqual(ofSecond, [row('started', '-→-'), row('vault-written', '1→2'), row('completed', '1→2')]);
    for (const r of records.body.records) {
      assert.equal(new Date(r.at).toISOString(), r.at);
      assert.equal(r.before, null);
    }

    // The client stream got `secret-rotated`, with names and version only.
    const frame = await stream.waitFor(
      (e) => e.event === 'secret-rotated' && eventJson<SecretRotatedFrameData>(e).version === 2,
      2000,
    );
    assert.deepEqual(Object.keys(eventJson(frame)).sort(), ['at', 'bundle', 'rotation', 'service', 'version']);
  });

  it('a rollback writes the version before the rotation back as a new version', async () => {
    const list = await api('GET', '/api/admin/secrets/auth-service/jwt/rotations');
    const latest = list.body.rotations[0];
    const before = await storedValues();
    const r = await api('POST', `/api/admin/secrets/auth-service/jwt/rotations/${latest.id}/rollback`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await finished('auth-service', 'jwt', r.body.id);
    assert.equal(done.kind, 'rollback');
    assert.equal(done.status, 'completed');
    assert.equal(done.version, 3);
    const after = await storedValues();
    assert.equal(after.at(-1), before.at(-2), 'version 3 holds version 1 value');
    // The rollback's steps in the audit log, as action "rollback" with the versions it moved between.
    await t.rt.secrets.auditWritten();
    const audit = await api('GET', '/api/admin/audit?type=secret&key=auth-service/jwt&limit=10');
    assert.deepEqual(
      audit.body.records
        .filter((a: AnyBody) => a.after.rotation === r.body.id)
        .reverse()
        .map(
          (a: AnyBody) => `${a.action} ${a.after.event} ${a.after.previousVersion ?? '-'}→${a.after.version ?? '-'}`,
        ),
      ['rollback started -→-', 'rollback vault-written 2→3', 'rollback completed 2→3'],
    );
    // The first rotation created the secret: nothing to roll back to.
    const first = list.body.rotations[1];
    const none = await api('POST', `/api/admin/secrets/auth-service/jwt/rotations/${first.id}/rollback`);
    assert.equal(none.status, 409);
    assert.equal(none.body.error.code, 'NOTHING_TO_ROLL_BACK');
    const resume = await api('POST', `/api/admin/secrets/auth-service/jwt/rotations/${first.id}/resume`, {});
    assert.equal(resume.status, 409);
    assert.equal(resume.body.error.code, 'ROTATION_NOT_RESUMABLE');
  });

  it('supplied bundles need a value; overdue after the maximum age; error when a property is missing', async () => {
    const noValue = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', {});
    assert.equal(noValue.status, 400);
    assert.equal(noValue.body.error.code, 'VALIDATION_FAILED');
    assert.equal(noValue.body.error.path, '/value');
    const done = await rotate('api-gateway', 'redis', { value: 'redis://cache.internal:6379/0' });
    assert.equal(done.status, 'completed');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const show = await api('GET', '/api/admin/secrets/api-gateway/redis');
    assert.equal(show.body.state, 'overdue');
    assert.equal(show.body.overdue, true);
    assert.equal(show.body.maxAgeSeconds, 1);

    const noProperty = await api('POST', '/api/admin/secrets/ai-gateway/providers/rotate', { value: 'sk-1' });
    assert.equal(noProperty.status, 400);
    assert.equal(noProperty.body.error.path, '/property');
    const unknown = await api('POST', '/api/admin/secrets/ai-gateway/providers/rotate', {
      property: 'NOPE',
      value: 'sk-1',
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.path, '/property');
    await rotate('ai-gateway', 'providers', { property: 'OPENAI_API_KEY', value: 'sk-test-openai' });
    const partial = await api('GET', '/api/admin/secrets/ai-gateway/providers');
    assert.equal(partial.body.state, 'error: property ANTHROPIC_API_KEY missing in devmentor/ai-gateway');
  });

  it('409 while a rotation of the bundle runs (here: claimed by another process sharing the store)', async () => {
    const state = {
      id: randomUUID(),
      bundle: 'project-service/database',
      property: 'DATABASE_URL',
      actor: 'other-replica',
      kind: 'rotation' as const,
      startedAt: new Date().toISOString(),
      status: 'running' as const,
      step: 'write' as const,
      history: [],
    };
    // Another replica's claim, in the database they share (the server's store, `secret_rotations`).
    const row = (status: string) => ({
      id: state.id,
      bundle: state.bundle,
      status,
      startedAt: state.startedAt,
      state: { ...state, status },
    });
    assert.equal(await t.store.claimSecretRotation(row('running'), Date.now() - 60_000, Date.now()), true);
    const r = await api('POST', '/api/admin/secrets/project-service/database/rotate', { value: 'postgres://x' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'ROTATION_IN_PROGRESS');
    await t.store.saveSecretRotation(row('failed'), Date.now());
    const again = await rotate('project-service', 'database', { value: 'postgres://db.internal/app' });
    assert.equal(again.status, 'completed');
  });

  it('400 with the field for bad input, 404 for unknown bundles and rotations', async () => {
    const extra = await api('POST', '/api/admin/secrets/auth-service/jwt/rotate', { value: 'x', colour: 'red' });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.code, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(extra.body.error), /colour/);
    const empty = await api('POST', '/api/admin/secrets/auth-service/jwt/rotate', { value: '' });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.path, '/value');
    const version = await api('POST', '/api/admin/secrets/auth-service/jwt/rotate', { expectedVersion: -1 });
    assert.equal(version.status, 400);
    assert.equal(version.body.error.path, '/expectedVersion');
    const badName = await api('GET', '/api/admin/secrets/Auth_Service/jwt');
    assert.equal(badName.status, 400);
    assert.match(JSON.stringify(badName.body.error), /service/);
    const badId = await api('GET', '/api/admin/secrets/auth-service/jwt/rotations/not-a-uuid');
    assert.equal(badId.status, 400);
    assert.match(JSON.stringify(badId.body.error), /id/);
    const unknownBundle = await api('GET', '/api/admin/secrets/auth-service/nope');
    assert.equal(unknownBundle.status, 404);
    assert.equal(unknownBundle.body.error.code, 'SECRET_BUNDLE_NOT_FOUND');
    const unknownRotate = await api('POST', '/api/admin/secrets/nope/jwt/rotate', {});
    assert.equal(unknownRotate.status, 404);
    const fromFile = await api('PUT', '/api/admin/secrets/auth-service/jwt', { properties: { A: 'A' } });
    assert.equal(fromFile.status, 409);
    assert.equal(fromFile.body.error.code, 'BUNDLE_DEFINED_IN_FILE');
    const unknownRotation = await api('GET', `/api/admin/secrets/auth-service/jwt/rotations/${randomUUID()}`);
    assert.equal(unknownRotation.status, 404);
    assert.equal(unknownRotation.body.error.code, 'ROTATION_NOT_FOUND');
    const stale = await api('POST', '/api/admin/secrets/auth-service/jwt/rotate', { expectedVersion: 1 });
    assert.equal(stale.status, 202);
    const failed = await finished('auth-service', 'jwt', stale.body.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.step, 'write');
    assert.equal(failed.error.code, 'CAS_MISMATCH');
  });

  it('metrics: age, state and rotations by outcome', async () => {
    await api('GET', '/api/admin/secrets');
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    seen.push(res.body);
    assert.match(res.body, /rc_secret_age_seconds\{service="auth-service",bundle="jwt"\} \d+/);
    assert.match(res.body, /rc_secret_state\{service="auth-service",bundle="jwt",state="in-sync"\} 1/);
    assert.match(res.body, /rc_secret_state\{service="api-gateway",bundle="redis",state="overdue"\} 1/);
    assert.match(res.body, /rc_secret_state\{service="ai-gateway",bundle="providers",state="error"\} 1/);
    assert.match(res.body, /rc_secret_rotations_total\{outcome="completed"\} [5-9]/);
    assert.match(res.body, /rc_secret_rotations_total\{outcome="failed"\} 1/);
    assert.match(res.body, /rc_secret_rotations_total\{outcome="conflict"\} 1/);
  });

  it('SENTINEL: a value rotated in appears in no response, log line, metrics output, audit record or frame', async () => {
    const sentinel = `s3nt1nel/${randomBytes(12).toString('base64')}+=&?`;
    const r = await rotate('api-gateway', 'redis', { value: sentinel });
    assert.equal(r.status, 'completed');
    await api('GET', '/api/admin/secrets');
    await api('GET', '/api/admin/secrets/api-gateway/redis');
    await api('GET', '/api/admin/secrets/api-gateway/redis/rotations');
    // A failure with the value in the request: a stale expectedVersion.
    const failing = await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', {
      value: sentinel,
      expectedVersion: 1,
    });
    await finished('api-gateway', 'redis', failing.body.id);
    // And bad input carrying it.
    await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel, property: 'NOPE' });
    await api('POST', '/api/admin/secrets/api-gateway/redis/rotate', { value: sentinel, extra: sentinel });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    seen.push(metrics.body);
    // The audit log's secret records (every rotation of this run, the failed one with its reason).
    await t.rt.secrets.auditWritten();
    const audit = await api('GET', '/api/admin/audit?type=secret&limit=1000');
    assert.ok(
      audit.body.records.some((a: AnyBody) => a.after.rotation === failing.body.id && a.after.event === 'failed'),
      'the failed rotation is in the audit log',
    );
    await stream.waitFor(
      (e) => e.event === 'secret-rotated' && eventJson<SecretRotatedFrameData>(e).rotation === r.id,
      2000,
    );

    const values = [sentinel, ...(await storedValues())].filter((v) => v.length >= 8);
    assert.ok(values.includes(sentinel));
    assert.ok(values.length >= 5, 'the generated values are checked too');
    const haystacks: [string, string][] = [
      ...seen.map((s, i) => [`response ${i}`, s] as [string, string]),
      ...t.logs.map((l, i) => [`log line ${i}`, l] as [string, string]),
      ...stream.events.map((e, i) => [`frame ${i}`, `${e.event} ${e.data}`] as [string, string]),
    ];
    assert.ok(
      t.logs.some((l) => l.includes('"level":20')),
      'logs were captured at debug level',
    );
    for (const value of values) {
      const forms = [
        value,
        Buffer.from(value).toString('base64'),
        Buffer.from(value).toString('base64url'),
        Buffer.from(value).toString('hex'),
        encodeURIComponent(value),
        JSON.stringify(value).slice(1, -1),
      ];
      for (const [where, text] of haystacks) {
        for (const form of forms) assert.ok(!text.includes(form), `a value (form ${forms.indexOf(form)}) in ${where}`);
      }
    }
  });
});
