/**
 * Whether this replica is serving or draining. Draining starts when the process is asked to stop (SIGTERM): from
 * then on `/health/ready` answers 503 so load balancers (a Kubernetes Service's endpoints) stop sending new work
 * here, while everything already routed here is still served until the streams are handed over and the listener
 * closes (see `RunningServer.shutdown`).
 */
export class ReplicaLifecycle {
  private drainingSince: number | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Idempotent: the first call wins. */
  beginDrain(now = Date.now()): void {
    this.drainingSince ??= now;
  }
}
