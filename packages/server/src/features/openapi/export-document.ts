import { buildApp } from '../../app.js';
import { loadConfig } from '../../config/config.js';
import { createRuntime } from '../../create-runtime.js';
import { createSqliteStore } from '../../store/sqlite-store.js';

/**
 * The OpenAPI document, without starting a server: the app is built over an in-memory runtime (SQLite `:memory:`,
 * in-process bus), asked for its document, and closed. Used to generate the CLI's API types.
 */
export async function exportOpenApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({
    RC_ADMIN_TOKEN: 'openapi-export-only-0123456789',
    RC_LOG_LEVEL: 'silent',
    RC_DATA_DIR: '/tmp/rc-openapi-export-unused',
  });
  const store = await createSqliteStore(':memory:');
  const rt = await createRuntime(config, { store, defaultMetrics: false });
  const app = await buildApp(rt);
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
