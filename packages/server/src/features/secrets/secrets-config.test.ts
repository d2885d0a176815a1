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
