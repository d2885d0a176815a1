import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CANARY_QUERIES, dashboardExpressions, renderCanaryDashboard } from './canary-dashboard.js';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const promtoolFound = spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8' }).status === 0;
const underCi = process.env.CI === 'true';
// Locally a missing promtool skips with the way to get it; under CI it must fail, never pass by skipping.
const skip =
  promtoolFound || underCi ? false : `promtool not found (apt-get install -y prometheus, or set PROMTOOL=/path)`;

const dashboard = renderCanaryDashboard({
  title: 'devmentor: canary',
  uid: 'rc-canary-devmentor',
  namespace: 'devmentor-app',
  service: 'ai-gateway',
  services: ['ai-gateway'],
});

/** Grafana variables → concrete values, so promtool sees plain PromQL. */
function substituteVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__range', '1h')
    .replaceAll('$namespace', 'devmentor-app')
    .replaceAll('$service', 'ai-gateway');
}

/** `promtool check rules` parses every `expr` of a rules file: the offline way to check PromQL in any version. */
function checkWithPromtool(expressions: readonly string[]): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rc-promql-'));
  try {
    const file = join(dir, 'dashboard-rules.yaml');
    const rules = expressions.map((expr, i) => ({ record: `rc:dashboard_expression_${i}`, expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'canary-dashboard', rules }] }));
    const result = spawnSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('canary dashboard PromQL', () => {
  const expressions = dashboardExpressions(dashboard);

  it('finds every panel query and variable selector', () => {
    const panelTargets = dashboard.panels.flatMap((p) => p.targets ?? []).length;
    assert.ok(panelTargets >= 10, `expected at least 10 panel targets, got ${panelTargets}`);
    assert.equal(expressions.length, panelTargets + 2, 'the namespace and service variables are checked too');
    for (const { where, expr } of expressions) {
      assert.doesNotMatch(substituteVariables(expr), /\$/, `${where}: a Grafana variable is left after substitution`);
    }
  });

  it('filters Istio series on reporter="destination" and groups them by destination_version', () => {
    const istio = expressions.filter((e) => e.expr.includes('istio_'));
    assert.ok(istio.length >= 7);
    for (const { where, expr } of istio) {
      assert.match(expr, /reporter="destination"/, where);
      if (!where.startsWith('variable')) assert.match(expr, /by \((le, )?destination_version\)/, where);
    }
    assert.match(CANARY_QUERIES.weights, /rc_canary_weight\{service="\$service"\}/);
    assert.match(CANARY_QUERIES.serverFlagEvaluations, /rc_flag_evaluations_total/);
    assert.match(CANARY_QUERIES.sdkFlagEvaluations, /openfeature_evaluations_total/);
  });

  it('passes promtool check rules', { skip }, () => {
    assert.ok(promtoolFound, `CI=true and promtool ("${PROMTOOL}") is not installed: apt-get install -y prometheus`);
    const result = checkWithPromtool(expressions.map((e) => substituteVariables(e.expr)));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${expressions.length} rules found`));
  });

  it('is a check that fails on broken PromQL', { skip }, () => {
    assert.ok(promtoolFound, `CI=true and promtool ("${PROMTOOL}") is not installed: apt-get install -y prometheus`);
    const broken = 'sum by (destination_version) (rate(istio_requests_total{reporter="destination"}[5m])';
    const result = checkWithPromtool([substituteVariables(CANARY_QUERIES.p95), broken]);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /parse error|unclosed|expected/i);
  });
});
