import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has embedded defaults and is frozen', () => {
    const c = loadConfig({});
    assert.equal(c.port, 4400);
    assert.equal(c.mode, 'development');
    assert.equal(c.databaseUrl, undefined);
    assert.deepEqual([...c.environments], ['development', 'production']);
    assert.ok(Object.isFrozen(c));
  });

  it('names the variable that is wrong', () => {
    const cases: [Record<string, string>, string][] = [
      [{ RC_PORT: 'abc' }, 'RC_PORT'],
      [{ RC_DATABASE_URL: 'mysql://x' }, 'RC_DATABASE_URL'],
      [{ RC_REDIS_URL: 'http://x' }, 'RC_REDIS_URL'],
      [{ RC_MODE: 'production' }, 'RC_ADMIN_TOKEN'],
      [{ RC_ADMIN_TOKEN: 'short' }, 'RC_ADMIN_TOKEN'],
      [{ RC_ENVIRONMENTS: 'Prod!' }, 'RC_ENVIRONMENTS'],
      [{ RC_LOG_LEVEL: 'loud' }, 'RC_LOG_LEVEL'],
      [{ RC_RECONCILE_INTERVAL_MS: '5' }, 'RC_RECONCILE_INTERVAL_MS'],
    ];
    for (const [env, variable] of cases) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.variable === variable,
        variable,
      );
    }
  });

  it('reads environments and production settings', () => {
    const c = loadConfig({
      RC_MODE: 'production',
      RC_ADMIN_TOKEN: 'x'.repeat(20),
      RC_ENVIRONMENTS: 'dev, staging ,prod',
    });
    assert.deepEqual([...c.environments], ['dev', 'staging', 'prod']);
  });
});
