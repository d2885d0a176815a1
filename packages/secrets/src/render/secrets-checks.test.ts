import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type PlatformFileData, readYamlSource } from '@runtime-control/core';
import { checkManifestText } from './manifest-checks.js';
import { checkSecrets, SECRETS_CHECKS } from './secrets-checks.js';
import { planSecrets, type SecretsPlatformInput } from './secrets-plan.js';

const DEVMENTOR = readFileSync(new URL('../../../../examples/devmentor/platform.yaml', import.meta.url), 'utf8');

/** As render-secrets.test.ts: the platform as traffic's model gives it (defaults applied). */
function inputOf(text: string): SecretsPlatformInput {
  const source = readYamlSource(text);
  assert.ok(source.ok);
  const data = source.data as PlatformFileData;
  const namespace = data.namespaces[0]!.name;
  return {
    name: data.platform,
    services: data.services.map((s) => ({
      name: s.name,
      namespace: s.namespace ?? namespace,
      deployments: (s.deployments ?? []).map((d) => ({ name: d.name, container: d.container ?? d.name })),
    })),
    ...(data.secrets ? { secrets: data.secrets } : {}),
  };
}

function edited(from: string, to: string): string {
  assert.ok(DEVMENTOR.includes(from), `the DevMentor file contains ${from}`);
  return DEVMENTOR.replace(from, to);
}

function failures(text: string, service?: string) {
  const input = inputOf(text);
  return checkSecrets(planSecrets(input)!, input, service === undefined ? {} : { service }).flatMap((c) => c.issues);
}

describe('checkSecrets (the classic mistakes)', () => {
  it('passes the DevMentor file, every check in a fixed order', () => {
    const input = inputOf(DEVMENTOR);
    const results = checkSecrets(planSecrets(input)!, input);
    assert.deepEqual(
      results.map((r) => [r.id, r.issues.length]),
      [
        ['kv-path', 0],
        ['refresh-interval', 0],
        ['env-provided', 0],
        ['store-auth', 0],
      ],
    );
  });

  it('kv-path: the runbook\'s "path: kv/data" store with version v2', () => {
    const [issue, ...rest] = failures(edited('    path: secret #', '    path: kv/data #'));
    assert.equal(rest.length, 0);
    assert.equal(issue!.code, SECRETS_CHECKS.kvPath.code);
    assert.equal(issue!.path, '/secrets/store/path');
    assert.match(issue!.message, /path "kv\/data" contains "data" with version v2: ESO inserts "\/data" itself/);
    assert.equal(issue!.fix, 'set path: kv (the KV mount only)');
    assert.deepEqual(
      failures(
        edited('    path: secret #', '    path: kv/data #').replace('version: v2\n    auth', 'version: v1\n    auth'),
      ),
      [],
      'KV v1 has no data/',
    );
  });

  it('kv-path: a bundle path with data/ (alone or after the mount)', () => {
    for (const path of ['data/devmentor/api-gateway', 'secret/data/devmentor/api-gateway']) {
      const [issue, ...rest] = failures(edited('path: devmentor/api-gateway', `path: ${path}`));
      assert.equal(rest.length, 0, path);
      assert.equal(issue!.path, '/secrets/services/1/bundles/0/path');
      assert.equal(issue!.service, 'api-gateway');
      assert.equal(issue!.fix, 'set path: devmentor/api-gateway (relative to the mount "secret", without data/)');
    }
  });

  it('refresh-interval: 0 or "0s" with a rotation policy, not without one', () => {
    for (const zero of ['0', '0s', '0h0m0s']) {
      const text = edited(
        'refreshInterval: 1h\n          consumers: [auth-service',
        `refreshInterval: ${zero}\n          consumers: [auth-service`,
      );
      const [issue, ...rest] = failures(text);
      assert.equal(rest.length, 0, zero);
      assert.equal(issue!.code, 'REFRESH_DISABLED_WITH_ROTATION');
      assert.equal(issue!.path, '/secrets/services/0/bundles/0/refreshInterval');
      assert.match(issue!.message, /ESO reads Vault once and then ignores force-sync/);
    }
    const noRotation = edited(
      'refreshInterval: 1h\n          consumers: [auth-service',
      'refreshInterval: 0s\n          consumers: [auth-service',
    ).replace('          rotation: { strategy: generated, length: 64, alphabet: base64url, maxAge: 90d }\n', '');
    assert.deepEqual(failures(noRotation), []);
  });

  it('env-provided: a Deployment of a service that needs an env var no bundle gives it', () => {
    // The classic canary mistake: v2 is not a consumer of the keys v1 gets.
    const [issue, ...rest] = failures(edited('consumers: [ai-gateway, ai-gateway-v2]', 'consumers: [ai-gateway]'));
    assert.equal(rest.length, 1);
    assert.equal(issue!.code, 'ENV_NOT_PROVIDED');
    assert.equal(issue!.path, '/secrets/services/2/needs/0');
    assert.match(
      issue!.message,
      /service "ai-gateway" needs OPENAI_API_KEY, but Deployment "ai-gateway-v2" gets it from no bundle/,
    );
    assert.equal(issue!.fix, 'add "ai-gateway-v2" to the consumers of bundle "ai-gateway/providers"');
    const none = failures(edited('needs: [DATABASE_URL]', 'needs: [DATABASE_URL, SENTRY_DSN]'));
    assert.equal(none.length, 1);
    assert.equal(none[0]!.path, '/secrets/services/3/needs/1');
    assert.equal(
      none[0]!.fix,
      'add a bundle whose properties give SENTRY_DSN, with "project-service" among its consumers',
    );
  });

  it('store-auth: no role, no service account, no audience', () => {
    const noRole = failures(edited('        role: devmentor\n', ''));
    assert.deepEqual(
      noRole.map((i) => [i.code, i.path]),
      [['STORE_AUTH_INCOMPLETE', '/secrets/store/auth/kubernetes/role']],
    );
    assert.match(noRole[0]!.message, /names no Vault role: ESO refuses the store/);
    const noAccount = failures(edited(/ {8}serviceAccountRef:\n( {10}.*\n)+/.exec(DEVMENTOR)![0], ''));
    assert.deepEqual(
      noAccount.map((i) => i.path),
      ['/secrets/store/auth/kubernetes/serviceAccountRef'],
    );
    const noAudience = failures(edited('          audiences: [vault] #', '          # audiences: [vault] #'));
    assert.deepEqual(
      noAudience.map((i) => i.path),
      ['/secrets/store/auth/kubernetes/serviceAccountRef/audiences'],
    );
    assert.match(noAudience[0]!.message, /Vault 1\.21\+ refuses a Kubernetes login/);
  });

  it("with a service, reports that service's problems and the store's only", () => {
    const text = edited('consumers: [ai-gateway, ai-gateway-v2]', 'consumers: [ai-gateway]').replace(
      '        role: devmentor\n',
      '',
    );
    assert.equal(failures(text).length, 3);
    assert.deepEqual(
      failures(text, 'project-service').map((i) => i.code),
      ['STORE_AUTH_INCOMPLETE'],
    );
    assert.equal(failures(text, 'ai-gateway').length, 3);
  });
});

describe('checkManifestText (hand-written manifests)', () => {
  const MANIFESTS = `# hand-written, from the runbook
apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata:
  name: devmentor-vault
spec:
  provider:
    vault:
      server: https://vault.example.com
      path: kv/data
      version: v2
---
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: { name: api-gateway-secrets, namespace: devmentor-app }
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: push }
---
apiVersion: v1
kind: Secret
metadata: { name: plain }
stringData: { TOKEN: sentinel-value-never-quoted }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: fine }
`;

  it('reports v1beta1 at its line with the fix, and a KV v2 store path with /data; PushSecret (still v1alpha1) is fine', () => {
    const issues = checkManifestText(MANIFESTS, 'k8s/eso.yaml');
    assert.deepEqual(
      issues.map((i) => `${i.file}:${i.line}: [${i.code}]`),
      [
        'k8s/eso.yaml:2: [ESO_API_VERSION_UNSERVED]',
        'k8s/eso.yaml:10: [KV_DATA_IN_PATH]',
        'k8s/eso.yaml:13: [ESO_API_VERSION_UNSERVED]',
      ],
    );
    assert.match(
      issues[0]!.message,
      /ClusterSecretStore "devmentor-vault" uses external-secrets\.io\/v1beta1, which ESO ≥ 0\.17 no longer serves/,
    );
    assert.equal(
      issues[0]!.fix,
      'set apiVersion: external-secrets.io/v1 (the spec fields are the same for ClusterSecretStore)',
    );
    assert.equal(issues[1]!.fix, 'set path: kv (the KV mount only)');
    assert.doesNotMatch(JSON.stringify(issues), /sentinel-value-never-quoted/);
  });

  it('skips documents that do not parse or are not manifests', () => {
    assert.deepEqual(checkManifestText('a: [\n---\n- 1\n---\nplain text\n', 'x.yaml'), []);
  });
});
