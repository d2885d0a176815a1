import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { formatFlagsFileIssue, parseFlagsFile } from '@runtime-control/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { loadConfig } from './config/config.js';
import { createRuntime, type RuntimeOptions, resolveAdminToken } from './create-runtime.js';
import { AppError } from './errors/app-error.js';
import type { Runtime } from './runtime.js';

export interface StartServerOptions extends RuntimeOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  /** A flags file to seed at start: missing flags and evaluators are created, existing ones left as they are. */
  seedFile?: string;
  /** Environment variables to read `RC_*` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Where the start-up banner goes (default stderr); never the JSON log. */
  print?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  runtime: Runtime;
  seeded?: SeedSummary;
  /** Closes now: streams are handed over (`reconnect` frame), requests in flight finish (bounded). */
  close(): Promise<void>;
  /**
   * A graceful stop (SIGTERM): readiness turns 503 at once, the replica keeps serving for RC_DRAIN_DELAY_MS so load
   * balancers stop routing here, then closes as `close` does. `print` reports each step.
   */
  shutdown(print?: (line: string) => void): Promise<void>;
}

export interface SeedSummary {
  created: string[];
  existing: string[];
}

/** Creates what the file has and the store lacks; never changes an existing flag (so restarts are idempotent). */
export async function seedFromFile(rt: Runtime, file: string): Promise<SeedSummary> {
  const parsed = parseFlagsFile(readFileSync(file, 'utf8'), file, rt.config.environments);
  if (!parsed.ok) {
    throw new Error(`cannot seed from ${file}:\n${parsed.issues.map(formatFlagsFileIssue).join('\n')}`);
  }
  const actor = { name: 'seed' };
  const summary: SeedSummary = { created: [], existing: [] };
  for (const [name, logic] of Object.entries(parsed.value.evaluators)) {
    if (!(await rt.store.getEvaluator(name))) await rt.evaluators.put(name, logic, actor, {});
  }
  for (const flag of parsed.value.flags) {
    try {
      await rt.flags.create(flag, actor);
      summary.created.push(flag.key);
    } catch (err) {
      if (err instanceof AppError && err.code === 'FLAG_EXISTS') summary.existing.push(flag.key);
      else throw err;
    }
  }
  return summary;
}

/** Reads config, builds the runtime and the app, seeds, listens. Used by `rctl up` and `npm start`. */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  // V8 may decide, from what survived while the server started (its flags, parsed documents), that objects from an
  // allocation site live long and allocate them in the old generation from then on. The same sites then make every
  // request's short-lived objects (bodies, contexts, answers): the old generation fills in a fraction of a second,
  // each scavenge has to scan it and full collections follow back to back. Measured under OFREP load (benchmark 1),
  // about one start in four went that way and stayed there: a third less throughput and three times the p99, every
  // collection busy. Without pretenuring, long-lived objects reach the old generation by surviving two scavenges.
  setFlagsFromString('--no-allocation-site-pretenuring');
  const env = { ...(options.env ?? process.env) };
  if (options.port !== undefined) env.RC_PORT = String(options.port);
  if (options.host !== undefined) env.RC_HOST = options.host;
  if (options.dataDir !== undefined) env.RC_DATA_DIR = options.dataDir;
  const config = loadConfig(env);
  const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runtime = await createRuntime(config, options);
  const app = await buildApp(runtime);
  let seeded: SeedSummary | undefined;
  const seedFile = options.seedFile ?? config.seedFile;
  try {
    if (seedFile) seeded = await seedFromFile(runtime, seedFile);
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shownHost}:${port}`;
  print(`Runtime Control listening on ${url} (storage: ${runtime.store.kind}, bus: ${runtime.bus.kind})`);
  print(`Console: ${url}/ (sign in with an admin token)`);
  const broken = runtime.state.brokenRecords();
  if (broken.length > 0) {
    print(`${broken.length} stored record(s) cannot be loaded and answer as errors until fixed (see /health/ready):`);
    for (const b of broken) print(`  ${b.entityType} "${b.key}" (revision ${b.revision}): ${b.problem}`);
  }
  if (seeded) {
    print(`Seeded from ${seedFile}: ${seeded.created.length} created, ${seeded.existing.length} already present`);
  }
  const admin = resolveAdminToken(config);
  if (admin.generated) {
    // Printed once at start-up, never through the JSON log.
    print(`Development admin token (kept in ${admin.file}): ${admin.token}`);
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= app.close();
    return closing;
  };
  const shutdown = async (report: (line: string) => void = print) => {
    if (closing) return closing;
    runtime.lifecycle.beginDrain();
    if (config.drainDelayMs > 0) {
      report(`draining: /health/ready answers 503; serving ${config.drainDelayMs} ms more (RC_DRAIN_DELAY_MS)`);
      await sleep(config.drainDelayMs);
    }
    const streams = runtime.sse.size;
    report(
      `closing: ${streams} stream(s) told to reconnect elsewhere; finishing requests in flight (at most ${config.shutdownTimeoutMs} ms)`,
    );
    await close();
    report('stopped');
  };
  return { url, app, runtime, seeded, close, shutdown };
}
