import type { Logger } from 'pino';
import type { ChangeBus, ChangeMessage } from '../bus/change-bus.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { CatchUpTrigger, ReplicaState } from './replica-state.js';

/** Longest a write waits for the bus to take its announcement. */
const PUBLISH_WAIT_MS = 1000;

/**
 * Keeps a replica's state in step with the database: applies its own writes at once (read-your-writes), announces
 * them on the bus, applies other replicas' announcements, and reconciles on a timer and after a bus reconnect.
 */
export class ChangeSync {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Revisions this replica committed whose own catch-up (in `afterWrite`) has not finished yet. */
  private readonly ownWrites = new Set<number>();

  constructor(
    private readonly state: ReplicaState,
    private readonly bus: ChangeBus,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly replicaId: string,
    private readonly reconcileIntervalMs: number,
  ) {
    bus.onMessage((m) => void this.onMessage(m));
    bus.onReconnect(() => void this.catchUp('reconnect'));
  }

  start(): void {
    this.metrics.revision.set(this.state.revision);
    this.timer = setInterval(() => void this.catchUp('reconcile'), this.reconcileIntervalMs);
    this.timer.unref();
  }

  /** Called after this replica committed `revision`. */
  async afterWrite(revision: number): Promise<void> {
    const committedAt = Date.now();
    // This replica's own announcement comes back over the bus; the catch-up below already covers it.
    this.ownWrites.add(revision);
    // Announce first: other replicas start their catch-up while this one does its own. The announcement is only a
    // doorbell: a write never waits on the bus longer than PUBLISH_WAIT_MS (the bus bounds its own commands too);
    // other replicas then converge through reconciliation.
    let timer: NodeJS.Timeout | undefined;
    const announced = Promise.race([
      this.bus.publish({ revision, committedAt, origin: this.replicaId }).catch((err: Error) => {
        this.logger.warn({ err: err.message, revision }, 'could not announce change');
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.logger.warn({ revision, waitedMs: PUBLISH_WAIT_MS }, 'bus did not take the announcement in time');
          resolve();
        }, PUBLISH_WAIT_MS);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
    try {
      await Promise.all([announced, this.catchUp('write')]);
    } finally {
      this.ownWrites.delete(revision);
    }
  }

  async catchUp(trigger: CatchUpTrigger): Promise<void> {
    if (this.closed) return;
    try {
      const r = await this.state.catchUp(trigger);
      if (r.changes > 0) this.metrics.catchUps.inc({ trigger });
      this.metrics.revision.set(this.state.revision);
    } catch (err) {
      // The database may be briefly unreachable; the next trigger (or the timer) retries.
      this.logger.warn({ err: (err as Error).message, trigger }, 'catch-up failed; will retry');
    }
  }

  private async onMessage(m: ChangeMessage): Promise<void> {
    if (m.revision <= this.state.revision) return;
    // Our own announcement, arriving while our write's catch-up is still running: that catch-up reads it already.
    // (Joining it would schedule one more read of the store, which finds nothing.)
    if (m.origin === this.replicaId && this.ownWrites.has(m.revision)) return;
    if (m.revision > this.state.revision + 1) this.metrics.revisionGaps.inc();
    await this.catchUp('message');
    if (this.state.revision >= m.revision && m.origin !== this.replicaId) {
      this.metrics.propagationLag.observe(Math.max(0, Date.now() - m.committedAt) / 1000);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }
}
