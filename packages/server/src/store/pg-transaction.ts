import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` between BEGIN and COMMIT on one pooled connection; any throw rolls back and is rethrown. A connection
 * that cannot roll back, or that dropped meanwhile, is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // pg emits 'error' on a checked-out client whose connection drops (PostgreSQL restarted, network cut); the pool
  // listens only while a client is idle, and an unheard 'error' event would crash the process. The query in flight
  // fails on its own, so the listener only marks the connection unusable.
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
