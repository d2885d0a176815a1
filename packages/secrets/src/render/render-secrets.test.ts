import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type PlatformFileData, readYamlSource } from '@runtime-control/core';
import { parse } from 'yaml';
import {
  ESO_API_VERSION,
  EXTERNAL_SECRETS_FILE,
  envPatchFile,
  renderSecrets,
  type SecretsManifest,
  STORE_FILE,
} from './render-secrets.js';
import { planSecrets, type SecretsPlatformInput, secretBundles } from './secrets-plan.js';
import { validateEsoManifest, validateEsoManifests } from './validate-eso.js';

const DEVMENTOR = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);

/** The platform as the secrets rendering takes it, built from the file as traffic's model would (defaults applied). */
function inputOf(text: string): SecretsPlatformInput {
  const source = readYamlSource(text);
  assert.ok(source.ok);
  const data = source.data as PlatformFileData;
  const defaultNamespace = data.namespaces[0]!.name;
  return {
    name: data.platform,
    services: data.services.map((s) => ({
      name: s.name,
      namespace: s.namespace ?? defaultNamespace,
      deployments: (s.deployments ?? []).map((d) => ({ name: d.name, container: d.container ?? d.name })),
    })),
    ...(data.secrets ? { secrets: data.secrets } : {}),
  };
}

const devmentor = () => inputOf(readFileSync(DEVMENTOR, 'utf8'));

describe('renderSecrets', () => {
  it('renders the DevMentor store, one ExternalSecret per bundle and one env patch per consumer, valid against ESO', () => {
    const plan = planSecrets(devmentor())!;
    const { files, manifests, patches } = renderSecrets(plan);
    assert.deepEqual(validateEsoManifests(manifests), []);
    assert.deepEqual(
      files.map((f) => [f.name, f.summary]),
      [
        [STORE_FILE, '1 ClusterSecretStore'],
        [EXTERNAL_SECRETS_FILE, '4 ExternalSecret'],
        ['deployment-env-auth-service.yaml', 'env of Deployment auth-service: 1 from Secrets'],
        ['deployment-env-api-gateway.yaml', 'env of Deployment api-gateway: 2 from Secrets'],
        ['deployment-env-ai-gateway.yaml', 'env of Deployment ai-gateway: 2 from Secrets'],
        ['deployment-env-ai-gateway-v2.yaml', 'env of Deployment ai-gateway-v2: 2 from Secrets'],
        ['deployment-env-project-service.yaml', 'env of Deployment project-service: 1 from Secrets'],
      ],
    );
    assert.equal(patches.length, 5);
    // Every file is YAML that reads back as the manifests rendered, and none names a version ESO no longer serves.
    for (const file of files) {
      assert.doesNotMatch(file.content, /v1beta1|v1alpha1/, file.name);
      assert.match(file.content, /^# Rendered by "rctl render" from platform "devmentor"/);
    }
    const reread = files
      .filter((f) => f.name === STORE_FILE || f.name === EXTERNAL_SECRETS_FILE)
      .flatMap((f) => f.content.split(/^---\n/m).slice(1))
      .map((doc) => parse(doc) as SecretsManifest);
    assert.deepEqual(reread, manifests);
    assert.deepEqual(validateEsoManifests(reread), [], 'the YAML as written validates');
  });

  it('writes the store with ESO vault provider fields, and ExternalSecrets with v1, keys without data/, Owner targets', () => {
    const { manifests } = renderSecrets(planSecrets(devmentor())!);
    const [store, ...externalSecrets] = manifests;
    assert.equal(store!.apiVersion, ESO_API_VERSION);
    assert.equal(store!.kind, 'ClusterSecretStore');
    assert.equal(store!.metadata.namespace, undefined, 'cluster-scoped');
    assert.deepEqual(store!.spec, {
      provider: {
        vault: {
          server: 'https://vault.example.com',
          path: 'secret',
          version: 'v2',
          auth: {
            kubernetes: {
              mountPath: 'kubernetes',
              role: 'devmentor',
              serviceAccountRef: { name: 'external-secrets-vault', namespace: 'devmentor-app', audiences: ['vault'] },
            },
          },
        },
      },
    });
    assert.deepEqual(
      externalSecrets.map((m) => [m.apiVersion, m.kind, m.metadata.namespace, m.metadata.name]),
      [
        ['external-secrets.io/v1', 'ExternalSecret', 'devmentor-app', 'auth-service-jwt'],
        ['external-secrets.io/v1', 'ExternalSecret', 'devmentor-app', 'api-gateway-redis'],
        ['external-secrets.io/v1', 'ExternalSecret', 'devmentor-app', 'ai-gateway-providers'],
        ['external-secrets.io/v1', 'ExternalSecret', 'devmentor-app', 'project-service-database'],
      ],
    );
    const jwt = externalSecrets[0]!;
    assert.deepEqual(jwt.spec, {
      refreshInterval: '1h',
      secretStoreRef: { name: 'devmentor-vault', kind: 'ClusterSecretStore' },
      target: { name: 'auth-service-jwt', creationPolicy: 'Owner' },
      data: [{ secretKey: 'JWT_SECRET', remoteRef: { key: 'devmentor/auth-service/jwt', property: 'JWT_SECRET' } }],
    });
    assert.deepEqual(jwt.metadata.annotations, {
      'runtime-control/rotation-strategy': 'generated',
      'runtime-control/max-age': '90d',
    });
    for (const es of externalSecrets) {
      for (const d of (es.spec as { data: { remoteRef: { key: string } }[] }).data) {
        assert.doesNotMatch(d.remoteRef.key, /(^|\/)data\//, 'ESO adds data/ itself');
        assert.doesNotMatch(d.remoteRef.key, /^secret\//, 'the key is relative to the mount');
      }
    }
  });

  it('wires every property of every bundle into each consumer: env[].valueFrom.secretKeyRef on the named container', () => {
    const plan = planSecrets(devmentor())!;
    const { patches, files } = renderSecrets(plan);
    for (const bundle of plan.bundles) {
      for (const consumer of bundle.consumers) {
        const patch = patches.find((p) => p.consumer.deployment === consumer.deployment)?.patch;
        assert.ok(patch, `a patch for ${consumer.deployment}`);
        assert.deepEqual(patch.metadata, { name: consumer.deployment, namespace: 'devmentor-app' });
        const [container] = patch.spec.template.spec.containers;
        for (const { env } of bundle.properties) {
          assert.deepEqual(
            container!.env.find((e) => e.name === env),
            { name: env, valueFrom: { secretKeyRef: { name: bundle.secretName, key: env } } },
            `${consumer.deployment} gets ${env} from ${bundle.secretName}`,
          );
        }
      }
    }
    const v2 = patches.find((p) => p.consumer.deployment === 'ai-gateway-v2')!.patch;
    assert.equal(v2.spec.template.spec.containers[0]!.name, 'ai-gateway', 'the declared container, not the Deployment');
    const gateway = patches.find((p) => p.consumer.deployment === 'api-gateway')!.patch;
    assert.deepEqual(
      gateway.spec.template.spec.containers[0]!.env.map((e) => `${e.name}<-${e.valueFrom.secretKeyRef.name}`),
      ['JWT_SECRET<-auth-service-jwt', 'REDIS_URL<-api-gateway-redis'],
    );
    const file = files.find((f) => f.name === envPatchFile('api-gateway'))!;
    assert.match(file.content, /kubectl -n devmentor-app patch deployment api-gateway --type strategic --patch-file/);
    assert.deepEqual(parse(file.content.split(/^---\n/m)[1]!), gateway);
  });

  it('renders refreshInterval 0 as "0s", applies defaults, and is deterministic', () => {
    const input = devmentor();
    const bundle = input.secrets!.services![1]!.bundles![0]!;
    bundle.refreshInterval = 0;
    delete input.secrets!.store.version;
    const plan = planSecrets(input)!;
    const first = renderSecrets(plan);
    assert.equal((first.manifests[2]!.spec as { refreshInterval: string }).refreshInterval, '0s');
    assert.equal(
      (first.manifests[0]!.spec as { provider: { vault: { version: string } } }).provider.vault.version,
      'v2',
    );
    assert.deepEqual(renderSecrets(planSecrets(input)!), first);
  });

  it('gives status and rotation their bundles (names, paths, consumers, max age in seconds)', () => {
    const bundles = secretBundles(planSecrets(devmentor())!);
    assert.deepEqual(bundles[0], {
      service: 'auth-service',
      name: 'jwt',
      path: 'devmentor/auth-service/jwt',
      properties: { JWT_SECRET: 'JWT_SECRET' },
      externalSecret: { namespace: 'devmentor-app', name: 'auth-service-jwt' },
      consumers: [
        { namespace: 'devmentor-app', deployment: 'auth-service' },
        { namespace: 'devmentor-app', deployment: 'api-gateway' },
      ],
      maxAgeSeconds: 90 * 86400,
    });
  });

  it('has nothing to render without a secrets section', () => {
    const input = devmentor();
    delete input.secrets;
    assert.equal(planSecrets(input), undefined);
  });
});

describe('validateEsoManifest (ESO v1 schemas, vendored)', () => {
  const valid = () => renderSecrets(planSecrets(devmentor())!).manifests;

  it('refuses what ESO refuses: an unknown creationPolicy, a data entry without remoteRef, KV v3, no role', () => {
    const es = structuredClone(valid()[1]!) as { spec: Record<string, unknown> };
    (es.spec.target as Record<string, unknown>).creationPolicy = 'Sometimes';
    (es.spec.data as Record<string, unknown>[]).push({ secretKey: 'X' });
    assert.deepEqual(
      validateEsoManifest(es)
        .map((i) => `${i.resource}: ${i.path} ${i.message}`)
        .sort(),
      [
        'ExternalSecret devmentor-app/auth-service-jwt: /spec/data/1 must have required property remoteRef',
        'ExternalSecret devmentor-app/auth-service-jwt: /spec/target/creationPolicy must be equal to one of the allowed values (Owner, Orphan, Merge, None)',
      ].sort(),
    );
    const store = structuredClone(valid()[0]!) as unknown as {
      spec: { provider: { vault: { version: string; auth: { kubernetes: Record<string, unknown> } } } };
    };
    store.spec.provider.vault.version = 'v3';
    delete store.spec.provider.vault.auth.kubernetes.role;
    const paths = validateEsoManifest(store).map((i) => i.path);
    assert.ok(paths.includes('/spec/provider/vault/version'), paths.join());
    assert.ok(paths.includes('/spec/provider/vault/auth/kubernetes'), paths.join());
  });

  it('knows only external-secrets.io/v1: a v1beta1 manifest has no schema here', () => {
    const es = { ...valid()[1]!, apiVersion: 'external-secrets.io/v1beta1' };
    assert.match(validateEsoManifest(es)[0]!.message, /no ESO schema for apiVersion "external-secrets.io\/v1beta1"/);
    assert.match(validateEsoManifest(null)[0]!.message, /must be an object/);
  });
});
