/**
 * Everything a test suite started (servers, child processes, databases, streams), torn down in reverse order by
 * `closeAll`, every cleanup attempted even when an earlier one fails or a test failed half-way.
 */
export class Resources {
  private readonly cleanups: (() => Promise<unknown> | unknown)[] = [];

  add(cleanup: () => Promise<unknown> | unknown): void {
    this.cleanups.push(cleanup);
  }

  async closeAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.cleanups.length > 0) {
      try {
        await this.cleanups.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}
