import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { CanaryController } from '../canary/canary-controller.js';
import { parseCanaryPlan } from '../canary/canary-plan.js';
import { InMemoryCanaryStateStore } from '../canary/canary-state.js';
import { dashboardExpressions, type GrafanaDashboard } from '../dashboard/canary-dashboard.js';
import { PrometheusCanaryMetrics } from '../metrics/canary-queries.js';
import { parsePlatformFile } from '../platform/platform-file.js';
import { LOCAL_NAMESPACE, LocalRouter } from '../routers/local-router.js';
import { LoadGenerator } from '../testing/demo-services.js';
import { findPrometheus, freePort, type PrometheusProcess, startPrometheus } from '../testing/prometheus-process.js';
import { type AlertRule, alertRules, renderMonitoring } from './render-monitoring.js';

/**
 * Every dashboard query and alert expression `rctl render` writes, run against a REAL Prometheus (Debian's
 * `prometheus`) scraping the running DevMentor demo (`npm run demo`: the control plane with the DevMentor seed,
 * api-gateway and ai-gateway with the SDK and its PrometheusHook, each serving /metrics), with the local router in
 * front of the two gateways for Istio's standard metrics (`istio_requests_total`,
 * `istio_request_duration_milliseconds`, same names and labels as the sidecars'; namespace label "local").
 *
 * Prometheus scrapes with the target labels the rendered PodMonitors give (`namespace`, `service`, `version`), every
 * 500 ms; load goes through the router for a few seconds, then each panel's query must return a non-empty vector.
 *
 * The demo's control plane runs no canary (RC_CANARY_ROUTER is not set), so the test runs the canary controller
 * (the same class the server runs, registering the same `rc_canary_*` gauges) on the local router, starts a canary
 * of ai-gateway and exposes the controller's registry as one more target: the canary panels then have data.
 *
 * Every queried panel must return data. Failed evaluations for the "Flag evaluation errors" panels are made by
 * deleting a flag each gateway evaluates (FLAG_NOT_FOUND). What legitimately cannot be checked here, and why:
 * - the auth-service and project-service dashboards are not queried: the demo does not run those services;
 * - "Database catch-ups by trigger" may be empty: a counter with a label, created only when a catch-up read finds
 *   changes (usually another replica's write; the demo is one replica);
 * - "Propagation lag p50 / p99" returns a vector, but NaN: lag is observed only for another replica's commits.
 */

const prometheusBinary = findPrometheus();
const DEMO = new URL('../../../../examples/devmentor/dist/demo.js', import.meta.url).pathname;
const PLATFORM = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);
const SCRAPE_MS = 500;
const DEMO_SERVICES = ['api-gateway', 'ai-gateway'];

/** Panels that cannot have data in the demo (see the header). */
const NO_DATA_HERE: Record<string, string> = {
  'Database catch-ups by trigger': 'one replica: no catch-up ever reads a change',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(prometheus: PrometheusProcess, expr: string): Promise<QueryResult> {
  const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(5000),
  });
  return (await res.json()) as QueryResult;
}

/** `$namespace` → the local router's namespace label, `$__rate_interval` → 1m (Grafana's variables). */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', LOCAL_NAMESPACE);
}

/** Starts `examples/devmentor/dist/demo.js` on three consecutive ports; resolves when it prints its URLs. */
/** Whether a port on 127.0.0.1 can be bound right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function startDemo(port: number, dataDir: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [DEMO], {
    env: {
      ...process.env,
      RC_PORT: String(port),
      RC_DATA_DIR: dataDir,
      RC_LOG_LEVEL: 'warn',
      // The secrets feature's bundles (rc_secret_* metrics): the platform file's secrets section, local backend.
      RC_PLATFORM_FILE: PLATFORM.pathname,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!output.includes('Ctrl-C to stop')) {
    if (child.exitCode !== null) throw new Error(`the demo exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`the demo did not start within 30 s: ${output}`);
    await sleep(100);
  }
  return { child, output: () => output };
}

async function stopDemo(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

if (!prometheusBinary && process.env.CI === 'true') {
  describe('monitoring queries against the demo under a real Prometheus', () => {
    it('requires /usr/bin/prometheus in CI', () => {
      throw new Error('Prometheus is required when CI=true (apt-get install -y prometheus); this suite must not skip');
    });
  });
} else {
  describe('monitoring queries against the demo under a real Prometheus', {
    skip: prometheusBinary ? false : 'Prometheus is not installed (apt-get install -y prometheus)',
    timeout: 90_000,
  }, () => {
    const parsed = parsePlatformFile(readFileSync(PLATFORM, 'utf8'), 'platform.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const platform = parsed.value.platform;
    const rendered = renderMonitoring(platform);
    let dataDir = '';
    let demo: ChildProcess | undefined;
    let router: LocalRouter | undefined;
    let prometheus: PrometheusProcess | undefined;
    let canaries: CanaryController | undefined;
    const canaryRegistry = new Registry();
    const canaryMetricsServer = http.createServer((_req, res) => {
      void canaryRegistry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': canaryRegistry.contentType }).end(text);
      });
    });
    const loads: LoadGenerator[] = [];

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'rc-monitoring-demo-'));
      // The demo listens on port, port+1 and port+2: all three must be free, and another test process may take one
      // between the check and the demo's listen, so a start that meets EADDRINUSE is tried again on other ports.
      let port = 0;
      let started: Awaited<ReturnType<typeof startDemo>> | undefined;
      for (let attempt = 0; attempt < 5 && started === undefined; attempt++) {
        port = await freePort();
        if (port >= 65_000 || !(await canListen(port + 1)) || !(await canListen(port + 2))) continue;
        try {
          started = await startDemo(port, dataDir);
        } catch (err) {
          if (!/EADDRINUSE/.test(String(err))) throw err;
        }
      }
      if (!started) throw new Error('found no three consecutive free ports for the demo in 5 attempts');
      demo = started.child;
      const [cp, api, ai] = [port, port + 1, port + 2].map((p) => `http://127.0.0.1:${p}`);
      router = new LocalRouter({
        routes: [
          { service: 'api-gateway', backends: { v1: api! } },
          // Both versions on one backend: the per-version panels get two series.
          { service: 'ai-gateway', backends: { v1: ai!, v2: ai! }, weights: { v1: 50, v2: 50 } },
        ],
      });
      const { url, adminUrl } = await router.listen();
      await new Promise<void>((r) => canaryMetricsServer.listen(0, '127.0.0.1', r));
      const canaryTarget = `127.0.0.1:${(canaryMetricsServer.address() as { port: number }).port}`;
      const sdkLabels = (service: string) => ({ namespace: LOCAL_NAMESPACE, service, version: 'v1' });
      prometheus = await startPrometheus({
        scrapeIntervalMs: SCRAPE_MS,
        targets: [
          { address: new URL(cp!).host },
          { address: new URL(api!).host, labels: sdkLabels('api-gateway') },
          { address: new URL(ai!).host, labels: sdkLabels('ai-gateway') },
          { address: new URL(adminUrl).host },
          { address: canaryTarget },
        ],
      });
      // Flag evaluations in api-gateway (GET /api/ui evaluates new-ui-enabled for the user), through the router.
      loads.push(new LoadGenerator(`${url}/api/ui?user=u-123`, 40, { 'x-rc-service': 'api-gateway' }));
      for (const l of loads) l.start();
      // ai-gateway evaluates its flags on POST /api/ai/complete.
      const complete = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const res = await fetch(`${url}/api/ai/complete`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-rc-service': 'ai-gateway' },
            body: JSON.stringify({ prompt: 'hello', user: `u-${i}` }),
          });
          await res.arrayBuffer();
        }
      };
      await complete(20);
      // rc_secret_state/rc_secret_age_seconds are set when the control plane reads the bundles' status; a bundle has
      // an age once it has a value: rotate auth-service/jwt (generated; the local backend creates it), then read.
      const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const admin = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${cp}/api/admin${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : {}) as { id?: string; status?: string } };
      };
      const rotation = await admin('POST', '/secrets/auth-service/jwt/rotate', {});
      assert.equal(rotation.status, 202, JSON.stringify(rotation.body));
      const rotationDeadline = Date.now() + 15_000;
      for (;;) {
        const progress = await admin('GET', `/secrets/auth-service/jwt/rotations/${rotation.body.id}`);
        if (progress.body.status === 'completed') break;
        assert.ok(Date.now() < rotationDeadline, `rotation did not complete: ${JSON.stringify(progress.body)}`);
        await sleep(100);
      }
      assert.equal((await admin('GET', '/secrets')).status, 200);
      // Failed evaluations for the "Flag evaluation errors" panels: once the successes have been scraped, delete a
      // flag each gateway evaluates; the SDKs then answer FLAG_NOT_FOUND with the code default (not a provider
      // error, so OpenFeatureProviderErrors stays quiet).
      await sleep(4 * SCRAPE_MS);
      for (const flag of ['new-ui-enabled', 'ai-provider-openai-enabled']) {
        const deleted = await admin('DELETE', `/flags/${flag}`);
        assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      }
      await sleep(500);
      await complete(20);
      // A canary of ai-gateway, started (weights 95/5, phase progressing) but not ticked: it stays in progress.
      canaries = new CanaryController({
        store: new InMemoryCanaryStateStore(),
        router,
        metrics: new PrometheusCanaryMetrics(prometheus.url),
        registry: canaryRegistry,
        tickMs: 100,
      });
      await canaries.start(
        'ai-gateway',
        parseCanaryPlan({
          canary: 'v2',
          interval: '500ms',
          window: '5s',
          thresholds: { minRequests: 1000 },
          missingData: { maxHold: '1s', action: 'rollback' },
        }),
        'monitoring-e2e',
      );
      // A rate over 1m needs two samples of every series after the traffic began.
      await sleep(6 * SCRAPE_MS + 2000);
    });

    after(async () => {
      await Promise.all(loads.map((l) => l.stop()));
      await canaries?.stop();
      await prometheus?.stop();
      await new Promise((r) => canaryMetricsServer.close(r));
      await router?.close();
      if (demo) await stopDemo(demo);
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    function boards(): GrafanaDashboard[] {
      return rendered.dashboards.filter(
        (d) => d.uid.endsWith('control-plane') || DEMO_SERVICES.some((s) => d.uid.endsWith(`-${s}`)),
      );
    }

    it('returns data for every panel query of the demo’s services and the control plane', async (t) => {
      assert.equal(boards().length, 3);
      const empty: string[] = [];
      const failed: string[] = [];
      let checked = 0;
      for (const board of boards()) {
        for (const { where, expr } of dashboardExpressions(board)) {
          const result = await query(prometheus!, substitute(expr));
          checked++;
          if (result.status !== 'success') failed.push(`${board.uid} ${where}: ${result.error}`);
          else if ((result.data?.result.length ?? 0) === 0) empty.push(`${board.uid} ${where}`);
        }
      }
      assert.deepEqual(failed, [], 'every query executes');
      const unexpected = empty.filter((e) => !Object.keys(NO_DATA_HERE).some((title) => e.includes(`"${title}"`)));
      assert.deepEqual(unexpected, [], `panels without data (checked ${checked})`);
      assert.ok(checked >= 30, `${checked} queries`);
      t.diagnostic(`${checked} queries; without data, as expected here: ${empty.join('; ') || 'none'}`);
    });

    it('sees per-version Istio series and flag evaluations by flag and variant', async () => {
      const versions = await query(
        prometheus!,
        substitute(
          'sum by (destination_version) (rate(istio_requests_total{reporter="destination", destination_service_namespace="$namespace", destination_service_name="ai-gateway"}[1m])) > 0',
        ),
      );
      assert.deepEqual(versions.data?.result.map((r) => r.metric.destination_version).sort(), ['v1', 'v2']);
      const flags = await query(
        prometheus!,
        'sum by (flag_key, variant) (openfeature_evaluations_total{service="api-gateway"})',
      );
      assert.ok(
        flags.data?.result.some((r) => r.metric.flag_key === 'new-ui-enabled' && Number(r.value[1]) > 0),
        JSON.stringify(flags.data?.result),
      );
    });

    it('evaluates every alert expression: none fires on the healthy demo; the down and canary-rollback alerts can fire', async () => {
      // The scraped control plane's job here is the test config's, not the ServiceMonitor's "runtime-control".
      const rules: AlertRule[] = alertRules(platform, { ...rendered.options, controlPlaneJob: 'rc-targets' });
      assert.equal(rules.length, 7);
      for (const rule of rules) {
        const result = await query(prometheus!, rule.expr);
        assert.equal(result.status, 'success', `${rule.alert}: ${result.error}`);
        assert.deepEqual(result.data?.result, [], `${rule.alert} would fire on the healthy demo`);
      }
      // The alerts can fire: the down alert for a job nobody scrapes, the rollback alert once the canary rolls back
      // (ticked now: ai-gateway gets no load, so data stays missing past maxHold and the run rolls back).
      const down = alertRules(platform, { ...rendered.options, controlPlaneJob: 'runtime-control' })[0]!;
      assert.equal((await query(prometheus!, down.expr)).data?.result.length, 1);
      canaries!.run();
      const rolledBack = rules.find((r) => r.alert === 'RuntimeControlCanaryRolledBack')!;
      const deadline = Date.now() + 15_000;
      let firing: QueryResult | undefined;
      while (Date.now() < deadline) {
        firing = await query(prometheus!, rolledBack.expr);
        if ((firing.data?.result.length ?? 0) > 0) break;
        await sleep(SCRAPE_MS);
      }
      assert.deepEqual(
        firing?.data?.result.map((r) => r.metric.service),
        ['ai-gateway'],
        `the rollback alert did not fire: ${JSON.stringify((await canaries!.status('ai-gateway')).state.phase)}`,
      );
    });
  });
}
