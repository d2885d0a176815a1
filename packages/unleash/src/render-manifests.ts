import { stringify } from 'yaml';

/**
 * Kubernetes manifests for Unleash as the production flag provider: the Unleash Deployment and Service, a ConfigMap
 * holding the flags file, and a seed Job that runs `rctl seed --target unleash` on it. The Job is idempotent by
 * construction: the seed creates only missing flags (409 = exists, left alone), so re-applying or re-running it
 * writes nothing once Unleash matches the file. With `bridgeUrl`, the Job also creates the bridge's webhook addon
 * (once; an existing one is left as is).
 */
export interface UnleashManifestOptions {
  /** The flags file's text (goes into the ConfigMap as `flags.yaml`). */
  flagsYaml: string;
  namespace?: string;
  /** The unleash-server image. */
  unleashImage?: string;
  /** An image with `rctl` on its PATH (the seed Job). */
  rctlImage?: string;
  /** Secret holding `DATABASE_URL` (key `database-url`) and the admin token (key `admin-token`). */
  secretName?: string;
  /**
   * The Runtime Control server URL: the seed Job then also manages the bridge's webhook addon
   * (`--bridge-url URL --webhook-secret-file …`), with the webhook secret mounted from `webhookSecretName`, and
   * Unleash gets `UNLEASH_ALLOW_LIST_INTEGRATION=<its host>` (see `allowListIntegrationEnv`).
   */
  bridgeUrl?: string;
  /** Secret holding the webhook secret (key `secret`), the server's RC_UNLEASH_WEBHOOK_SECRET. */
  webhookSecretName?: string;
}

export interface RenderedManifest {
  /** File name, e.g. `unleash-deployment.yaml`. */
  name: string;
  manifest: Record<string, unknown>;
}

export const UNLEASH_MANIFEST_DEFAULTS = {
  namespace: 'devmentor-app',
  // The unleash-server release the Unleash suites run against (tools/unleash-server-8), what new installs get.
  unleashImage: 'unleashorg/unleash-server:8.2.0',
  rctlImage: 'ghcr.io/devmentor/rctl:0.1.0',
  secretName: 'unleash-secrets',
  webhookSecretName: 'runtime-control-unleash-webhook',
} as const;

/**
 * Where the seed Job finds the webhook secret. A directory of its own: the admin token's Secret volume is mounted at
 * /secrets, and a mount nested inside another (read-only) volume is best avoided.
 */
export const WEBHOOK_SECRET_MOUNT_PATH = '/secrets-webhook';
export const WEBHOOK_SECRET_FILE = `${WEBHOOK_SECRET_MOUNT_PATH}/secret`;

const labels = (component: string) => ({
  'app.kubernetes.io/name': 'unleash',
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/managed-by': 'rctl',
});

/**
 * Unleash 8 resolves an addon's URL before storing it and before each call, and refuses a host that resolves to a
 * private, loopback or link-local address (SSRF protection) unless the host is in `UNLEASH_ALLOW_LIST_INTEGRATION`
 * (comma-separated host names, compared exactly, case-insensitively). An in-cluster Service name resolves to a private
 * ClusterIP, so without this the bridge's webhook cannot be created. Only the bridge's host is listed, rather than
 * `UNLEASH_ALLOW_PRIVATE_URL_IN_INTEGRATION=true`, which would open every private address to every addon. Unleash 7
 * ignores the variable.
 */
export function allowListIntegrationEnv(bridgeUrl: string): { name: string; value: string } {
  return { name: 'UNLEASH_ALLOW_LIST_INTEGRATION', value: new URL(bridgeUrl).hostname };
}

export function renderUnleashManifests(options: UnleashManifestOptions): RenderedManifest[] {
  const namespace = options.namespace ?? UNLEASH_MANIFEST_DEFAULTS.namespace;
  const secretName = options.secretName ?? UNLEASH_MANIFEST_DEFAULTS.secretName;
  const unleashImage = options.unleashImage ?? UNLEASH_MANIFEST_DEFAULTS.unleashImage;
  const rctlImage = options.rctlImage ?? UNLEASH_MANIFEST_DEFAULTS.rctlImage;
  const webhookSecretName = options.webhookSecretName ?? UNLEASH_MANIFEST_DEFAULTS.webhookSecretName;
  const bridge = options.bridgeUrl
    ? {
        args: ['--bridge-url', options.bridgeUrl, '--webhook-secret-file', WEBHOOK_SECRET_FILE],
        mounts: [{ name: 'webhook-secret', mountPath: WEBHOOK_SECRET_MOUNT_PATH, readOnly: true }],
        volumes: [
          {
            name: 'webhook-secret',
            secret: { secretName: webhookSecretName, items: [{ key: 'secret', path: 'secret' }] },
          },
        ],
      }
    : { args: [], mounts: [], volumes: [] };
  const serverLabels = labels('server');
  const probe = (initialDelaySeconds: number) => ({
    httpGet: { path: '/health', port: 'http' },
    initialDelaySeconds,
    periodSeconds: 10,
    timeoutSeconds: 3,
  });

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'unleash', namespace, labels: serverLabels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'unleash', 'app.kubernetes.io/component': 'server' } },
      template: {
        metadata: { labels: serverLabels },
        spec: {
          containers: [
            {
              name: 'unleash',
              image: unleashImage,
              ports: [{ name: 'http', containerPort: 4242 }],
              env: [
                { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: secretName, key: 'database-url' } } },
                // Only applied while Unleash's token table is empty, i.e. on the first start.
                {
                  name: 'INIT_ADMIN_API_TOKENS',
                  valueFrom: { secretKeyRef: { name: secretName, key: 'admin-token' } },
                },
                // Admin UI on `/`, APIs on `/api` (Unleash's default layout; no base path).
                { name: 'BASE_URI_PATH', value: '' },
                { name: 'CHECK_VERSION', value: 'false' },
                { name: 'SEND_TELEMETRY', value: 'false' },
                ...(options.bridgeUrl ? [allowListIntegrationEnv(options.bridgeUrl)] : []),
              ],
              readinessProbe: probe(10),
              livenessProbe: { ...probe(60), failureThreshold: 5 },
              resources: {
                requests: { cpu: '500m', memory: '512Mi' },
                limits: { cpu: '1', memory: '1Gi' },
              },
            },
          ],
        },
      },
    },
  };

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'unleash', namespace, labels: serverLabels },
    spec: {
      selector: { 'app.kubernetes.io/name': 'unleash', 'app.kubernetes.io/component': 'server' },
      ports: [{ name: 'http', port: 4242, targetPort: 'http' }],
    },
  };

  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'unleash-flags', namespace, labels: labels('flags') },
    data: { 'flags.yaml': options.flagsYaml },
  };

  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'unleash-seed', namespace, labels: labels('seed') },
    spec: {
      backoffLimit: 6,
      // Kept an hour for its logs, then deleted, so the next `kubectl apply` creates (and runs) it again.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: labels('seed') },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'seed',
              image: rctlImage,
              command: [
                'rctl',
                'seed',
                '/config/flags.yaml',
                '--target',
                'unleash',
                '--unleash-url',
                'http://unleash:4242',
                '--token-file',
                '/secrets/unleash-admin-token',
                ...bridge.args,
              ],
              volumeMounts: [
                { name: 'flags', mountPath: '/config', readOnly: true },
                { name: 'admin-token', mountPath: '/secrets', readOnly: true },
                ...bridge.mounts,
              ],
            },
          ],
          volumes: [
            { name: 'flags', configMap: { name: 'unleash-flags' } },
            {
              name: 'admin-token',
              secret: { secretName, items: [{ key: 'admin-token', path: 'unleash-admin-token' }] },
            },
            ...bridge.volumes,
          ],
        },
      },
    },
  };

  return [
    { name: 'unleash-deployment.yaml', manifest: deployment },
    { name: 'unleash-service.yaml', manifest: service },
    { name: 'unleash-flags-configmap.yaml', manifest: configMap },
    { name: 'unleash-seed-job.yaml', manifest: job },
  ];
}

export function manifestYaml(manifest: Record<string, unknown>): string {
  return stringify(manifest, { lineWidth: 0 });
}
