/**
 * The canary dashboard (runbook §4 step 2, §5) as Grafana's classic JSON model: request rate, success and error
 * rate, p50/p95/p99 per version from Istio's server-side metrics, the weights the canary controller wants, and flag
 * evaluation counts. Istio queries filter on `reporter="destination"` (each request is reported by both proxies)
 * and group by `destination_version` (the pods' `version` label).
 */

export interface CanaryDashboardOptions {
  title: string;
  uid: string;
  /** Default of the `namespace` variable. */
  namespace: string;
  /** Default of the `service` variable. */
  service: string;
  /** Services offered by the `service` variable before Prometheus has answered (its query refreshes them). */
  services: string[];
}

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: DatasourceRef;
}

interface DatasourceRef {
  type: 'prometheus';
  uid: string;
}

export interface DashboardPanel {
  id: number;
  type: 'timeseries' | 'row';
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: DatasourceRef;
  description?: string;
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
  targets?: DashboardTarget[];
  collapsed?: boolean;
  panels?: DashboardPanel[];
}

export interface DashboardVariable {
  name: string;
  label: string;
  type: 'datasource' | 'query';
  query: string | { query: string; refId: string };
  definition?: string;
  datasource?: DatasourceRef;
  current: { text: string; value: string; selected?: boolean };
  options: { text: string; value: string; selected: boolean }[];
  refresh?: number;
  includeAll: boolean;
  multi: boolean;
  hide: number;
  sort?: number;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: string;
  editable: boolean;
  graphTooltip: number;
  time: { from: string; to: string };
  refresh: string;
  schemaVersion: number;
  version: number;
  links: unknown[];
  annotations: { list: unknown[] };
  templating: { list: DashboardVariable[] };
  panels: DashboardPanel[];
}

export const DASHBOARD_SCHEMA_VERSION = 39;

/** The metric the canary controller exports: the weight in percent it wants for each version of a service. */
export const CANARY_WEIGHT_METRIC = 'rc_canary_weight';

const DATASOURCE: DatasourceRef = { type: 'prometheus', uid: '$datasource' };

/** Server-side Istio series of the selected service. */
const ISTIO_SELECTOR =
  'reporter="destination", destination_service_namespace="$namespace", destination_service_name="$service"';

function requests(extra = ''): string {
  return `sum by (destination_version) (rate(istio_requests_total{${ISTIO_SELECTOR}${extra}}[$__rate_interval]))`;
}

/** A failed request is a 5xx or no response at all (`response_code="0"`: reset, timeout before headers). */
const FAILED = ', response_code=~"5..|0"';
const SUCCEEDED = ', response_code!~"5..|0"';

function quantile(q: number): string {
  return (
    `histogram_quantile(${q}, sum by (le, destination_version) ` +
    `(rate(istio_request_duration_milliseconds_bucket{${ISTIO_SELECTOR}}[$__rate_interval])))`
  );
}

export const CANARY_QUERIES = {
  requestRate: requests(),
  successRate: `${requests(SUCCEEDED)} / ${requests()}`,
  errorRate: `${requests(FAILED)} / ${requests()}`,
  trafficShare: `${requests()} / ignoring(destination_version) group_left sum(${requests()})`,
  p50: quantile(0.5),
  p95: quantile(0.95),
  p99: quantile(0.99),
  weights: `max by (version) (${CANARY_WEIGHT_METRIC}{service="$service"})`,
  serverFlagEvaluations: 'sum by (flag, variant) (rate(rc_flag_evaluations_total[$__rate_interval]))',
  sdkFlagEvaluations: 'sum by (flag_key) (rate(openfeature_evaluations_total[$__rate_interval]))',
} as const;

const NAMESPACE_QUERY = 'label_values(istio_requests_total{reporter="destination"}, destination_service_namespace)';
const SERVICE_QUERY =
  'label_values(istio_requests_total{reporter="destination", destination_service_namespace="$namespace"}, destination_service_name)';

function target(refId: string, expr: string, legendFormat: string): DashboardTarget {
  return { refId, expr, legendFormat, datasource: DATASOURCE };
}

function timeseries(
  id: number,
  title: string,
  gridPos: DashboardPanel['gridPos'],
  unit: string,
  description: string,
  targets: DashboardTarget[],
  defaults: Record<string, unknown> = {},
): DashboardPanel {
  return {
    id,
    type: 'timeseries',
    title,
    description,
    gridPos,
    datasource: DATASOURCE,
    fieldConfig: { defaults: { unit, ...defaults }, overrides: [] },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] } },
    targets,
  };
}

function row(id: number, title: string, y: number): DashboardPanel {
  return { id, type: 'row', title, gridPos: { x: 0, y, w: 24, h: 1 }, collapsed: false, panels: [] };
}

function queryVariable(
  name: string,
  label: string,
  query: string,
  current: string,
  values: string[],
): DashboardVariable {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: query,
    current: { text: current, value: current, selected: true },
    options: values.map((v) => ({ text: v, value: v, selected: v === current })),
    refresh: 2,
    includeAll: false,
    multi: false,
    hide: 0,
    sort: 1,
  };
}

export function renderCanaryDashboard(options: CanaryDashboardOptions): GrafanaDashboard {
  const q = CANARY_QUERIES;
  const percent = { min: 0, max: 1 };
  const panels: DashboardPanel[] = [
    row(1, 'Traffic', 0),
    timeseries(
      2,
      'Request rate per version',
      { x: 0, y: 1, w: 12, h: 8 },
      'reqps',
      'Requests per second served by each version (server-side).',
      [target('A', q.requestRate, '{{destination_version}}')],
    ),
    timeseries(
      3,
      'Observed traffic share per version',
      { x: 12, y: 1, w: 12, h: 8 },
      'percentunit',
      'Share of the service’s requests each version served; compare with the weights below.',
      [target('A', q.trafficShare, '{{destination_version}}')],
      percent,
    ),
    row(4, 'Errors', 9),
    timeseries(
      5,
      'Success rate per version',
      { x: 0, y: 10, w: 12, h: 8 },
      'percentunit',
      'Requests that got a non-5xx response, per version.',
      [target('A', q.successRate, '{{destination_version}}')],
      percent,
    ),
    timeseries(
      6,
      'Error rate per version (5xx or no response)',
      { x: 12, y: 10, w: 12, h: 8 },
      'percentunit',
      'The runbook’s canary check: keep the canary below 1%.',
      [target('A', q.errorRate, '{{destination_version}}')],
      {
        min: 0,
        thresholds: {
          mode: 'absolute',
          steps: [
            { color: 'green', value: null },
            { color: 'red', value: 0.01 },
          ],
        },
      },
    ),
    row(7, 'Latency', 18),
    timeseries(8, 'p50 latency per version', { x: 0, y: 19, w: 8, h: 8 }, 'ms', 'Median request duration.', [
      target('A', q.p50, '{{destination_version}} p50'),
    ]),
    timeseries(9, 'p95 latency per version', { x: 8, y: 19, w: 8, h: 8 }, 'ms', 'The runbook’s “p95 similar to v1”.', [
      target('A', q.p95, '{{destination_version}} p95'),
    ]),
    timeseries(10, 'p99 latency per version', { x: 16, y: 19, w: 8, h: 8 }, 'ms', 'Tail latency.', [
      target('A', q.p99, '{{destination_version}} p99'),
    ]),
    row(11, 'Canary and flags', 27),
    timeseries(
      12,
      'Current weights (canary controller)',
      { x: 0, y: 28, w: 12, h: 8 },
      'percent',
      `Weight in percent the canary controller has set for each version (${CANARY_WEIGHT_METRIC}).`,
      [target('A', q.weights, '{{version}}')],
      { min: 0, max: 100, custom: { lineInterpolation: 'stepAfter' } },
    ),
    timeseries(
      13,
      'Flag evaluations',
      { x: 12, y: 28, w: 12, h: 8 },
      'ops',
      'Evaluations per second: by the Runtime Control server (OFREP) and by OpenFeature SDKs in the services.',
      [
        target('A', q.serverFlagEvaluations, 'server {{flag}}={{variant}}'),
        target('B', q.sdkFlagEvaluations, 'sdk {{flag_key}}'),
      ],
    ),
  ];
  const services = options.services.includes(options.service)
    ? options.services
    : [options.service, ...options.services];
  return {
    uid: options.uid,
    title: options.title,
    description: 'Canary health per version from Istio metrics (reporter="destination"), weights and flag evaluations.',
    tags: ['runtime-control', 'canary', 'istio'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    links: [],
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: { text: 'Prometheus', value: 'prometheus' },
          options: [],
          includeAll: false,
          multi: false,
          hide: 0,
        },
        queryVariable('namespace', 'Namespace', NAMESPACE_QUERY, options.namespace, [options.namespace]),
        queryVariable('service', 'Service', SERVICE_QUERY, options.service, services),
      ],
    },
    panels,
  };
}

/** Every PromQL expression of a dashboard: panel targets, and the series selectors inside `label_values(...)`. */
export function dashboardExpressions(dashboard: GrafanaDashboard): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  const visit = (panels: readonly DashboardPanel[]) => {
    for (const panel of panels) {
      for (const t of panel.targets ?? []) found.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr });
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    // label_values(SELECTOR, label): the selector is PromQL; the function itself is Grafana's.
    const selector = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(query)?.[1];
    if (selector) found.push({ where: `variable "${variable.name}"`, expr: selector });
  }
  return found;
}
