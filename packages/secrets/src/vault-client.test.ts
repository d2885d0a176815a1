import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, FakeVault } from '@runtime-control/testkit';
import {
  BackendRequestError,
  BackendUnavailableError,
  CasMismatchError,
  PermissionDeniedError,
  SealedError,
  SecretNotFoundError,
  SecretVersionDeletedError,
} from './errors.js';
import { KubernetesAuth } from './kubernetes-auth.js';
import { VaultClient } from './vault-client.js';
import { VaultKvBackend } from './vault-kv-backend.js';

describe('VaultClient + VaultKvBackend against the fake Vault', () => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => clock;
  const vault = new FakeVault({ now });
  let url = '';
  let kv: VaultKvBackend;

  before(async () => {
    url = await vault.listen();
    kv = new VaultKvBackend(new VaultClient({ address: url, token: vault.rootToken }));
  });
  after(() => vault.close());

  it('writes with check-and-set, reads metadata and subkeys without values', async () => {
    const v1 = await kv.write(
      'devmentor/api-gateway',
      { JWT_SECRET: 'jwt-1', REDIS_URL: 'redis://r:6379' },
      { cas: 0 },
    );
    assert.equal(v1.version, 1);
    const v2 = await kv.write(
      'devmentor/api-gateway',
      { JWT_SECRET: 'jwt-2', REDIS_URL: 'redis://r:6379' },
      { cas: 1 },
    );
    assert.equal(v2.version, 2);
    const meta = await kv.readMetadata('devmentor/api-gateway');
    assert.equal(meta.currentVersion, 2);
    assert.equal(meta.oldestVersion, 1);
    assert.deepEqual(Object.keys(meta.versions).sort(), ['1', '2']);
    assert.equal(meta.versions['2']?.deletionTime, '');
    assert.ok(Date.parse(meta.updatedTime) >= Date.parse(meta.createdTime));
    const sub = await kv.readSubkeys('devmentor/api-gateway');
    assert.deepEqual(sub.subkeys, { JWT_SECRET: null, REDIS_URL: null });
    assert.equal(sub.version.version, 2);
    assert.equal(JSON.stringify([meta, sub]).includes('jwt-'), false);
  });

  it("maps a CAS mismatch to CasMismatchError with Vault's message and the expected version", async () => {
    await assert.rejects(
      kv.write('devmentor/api-gateway', { JWT_SECRET: 'jwt-late' }, { cas: 1 }),
      (error: unknown) => {
        assert.ok(error instanceof CasMismatchError);
        assert.equal(error.code, 'CAS_MISMATCH');
        assert.equal(error.status, 400);
        assert.equal(error.expectedVersion, 1);
        assert.deepEqual(error.backendErrors, ['check-and-set parameter did not match the current version']);
        assert.match(error.message, /write secret\/devmentor\/api-gateway: check-and-set parameter did not match/);
        return true;
      },
    );
    vault.setCasRequired('secret', 'devmentor/strict', true);
    await assert.rejects(kv.write('devmentor/strict', { A: 'a' }), { code: 'CAS_REQUIRED' });
  });

  it('patches one property, keeping the others, with CAS', async () => {
    const v3 = await kv.patch('devmentor/api-gateway', { JWT_SECRET: 'jwt-3' }, { cas: 2 });
    assert.equal(v3.version, 3);
    assert.deepEqual(vault.peek('secret', 'devmentor/api-gateway'), {
      JWT_SECRET: 'jwt-3',
      REDIS_URL: 'redis://r:6379',
    });
    await assert.rejects(kv.patch('devmentor/api-gateway', { JWT_SECRET: 'x' }, { cas: 2 }), CasMismatchError);
    await assert.rejects(kv.patch('devmentor/absent', { JWT_SECRET: 'x' }, { cas: 0 }), SecretNotFoundError);
  });

  it('maps 404 to SecretNotFoundError and 404-with-metadata to SecretVersionDeletedError', async () => {
    await assert.rejects(kv.readMetadata('devmentor/nothing'), SecretNotFoundError);
    await kv.deleteVersions('devmentor/api-gateway', [3]);
    await assert.rejects(kv.readData('devmentor/api-gateway'), (error: unknown) => {
      assert.ok(error instanceof SecretVersionDeletedError);
      assert.equal(error.code, 'VERSION_DELETED');
      assert.equal(error.version, 3);
      assert.equal(error.destroyed, false);
      assert.ok(error.deletionTime);
      return true;
    });
    await assert.rejects(kv.readSubkeys('devmentor/api-gateway'), SecretVersionDeletedError);
    const previous = await kv.readData('devmentor/api-gateway', { version: 2 });
    assert.equal(previous.data.JWT_SECRET, 'jwt-2');
    await kv.undeleteVersions('devmentor/api-gateway', [3]);
    assert.equal((await kv.readData('devmentor/api-gateway')).version.version, 3);
  });

  it('lists keys and maps an empty LIST (404) to SecretNotFoundError', async () => {
    assert.deepEqual(await kv.list('devmentor'), ['api-gateway', 'strict']);
    assert.deepEqual(await kv.list(''), ['devmentor/']);
    await assert.rejects(kv.list('empty-folder'), SecretNotFoundError);
  });

  it('maps 403 to PermissionDeniedError without the token in message or properties', async () => {
    const token = 'hvs.bad-token-never-shown-anywhere';
    const bad = new VaultKvBackend(new VaultClient({ address: url, token }));
    await assert.rejects(bad.readMetadata('devmentor/api-gateway'), (error: unknown) => {
      assert.ok(error instanceof PermissionDeniedError);
      assert.equal(error.status, 403);
      assert.equal(JSON.stringify({ ...error, message: error.message, stack: error.stack }).includes(token), false);
      return true;
    });
    vault.writePolicy('read-meta', [{ path: 'secret/metadata/devmentor/*', capabilities: ['read'] }]);
    const limited = new VaultKvBackend(
      new VaultClient({ address: url, token: vault.createToken({ policies: ['read-meta'] }) }),
    );
    assert.equal((await limited.readMetadata('devmentor/api-gateway')).currentVersion, 3);
    await assert.rejects(limited.write('devmentor/api-gateway', { A: 'b' }, { cas: 3 }), PermissionDeniedError);
    await assert.rejects(
      new VaultKvBackend(new VaultClient({ address: url })).readMetadata('x'),
      PermissionDeniedError,
    );
  });

  it('reports sealed from sys/health and maps 503 to SealedError', async () => {
    const client = new VaultClient({ address: url, token: vault.rootToken });
    assert.deepEqual(
      { sealed: (await client.health()).sealed, status: (await client.health()).status },
      { sealed: false, status: 200 },
    );
    vault.seal();
    try {
      const health = await client.health();
      assert.equal(health.sealed, true);
      assert.equal(health.status, 503);
      await assert.rejects(new VaultKvBackend(client).readMetadata('devmentor/api-gateway'), (error: unknown) => {
        assert.ok(error instanceof SealedError);
        assert.equal(error.code, 'SEALED');
        assert.match(error.message, /Vault is sealed \(503\)/);
        return true;
      });
    } finally {
      vault.unseal();
    }
  });

  it('maps an unreachable Vault and a non-JSON reply without echoing them', async () => {
    const closed = new FakeVault();
    const closedUrl = await closed.listen();
    await closed.close();
    await assert.rejects(
      new VaultKvBackend(new VaultClient({ address: closedUrl, token: 't' })).readMetadata('a/b'),
      (error: unknown) =>
        error instanceof BackendUnavailableError && /unreachable \(ECONNREFUSED\)/.test(error.message),
    );
    vault.failNext({ path: /metadata/, status: 502, rawBody: '<html>bad gateway: upstream said hello</html>' });
    await assert.rejects(kv.readMetadata('devmentor/api-gateway'), (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError);
      assert.equal(error.message.includes('upstream said hello'), false);
      return true;
    });
    vault.failNext({ path: /metadata/, status: 400, errors: ['invalid something'] });
    await assert.rejects(kv.readMetadata('devmentor/api-gateway'), BackendRequestError);
    await assert.rejects(kv.readMetadata('../sys/seal'), BackendRequestError);
  });

  it('logs in with Kubernetes auth, renews before expiry, and logs in again at max TTL or when revoked', async () => {
    vault.writePolicy('app-read', [{ path: 'secret/*', capabilities: ['read', 'list'] }]);
    vault.writeKubernetesRole('devmentor', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['devmentor-app'],
      audience: 'vault',
      policies: ['app-read'],
      ttlSeconds: 60,
      maxTtlSeconds: 150,
    });
    let jwtReads = 0;
    const loginClient = new VaultClient({ address: url });
    const auth = new KubernetesAuth({
      client: loginClient,
      role: 'devmentor',
      now,
      jwt: () => {
        jwtReads += 1;
        return vault.issueServiceAccountJwt({
          namespace: 'devmentor-app',
          serviceAccount: 'external-secrets',
          audiences: ['vault'],
        });
      },
    });
    const app = new VaultKvBackend(new VaultClient({ address: url, token: auth }));
    assert.equal((await app.readMetadata('devmentor/api-gateway')).currentVersion, 3);
    assert.deepEqual(auth.counts, { logins: 1, renewals: 0 });
    const first = await auth.token();

    clock += 30_000; // half the lease: no renewal yet
    await app.readMetadata('devmentor/api-gateway');
    assert.deepEqual(auth.counts, { logins: 1, renewals: 0 });

    clock += 15_000; // 45 s of 60: renew-self
    await app.readMetadata('devmentor/api-gateway');
    assert.deepEqual(auth.counts, { logins: 1, renewals: 1 });
    assert.equal(await auth.token(), first);
    assert.equal(auth.expiresAt, clock + 60_000);

    clock += 45_000; // 90 s: renewing again caps at max TTL 150 s (60 s left, still extended)
    await app.readMetadata('devmentor/api-gateway');
    clock += 45_000; // 135 s: renewal would give 15 s → no longer extends → next check logs in again
    await app.readMetadata('devmentor/api-gateway');
    clock += 11_000;
    await app.readMetadata('devmentor/api-gateway');
    assert.equal(auth.counts.logins, 2);
    const second = await auth.token();
    assert.notEqual(second, first);

    vault.revokeToken(second); // revoked under us: 403 → invalidate → new login → retry succeeds
    assert.equal((await app.readMetadata('devmentor/api-gateway')).currentVersion, 3);
    assert.equal(auth.counts.logins, 3);
    assert.equal(jwtReads, 3);
  });

  it('keeps a token fresh in the background (start) and reports it through lookup-self', async () => {
    vault.writeKubernetesRole('short', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['devmentor-app'],
      audience: 'vault',
      policies: ['app-read'],
      ttlSeconds: 60,
    });
    const auth = new KubernetesAuth({
      client: new VaultClient({ address: url }),
      role: 'short',
      now,
      jwt: () =>
        vault.issueServiceAccountJwt({
          namespace: 'devmentor-app',
          serviceAccount: 'external-secrets',
          audiences: ['vault'],
        }),
    });
    auth.start(10);
    try {
      await eventually(() => auth.counts.logins === 1, 2000, 'background login');
      clock += 45_000; // past 2/3 of the lease: the background timer renews without any request
      await eventually(() => auth.counts.renewals >= 1, 2000, 'background renewal');
      const self = await new VaultClient({ address: url, token: auth }).lookupSelf();
      assert.equal(self.renewable, true);
      assert.ok(self.ttlSeconds > 0 && self.ttlSeconds <= 60);
      assert.deepEqual(self.policies, ['default', 'app-read']);
    } finally {
      auth.stop();
    }
  });

  it('refuses a login for the wrong role, audience or service account with typed errors', async () => {
    const loginClient = new VaultClient({ address: url });
    const jwt = vault.issueServiceAccountJwt({ namespace: 'devmentor-app', serviceAccount: 'external-secrets' });
    await assert.rejects(loginClient.kubernetesLogin({ role: 'devmentor', jwt }), (error: unknown) => {
      assert.ok(error instanceof PermissionDeniedError);
      assert.match(error.message, /invalid audience/);
      assert.equal(error.message.includes(jwt), false);
      return true;
    });
    await assert.rejects(loginClient.kubernetesLogin({ role: 'nope', jwt }), (error: unknown) => {
      assert.ok(error instanceof BackendRequestError);
      assert.match(error.message, /invalid role name "nope"/);
      return true;
    });
    vault.writeKubernetesRole('no-audience', {
      boundServiceAccountNames: ['*'],
      boundServiceAccountNamespaces: ['*'],
      policies: [],
    });
    await assert.rejects(loginClient.kubernetesLogin({ role: 'no-audience', jwt }), PermissionDeniedError);
  });
});
