/**
 * The runbook's troubleshooting cases (§4, §7), checked on the platform file before anything is rendered or
 * applied: each is a mistake Istio accepts silently and that shows up later as traffic not splitting, a pin that
 * never applies, missing sidecars or blocked egress.
 */
import type { ParsedPlatformFile, PlatformFileIssue } from './platform-file.js';
import {
  INJECTION_LABEL,
  isWeightedRoute,
  type Labels,
  type Platform,
  type PlatformRoute,
  type RouteMatch,
  type StringMatch,
  stringMatchValue,
} from './platform-model.js';

export const CHECK_CODES = {
  /** A DestinationRule subset whose labels select no Deployment's pods: its share of traffic gets 503s. */
  subsetMatchesNoDeployment: 'SUBSET_MATCHES_NO_DEPLOYMENT',
  /** A weighted route whose weights do not add up to 100. */
  weightsNotHundred: 'WEIGHTS_NOT_100',
  /** A header-match route after a weighted route that already takes its requests: the first match wins. */
  headerRouteAfterWeighted: 'HEADER_ROUTE_AFTER_WEIGHTED_ROUTE',
  /** A namespace running services without `istio-injection=enabled`: pods start without sidecars. */
  injectionDisabled: 'NAMESPACE_INJECTION_DISABLED',
  /** A service calling an external host that is not approved: blocked under REGISTRY_ONLY, unreviewed otherwise. */
  egressNotApproved: 'EGRESS_HOST_NOT_APPROVED',
} as const;

export type CheckCode = (typeof CHECK_CODES)[keyof typeof CHECK_CODES];

export interface TroubleshootingIssue {
  code: CheckCode;
  /** JSON Pointer into the platform file. */
  path: string;
  /** What is wrong, e.g. `route "ai-gateway"` or `service "ai-gateway" subset "v2"`. */
  resource: string;
  /** What happens and what to change. */
  message: string;
}

function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function labelsContain(labels: Labels, required: Labels): boolean {
  return Object.entries(required).every(([k, v]) => labels[k] === v);
}

/** Runbook §7 "Traffic not splitting": every subset must select the pods of at least one Deployment. */
export function checkSubsetsMatchDeployments(platform: Platform): TroubleshootingIssue[] {
  const issues: TroubleshootingIssue[] = [];
  platform.services.forEach((service, s) => {
    for (const [version, labels] of Object.entries(service.versions)) {
      if (service.deployments.some((d) => labelsContain(d.labels, labels))) continue;
      const existing =
        service.deployments.length === 0
          ? 'no Deployments are listed for it'
          : `its Deployments are ${service.deployments.map((d) => `${d.name} {${formatLabels(d.labels)}}`).join(', ')}`;
      issues.push({
        code: CHECK_CODES.subsetMatchesNoDeployment,
        path: `/services/${s}/versions/${version}`,
        resource: `service "${service.name}" subset "${version}"`,
        message:
          `service "${service.name}" subset "${version}" selects pods labelled ${formatLabels(labels)}, but ${existing}; ` +
          `traffic routed to ${version} would fail with 503 (no healthy upstream). Label the ${version} Deployment's ` +
          `pods ${formatLabels(labels)} or change the subset's labels to match them.`,
      });
    }
  });
  return issues;
}

/** Weighted routes must add up to 100 (Istio ≥ 1.13 normalises, but older Istio and the runbook assume 100). */
export function checkWeightsSumTo100(platform: Platform): TroubleshootingIssue[] {
  const issues: TroubleshootingIssue[] = [];
  platform.routes.forEach((route, r) => {
    const weighted = route.destinations.length > 1 || route.destinations.some((d) => d.weight !== undefined);
    if (!weighted) return;
    const sum = route.destinations.reduce((total, d) => total + (d.weight ?? 0), 0);
    const missing = route.destinations.filter((d) => d.weight === undefined);
    if (sum === 100 && missing.length === 0) return;
    const parts = route.destinations.map((d) => `${d.subset ?? d.service} ${d.weight ?? '(none)'}`).join(' + ');
    issues.push({
      code: CHECK_CODES.weightsNotHundred,
      path: `/routes/${r}/destinations`,
      resource: `route "${route.name}"`,
      message:
        `route "${route.name}" weights ${parts} add up to ${sum}, not 100` +
        (missing.length > 0 ? ' (every destination of a split needs a weight)' : '') +
        '; give each destination an integer weight so that they sum to 100, e.g. 90/10.',
    });
  });
  return issues;
}

/** Whether every string `inner` matches is also matched by `outer` (false when it cannot be told, e.g. regex). */
function stringMatchCovers(outer: StringMatch | undefined, inner: StringMatch | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  const o = stringMatchValue(outer);
  const i = stringMatchValue(inner);
  if (o.kind === 'regex' || i.kind === 'regex') return o.kind === i.kind && o.value === i.value;
  if (o.kind === 'exact') return i.kind === 'exact' && i.value === o.value;
  return i.value.startsWith(o.value);
}

/** Whether every request matching block `inner` also matches block `outer`. */
function matchCovers(outer: RouteMatch, inner: RouteMatch): boolean {
  if (!stringMatchCovers(outer.uri, inner.uri)) return false;
  return Object.entries(outer.headers ?? {}).every(([name, condition]) =>
    stringMatchCovers(condition, inner.headers?.[name]),
  );
}

/** The earlier route takes every request of some header block of the later one. */
function shadows(earlier: PlatformRoute, later: PlatformRoute): boolean {
  const earlierBlocks = earlier.match.length === 0 ? [{}] : earlier.match;
  return later.match.some(
    (block) =>
      block.headers !== undefined &&
      Object.keys(block.headers).length > 0 &&
      earlierBlocks.some((outer) => matchCovers(outer, block)),
  );
}

/**
 * Routes are tried in order and the first match wins, so a header pin (e.g. `x-user: tester` → v2) placed after
 * the weighted route for the same paths never applies.
 */
export function checkHeaderRoutesBeforeWeighted(platform: Platform): TroubleshootingIssue[] {
  const issues: TroubleshootingIssue[] = [];
  platform.routes.forEach((route, r) => {
    const earlier = platform.routes.slice(0, r).findIndex((w) => isWeightedRoute(w) && shadows(w, route));
    if (earlier < 0) return;
    const weighted = platform.routes[earlier]!;
    issues.push({
      code: CHECK_CODES.headerRouteAfterWeighted,
      path: `/routes/${r}`,
      resource: `route "${route.name}"`,
      message:
        `header-match route "${route.name}" comes after weighted route "${weighted.name}" (routes[${earlier}]), which ` +
        'already matches its requests; Istio uses the first matching route, so the header match never applies. ' +
        `Move "${route.name}" before "${weighted.name}".`,
    });
  });
  return issues;
}

/**
 * Runbook §7 "Sidecars missing": namespaces with services need automatic injection. `istio.io/rev` (revision-based
 * injection) counts as enabled unless `istio-injection` says otherwise, as Istio's webhook decides.
 */
export function checkSidecarInjection(platform: Platform): TroubleshootingIssue[] {
  const used = new Set(platform.services.map((s) => s.namespace));
  const issues: TroubleshootingIssue[] = [];
  platform.namespaces.forEach((namespace, n) => {
    if (!used.has(namespace.name)) return;
    const injection = namespace.labels[INJECTION_LABEL];
    if (injection === 'enabled') return;
    if (injection === undefined && namespace.labels['istio.io/rev'] !== undefined) return;
    const services = platform.services.filter((s) => s.namespace === namespace.name).map((s) => s.name);
    issues.push({
      code: CHECK_CODES.injectionDisabled,
      path: `/namespaces/${n}/labels`,
      resource: `namespace "${namespace.name}"`,
      message:
        `namespace "${namespace.name}" runs ${services.join(', ')} but has ` +
        (injection === undefined ? `no ${INJECTION_LABEL} label` : `${INJECTION_LABEL}=${injection}`) +
        ', so their pods start without Envoy sidecars and bypass routing, mTLS and telemetry. Set the label ' +
        `${INJECTION_LABEL}: enabled (kubectl label namespace ${namespace.name} ${INJECTION_LABEL}=enabled --overwrite) ` +
        'and restart the pods.',
    });
  });
  return issues;
}

/** Runbook §6: only approved external hosts, through ServiceEntries. */
export function checkEgressApproved(platform: Platform): TroubleshootingIssue[] {
  const issues: TroubleshootingIssue[] = [];
  platform.egress.requests.forEach((request, i) => {
    const approved = platform.egress.approved.filter((a) => a.host === request.host);
    const portOk =
      request.port === undefined ||
      approved.some((a) => a.port === request.port || (a.tlsOrigination && a.httpPort === request.port));
    if (approved.length > 0 && portOk) return;
    const target = request.port === undefined ? request.host : `${request.host}:${request.port}`;
    const list = platform.egress.approved.map((a) => `${a.host}:${a.port}`).join(', ') || 'none';
    issues.push({
      code: CHECK_CODES.egressNotApproved,
      path: `/egress/requests/${i}`,
      resource: `egress ${request.from} → ${target}`,
      message:
        `service "${request.from}" calls ${target}, which is not an approved egress host (approved: ${list}); ` +
        (platform.egress.outboundPolicy === 'REGISTRY_ONLY'
          ? 'with outboundPolicy REGISTRY_ONLY its sidecar blocks the call. '
          : 'the call leaves the mesh without review. ') +
        'Get the host approved and add it under egress.approved, or remove the call.',
    });
  });
  return issues;
}

/** Every troubleshooting check, in a fixed order. */
export function runTroubleshootingChecks(platform: Platform): TroubleshootingIssue[] {
  return [
    ...checkSidecarInjection(platform),
    ...checkSubsetsMatchDeployments(platform),
    ...checkWeightsSumTo100(platform),
    ...checkHeaderRoutesBeforeWeighted(platform),
    ...checkEgressApproved(platform),
  ];
}

/** The checks with the file and line each problem comes from. */
export function checkPlatformFile(parsed: ParsedPlatformFile): PlatformFileIssue[] {
  return runTroubleshootingChecks(parsed.platform).map((issue) => ({
    file: parsed.file,
    ...parsed.locate(issue.path),
    path: issue.path,
    code: issue.code,
    message: issue.message,
  }));
}
