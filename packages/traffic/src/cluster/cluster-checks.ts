import { INJECTION_LABEL } from '../platform/platform-model.js';

/**
 * The runbook's §7 checks on a live cluster ("traffic not splitting", "sidecars missing"): what the platform file's
 * checks (platform/troubleshooting-checks.ts) find before anything is applied, found here in what is running —
 * labels edited by hand, a DestinationRule applied from elsewhere, pods that started before injection was enabled.
 * The checks are pure functions of a snapshot read through `ClusterReader`, so they are tested on fixtures and the
 * reader is tested against a fake API server.
 */

export interface LiveObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string;
}

export interface LiveNamespace {
  metadata: LiveObjectMeta;
}

export interface LiveDeployment {
  metadata: LiveObjectMeta;
  spec?: { template?: { metadata?: { labels?: Record<string, string> } } };
}

export interface LivePod {
  metadata: LiveObjectMeta;
  spec?: {
    containers?: { name: string }[];
    initContainers?: { name: string; restartPolicy?: string }[];
  };
  status?: { phase?: string; startTime?: string };
}

export interface LiveDestinationRule {
  metadata: LiveObjectMeta;
  spec?: { host?: string; subsets?: { name?: string; labels?: Record<string, string> }[] };
}

export interface LiveVirtualService {
  metadata: LiveObjectMeta;
  spec?: {
    hosts?: string[];
    http?: { name?: string; route?: { destination?: { host?: string; subset?: string }; weight?: number }[] }[];
  };
}

/** What the checks read from the cluster, for the namespaces they look at. */
export interface ClusterSnapshot {
  namespaces: LiveNamespace[];
  deployments: LiveDeployment[];
  pods: LivePod[];
  destinationRules: LiveDestinationRule[];
  virtualServices: LiveVirtualService[];
}

export type ClusterSymptom = 'traffic' | 'sidecars';

export interface ClusterIssue {
  symptom: ClusterSymptom;
  code:
    | 'LIVE_SUBSET_MATCHES_NO_DEPLOYMENT'
    | 'LIVE_WEIGHTS_NOT_100'
    | 'LIVE_NAMESPACE_INJECTION_DISABLED'
    | 'LIVE_POD_WITHOUT_SIDECAR';
  /** `Kind namespace/name`. */
  resource: string;
  /** What was seen. */
  evidence: string;
  /** What to do, in one line. */
  fix: string;
}

const PROXY_CONTAINER = 'istio-proxy';

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function contains(labels: Record<string, string> | undefined, required: Record<string, string>): boolean {
  return Object.entries(required).every(
    ([k, v]) => labels !== undefined && Object.hasOwn(labels, k) && labels[k] === v,
  );
}

/** A DestinationRule's host as a service name in its namespace (`ai-gateway`, `ai-gateway.apps.svc.cluster.local`). */
function shortHost(host: string): string {
  return host.split('.')[0] ?? host;
}

/** Traffic not splitting: a live subset whose labels select no Deployment's pods gets 503s for its share. */
export function checkLiveSubsets(snapshot: ClusterSnapshot): ClusterIssue[] {
  const issues: ClusterIssue[] = [];
  for (const rule of snapshot.destinationRules) {
    const namespace = rule.metadata.namespace ?? 'default';
    const deployments = snapshot.deployments.filter((d) => (d.metadata.namespace ?? 'default') === namespace);
    for (const subset of rule.spec?.subsets ?? []) {
      const labels = subset.labels ?? {};
      if (Object.keys(labels).length === 0) continue;
      if (deployments.some((d) => contains(d.spec?.template?.metadata?.labels, labels))) continue;
      const host = rule.spec?.host ?? '?';
      const candidates = deployments
        .filter((d) => (d.metadata.name ?? '').startsWith(shortHost(host)))
        .map((d) => `${d.metadata.name} (${formatLabels(d.spec?.template?.metadata?.labels ?? {})})`);
      issues.push({
        symptom: 'traffic',
        code: 'LIVE_SUBSET_MATCHES_NO_DEPLOYMENT',
        resource: `DestinationRule ${namespace}/${rule.metadata.name}`,
        evidence: `subset "${subset.name}" selects ${formatLabels(labels)}, but no Deployment in ${namespace} has pods labelled so${candidates.length > 0 ? ` (${candidates.join('; ')})` : ''}`,
        fix: `label the ${subset.name} Deployment's pod template ${formatLabels(labels)}, or change the subset's labels`,
      });
    }
  }
  return issues;
}

/** Traffic not splitting: a weighted route whose live weights do not add up to 100. */
export function checkLiveWeights(snapshot: ClusterSnapshot): ClusterIssue[] {
  const issues: ClusterIssue[] = [];
  for (const vs of snapshot.virtualServices) {
    const namespace = vs.metadata.namespace ?? 'default';
    (vs.spec?.http ?? []).forEach((route, i) => {
      const destinations = route.route ?? [];
      if (destinations.length < 2) return;
      const sum = destinations.reduce((s, d) => s + (d.weight ?? 0), 0);
      if (sum === 100) return;
      const parts = destinations.map((d) => `${d.destination?.subset ?? d.destination?.host ?? '?'} ${d.weight ?? 0}`);
      issues.push({
        symptom: 'traffic',
        code: 'LIVE_WEIGHTS_NOT_100',
        resource: `VirtualService ${namespace}/${vs.metadata.name}`,
        evidence: `http[${i}]${route.name ? ` "${route.name}"` : ''} weights ${parts.join(' + ')} = ${sum}`,
        fix: 'set weights that add up to 100 (rctl render writes them so), or let the canary controller own them',
      });
    });
  }
  return issues;
}

function hasSidecar(pod: LivePod): boolean {
  if ((pod.spec?.containers ?? []).some((c) => c.name === PROXY_CONTAINER)) return true;
  // Istio's native-sidecar mode runs the proxy as an init container that keeps running.
  return (pod.spec?.initContainers ?? []).some((c) => c.name === PROXY_CONTAINER && c.restartPolicy === 'Always');
}

/**
 * Sidecars missing: namespaces that run Deployments without `istio-injection=enabled`, and running pods without an
 * `istio-proxy` container (started before injection was enabled, or opted out).
 */
export function checkLiveSidecars(snapshot: ClusterSnapshot): ClusterIssue[] {
  const issues: ClusterIssue[] = [];
  for (const ns of snapshot.namespaces) {
    const name = ns.metadata.name;
    const deployments = snapshot.deployments.filter((d) => (d.metadata.namespace ?? 'default') === name);
    if (deployments.length === 0) continue;
    const injection = ns.metadata.labels?.[INJECTION_LABEL];
    if (injection !== 'enabled') {
      issues.push({
        symptom: 'sidecars',
        code: 'LIVE_NAMESPACE_INJECTION_DISABLED',
        resource: `Namespace ${name}`,
        evidence: `runs ${deployments.map((d) => d.metadata.name).join(', ')}; ${injection === undefined ? `no ${INJECTION_LABEL} label` : `${INJECTION_LABEL}=${injection}`}`,
        fix: `kubectl label namespace ${name} ${INJECTION_LABEL}=enabled --overwrite, then restart its Deployments`,
      });
      continue;
    }
    const bare = snapshot.pods.filter(
      (p) => (p.metadata.namespace ?? 'default') === name && p.status?.phase === 'Running' && !hasSidecar(p),
    );
    for (const pod of bare) {
      issues.push({
        symptom: 'sidecars',
        code: 'LIVE_POD_WITHOUT_SIDECAR',
        resource: `Pod ${name}/${pod.metadata.name}`,
        evidence: `running without ${PROXY_CONTAINER}${pod.status?.startTime ? ` (started ${pod.status.startTime})` : ''}`,
        fix: `restart it so the injector adds the sidecar: kubectl rollout restart deployment -n ${name} <its deployment>`,
      });
    }
  }
  return issues;
}

export function runClusterChecks(snapshot: ClusterSnapshot): ClusterIssue[] {
  return [...checkLiveSubsets(snapshot), ...checkLiveWeights(snapshot), ...checkLiveSidecars(snapshot)];
}
