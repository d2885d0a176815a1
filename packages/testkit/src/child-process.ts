import type { ChildProcess } from 'node:child_process';
import { sleep } from './wait.js';

/**
 * Supervision of the service processes tests start (redis-server, unleash-server): output capture, exit tracking,
 * a graceful stop, a readiness wait, and one exit hook so a test process that dies early leaves nothing behind.
 */

/** Every supervised child that has not exited yet, with the signal it gets if the test process exits first. */
const liveChildren = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [child, signal] of liveChildren) child.kill(signal);
  });
}

export interface SupervisedChild {
  readonly process: ChildProcess;
  /** Resolves once the process exited (or failed to spawn). */
  readonly exited: Promise<void>;
  /** Why the process is gone (`exited with SIGTERM`, `failed to start: …`), or undefined while it runs. */
  readonly exitInfo: string | undefined;
  /** The tail of its stdout and stderr, for error messages. */
  readonly output: string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s); resolves once it exited. A no-op once it has. */
  stop(graceMs?: number): Promise<void>;
}

export interface SuperviseOptions {
  /** How many characters of output to keep (default 8000). */
  outputLimit?: number;
  /** The signal sent if the test process exits while this child still runs (default SIGTERM). */
  exitSignal?: NodeJS.Signals;
}

/**
 * Tracks a freshly spawned child (spawn it with `stdio: ['ignore', 'pipe', 'pipe']` to capture its output). It is
 * sent `exitSignal` when the test process exits before it does.
 */
export function superviseChild(proc: ChildProcess, options: SuperviseOptions = {}): SupervisedChild {
  const outputLimit = options.outputLimit ?? 8000;
  installExitHook();
  liveChildren.set(proc, options.exitSignal ?? 'SIGTERM');
  let output = '';
  let exitInfo: string | undefined;
  let gone = false;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-outputLimit);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    const done = (info: string) => {
      exitInfo ??= info;
      if (gone) return;
      gone = true;
      liveChildren.delete(proc);
      resolve();
    };
    proc.on('exit', (code, signal) => done(`exited with ${signal ?? `code ${code}`}`));
    proc.on('error', (err) => {
      // Only a failed spawn ends the child; a failed kill or send leaves it running.
      if (proc.pid === undefined) done(`failed to start: ${err.message}`);
    });
  });

  return {
    process: proc,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    get output() {
      return output;
    },
    async stop(graceMs = 10_000) {
      if (gone) return;
      proc.kill('SIGTERM');
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited.finally(() => clearTimeout(killTimer));
    },
  };
}

export interface WaitUntilReadyOptions {
  /** Names the process in messages, e.g. `redis-server on port 6380`. */
  what: string;
  /** What `ready` checks, for the timeout message, e.g. `PING answered +PONG`. */
  readyWhen: string;
  timeoutMs: number;
  /** Pause between checks (default 100 ms). */
  intervalMs?: number;
  /** When set, a `# waiting for …` line goes to stderr this often: for slow starts, so a run does not look hung. */
  progressEveryMs?: number;
}

/**
 * Polls `ready` until it resolves true. Rejects with the process output when the child exits first, or stops it
 * (see `SupervisedChild.stop`) and rejects when `timeoutMs` passes.
 */
export async function waitUntilReady(
  child: SupervisedChild,
  ready: () => Promise<boolean>,
  options: WaitUntilReadyOptions,
): Promise<void> {
  const started = Date.now();
  let nextProgress =
    options.progressEveryMs === undefined ? Number.POSITIVE_INFINITY : started + options.progressEveryMs;
  for (;;) {
    if (child.exitInfo) throw new Error(`${options.what} ${child.exitInfo}:\n${child.output}`);
    if (await ready()) return;
    const now = Date.now();
    if (now - started > options.timeoutMs) {
      await child.stop();
      throw new Error(
        `${options.what}: not ready (${options.readyWhen}) within ${options.timeoutMs} ms:\n${child.output}`,
      );
    }
    if (options.progressEveryMs !== undefined && now >= nextProgress) {
      process.stderr.write(`# waiting for ${options.what} (${Math.round((now - started) / 1000)} s)\n`);
      nextProgress = now + options.progressEveryMs;
    }
    await sleep(options.intervalMs ?? 100);
  }
}
