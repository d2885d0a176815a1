/**
 * Every PromQL expression of the monitoring `rctl render` writes, in one place so the dashboards, the alert rules,
 * the promtool check and the real-Prometheus test all read the same strings. Three sources of metrics:
 *
 * - Istio's standard metrics from the sidecars (`istio_requests_total`, `istio_request_duration_milliseconds`),
 *   server-side (`reporter="destination"`), per `destination_version` (the pods' `version` label). The local router
 *   exports the same names and labels, so the queries are the same on a laptop and in a mesh.
 * - The SDK's PrometheusHook in each service (`openfeature_evaluations_total{flag_key, variant, reason, provider}`,
 *   `openfeature_evaluation_errors_total{flag_key, error_code, provider}`); the PodMonitors add `service`,
 *   `namespace` and `version` target labels, which is how a dashboard picks one service's pods.
 * - The control plane's `rc_*` metrics (packages/server/src/metrics/metrics.ts, the canary controller's
 *   `rc_canary_*`).
 *
 * Grafana variables: `$namespace` (dashboard variable), `$__rate_interval` (Grafana's). Rules use fixed windows.
 */

/** Server-side Istio series of one service in the `$namespace` variable. */
export function istioSelector(service: string, extra = ''): string {
  return `reporter="destination", destination_service_namespace="$namespace", destination_service_name="${service}"${extra}`;
}

/** A failed request is a 5xx or no response at all (`response_code="0"`), as in the canary dashboard. */
const FAILED = ', response_code=~"5..|0"';
const SUCCEEDED = ', response_code!~"5..|0"';

function requests(service: string, extra = ''): string {
  return `sum by (destination_version) (rate(istio_requests_total{${istioSelector(service, extra)}}[$__rate_interval]))`;
}

function quantile(service: string, q: number): string {
  return (
    `histogram_quantile(${q}, sum by (le, destination_version) ` +
    `(rate(istio_request_duration_milliseconds_bucket{${istioSelector(service)}}[$__rate_interval])))`
  );
}

/** The SDK series of one service's pods (target labels the service's PodMonitor sets). */
export function sdkSelector(service: string): string {
  return `namespace="$namespace", service="${service}"`;
}

/** Panel queries of one service's dashboard. */
export function serviceQueries(service: string) {
  return {
    requestRate: requests(service),
    successRate: `${requests(service, SUCCEEDED)} / ${requests(service)}`,
    errorRate: `${requests(service, FAILED)} / ${requests(service)}`,
    p50: quantile(service, 0.5),
    p95: quantile(service, 0.95),
    p99: quantile(service, 0.99),
    flagEvaluations:
      'sum by (version, flag_key, variant) ' +
      `(rate(openfeature_evaluations_total{${sdkSelector(service)}}[$__rate_interval]))`,
    flagErrors:
      'sum by (version, flag_key, error_code) ' +
      `(rate(openfeature_evaluation_errors_total{${sdkSelector(service)}}[$__rate_interval]))`,
  };
}

export type ServiceQueryName = keyof ReturnType<typeof serviceQueries>;

/** Panel queries of the control-plane dashboard (`rc_*` names are Runtime Control's own: no job filter needed). */
export const CONTROL_PLANE_QUERIES = {
  replicas: 'count(rc_revision)',
  revision: 'max by (instance) (rc_revision)',
  propagationLagP50: 'histogram_quantile(0.5, sum by (le) (rate(rc_propagation_lag_seconds_bucket[$__rate_interval])))',
  propagationLagP99:
    'histogram_quantile(0.99, sum by (le) (rate(rc_propagation_lag_seconds_bucket[$__rate_interval])))',
  connectedClients: 'sum by (environment, stream) (rc_sse_clients)',
  busDegraded: 'max by (instance) (rc_bus_degraded)',
  revisionGaps: 'sum by (instance) (rate(rc_revision_gaps_total[$__rate_interval]))',
  catchUps: 'sum by (trigger) (rate(rc_catch_ups_total[$__rate_interval]))',
  requestRate: 'sum by (route, status) (rate(rc_http_request_duration_seconds_count[$__rate_interval]))',
  canaryPhase: 'max by (service, phase) (rc_canary_phase) == 1',
  canaryWeight: 'max by (service, version) (rc_canary_weight)',
  unloadableRecords: 'sum by (entity) (rc_unloadable_records)',
  secretAge: 'max by (service, bundle) (rc_secret_age_seconds)',
  secretState: 'max by (service, bundle, state) (rc_secret_state) == 1',
} as const;

export type ControlPlaneQueryName = keyof typeof CONTROL_PLANE_QUERIES;
