import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startServer } from '../server.js';

export interface TestReplicaOptions {
  /** RC_REPLICA_ID; also names the temporary data directory. */
  replicaId: string;
  databaseUrl: string;
  redisUrl: string;
  adminToken: string;
  reconcileIntervalMs: number;
  /** Further RC_* variables (webhook secret, heartbeat…). */
  env?: Record<string, string>;
}

/**
 * One replica of a scale-out test: a listening server on PostgreSQL + Redis with its own data directory, silent
 * logs and no process metrics. `close` stops it and removes the directory; register it with the test's cleanup.
 */
export async function startTestReplica(
  options: TestReplicaOptions,
): Promise<{ server: RunningServer; close(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), `rc-replica-${options.replicaId}-`));
  try {
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      env: {
        RC_DATABASE_URL: options.databaseUrl,
        RC_REDIS_URL: options.redisUrl,
        RC_ADMIN_TOKEN: options.adminToken,
        RC_RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs),
        RC_REPLICA_ID: options.replicaId,
        RC_LOG_LEVEL: 'silent',
        ...options.env,
      },
      print: () => {},
      defaultMetrics: false,
    });
    return {
      server,
      async close() {
        await server.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
