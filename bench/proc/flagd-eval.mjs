// Anchor: raw `@openfeature/flagd-core` evaluation in one process, no HTTP — what one evaluation alone costs.
// msg: { configJson, flagKey, durationMs, maxIterations, users }
import { FlagdCore } from '@openfeature/flagd-core';
import { now, serve } from '../lib.mjs';

const silent = { error() {}, warn() {}, info() {}, debug() {} };

serve({
  run(msg) {
    const core = new FlagdCore(undefined, silent);
    core.setConfigurations(msg.configJson);
    const contexts = Array.from({ length: msg.users }, (_, i) => ({ targetingKey: `user-${i}` }));
    // Warm-up (JIT), then a bounded timed loop checked every 1,000 evaluations.
    for (let i = 0; i < 50_000; i++)
      core.resolveBooleanEvaluation(msg.flagKey, false, contexts[i % contexts.length], silent);
    let n = 0;
    let trues = 0;
    const start = now();
    const deadline = start + msg.durationMs;
    while (n < msg.maxIterations) {
      for (let j = 0; j < 1000; j++, n++) {
        if (core.resolveBooleanEvaluation(msg.flagKey, false, contexts[n % contexts.length], silent).value) trues++;
      }
      if (now() >= deadline) break;
    }
    const elapsed = now() - start;
    return {
      evaluations: n,
      elapsedMs: elapsed,
      perSecond: (n / elapsed) * 1000,
      nsPerEvaluation: (elapsed * 1e6) / n,
      trues,
    };
  },
});
