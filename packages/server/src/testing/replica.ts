import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  type Resources,
  requireTestDatabaseUrl,
  requireTestRedisUrl,
} from '@runtime-control/testkit';
import { type RunningServer, startServer } from '../server.js';
import { TEST_ADMIN_TOKEN } from './test-app.js';

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

export interface TestReplica {
  server: RunningServer;
  /** Stops the replica and removes its directory; a second call does nothing. */
  close(): Promise<void>;
}

/**
 * One replica of a scale-out test: a listening server on PostgreSQL + Redis with its own data directory, silent
 * logs and no process metrics. `close` stops it and removes the directory; register it with the test's cleanup.
 */
export async function startTestReplica(options: TestReplicaOptions): Promise<TestReplica> {
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
    let closed: Promise<void> | undefined;
    return {
      server,
      close() {
        closed ??= server.close().then(() => rm(dataDir, { recursive: true, force: true }));
        return closed;
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A fresh database on RC_TEST_DATABASE_URL (`prefix`_<random>) and one replica per id on it and RC_TEST_REDIS_URL,
 * all registered with `cleanup` (replicas closed, then the database dropped).
 */
export async function startTestReplicas(
  cleanup: Pick<Resources, 'add'>,
  options: { prefix: string; ids: string[] } & Pick<TestReplicaOptions, 'reconcileIntervalMs' | 'env'>,
): Promise<TestReplica[]> {
  const db = await createTestDatabase(requireTestDatabaseUrl()!, { prefix: options.prefix });
  cleanup.add(() => db.drop());
  const replicas: TestReplica[] = [];
  for (const replicaId of options.ids) {
    const replica = await startTestReplica({
      databaseUrl: db.url,
      redisUrl: requireTestRedisUrl()!,
      adminToken: TEST_ADMIN_TOKEN,
      reconcileIntervalMs: options.reconcileIntervalMs,
      replicaId,
      ...(options.env ? { env: options.env } : {}),
    });
    cleanup.add(() => replica.close());
    replicas.push(replica);
  }
  return replicas;
}
