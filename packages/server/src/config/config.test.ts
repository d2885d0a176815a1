import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('reads the Unleash event watch settings, the token from a variable or a file', () => {
    const off = loadConfig({});
    assert.equal(off.unleashUrl, undefined);
    assert.equal(off.unleashWatchIntervalMs, 250);
    const c = loadConfig({
      RC_UNLEASH_URL: 'http://unleash:4242/api/',
      RC_UNLEASH_TOKEN: '*:*.abc123',
      RC_UNLEASH_WATCH_INTERVAL_MS: '500',
    });
    // The server root is kept, whether the /api URL or the root was given.
    assert.equal(c.unleashUrl, 'http://unleash:4242');
    assert.equal(c.unleashToken, '*:*.abc123');
    assert.equal(c.unleashWatchIntervalMs, 500);
    const dir = mkdtempSync(join(tmpdir(), 'rc-config-'));
    try {
      const file = join(dir, 'unleash-token');
      writeFileSync(file, '*:*.from-file\n');
      const fromFile = loadConfig({ RC_UNLEASH_URL: 'http://unleash:4242', RC_UNLEASH_TOKEN_FILE: file });
      assert.equal(fromFile.unleashToken, '*:*.from-file');
      const wrong = (env: Record<string, string>, variable: string) => {
        assert.throws(
          () => loadConfig(env),
          (err: unknown) => err instanceof ConfigError && err.variable === variable,
          JSON.stringify(env),
        );
      };
      wrong({ RC_UNLEASH_URL: 'http://unleash:4242' }, 'RC_UNLEASH_TOKEN');
      wrong({ RC_UNLEASH_TOKEN: '*:*.x' }, 'RC_UNLEASH_URL');
      wrong({ RC_UNLEASH_URL: 'unleash:4242', RC_UNLEASH_TOKEN: '*:*.x' }, 'RC_UNLEASH_URL');
      wrong({ RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN: 'a b' }, 'RC_UNLEASH_TOKEN');
      wrong(
        { RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN: '*:*.x', RC_UNLEASH_TOKEN_FILE: file },
        'RC_UNLEASH_TOKEN_FILE',
      );
      wrong({ RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN_FILE: join(dir, 'missing') }, 'RC_UNLEASH_TOKEN_FILE');
      writeFileSync(join(dir, 'empty'), '\n');
      wrong({ RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN_FILE: join(dir, 'empty') }, 'RC_UNLEASH_TOKEN_FILE');
      wrong(
        { RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN: '*:*.x', RC_UNLEASH_WATCH_INTERVAL_MS: '10' },
        'RC_UNLEASH_WATCH_INTERVAL_MS',
      );
      // A ConfigError names the file, never the token.
      try {
        loadConfig({ RC_UNLEASH_URL: 'http://u', RC_UNLEASH_TOKEN: 'secret sentinel' });
      } catch (err) {
        assert.doesNotMatch((err as Error).message, /sentinel/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RC_HOST: 127.0.0.1 in development, 0.0.0.0 in production, or what is set', () => {
    assert.equal(loadConfig({}).host, '127.0.0.1');
    assert.equal(loadConfig({ RC_MODE: 'development' }).host, '127.0.0.1');
    assert.equal(loadConfig({ RC_MODE: 'production', RC_ADMIN_TOKEN: 'x'.repeat(20) }).host, '0.0.0.0');
    assert.equal(loadConfig({ NODE_ENV: 'production', RC_ADMIN_TOKEN: 'x'.repeat(20) }).host, '0.0.0.0');
    assert.equal(loadConfig({ RC_HOST: '0.0.0.0' }).host, '0.0.0.0');
    assert.equal(
      loadConfig({ RC_MODE: 'production', RC_ADMIN_TOKEN: 'x'.repeat(20), RC_HOST: '10.0.0.5' }).host,
      '10.0.0.5',
    );
  });

  it('reads the stream limit, CORS origins and metrics token', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.maxStreamsPerToken, 100);
    assert.deepEqual([...defaults.corsOrigins], []);
    assert.equal(defaults.metricsToken, undefined);
    const c = loadConfig({
      RC_MAX_STREAMS_PER_TOKEN: '5',
      RC_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://app.example.com',
      RC_METRICS_TOKEN: 'metrics-token-0123456789',
    });
    assert.equal(c.maxStreamsPerToken, 5);
    assert.deepEqual([...c.corsOrigins], ['https://app.example.com', 'http://localhost:5173']);
    assert.equal(c.metricsToken, 'metrics-token-0123456789');
    for (const [env, variable] of [
      [{ RC_MAX_STREAMS_PER_TOKEN: '0' }, 'RC_MAX_STREAMS_PER_TOKEN'],
      [{ RC_CORS_ORIGINS: '*' }, 'RC_CORS_ORIGINS'],
      [{ RC_CORS_ORIGINS: 'https://app.example.com/path' }, 'RC_CORS_ORIGINS'],
      [{ RC_METRICS_TOKEN: 'short' }, 'RC_METRICS_TOKEN'],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.variable === variable,
        JSON.stringify(env),
      );
    }
  });
});
