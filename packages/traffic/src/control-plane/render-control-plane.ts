/**
 * Runtime Control deployed like the services it serves (`rctl render control-plane`): a Deployment of 2+ replicas
 * on PostgreSQL + Redis with readiness on `/health/ready` and liveness on `/health`, graceful draining, a non-root
 * read-only container; its Service, PodDisruptionBudget, NetworkPolicy and Istio AuthorizationPolicy (who may reach
 * which API), ServiceMonitor, and an ExternalSecret that brings its own secrets (admin token, database and Redis
 * URLs) from Vault through ESO like everyone else's.
 */

export interface ControlPlaneOptions {
  namespace: string;
  /** Container image, e.g. `ghcr.io/devmentor/runtime-control:0.1.0` (built from the repository's Dockerfile). */
  image: string;
  /** At least 2: one replica is always up during a rolling update or a node drain. */
  replicas: number;
  /** RC_ENVIRONMENTS. */
  environments: readonly string[];
  /** Namespaces whose workloads may call the client endpoints (SDK stream, OFREP, Unleash bridge). */
  clientNamespaces: readonly string[];
  /** Namespaces allowed to reach the admin API (operators' tooling, the console's ingress). */
  adminNamespaces: readonly string[];
  /** Namespace Prometheus scrapes from. */
  monitoringNamespace: string;
  /** ClusterSecretStore the ExternalSecret reads from (rendered by `rctl render` from the platform file). */
  secretStore: string;
  /** Vault KV path (under the store's mount) holding properties admin-token, database-url, redis-url. */
  vaultPath: string;
  /** RC_PUBLIC_URL, advertised in OFREP eventStreams. */
  publicUrl?: string;
}

export const CONTROL_PLANE_DEFAULTS = {
  namespace: 'runtime-control',
  replicas: 2,
  environments: ['development', 'staging', 'production'],
  monitoringNamespace: 'monitoring',
  secretStore: 'vault',
  vaultPath: 'runtime-control/config',
} as const;

const APP = 'runtime-control';
const PORT = 4400;
/** Seconds a draining replica keeps serving while endpoints are updated (RC_DRAIN_DELAY_MS). */
const DRAIN_DELAY_S = 5;
/** Bound on closing after that (RC_SHUTDOWN_TIMEOUT_MS). */
const SHUTDOWN_TIMEOUT_S = 10;
/** The Secret ESO writes; the Deployment reads its keys as env. */
const SECRET_NAME = 'runtime-control-secrets';
const SECRET_KEYS = [
  ['RC_ADMIN_TOKEN', 'admin-token'],
  ['RC_DATABASE_URL', 'database-url'],
  ['RC_REDIS_URL', 'redis-url'],
] as const;

export interface ControlPlaneProblem {
  option: string;
  message: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENVIRONMENT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** What is wrong with the options, one problem per option; empty when they can be rendered. */
export function controlPlaneProblems(o: ControlPlaneOptions): ControlPlaneProblem[] {
  const problems: ControlPlaneProblem[] = [];
  const label = (option: string, value: string) => {
    if (!DNS_LABEL.test(value)) problems.push({ option, message: `"${value}" is not a Kubernetes namespace name` });
  };
  label('--namespace', o.namespace);
  label('--monitoring-namespace', o.monitoringNamespace);
  for (const ns of o.clientNamespaces) label('--client-namespaces', ns);
  for (const ns of o.adminNamespaces) label('--admin-namespaces', ns);
  if (o.clientNamespaces.length === 0) {
    problems.push({ option: '--client-namespaces', message: 'name at least one namespace whose services use flags' });
  }
  if (!Number.isInteger(o.replicas) || o.replicas < 2 || o.replicas > 50) {
    problems.push({
      option: '--replicas',
      message: 'must be an integer from 2 to 50 (one replica is no high availability)',
    });
  }
  if (!/^[\w.\-/:@]+$/.test(o.image) || o.image.length > 255) {
    problems.push({ option: '--image', message: 'must be an image reference such as registry/runtime-control:0.1.0' });
  }
  if (o.environments.length === 0 || o.environments.some((e) => !ENVIRONMENT.test(e))) {
    problems.push({ option: '--environments', message: 'comma-separated names of [a-z0-9_-]' });
  }
  if (!DNS_LABEL.test(o.secretStore)) problems.push({ option: '--secret-store', message: 'a ClusterSecretStore name' });
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(o.vaultPath) || /(^|\/)data(\/|$)/.test(o.vaultPath)) {
    problems.push({
      option: '--vault-path',
      message: 'a KV path such as runtime-control/config, without "data/" (ESO adds it for KV v2)',
    });
  }
  if (o.publicUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(o.publicUrl)) {
    problems.push({ option: '--public-url', message: 'an http(s) URL' });
  }
  return problems;
}

type Manifest = Record<string, unknown>;

function metadata(o: ControlPlaneOptions, name = APP, extra: Record<string, unknown> = {}) {
  return { name, namespace: o.namespace, labels: { app: APP }, ...extra };
}

function namespaceSelector(name: string) {
  return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } };
}

export function renderControlPlane(o: ControlPlaneOptions): Manifest[] {
  const problems = controlPlaneProblems(o);
  if (problems.length > 0) {
    throw new Error(problems.map((p) => `${p.option}: ${p.message}`).join('; '));
  }
  const env = [
    { name: 'RC_MODE', value: 'production' },
    { name: 'RC_ENVIRONMENTS', value: o.environments.join(',') },
    { name: 'RC_REPLICA_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'RC_DATA_DIR', value: '/var/lib/runtime-control' },
    { name: 'RC_DRAIN_DELAY_MS', value: String(DRAIN_DELAY_S * 1000) },
    { name: 'RC_SHUTDOWN_TIMEOUT_MS', value: String(SHUTDOWN_TIMEOUT_S * 1000) },
    { name: 'RC_LOG_LEVEL', value: 'info' },
    ...(o.publicUrl ? [{ name: 'RC_PUBLIC_URL', value: o.publicUrl }] : []),
    ...SECRET_KEYS.map(([name, key]) => ({ name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } })),
  ];
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(o),
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: APP } },
      // Never below the replica count during an update: a new replica is ready before an old one drains.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { app: APP, version: 'v1' } },
        spec: {
          serviceAccountName: APP,
          automountServiceAccountToken: false,
          // Drain delay + close bound + margin: Kubernetes must not kill a replica that is still handing over.
          terminationGracePeriodSeconds: DRAIN_DELAY_S + SHUTDOWN_TIMEOUT_S + 5,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          // Spread replicas over nodes so that one node's loss or drain leaves one serving.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: { app: APP } },
            },
          ],
          containers: [
            {
              name: APP,
              image: o.image,
              args: ['up'],
              ports: [{ name: 'http', containerPort: PORT, protocol: 'TCP' }],
              env,
              readinessProbe: {
                httpGet: { path: '/health/ready', port: 'http' },
                periodSeconds: 2,
                failureThreshold: 1,
                timeoutSeconds: 2,
              },
              livenessProbe: {
                httpGet: { path: '/health', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 3,
                timeoutSeconds: 2,
              },
              startupProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1, failureThreshold: 60 },
              resources: {
                requests: { cpu: '100m', memory: '160Mi' },
                limits: { memory: '512Mi' },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/runtime-control' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'data', emptyDir: { sizeLimit: '64Mi' } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(o),
    spec: {
      selector: { app: APP },
      ports: [{ name: 'http', port: PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const serviceAccount: Manifest = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadata(o),
    automountServiceAccountToken: false,
  };
  const pdb: Manifest = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(o),
    spec: { minAvailable: 1, selector: { matchLabels: { app: APP } } },
  };
  const allowed = [...new Set([...o.clientNamespaces, ...o.adminNamespaces, o.monitoringNamespace])];
  const networkPolicy: Manifest = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(o),
    spec: {
      podSelector: { matchLabels: { app: APP } },
      policyTypes: ['Ingress'],
      // L4 only: who may connect at all. Which API each may use is the AuthorizationPolicy's (L7) and the tokens'.
      ingress: [{ from: allowed.map(namespaceSelector), ports: [{ port: PORT, protocol: 'TCP' }] }],
    },
  };
  const authorizationPolicy: Manifest = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: metadata(o),
    spec: {
      selector: { matchLabels: { app: APP } },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { namespaces: [...o.adminNamespaces, o.namespace] } }],
          to: [{ operation: { paths: ['/api/admin/*', '/api', '/api/openapi.json', '/', '/assets/*'] } }],
        },
        {
          from: [{ source: { namespaces: [...o.clientNamespaces] } }],
          to: [
            {
              operation: {
                paths: ['/api/client/*', '/ofrep/*', '/api/integrations/unleash/*', '/api/schemas/*'],
              },
            },
          ],
        },
        {
          from: [{ source: { namespaces: [o.monitoringNamespace] } }],
          to: [{ operation: { paths: ['/metrics'], methods: ['GET'] } }],
        },
        // Probes: the kubelet's are rewritten by the sidecar; health answers carry no data.
        { to: [{ operation: { paths: ['/health', '/health/ready'], methods: ['GET'] } }] },
      ],
    },
  };
  const serviceMonitor: Manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadata(o),
    spec: {
      selector: { matchLabels: { app: APP } },
      namespaceSelector: { matchNames: [o.namespace] },
      endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }],
    },
  };
  const externalSecret: Manifest = {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: metadata(o, SECRET_NAME),
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { kind: 'ClusterSecretStore', name: o.secretStore },
      target: { name: SECRET_NAME, creationPolicy: 'Owner' },
      data: SECRET_KEYS.map(([, key]) => ({ secretKey: key, remoteRef: { key: o.vaultPath, property: key } })),
    },
  };
  return [serviceAccount, externalSecret, deployment, service, pdb, networkPolicy, authorizationPolicy, serviceMonitor];
}
