// Child process for benchmark 12: the per-write cost before incremental compilation — every write recompiled every
// flag of every environment. Loads a seeded SQLite database (read while its server runs; WAL allows it) into a fresh
// ReplicaState, which compiles everything exactly as a replica's start does, `rounds` times. Prints one JSON line.

import { ReplicaState } from '../../packages/server/dist/state/replica-state.js';
import { createStore } from '../../packages/server/dist/store/create-store.js';

const [dbPath, environments, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 3);
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const store = await createStore(`sqlite:${dbPath}`, '.');
const times = [];
let compiled = 0;
for (let i = 0; i < rounds; i++) {
  compiled = 0;
  const state = new ReplicaState(store, environments.split(','), silent, { onFlagCompiled: () => compiled++ });
  const t0 = performance.now();
  await state.load();
  times.push(performance.now() - t0);
}
await store.close?.();
process.stdout.write(`${JSON.stringify({ times, compiled })}\n`);
process.exit(0);
