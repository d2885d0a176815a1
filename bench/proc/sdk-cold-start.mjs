// Child process for benchmark 12: one cold start of a service's flag client with a large flag set. Prints one JSON
// line. Modes (argv[2]):
// - live:      RuntimeControlProvider against a running server (snapshot over the stream), with a disk cache path so
//              that the snapshot is also written for the next mode;
// - cache:     RuntimeControlProvider whose server is unreachable, starting from that disk cache;
// - flagd-core: the anchor — flagd-core alone loading the same flagd document from a file (no network, no cache);
// - empty:     the SDK imported, nothing loaded (the process's own footprint).
// Run with --expose-gc so that the heap figure is what stays live, not garbage.
import { existsSync, readFileSync } from 'node:fs';

const [mode, url, token, cachePath, configFile, flagKey] = process.argv.slice(2);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sinceStart = () => performance.now();

async function main() {
  const importStart = sinceStart();
  if (mode === 'flagd-core') {
    const { FlagdCore } = await import('@openfeature/flagd-core');
    const json = readFileSync(configFile, 'utf8');
    const t0 = sinceStart();
    const core = new FlagdCore(undefined, silent);
    core.setConfigurations(json);
    const value = core.resolveNumberEvaluation(flagKey, 1, {}, silent).value;
    return { loadMs: sinceStart() - t0, readyAtMs: sinceStart(), value, held: core, close() {} };
  }
  const { OpenFeature } = await import('@openfeature/server-sdk');
  const { RuntimeControlProvider } = await import('../../packages/sdk/dist/index.js');
  const importMs = sinceStart() - importStart;
  if (mode === 'empty') return { importMs, readyAtMs: sinceStart(), value: null, close() {} };
  const provider = new RuntimeControlProvider({
    url,
    token,
    cachePath,
    appName: 'bench-cold-start',
    logger: silent,
    // From the cache: serve it at once instead of waiting for a server that is not there.
    ...(mode === 'cache' ? { cacheWaitMs: 0, reconnectInitialMs: 60_000 } : {}),
  });
  const t0 = sinceStart();
  await OpenFeature.setProviderAndWait(provider);
  const value = await OpenFeature.getClient().getNumberValue(flagKey, 1);
  const readyAtMs = sinceStart();
  const loadMs = readyAtMs - t0;
  if (mode === 'live') {
    // The cache is written after the snapshot is adopted; the next mode starts from it.
    const deadline = Date.now() + 10_000;
    while (!existsSync(cachePath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
  }
  return { importMs, loadMs, readyAtMs, value, held: provider, close: () => OpenFeature.close() };
}

const { held, close, ...result } = await main();
// Measured while the loaded flags are still referenced (`held`), after garbage is collected.
global.gc?.();
global.gc?.();
const mem = process.memoryUsage();
// Named after the measurement, so the loaded flags are provably still referenced during it.
const holder = held?.constructor?.name ?? null;
await close();
process.stdout.write(
  `${JSON.stringify({
    mode,
    // readyAtMs: from the process's time origin (node start-up, imports, load) to the first evaluation's answer.
    ...result,
    holder,
    rssMiB: mem.rss / 1048576,
    heapMiB: mem.heapUsed / 1048576,
  })}\n`,
);
process.exit(0);
