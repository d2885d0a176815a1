/**
 * Grafana dashboards (classic JSON model, like the canary dashboard) for the platform's services and for the control
 * plane itself, delivered as ConfigMaps with the label `grafana_dashboard: "1"`: the convention of Grafana's
 * dashboard sidecar (kube-prometheus-stack's `sidecar.dashboards.label`), which loads every such ConfigMap's JSON.
 */
import {
  DASHBOARD_SCHEMA_VERSION,
  type DashboardPanel,
  type DashboardTarget,
  type DashboardVariable,
  type GrafanaDashboard,
} from '../dashboard/canary-dashboard.js';
import type { Platform, PlatformService } from '../platform/platform-model.js';
import { CONTROL_PLANE_QUERIES, serviceQueries } from './monitoring-queries.js';

const DATASOURCE = { type: 'prometheus' as const, uid: '$datasource' };

function target(refId: string, expr: string, legendFormat: string): DashboardTarget {
  return { refId, expr, legendFormat, datasource: DATASOURCE };
}

/** Lays panels out left to right, `perRow` to a row of 24 columns, each 8 high; rows get a header. */
class Layout {
  readonly panels: DashboardPanel[] = [];
  private id = 1;
  private y = 0;

  row(title: string, cells: Omit<DashboardPanel, 'id' | 'gridPos' | 'type'>[]): void {
    this.panels.push({
      id: this.id++,
      type: 'row',
      title,
      gridPos: { x: 0, y: this.y, w: 24, h: 1 },
      collapsed: false,
      panels: [],
    });
    this.y += 1;
    const w = Math.floor(24 / cells.length);
    cells.forEach((cell, i) => {
      this.panels.push({ ...cell, id: this.id++, type: 'timeseries', gridPos: { x: i * w, y: this.y, w, h: 8 } });
    });
    this.y += 8;
  }
}

function panel(
  title: string,
  unit: string,
  description: string,
  targets: DashboardTarget[],
  defaults: Record<string, unknown> = {},
): Omit<DashboardPanel, 'id' | 'gridPos' | 'type'> {
  return {
    title,
    description,
    datasource: DATASOURCE,
    fieldConfig: { defaults: { unit, ...defaults }, overrides: [] },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] } },
    targets,
  };
}

const DATASOURCE_VARIABLE: DashboardVariable = {
  name: 'datasource',
  label: 'Prometheus',
  type: 'datasource',
  query: 'prometheus',
  current: { text: 'Prometheus', value: 'prometheus' },
  options: [],
  includeAll: false,
  multi: false,
  hide: 0,
};

function namespaceVariable(service: string, namespace: string): DashboardVariable {
  const query = `label_values(istio_requests_total{reporter="destination", destination_service_name="${service}"}, destination_service_namespace)`;
  return {
    name: 'namespace',
    label: 'Namespace',
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: query,
    current: { text: namespace, value: namespace, selected: true },
    options: [{ text: namespace, value: namespace, selected: true }],
    refresh: 2,
    includeAll: false,
    multi: false,
    hide: 0,
    sort: 1,
  };
}

function dashboard(
  uid: string,
  title: string,
  description: string,
  tags: string[],
  panels: DashboardPanel[],
  variables: DashboardVariable[],
): GrafanaDashboard {
  return {
    uid,
    title,
    description,
    tags: ['runtime-control', ...tags],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    links: [],
    annotations: { list: [] },
    templating: { list: [DATASOURCE_VARIABLE, ...variables] },
    panels,
  };
}

/** Grafana uids are at most 40 characters. */
function uid(...parts: string[]): string {
  return parts.join('-').slice(0, 40).replace(/-+$/, '');
}

const PERCENT = { min: 0, max: 1 };

/** One service: RED per version from Istio, flag evaluations by flag and variant from the SDK. */
export function renderServiceDashboard(platform: Platform, service: PlatformService): GrafanaDashboard {
  const q = serviceQueries(service.name);
  const layout = new Layout();
  const byVersion = '{{destination_version}}';
  layout.row(`Traffic (Istio, reporter="destination")`, [
    panel('Request rate per version', 'reqps', 'Requests per second served by each version.', [
      target('A', q.requestRate, byVersion),
    ]),
    panel(
      'Success rate per version',
      'percentunit',
      'Share of requests answered with a non-5xx response.',
      [target('A', q.successRate, byVersion)],
      PERCENT,
    ),
    panel(
      'Error rate per version',
      'percentunit',
      'Share of requests answered 5xx or not at all (response_code 0).',
      [target('A', q.errorRate, byVersion)],
      { min: 0 },
    ),
  ]);
  layout.row('Latency (server-side, per version)', [
    panel('p50 latency', 'ms', 'Median request duration.', [target('A', q.p50, `${byVersion} p50`)]),
    panel('p95 latency', 'ms', '95th percentile request duration.', [target('A', q.p95, `${byVersion} p95`)]),
    panel('p99 latency', 'ms', 'Tail latency.', [target('A', q.p99, `${byVersion} p99`)]),
  ]);
  layout.row(`Flags (OpenFeature SDK in ${service.name})`, [
    panel(
      'Flag evaluations by flag and variant',
      'ops',
      'Evaluations per second in the service’s pods (the SDK’s PrometheusHook), by flag key and variant.',
      [target('A', q.flagEvaluations, '{{version}} {{flag_key}}={{variant}}')],
    ),
    panel(
      'Flag evaluation errors',
      'ops',
      'Evaluations that fell back to the code default, by flag and error code (PROVIDER_NOT_READY, FLAG_NOT_FOUND, …).',
      [target('A', q.flagErrors, '{{version}} {{flag_key}} {{error_code}}')],
    ),
  ]);
  return dashboard(
    uid('rc', platform.name, service.name),
    `${platform.name}: ${service.name}`,
    `${service.name}: request rate, success and error rate, p50/p95/p99 per version (Istio metrics, ` +
      'reporter="destination"), and flag evaluations by flag and variant (the SDK’s PrometheusHook).',
    [platform.name, 'service', 'istio'],
    layout.panels,
    [namespaceVariable(service.name, service.namespace)],
  );
}

/** The control plane itself: replicas and revision, propagation, clients, bus, canaries, unloadable records. */
export function renderControlPlaneDashboard(platform: Platform): GrafanaDashboard {
  const q = CONTROL_PLANE_QUERIES;
  const layout = new Layout();
  layout.row('Replicas and propagation', [
    panel('Replicas reporting', 'short', 'Replicas whose /metrics Prometheus scrapes (count of rc_revision).', [
      target('A', q.replicas, 'replicas'),
    ]),
    panel(
      'Applied revision per replica',
      'none',
      'The revision each replica has applied; replicas that differ for long are not converging.',
      [target('A', q.revision, '{{instance}}')],
    ),
    panel(
      'Propagation lag p50 / p99',
      's',
      'Time from a commit on one replica to another replica applying it (observed only with 2+ replicas).',
      [target('A', q.propagationLagP50, 'p50'), target('B', q.propagationLagP99, 'p99')],
    ),
  ]);
  layout.row('Clients and traffic', [
    panel('Connected clients', 'short', 'Open SSE streams by environment and stream (sdk, ofrep).', [
      target('A', q.connectedClients, '{{environment}} {{stream}}'),
    ]),
    panel('HTTP requests by route and status', 'reqps', 'Requests per second the control plane served.', [
      target('A', q.requestRate, '{{route}} {{status}}'),
    ]),
  ]);
  layout.row('Database and bus', [
    panel(
      'Bus degraded',
      'bool',
      'rc_bus_degraded: 1 when Redis cannot deliver changes (replicas then converge by reconciliation).',
      [target('A', q.busDegraded, '{{instance}}')],
      { min: 0, max: 1 },
    ),
    panel('Revision gaps', 'ops', 'Change messages that skipped revisions (lost on the bus), per replica.', [
      target('A', q.revisionGaps, '{{instance}}'),
    ]),
    panel(
      'Database catch-ups by trigger',
      'ops',
      'Reads of missed revisions from the database (after a gap, a reconnect, or the reconciliation timer).',
      [target('A', q.catchUps, '{{trigger}}')],
    ),
  ]);
  layout.row('Canaries and stored records', [
    panel('Canary phase', 'short', 'The current phase of each service’s canary run (rc_canary_phase == 1).', [
      target('A', q.canaryPhase, '{{service}} {{phase}}'),
    ]),
    panel('Canary weights', 'percent', 'Weight in percent the canary controller wants per version.', [
      target('A', q.canaryWeight, '{{service}} {{version}}'),
    ]),
    panel(
      'Unloadable records',
      'short',
      'Stored flags and evaluators this replica cannot load (served as errors until fixed).',
      [target('A', q.unloadableRecords, '{{entity}}')],
      { min: 0 },
    ),
  ]);
  layout.row('Secrets', [
    panel(
      'Secret age per bundle',
      's',
      'Age of each secret bundle’s current version (rc_secret_age_seconds, as of the control plane’s last status read).',
      [target('A', q.secretAge, '{{service}}/{{bundle}}')],
    ),
    panel(
      'Secret state per bundle',
      'short',
      'Each bundle’s current state: in-sync, syncing, stale-pods, missing, overdue, error (rc_secret_state == 1).',
      [target('A', q.secretState, '{{service}}/{{bundle}} {{state}}')],
    ),
  ]);
  return dashboard(
    uid('rc', platform.name, 'control-plane'),
    `${platform.name}: Runtime Control`,
    'The Runtime Control control plane: replicas, applied revision, propagation lag, connected clients, bus state, ' +
      'canary phase, unloadable records and secret bundles (age, state).',
    [platform.name, 'control-plane'],
    layout.panels,
    [],
  );
}

export interface DashboardConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
}

/** The Grafana sidecar's label: it loads the JSON in every ConfigMap carrying it. */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: '1' } as const;

export function dashboardConfigMap(platform: Platform, namespace: string, board: GrafanaDashboard): DashboardConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `grafana-dashboard-${board.uid}`.slice(0, 63).replace(/-+$/, ''),
      namespace,
      labels: {
        ...GRAFANA_DASHBOARD_LABEL,
        'app.kubernetes.io/managed-by': 'rctl',
        'runtime-control/platform': platform.name,
      },
    },
    data: { [`${board.uid}.json`]: `${JSON.stringify(board, null, 2)}\n` },
  };
}
