#!/usr/bin/env node
import { CanaryRig } from '../testing/canary-rig.js';
import type { BackendMode } from '../testing/demo-services.js';
import { findPrometheus } from '../testing/prometheus-process.js';

/**
 * `npm run demo:canary`: ai-gateway v1 and v2 behind the local router, a real Prometheus scraping it, ~100 req/s of
 * load, and the canary controller with a 2 s interval. By default it runs twice: a healthy v2 that is promoted
 * 5 → 10 → 25 → 50 → 100, then a v2 answering 5% 500s that is rolled back. `DEMO_V2=healthy|errors|slow` runs one
 * scenario only. While it runs, v2's behaviour can also be switched over HTTP:
 * `curl -XPOST <v2 url>/__mode -d '{"mode":"errors"}'`.
 */

const scenarios: BackendMode[] = process.env.DEMO_V2 ? [process.env.DEMO_V2 as BackendMode] : ['healthy', 'errors'];
if (!scenarios.every((s) => ['healthy', 'errors', 'slow'].includes(s))) {
  console.error('DEMO_V2 must be healthy, errors or slow');
  process.exit(2);
}
if (!findPrometheus()) {
  console.error('The canary demo needs Prometheus: apt-get install -y prometheus (or set RC_PROMETHEUS_BIN).');
  process.exit(1);
}

const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
let exitCode = 0;

for (const mode of scenarios) {
  const rig = new CanaryRig({ v2Mode: mode });
  try {
    await rig.start();
    console.log(
      `\n== ai-gateway canary, v2 ${mode === 'healthy' ? 'healthy' : mode === 'errors' ? 'returning 5% 500s' : '3× slower'}`,
    );
    console.log(
      `   router ${rig.router.url} (metrics ${rig.router.adminUrl}/metrics), Prometheus ${rig.prometheus.url}`,
    );
    console.log(`   switch v2 by hand: curl -XPOST ${rig.v2.url}/__mode -d '{"mode":"errors"}'`);
    await rig.startCanary({ interval: '2s', window: '10s', thresholds: { minRequests: 20 } });
    // Print each decision as it lands, with the checks that did not pass.
    let printed = 0;
    const deadline = Date.now() + 120_000;
    let final = await rig.state();
    for (;;) {
      const { state, decisions } = await rig.controller.status(rig.service);
      for (const d of decisions.slice(printed)) {
        console.log(
          `${clock()}  ${d.action.padEnd(10)} v2 ${String(d.fromWeight).padStart(3)}% → ${String(d.toWeight).padStart(3)}%  ${d.reason}`,
        );
        for (const c of (d.checks ?? []).filter((c) => c.status !== 'pass'))
          console.log(`            ${c.name}: ${c.detail}`);
      }
      printed = decisions.length;
      final = state;
      if ((['promoted', 'rolled_back', 'aborted'].includes(state.phase) && state.routerSynced) || Date.now() > deadline)
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(
      `   → ${final.phase}; traffic served: ${JSON.stringify(rig.load.stats.byVersion)}, statuses ${JSON.stringify(rig.load.stats.byStatus)}`,
    );
    const expected = mode === 'healthy' ? 'promoted' : 'rolled_back';
    if (final.phase !== expected) exitCode = 1;
  } finally {
    await rig.close();
  }
}
process.exit(exitCode);
