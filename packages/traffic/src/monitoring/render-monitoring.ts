/**
 * Platform file → monitoring as code (runbook §5): prometheus-operator ServiceMonitor/PodMonitors
 * (`monitoring.coreos.com/v1`) for the control plane, the platform's services and their Istio sidecars;
 * PrometheusRules for the control plane, canaries, SDK provider errors and ExternalSecrets; Grafana dashboards as
 * sidecar-provisioned ConfigMaps. Validated against prometheus-operator's CRD schemas (vendored from
 * `@kubernetes-models/prometheus-operator`, see validate-monitoring.ts).
 */
import { stringify } from 'yaml';
import type { GrafanaDashboard } from '../dashboard/canary-dashboard.js';
import type { Platform, PlatformService } from '../platform/platform-model.js';
import type { RenderedFile } from '../platform/render-istio.js';
import {
  type DashboardConfigMap,
  dashboardConfigMap,
  renderControlPlaneDashboard,
  renderServiceDashboard,
} from './dashboards.js';

export const MONITORING_API_VERSION = 'monitoring.coreos.com/v1';

export interface MonitoringOptions {
  /** Where the control plane runs (`rctl render control-plane`'s default). */
  controlPlaneNamespace: string;
  /** Labels of the control plane's Service (`app: runtime-control`, as `rctl render control-plane` writes it). */
  controlPlaneLabels: Record<string, string>;
  /** The `job` label Prometheus gives the control plane's series (a ServiceMonitor's job is the Service name). */
  controlPlaneJob: string;
  /** Where the dashboards' ConfigMaps go (Grafana's sidecar watches it, or all namespaces). */
  grafanaNamespace: string;
  /** Port (container port name) of each service's /metrics; default `http`. */
  metricsPort: string;
  metricsPath: string;
  interval: string;
}

export const MONITORING_DEFAULTS: MonitoringOptions = {
  controlPlaneNamespace: 'runtime-control',
  controlPlaneLabels: { app: 'runtime-control' },
  controlPlaneJob: 'runtime-control',
  grafanaNamespace: 'monitoring',
  metricsPort: 'http',
  metricsPath: '/metrics',
  interval: '15s',
};

export interface MonitoringManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

function metadata(platform: Platform, name: string, namespace: string) {
  return {
    name,
    namespace,
    labels: { 'app.kubernetes.io/managed-by': 'rctl', 'runtime-control/platform': platform.name },
  };
}

/**
 * Labels every Deployment of a service shares, less the version labels (e.g. `app: ai-gateway`): the selector of
 * all its versions' pods, including a version added later.
 */
export function commonPodLabels(service: PlatformService): Record<string, string> {
  const [first, ...rest] = service.deployments;
  if (!first) return { app: service.name };
  const versionKeys = new Set(Object.values(service.versions).flatMap((labels) => Object.keys(labels)));
  const common = Object.fromEntries(
    Object.entries(first.labels).filter(([k, v]) => !versionKeys.has(k) && rest.every((d) => d.labels[k] === v)),
  );
  return Object.keys(common).length > 0 ? common : { app: service.name };
}

/**
 * Control plane: a ServiceMonitor on its Service's `http` port (the same object `rctl render control-plane` writes,
 * so applying both is harmless). Services: one PodMonitor each (pods of all versions), which labels every series
 * with `service`, `namespace` and the pod's `version`: that is what the dashboards filter and group on. Sidecars: one
 * PodMonitor per namespace scraping Envoy's merged Istio metrics (`/stats/prometheus` on `http-envoy-prom`, Istio's
 * documented recipe), the source of `istio_requests_total` and `istio_request_duration_milliseconds`.
 */
export function renderMonitors(platform: Platform, o: MonitoringOptions = MONITORING_DEFAULTS): MonitoringManifest[] {
  const monitors: MonitoringManifest[] = [
    {
      apiVersion: MONITORING_API_VERSION,
      kind: 'ServiceMonitor',
      metadata: metadata(platform, 'runtime-control', o.controlPlaneNamespace),
      spec: {
        selector: { matchLabels: o.controlPlaneLabels },
        namespaceSelector: { matchNames: [o.controlPlaneNamespace] },
        endpoints: [{ port: 'http', path: '/metrics', interval: o.interval }],
      },
    },
  ];
  for (const service of platform.services) {
    monitors.push({
      apiVersion: MONITORING_API_VERSION,
      kind: 'PodMonitor',
      metadata: metadata(platform, service.name, service.namespace),
      spec: {
        selector: { matchLabels: commonPodLabels(service) },
        namespaceSelector: { matchNames: [service.namespace] },
        podTargetLabels: ['version'],
        podMetricsEndpoints: [
          {
            port: o.metricsPort,
            path: o.metricsPath,
            interval: o.interval,
            relabelings: [{ action: 'replace', targetLabel: 'service', replacement: service.name }],
          },
        ],
      },
    });
  }
  const namespaces = [...new Set(platform.services.map((s) => s.namespace))];
  for (const namespace of namespaces) {
    monitors.push({
      apiVersion: MONITORING_API_VERSION,
      kind: 'PodMonitor',
      metadata: metadata(platform, 'istio-sidecars', namespace),
      spec: {
        selector: { matchExpressions: [{ key: 'security.istio.io/tlsMode', operator: 'Exists' }] },
        namespaceSelector: { matchNames: [namespace] },
        podMetricsEndpoints: [{ port: 'http-envoy-prom', path: '/stats/prometheus', interval: o.interval }],
      },
    });
  }
  return monitors;
}

/** Error codes that mean the provider (not the caller) failed: the SDK served code defaults. */
export const PROVIDER_ERROR_CODES = ['PROVIDER_NOT_READY', 'PROVIDER_FATAL', 'PARSE_ERROR', 'GENERAL'] as const;

/** The alert rules, one group; `for` durations are how long a condition must hold before it pages. */
export function alertRules(platform: Platform, o: MonitoringOptions = MONITORING_DEFAULTS): AlertRule[] {
  const rule = (
    alert: string,
    expr: string,
    forDuration: string,
    severity: 'critical' | 'warning',
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity, platform: platform.name },
    annotations: { summary, description },
  });
  const rules = [
    rule(
      'RuntimeControlDown',
      `absent(up{job="${o.controlPlaneJob}"} == 1)`,
      '2m',
      'critical',
      'No Runtime Control replica is being scraped successfully',
      'Every control-plane target is down or missing. Services keep serving their last flags (SDKs evaluate ' +
        'in-process) but no change reaches them. Check the pods and /health/ready (runbook §7 "Flags not toggling").',
    ),
    rule(
      'RuntimeControlPropagationLagHigh',
      'histogram_quantile(0.99, sum by (le) (rate(rc_propagation_lag_seconds_bucket[5m]))) > 1',
      '10m',
      'warning',
      'Flag changes take more than 1 s to reach other replicas (p99 {{ $value | humanizeDuration }})',
      'p99 of rc_propagation_lag_seconds over 5 minutes. Check Redis (rc_bus_degraded) and the database.',
    ),
    rule(
      'RuntimeControlBusDegraded',
      'max by (instance) (rc_bus_degraded) == 1',
      '2m',
      'warning',
      'Runtime Control replica {{ $labels.instance }} cannot use the change bus (Redis)',
      'Changes still commit and replicas converge through reconciliation, but slower. Check Redis.',
    ),
    rule(
      'RuntimeControlCanaryRolledBack',
      // rc_canary_phase is a state set: the rolled_back series exists (0) while the run progresses, so changes() sees
      // the rollback; a counter of rollback decisions would not (increase() misses a new series' first increment).
      'max by (service) (rc_canary_phase{phase="rolled_back"}) == 1 and on (service) ' +
        'max by (service) (changes(rc_canary_phase{phase="rolled_back"}[15m])) > 0',
      '0m',
      'warning',
      'The canary of {{ $labels.service }} was rolled back',
      'The canary controller moved all traffic back to the stable version (firing for 15 minutes after the ' +
        'rollback); `rctl canary status` shows why.',
    ),
    rule(
      'RuntimeControlUnloadableRecords',
      'max by (instance, entity) (rc_unloadable_records) > 0',
      '5m',
      'warning',
      'Runtime Control replica {{ $labels.instance }} cannot load {{ $value }} stored {{ $labels.entity }} records',
      'Those flags are served as errors until fixed (see /health/ready for which ones).',
    ),
    rule(
      'OpenFeatureProviderErrors',
      'sum by (namespace, service, error_code) ' +
        `(rate(openfeature_evaluation_errors_total{error_code=~"${PROVIDER_ERROR_CODES.join('|')}"}[5m])) > 0`,
      '5m',
      'warning',
      '{{ $labels.service }} in {{ $labels.namespace }} serves code defaults: provider error {{ $labels.error_code }}',
      'The SDK’s PrometheusHook counts evaluations that failed because of the provider (not ready, fatal, parse ' +
        'error). Check the service’s connection to Runtime Control (`rctl clients`).',
    ),
  ];
  const secretNamespaces = [
    ...new Set(
      (platform.secrets?.services ?? [])
        .map((s) => platform.services.find((p) => p.name === s.name)?.namespace)
        .filter((n): n is string => n !== undefined),
    ),
  ];
  if (secretNamespaces.length > 0) {
    // The External Secrets Operator's own metric (its controller's /metrics; enable its ServiceMonitor with the
    // Helm value serviceMonitor.enabled=true). Runtime Control exports nothing about ExternalSecrets.
    rules.push(
      rule(
        'ExternalSecretNotReady',
        `max by (namespace, name) (externalsecret_status_condition{condition="Ready", status="False", namespace=~"${secretNamespaces.join('|')}"}) == 1`,
        '10m',
        'warning',
        'ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} is not Ready',
        'ESO cannot sync it from Vault (runbook §7 "ExternalSecret stuck pending"); `rctl secrets check` finds the ' +
          'usual causes offline. Needs ESO’s metrics scraped.',
      ),
    );
  }
  return rules;
}

export function renderPrometheusRule(
  platform: Platform,
  o: MonitoringOptions = MONITORING_DEFAULTS,
): MonitoringManifest {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: 'PrometheusRule',
    metadata: metadata(platform, `${platform.name}-runtime-control`, o.controlPlaneNamespace),
    spec: { groups: [{ name: 'runtime-control', rules: alertRules(platform, o) }] },
  };
}

export interface RenderedMonitoring {
  files: RenderedFile[];
  /** ServiceMonitor, PodMonitors and PrometheusRule (validated with validateMonitoringManifests). */
  manifests: MonitoringManifest[];
  dashboards: GrafanaDashboard[];
  configMaps: DashboardConfigMap[];
  /** The options used (defaults filled in). */
  options: MonitoringOptions;
}

export const MONITORS_FILE = 'monitors.yaml';
export const RULES_FILE = 'prometheus-rules.yaml';
export const DASHBOARDS_FILE = 'grafana-dashboards.yaml';

function yamlStream(docs: readonly unknown[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

/** Everything monitoring `rctl render` writes from a platform file, in the file's order (same input, same bytes). */
export function renderMonitoring(platform: Platform, options: Partial<MonitoringOptions> = {}): RenderedMonitoring {
  const o = { ...MONITORING_DEFAULTS, ...options };
  const monitors = renderMonitors(platform, o);
  const rule = renderPrometheusRule(platform, o);
  const dashboards = [
    ...platform.services.map((s) => renderServiceDashboard(platform, s)),
    renderControlPlaneDashboard(platform),
  ];
  const configMaps = dashboards.map((d) => dashboardConfigMap(platform, o.grafanaNamespace, d));
  const count = (kind: string) => monitors.filter((m) => m.kind === kind).length;
  const rules = (rule.spec.groups as { rules: unknown[] }[])[0]!.rules.length;
  return {
    files: [
      {
        name: MONITORS_FILE,
        content: yamlStream(monitors),
        summary: `${count('ServiceMonitor')} ServiceMonitor, ${count('PodMonitor')} PodMonitor`,
      },
      { name: RULES_FILE, content: yamlStream([rule]), summary: `1 PrometheusRule, ${rules} alerts` },
      {
        name: DASHBOARDS_FILE,
        content: yamlStream(configMaps),
        summary: `${configMaps.length} Grafana dashboard ConfigMaps`,
      },
    ],
    manifests: [...monitors, rule],
    dashboards,
    configMaps,
    options: o,
  };
}
