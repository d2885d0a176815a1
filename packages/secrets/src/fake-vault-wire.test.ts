import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeVault } from '@runtime-control/testkit';

/**
 * The fake Vault's wire behaviour, checked with raw `fetch` against what Vault documents (kv-v2 API docs, the KV
 * plugin's path_data.go): if the fake drifted from Vault, the client tests built on it would prove nothing.
 */
describe('FakeVault speaks Vault KV v2 on the wire', () => {
  const vault = new FakeVault({ rootToken: 'root-token-for-wire-tests' });
  let url = '';
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': vault.rootToken, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
  };

  before(async () => {
    url = await vault.listen();
  });
  after(() => vault.close());

  it('answers 404 {"errors":[]} for a missing secret and for an empty LIST', async () => {
    assert.deepEqual(await call('GET', 'secret/data/nothing/here'), { status: 404, body: { errors: [] } });
    assert.deepEqual(await call('GET', 'secret/metadata/nothing/here'), { status: 404, body: { errors: [] } });
    assert.deepEqual(await call('GET', 'secret/metadata/nothing/?list=true'), { status: 404, body: { errors: [] } });
  });

  it('writes versions with check-and-set and answers metadata only', async () => {
    const first = await call('POST', 'secret/data/wire/app', { options: { cas: 0 }, data: { A: 'one' } });
    assert.equal(first.status, 200);
    const meta = first.body.data as Record<string, unknown>;
    assert.equal(meta.version, 1);
    assert.equal(meta.deletion_time, '');
    assert.equal(meta.destroyed, false);
    assert.match(String(meta.created_time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.equal(JSON.stringify(first.body).includes('one'), false, 'a write reply carries no value');

    const stale = await call('POST', 'secret/data/wire/app', { options: { cas: 0 }, data: { A: 'two' } });
    assert.deepEqual(stale, {
      status: 400,
      body: { errors: ['check-and-set parameter did not match the current version'] },
    });
    const second = await call('POST', 'secret/data/wire/app', { options: { cas: 1 }, data: { A: 'two', B: 'x' } });
    assert.equal((second.body.data as { version: number }).version, 2);

    const metadata = await call('GET', 'secret/metadata/wire/app');
    const m = metadata.body.data as Record<string, unknown>;
    assert.equal(m.current_version, 2);
    assert.equal(m.oldest_version, 1);
    assert.deepEqual(Object.keys(m.versions as object).sort(), ['1', '2']);
    assert.equal(m.cas_required, false);
    assert.equal(JSON.stringify(metadata.body).includes('two'), false);

    const subkeys = await call('GET', 'secret/subkeys/wire/app');
    assert.deepEqual((subkeys.body.data as { subkeys: unknown }).subkeys, { A: null, B: null });
  });

  it('requires cas when cas_required is set', async () => {
    await call('POST', 'secret/metadata/wire/strict', { cas_required: true });
    assert.deepEqual(await call('POST', 'secret/data/wire/strict', { data: { A: 'v' } }), {
      status: 400,
      body: { errors: ['check-and-set parameter required for this call'] },
    });
  });

  it('answers 404 with metadata and data: null for a deleted version, and the value again after undelete', async () => {
    await call('POST', 'secret/delete/wire/app', { versions: [2] });
    const deleted = await call('GET', 'secret/data/wire/app?version=2');
    assert.equal(deleted.status, 404);
    const d = deleted.body.data as { data: unknown; metadata: Record<string, unknown> };
    assert.equal(d.data, null);
    assert.equal(d.metadata.version, 2);
    assert.notEqual(d.metadata.deletion_time, '');
    assert.equal((await call('GET', 'secret/data/wire/app?version=1')).status, 200);
    assert.equal((await call('GET', 'secret/data/wire/app?version=9')).status, 404);
    await call('POST', 'secret/undelete/wire/app', { versions: [2] });
    const back = await call('GET', 'secret/data/wire/app');
    assert.deepEqual((back.body.data as { data: unknown }).data, { A: 'two', B: 'x' });
  });

  it('merge-patches with application/merge-patch+json only', async () => {
    const wrongType = await call('PATCH', 'secret/data/wire/app', { data: { A: 'three' } });
    assert.equal(wrongType.status, 415);
    const patched = await call(
      'PATCH',
      'secret/data/wire/app',
      { options: { cas: 2 }, data: { A: 'three', B: null } },
      { 'content-type': 'application/merge-patch+json' },
    );
    assert.equal((patched.body.data as { version: number }).version, 3);
    assert.deepEqual(vault.peek('secret', 'wire/app'), { A: 'three' });
  });

  it('lists keys (GET ?list=true) with folders ending in /', async () => {
    const listed = await call('GET', 'secret/metadata/wire?list=true');
    assert.deepEqual((listed.body.data as { keys: string[] }).keys, ['app', 'strict']);
    const root = await call('GET', 'secret/metadata/?list=true');
    assert.deepEqual((root.body.data as { keys: string[] }).keys, ['wire/']);
  });

  it('answers 403 permission denied for a missing, unknown or expired token, and for a path the policy lacks', async () => {
    assert.deepEqual(await call('GET', 'secret/metadata/wire/app', undefined, { 'x-vault-token': '' }), {
      status: 403,
      body: { errors: ['permission denied'] },
    });
    assert.equal(
      (await call('GET', 'secret/metadata/wire/app', undefined, { 'x-vault-token': 'hvs.nope' })).status,
      403,
    );
    vault.writePolicy('meta-only', [{ path: 'secret/metadata/wire/*', capabilities: ['read'] }]);
    const token = vault.createToken({ policies: ['meta-only'] });
    assert.equal((await call('GET', 'secret/metadata/wire/app', undefined, { 'x-vault-token': token })).status, 200);
    const denied = await call('GET', 'secret/data/wire/app', undefined, { 'x-vault-token': token });
    assert.equal(denied.status, 403);
    assert.ok(Array.isArray(denied.body.errors));
    const bearer = await fetch(`${url}/v1/secret/metadata/wire/app`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 200);
  });

  it('answers 503 while sealed: sys/health with sealed: true, everything else {"errors":["Vault is sealed"]}', async () => {
    assert.equal((await call('GET', 'sys/health')).status, 200);
    vault.seal();
    try {
      const health = await call('GET', 'sys/health');
      assert.equal(health.status, 503);
      assert.equal(health.body.sealed, true);
      assert.deepEqual(await call('GET', 'secret/metadata/wire/app'), {
        status: 503,
        body: { errors: ['Vault is sealed'] },
      });
    } finally {
      vault.unseal();
    }
  });

  it('logs in with Kubernetes auth only for a bound service account with the role audience', async () => {
    vault.writeKubernetesRole('app', {
      boundServiceAccountNames: ['external-secrets'],
      boundServiceAccountNamespaces: ['devmentor-app'],
      audience: 'vault',
      policies: ['meta-only'],
      ttlSeconds: 60,
    });
    const login = (role: string, jwt: string) => call('POST', 'auth/kubernetes/login', { role, jwt });
    const good = vault.issueServiceAccountJwt({
      namespace: 'devmentor-app',
      serviceAccount: 'external-secrets',
      audiences: ['vault'],
    });
    const ok = await login('app', good);
    assert.equal(ok.status, 200);
    const auth = ok.body.auth as Record<string, unknown>;
    assert.equal(auth.renewable, true);
    assert.equal(auth.lease_duration, 60);
    assert.deepEqual(auth.policies, ['default', 'meta-only']);
    assert.deepEqual(await login('nope', good), { status: 400, body: { errors: ['invalid role name "nope"'] } });
    assert.equal((await login('app', 'not-a-jwt-the-cluster-issued')).status, 403);
    const wrongAudience = vault.issueServiceAccountJwt({
      namespace: 'devmentor-app',
      serviceAccount: 'external-secrets',
    });
    assert.deepEqual(await login('app', wrongAudience), {
      status: 403,
      body: { errors: ['invalid audience (aud) claim: audience claim does not match any expected audience'] },
    });
    const wrongAccount = vault.issueServiceAccountJwt({
      namespace: 'devmentor-app',
      serviceAccount: 'default',
      audiences: ['vault'],
    });
    assert.deepEqual(await login('app', wrongAccount), {
      status: 403,
      body: { errors: ['service account name not authorized'] },
    });
    assert.equal((await call('GET', 'auth/userpass/login')).status, 404);
  });
});
