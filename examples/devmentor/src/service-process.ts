/**
 * The process around one DevMentor service started on its own (by `rctl exec`): start, print where it listens and
 * which secrets it took (names only), stop cleanly on SIGTERM — what `rctl exec` sends before restarting it with new
 * values — and exit 1 with the reason when it cannot start.
 */
export function runService(
  name: string,
  start: (env: NodeJS.ProcessEnv) => Promise<{ url: string; uses: string[]; close(): Promise<unknown> }>,
): void {
  start(process.env).then(
    (running) => {
      console.log(`${name} listening on ${running.url} (${running.uses.join(', ')} from the environment)`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`${name}: ${signal}, stopping`);
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    },
    (error: Error) => {
      console.error(`${name} cannot start: ${error.message}`);
      process.exit(1);
    },
  );
}

/** PORT, else the service's default port. */
export function listenPort(env: NodeJS.ProcessEnv, fallback: number): number {
  const raw = env.PORT;
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0-65535, got "${raw}"`);
  return port;
}
