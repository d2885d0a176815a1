import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.js';
import { createTestApp } from '../../testing/test-app.js';

const KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

describe('secrets configuration (RC_SECRETS_*, RC_PLATFORM_FILE, RC_VAULT_*)', () => {
  it('defaults to the local backend without bundles', () => {
    const config = loadConfig({});
    assert.equal(config.secretsBackend, 'local');
    assert.equal(config.secretsKey, undefined);
    assert.equal(config.secretsBundlesFile, undefined);
  });

  it('names the variable that is wrong, never quoting a key', () => {
    const fails = (env: Record<string, string>, variable: string) => {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.variable === variable,
        `${JSON.stringify(env)} → ${variable}`,
      );
    };
    fails({ RC_SECRETS_BACKEND: 'aws' }, 'RC_SECRETS_BACKEND');
    fails({ RC_SECRETS_BACKEND: 'vault' }, 'RC_VAULT_ADDR');
    fails({ RC_SECRETS_BACKEND: 'vault', RC_VAULT_ADDR: 'vault:8200' }, 'RC_VAULT_ADDR');
    fails({ RC_VAULT_MOUNT: '/secret/' }, 'RC_VAULT_MOUNT');
    fails({ RC_SECRETS_BUNDLES_FILE: 'a.yaml', RC_PLATFORM_FILE: 'b.yaml' }, 'RC_SECRETS_BUNDLES_FILE');
    const shortKey = 'c2hvcnQta2V5LXNlbnRpbmVs';
    try {
      loadConfig({ RC_SECRETS_KEY: shortKey });
      assert.fail('a short key was accepted');
    } catch (error) {
      assert.ok(error instanceof ConfigError && error.variable === 'RC_SECRETS_KEY');
      assert.ok(!(error as Error).message.includes(shortKey));
    }
    const ok = loadConfig({
      RC_SECRETS_BACKEND: 'vault',
      RC_VAULT_ADDR: 'https://vault.example.com/',
      RC_VAULT_MOUNT: 'kv',
      RC_SECRETS_KEY: KEY,
      RC_PLATFORM_FILE: 'examples/devmentor/platform.yaml',
    });
    assert.equal(ok.vaultAddr, 'https://vault.example.com');
    assert.equal(ok.vaultMount, 'kv');
    assert.ok(ok.secretsBundlesFile?.endsWith('/examples/devmentor/platform.yaml'));
  });

  it('RC_VAULT_AUTH=kubernetes: role required and checked, token file must be readable, not with RC_VAULT_TOKEN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rc-secrets-k8s-config-'));
    try {
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, 'header.payload.signature\n', { mode: 0o600 });
      const vault = { RC_SECRETS_BACKEND: 'vault', RC_VAULT_ADDR: 'https://vault.example.com' };
      const k8s = { ...vault, RC_VAULT_AUTH: 'kubernetes', RC_VAULT_K8S_TOKEN_FILE: tokenFile };
      const fails = (env: Record<string, string>, variable: string, message?: RegExp) => {
        assert.throws(
          () => loadConfig(env),
          (e: unknown) => e instanceof ConfigError && e.variable === variable && (!message || message.test(e.message)),
          `${JSON.stringify(env)} → ${variable}`,
        );
      };
      fails({ ...vault, RC_VAULT_AUTH: 'approle' }, 'RC_VAULT_AUTH');
      fails({ RC_VAULT_AUTH: 'kubernetes', RC_VAULT_K8S_ROLE: 'rc' }, 'RC_VAULT_AUTH', /RC_SECRETS_BACKEND=vault/);
      fails(k8s, 'RC_VAULT_K8S_ROLE', /required/);
      fails({ ...k8s, RC_VAULT_K8S_ROLE: 'rc/../x' }, 'RC_VAULT_K8S_ROLE');
      fails({ ...k8s, RC_VAULT_K8S_ROLE: 'rc', RC_VAULT_K8S_MOUNT: '/kubernetes/' }, 'RC_VAULT_K8S_MOUNT');
      fails({ ...k8s, RC_VAULT_K8S_ROLE: 'rc', RC_VAULT_TOKEN: 'hvs.x' }, 'RC_VAULT_TOKEN', /not both/);
      fails(
        { ...k8s, RC_VAULT_K8S_ROLE: 'rc', RC_VAULT_K8S_TOKEN_FILE: join(dir, 'absent') },
        'RC_VAULT_K8S_TOKEN_FILE',
        /ENOENT.*service-account token/,
      );
      fails({ ...vault, RC_VAULT_K8S_ROLE: 'rc' }, 'RC_VAULT_K8S_ROLE', /only with RC_VAULT_AUTH=kubernetes/);
      const ok = loadConfig({ ...k8s, RC_VAULT_K8S_ROLE: 'runtime-control', RC_VAULT_K8S_MOUNT: 'k8s/prod' });
      assert.equal(ok.vaultAuth, 'kubernetes');
      assert.equal(ok.vaultK8sRole, 'runtime-control');
      assert.equal(ok.vaultK8sMount, 'k8s/prod');
      assert.equal(ok.vaultK8sTokenFile, tokenFile);
      assert.ok(Object.isFrozen(ok));
      assert.ok(!JSON.stringify(ok).includes('header.payload'), 'the JWT is read at login, not kept in the config');
      const defaults = loadConfig(vault);
      assert.equal(defaults.vaultAuth, 'token');
      assert.equal(defaults.vaultK8sMount, 'kubernetes');
      assert.equal(defaults.vaultK8sTokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/token');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a broken or missing platform file stops the server at start, with file:line problems', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rc-secrets-config-'));
    try {
      await writeFile(join(dir, 'broken.yaml'), 'platform: x\nservices: 3\n');
      await assert.rejects(
        createTestApp({ RC_DATA_DIR: dir, RC_PLATFORM_FILE: join(dir, 'broken.yaml') }),
        (e: unknown) =>
          e instanceof ConfigError && e.variable === 'RC_PLATFORM_FILE' && /broken\.yaml:\d+/.test(e.message),
      );
      await assert.rejects(
        createTestApp({ RC_DATA_DIR: dir, RC_PLATFORM_FILE: join(dir, 'absent.yaml') }),
        (e: unknown) => e instanceof ConfigError && /ENOENT/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
