import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/config.js';
import { createRuntime } from '../create-runtime.js';
import type { Runtime } from '../runtime.js';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';

export const TEST_ADMIN_TOKEN = 'rc-test-admin-token-0123456789';

export interface TestApp {
  app: FastifyInstance;
  rt: Runtime;
  store: Store;
  /** Every JSON log line the app wrote. */
  logs: string[];
  admin: Record<string, string>;
  /** Creates a client token for `environment` through the API and returns request headers carrying it. */
  clientHeaders(environment: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** An app over an in-memory SQLite store, with logs captured, for `app.inject` tests. */
export async function createTestApp(env: Record<string, string> = {}, store?: Store): Promise<TestApp> {
  const config = loadConfig({
    RC_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    RC_LOG_LEVEL: 'info',
    RC_DATA_DIR: '/tmp/rc-test-unused',
    ...env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const usedStore = store ?? (await createSqliteStore(':memory:'));
  const rt = await createRuntime(config, { store: usedStore, logStream, defaultMetrics: false });
  const app = await buildApp(rt);
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
  return {
    app,
    rt,
    store: usedStore,
    logs,
    admin,
    async clientHeaders(environment: string) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/admin/tokens',
        headers: admin,
        payload: { kind: 'client', environment },
      });
      if (res.statusCode !== 201) throw new Error(`token creation failed: ${res.statusCode} ${res.body}`);
      return { authorization: `Bearer ${res.json().token}`, 'content-type': 'application/json' };
    },
    close: () => app.close(),
  };
}

export function booleanFlag(key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key,
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
    ...extra,
  };
}
