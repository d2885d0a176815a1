import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { eventually, FakeEsoController, FakeKubernetes, FakeVault } from '@runtime-control/testkit';
import type { SecretBackend } from './backend.js';
import { bundleStatus, type SecretBundle } from './bundle.js';
import { diagnoseBundle } from './diagnose.js';
import { SecretsError } from './errors.js';
import { KubernetesAuth } from './kubernetes-auth.js';
import { KubernetesSecrets } from './kubernetes-secrets.js';
import { LocalSecretBackend } from './local-backend.js';
import type { SecretsLogger } from './logger.js';
import { encodedForms } from './redact.js';
import { type RotationState, RotationStepError, Rotator } from './rotation.js';
import { restoreVersion, writeRotatedValue } from './rotation-write.js';
import { loadSecretsKey } from './secrets-key.js';
import { VaultClient } from './vault-client.js';
import { VaultKvBackend } from './vault-kv-backend.js';

/**
 * SENTINEL: random values are seeded and rotated through the Vault client (against the fake Vault) and the local
 * backend, with a failure at every step. The values, and their base64, hex and URL-encoded forms, must appear in no
 * error message, no property of a thrown error (its cause, stack and everything util.inspect shows), no log line (a
 * pino-like logger at debug level, and console) and no metadata/subkeys/rotation result. Tokens and the service-account
 * JWT are held to the same rule in errors and logs.
 */

const sentinel = (label: string) => `${label}-${randomBytes(18).toString('base64url')}/+ =?&`;

class Evidence {
  readonly logs: string[] = [];
  readonly errors: string[] = [];
  readonly results: string[] = [];
  readonly logger: SecretsLogger = {
    debug: (fields, message) => this.logs.push(JSON.stringify({ level: 'debug', ...fields, msg: message })),
    warn: (fields, message) => this.logs.push(JSON.stringify({ level: 'warn', ...fields, msg: message })),
  };

  /** Runs a step that must fail; records everything the error carries. */
  async failing(step: string, fn: () => Promise<unknown>, expected: new (...args: never[]) => Error = SecretsError) {
    try {
      await fn();
    } catch (error) {
      assert.ok(error instanceof expected, `${step}: expected ${expected.name}, got ${inspect(error)}`);
      this.errors.push(`${step}: ${describeError(error)}`);
      return error;
    }
    assert.fail(`${step}: did not fail`);
  }

  result(value: unknown) {
    this.results.push(JSON.stringify(value));
    return value;
  }
}

function describeError(error: unknown): string {
  const parts = [inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(String(current.message), String(current.stack));
    for (const name of Object.getOwnPropertyNames(current)) {
      parts.push(`${name}=${JSON.stringify((current as unknown as Record<string, unknown>)[name]) ?? 'undefined'}`);
    }
    current = current.cause;
  }
  return parts.join('\n');
}

/** Every forbidden form found in `texts`, with where. */
function leaks(texts: string[], secrets: string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    for (const form of encodedForms(secret)) {
      for (const text of texts) if (text.includes(form)) found.push(`${form} in ${text.slice(0, 200)}`);
    }
  }
  return found;
}

describe('SENTINEL: no secret value (or token) in errors, logs or metadata — Vault client and local backend', () => {
  const evidence = new Evidence();
  const values = {
    seed: sentinel('seed'),
    rotated: sentinel('rotated'),
    clusterSeed: sentinel('cluster-seed'),
    clusterRotated: sentinel('cluster-rotated'),
    clusterLater: sentinel('cluster-later'),
  };
  const consoleLines: string[] = [];
  const originalConsole = { ...console };
  const vault = new FakeVault();
  const dirs: string[] = [];
  let jwt = '';
  let kubernetesToken = '';

  before(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      console[method] = (...args: unknown[]) => {
        consoleLines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 10 }))).join(' '));
      };
    }
    await vault.listen();
  });

  after(async () => {
    Object.assign(console, originalConsole);
    await vault.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function exercise(backend: SecretBackend, path: string, failures: () => Promise<void>) {
    evidence.result(await backend.write(path, { JWT_SECRET: values.seed, REDIS_URL: 'redis://r:6379' }, { cas: 0 }));
    evidence.result(await backend.readMetadata(path));
    evidence.result(await backend.readSubkeys(path));
    evidence.result(await backend.list(path.split('/')[0]!));
    await evidence.failing('write again with cas 0', () =>
      backend.write(path, { JWT_SECRET: values.rotated }, { cas: 0 }),
    );
    await evidence.failing('rotate from a stale version', () =>
      writeRotatedValue(backend, { path, property: 'JWT_SECRET', value: values.rotated, expectedVersion: 7 }),
    );
    await evidence.failing('patch with a stale cas', () =>
      backend.patch(path, { JWT_SECRET: values.rotated }, { cas: 0 }),
    );
    await evidence.failing('patch a missing secret', () =>
      backend.patch(`${path}-missing`, { JWT_SECRET: values.rotated }, { cas: 0 }),
    );
    await failures();
    const rotation = evidence.result(
      await writeRotatedValue(backend, {
        path,
        property: 'JWT_SECRET',
        value: values.rotated,
        expectedVersion: 1,
        logger: evidence.logger,
      }),
    ) as { version: number };
    evidence.result(await backend.readMetadata(path));
    evidence.result(await backend.readSubkeys(path));
    await backend.deleteVersions(path, [rotation.version]);
    await evidence.failing('read a deleted version', () => backend.readData(path));
    await evidence.failing('read subkeys of a deleted version', () => backend.readSubkeys(path));
    await backend.undeleteVersions(path, [rotation.version]);
    evidence.result(
      await restoreVersion(backend, {
        path,
        version: 1,
        expectedCurrentVersion: rotation.version,
        logger: evidence.logger,
      }),
    );
    await evidence.failing('restore with a stale current version', () =>
      restoreVersion(backend, { path, version: 1, expectedCurrentVersion: rotation.version }),
    );
    evidence.result(await backend.readMetadata(path));
    // The values really are in the backend: the checks below look at the right thing.
    assert.equal((await backend.readData(path)).data.JWT_SECRET, values.seed);
  }

  it('through the Vault client and the fake Vault, with a failure at each step', async () => {
    const client = new VaultClient({ address: vault.url, token: vault.rootToken, logger: evidence.logger });
    const kv = new VaultKvBackend(client);
    await exercise(kv, 'devmentor/api-gateway', async () => {
      vault.seal();
      await evidence.failing('patch while sealed', () =>
        kv.patch('devmentor/api-gateway', { JWT_SECRET: values.rotated }, { cas: 1 }),
      );
      evidence.result(await client.health());
      vault.unseal();
      // A backend (or a proxy in front of it) that echoes what it was sent, in clear and encoded.
      const echoed = values.rotated;
      vault.failNext({
        path: 'secret/data/devmentor/api-gateway',
        status: 400,
        errors: [
          `error parsing JSON near "${echoed}"`,
          Buffer.from(echoed).toString('base64'),
          Buffer.from(echoed).toString('hex'),
          encodeURIComponent(echoed),
        ],
      });
      await evidence.failing('patch answered by an echoing error', () =>
        kv.patch('devmentor/api-gateway', { JWT_SECRET: echoed }, { cas: 1 }),
      );
      vault.failNext({ path: 'secret/data/devmentor/api-gateway', status: 502, rawBody: `<pre>${echoed}</pre>` });
      await evidence.failing('patch answered by a proxy page', () =>
        kv.patch('devmentor/api-gateway', { JWT_SECRET: echoed }, { cas: 1 }),
      );
      const bad = new VaultKvBackend(
        new VaultClient({ address: vault.url, token: 'hvs.sentinel-bad-token', logger: evidence.logger }),
      );
      await evidence.failing('bad token', () =>
        bad.patch('devmentor/api-gateway', { JWT_SECRET: values.rotated }, { cas: 1 }),
      );
      const down = new FakeVault();
      const downUrl = await down.listen();
      await down.close();
      await evidence.failing('Vault unreachable', () =>
        new VaultKvBackend(
          new VaultClient({ address: downUrl, token: vault.rootToken, logger: evidence.logger }),
        ).patch('devmentor/api-gateway', { JWT_SECRET: values.rotated }, { cas: 1 }),
      );
    });
  });

  it('through Kubernetes login and renewal (the JWT and tokens stay out of errors and logs)', async () => {
    vault.writePolicy('rotate', [{ path: 'secret/*', capabilities: ['read', 'update', 'patch', 'list', 'delete'] }]);
    vault.writeKubernetesRole('rc', {
      boundServiceAccountNames: ['runtime-control'],
      boundServiceAccountNamespaces: ['devmentor-app'],
      audience: 'vault',
      policies: ['rotate'],
      ttlSeconds: 2,
    });
    jwt = vault.issueServiceAccountJwt({
      namespace: 'devmentor-app',
      serviceAccount: 'runtime-control',
      audiences: ['vault'],
    });
    const wrong = vault.issueServiceAccountJwt({ namespace: 'devmentor-app', serviceAccount: 'runtime-control' });
    const loginClient = new VaultClient({ address: vault.url, logger: evidence.logger });
    await evidence.failing('login with the wrong audience', () =>
      loginClient.kubernetesLogin({ role: 'rc', jwt: wrong }),
    );
    await evidence.failing('login with the wrong role', () => loginClient.kubernetesLogin({ role: 'nope', jwt }));
    const auth = new KubernetesAuth({ client: loginClient, role: 'rc', jwt: () => jwt, logger: evidence.logger });
    const kv = new VaultKvBackend(new VaultClient({ address: vault.url, token: auth, logger: evidence.logger }));
    evidence.result(await kv.readMetadata('devmentor/api-gateway'));
    kubernetesToken = await auth.token();
    vault.revokeToken(kubernetesToken);
    evidence.result(
      await writeRotatedValue(kv, {
        path: 'devmentor/api-gateway',
        property: 'JWT_SECRET',
        value: values.rotated,
        logger: evidence.logger,
      }),
    );
    assert.equal(auth.counts.logins, 2);
  });

  it('through the local encrypted backend, with a failure at each step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-sentinel-'));
    dirs.push(dir);
    const { key } = loadSecretsKey({ dataDir: dir, env: {} });
    const file = join(dir, 'secrets.db');
    const store = new LocalSecretBackend({ database: file, key });
    try {
      await exercise(store, 'devmentor/api-gateway', async () => {
        await evidence.failing(
          'open with another key',
          async () => new LocalSecretBackend({ database: file, key: Buffer.alloc(32, 1) }),
        );
        await evidence.failing('bad path', () => store.write('devmentor/../x', { JWT_SECRET: values.rotated }));
        await evidence.failing('malformed RC_SECRETS_KEY', async () =>
          loadSecretsKey({ dataDir: dir, env: { RC_SECRETS_KEY: Buffer.from(values.seed).toString('base64') } }),
        );
      });
    } finally {
      store.close();
    }
  });

  it('through rotation and status with Kubernetes and ESO (fakes), with a failure at each rotation step', async () => {
    const NS = 'devmentor-app';
    const kube = new FakeKubernetes({ token: 'kube-sentinel-token', rolloutDelayMs: 20 });
    await kube.listen();
    const eso = new FakeEsoController({ kubernetes: kube, vault });
    try {
      const kv = new VaultKvBackend(
        new VaultClient({ address: vault.url, token: vault.rootToken, logger: evidence.logger }),
      );
      const cluster = new KubernetesSecrets({ apiUrl: kube.url, token: 'kube-sentinel-token' });
      const bundle: SecretBundle = {
        service: 'ai-gateway',
        name: 'app',
        path: 'devmentor/ai-gateway',
        properties: { OPENAI_KEY: 'OPENAI_KEY' },
        externalSecret: { namespace: NS, name: 'ai-gateway' },
        consumers: [{ namespace: NS, deployment: 'ai-gateway' }],
        maxAgeSeconds: 60,
      };
      vault.writeKubernetesRole('eso', {
        boundServiceAccountNames: ['external-secrets'],
        boundServiceAccountNamespaces: ['external-secrets'],
        audience: 'vault',
        policies: ['rotate'],
      });
      await kv.write(bundle.path, { OPENAI_KEY: values.clusterSeed }, { cas: 0 });
      kube.apply({
        apiVersion: 'external-secrets.io/v1',
        kind: 'ClusterSecretStore',
        metadata: { name: 'vault' },
        spec: {
          provider: {
            vault: {
              server: vault.url,
              path: 'secret',
              version: 'v2',
              auth: {
                kubernetes: {
                  role: 'eso',
                  serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets', audiences: ['vault'] },
                },
              },
            },
          },
        },
      });
      kube.apply({
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'ai-gateway', namespace: NS },
        spec: {
          refreshInterval: '1h',
          secretStoreRef: { name: 'vault', kind: 'ClusterSecretStore' },
          target: { name: 'ai-gateway' },
          data: [{ secretKey: 'OPENAI_KEY', remoteRef: { key: bundle.path, property: 'OPENAI_KEY' } }],
        },
      });
      kube.apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ai-gateway', namespace: NS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'ai-gateway' } },
          template: { metadata: { labels: { app: 'ai-gateway' } } },
        },
      });
      eso.start(20);
      await eventually(() => kube.get('Secret', NS, 'ai-gateway'), 10_000, 'first sync');
      const progress: RotationState[] = [];
      const audit: unknown[] = [];
      const rotator = new Rotator({
        backend: kv,
        cluster,
        pollMs: 20,
        syncTimeoutMs: 10_000,
        rolloutTimeoutMs: 10_000,
        audit: (e) => audit.push(e),
        logger: evidence.logger,
      });
      const rotate = (value: string, extra: { expectedVersion?: number } = {}) =>
        rotator.rotate(bundle, {
          property: 'OPENAI_KEY',
          value,
          actor: 'sentinel',
          onProgress: (p) => progress.push(p),
          ...extra,
        });
      const failedStates: RotationState[] = [];
      const failing = async (step: string, fn: () => Promise<unknown>) => {
        const error = (await evidence.failing(step, fn, RotationStepError)) as RotationStepError;
        failedStates.push(error.state);
        return error.state;
      };

      evidence.result(await bundleStatus(bundle, { backend: kv, cluster }));
      await failing('rotation: write with a stale version', () =>
        rotate(values.clusterRotated, { expectedVersion: 9 }),
      );
      kube.edit('ExternalSecret', NS, 'ai-gateway', (o) => {
        o.spec = { ...o.spec, refreshInterval: '0s' };
      });
      const atForceSync = await failing('rotation: force-sync refused', () => rotate(values.clusterRotated));
      kube.edit('ExternalSecret', NS, 'ai-gateway', (o) => {
        o.spec = { ...o.spec, refreshInterval: '1h' };
      });
      evidence.result(await bundleStatus(bundle, { backend: kv, cluster }));
      await rotator.resume(bundle, atForceSync, { onProgress: (p) => progress.push(p) });
      const sealedRun = rotator.rotate(bundle, {
        property: 'OPENAI_KEY',
        value: values.clusterLater,
        actor: 'sentinel',
        onProgress: (p) => {
          progress.push(p);
          if (p.step === 'force-sync' && p.history.at(-1)?.outcome === 'started') vault.seal();
        },
      });
      await failing('rotation: ESO cannot read a sealed Vault', () => sealedRun);
      evidence.result(await bundleStatus(bundle, { backend: kv, cluster }));
      vault.unseal();
      evidence.result(await bundleStatus(bundle, { backend: kv, cluster }));
      kube.stallRollouts.add(`${NS}/ai-gateway`);
      const stalled = await failing('rotation: consumer rollout stalls', () =>
        rotator.resume(bundle, failedStates.at(-1)!),
      );
      evidence.result(await bundleStatus(bundle, { backend: kv, cluster }));
      kube.stallRollouts.delete(`${NS}/ai-gateway`);
      evidence.result(await rotator.rollback(bundle, stalled, { actor: 'sentinel' }));
      evidence.result(await bundleStatus(bundle, { backend: kv, cluster, now: () => Date.now() + 3_600_000 }));
      evidence.result(await cluster.getSecretMetadata(NS, 'ai-gateway'));
      evidence.result(await diagnoseBundle(bundle, { cluster, backend: kv }));
      evidence.result(await cluster.getExternalSecret(NS, 'ai-gateway'));
      evidence.results.push(JSON.stringify(progress), JSON.stringify(audit), JSON.stringify(failedStates));
      assert.deepEqual(
        failedStates.map((f) => f.error?.step),
        ['write', 'force-sync', 'wait-synced', 'wait-rollout'],
      );
      // The flow did move the values: the Kubernetes Secret holds the restored one (base64, as Kubernetes keeps it).
      const data = kube.get('Secret', NS, 'ai-gateway')?.data?.OPENAI_KEY;
      assert.equal(Buffer.from(data ?? '', 'base64').toString('utf8'), values.clusterRotated);
    } finally {
      vault.unseal();
      await eso.stop();
      await kube.close();
    }
  });

  it('finds none of the values in errors, logs, console or results (and would find them: positive control)', () => {
    const valueForms = Object.values(values);
    assert.ok(evidence.errors.length >= 20, `only ${evidence.errors.length} failures were exercised`);
    assert.ok(evidence.logs.length > 0 && evidence.results.length > 0);
    assert.deepEqual(leaks(evidence.errors, [...valueForms, jwt, kubernetesToken, vault.rootToken]), []);
    assert.deepEqual(leaks(evidence.logs, [...valueForms, jwt, kubernetesToken, vault.rootToken]), []);
    assert.deepEqual(leaks(consoleLines, [...valueForms, jwt, kubernetesToken, vault.rootToken]), []);
    assert.deepEqual(leaks(evidence.results, valueForms), []);
    // The check itself works: each encoded form of a value is found where it is.
    for (const form of encodedForms(values.seed)) assert.equal(leaks([`x${form}x`], [values.seed]).length > 0, true);
    assert.ok(leaks([JSON.stringify({ a: Buffer.from(values.rotated).toString('hex') })], [values.rotated]).length > 0);
  });
});
