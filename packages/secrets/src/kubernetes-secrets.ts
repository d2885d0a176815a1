import type { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import {
  BackendRequestError,
  BackendUnavailableError,
  PermissionDeniedError,
  SecretNotFoundError,
  type SecretsError,
} from './errors.js';

/**
 * What the secrets pillar reads and changes in Kubernetes, through `@kubernetes/client-node`: ExternalSecrets
 * (status; the `force-sync` annotation), the target Secret's **metadata only** (requested as `PartialObjectMetadata`,
 * so the API server never sends its data to this process), Deployments (rollout state; the `kubectl rollout restart`
 * annotation) and their pods' start times. Results carry no value and no hash of one: the Secret's
 * `reconcile.external-secrets.io/data-hash` annotation (an unsalted hash of the values) is dropped.
 */

export const FORCE_SYNC_ANNOTATION = 'force-sync';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const ESO_MANAGED_LABEL = 'reconcile.external-secrets.io/managed';
const ESO_DATA_HASH = 'reconcile.external-secrets.io/data-hash';
const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ExternalSecretState {
  namespace: string;
  name: string;
  generation: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  refreshInterval: string | undefined;
  refreshPolicy: string | undefined;
  targetName: string;
  ready: Condition | undefined;
  refreshTime: string | undefined;
  syncedResourceVersion: string | undefined;
  storeRef: { name: string; kind: string };
  /** `data[].remoteRef` (names only): which Vault key and property feed which Secret key. */
  remoteRefs: { secretKey: string; key: string; property: string | undefined }[];
  creationPolicy: string;
}

/** A ClusterSecretStore's Vault provider settings and readiness (no credentials are read). */
export interface ClusterSecretStoreState {
  name: string;
  ready: Condition | undefined;
  vault:
    | {
        server: string | undefined;
        path: string | undefined;
        version: string;
        auth: {
          mountPath: string;
          role: string | undefined;
          serviceAccount: { name?: string; namespace?: string; audiences: string[] } | undefined;
        };
      }
    | undefined;
}

export interface SecretMetadataState {
  namespace: string;
  name: string;
  exists: boolean;
  managedByEso: boolean;
  /** The ExternalSecret owning it (controller owner reference), if any. */
  owner: string | undefined;
  labels: Record<string, string>;
  /** Annotations without ESO's data hash. */
  annotations: Record<string, string>;
  creationTimestamp: string | undefined;
}

export interface DeploymentState {
  namespace: string;
  name: string;
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  conditions: Condition[];
  restartedAt: string | undefined;
  selector: Record<string, string>;
  /** The rollout of the current generation is complete (kubectl rollout status' rule). */
  rolledOut: boolean;
  /** Progressing=False ProgressDeadlineExceeded. */
  stalled: boolean;
}

export interface PodState {
  name: string;
  phase: string | undefined;
  startTime: string | undefined;
}

/** The operations status and rotation need; `KubernetesSecrets` implements it on client-node, tests may fake it. */
export interface SecretsCluster {
  getExternalSecret(namespace: string, name: string): Promise<ExternalSecretState>;
  forceSync(namespace: string, name: string, value: string): Promise<void>;
  getSecretMetadata(namespace: string, name: string): Promise<SecretMetadataState>;
  getDeployment(namespace: string, name: string): Promise<DeploymentState>;
  restartDeployment(namespace: string, name: string, at: string): Promise<void>;
  listPods(namespace: string, selector: Record<string, string>): Promise<PodState[]>;
  getClusterSecretStore(name: string): Promise<ClusterSecretStoreState>;
  /** Whether the API server serves `external-secrets.io/v1` ClusterSecretStores (ESO ≥ 0.16 installed). */
  esoInstalled(): Promise<boolean>;
}

export interface KubernetesSecretsOptions {
  kubeConfig?: KubeConfig;
  /** API server URL and bearer token (`RC_KUBERNETES_API_URL` / `RC_KUBERNETES_TOKEN`); otherwise the default config. */
  apiUrl?: string;
  token?: string;
}

interface Apis {
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  headers: (key: string, value: string) => unknown;
}

export class KubernetesSecrets implements SecretsCluster {
  private apis: Promise<Apis> | undefined;

  constructor(private readonly options: KubernetesSecretsOptions = {}) {}

  /** Loaded on first use: the client is large, and a laptop on the local backend never needs it. */
  private client(): Promise<Apis> {
    this.apis ??= import('@kubernetes/client-node').then((k8s) => {
      const kc = this.options.kubeConfig ?? new k8s.KubeConfig();
      if (!this.options.kubeConfig) {
        if (this.options.apiUrl && this.options.token !== undefined) {
          kc.loadFromOptions({
            clusters: [
              { name: 'rc', server: this.options.apiUrl, skipTLSVerify: this.options.apiUrl.startsWith('http://') },
            ],
            users: [{ name: 'rc', token: this.options.token }],
            contexts: [{ name: 'rc', cluster: 'rc', user: 'rc' }],
            currentContext: 'rc',
          });
        } else {
          kc.loadFromDefault();
        }
      }
      return {
        custom: kc.makeApiClient(k8s.CustomObjectsApi),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        core: kc.makeApiClient(k8s.CoreV1Api),
        headers: (key: string, value: string) => k8s.setHeaderOptions(key, value),
      };
    });
    return this.apis;
  }

  async getExternalSecret(namespace: string, name: string): Promise<ExternalSecretState> {
    const { custom } = await this.client();
    const es = (await call('getExternalSecret', `${namespace}/${name}`, () =>
      custom.getNamespacedCustomObject({
        group: 'external-secrets.io',
        version: 'v1',
        namespace,
        plural: 'externalsecrets',
        name,
      }),
    )) as {
      metadata?: { generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: {
        refreshInterval?: string;
        refreshPolicy?: string;
        target?: { name?: string; creationPolicy?: string };
        secretStoreRef?: { name?: string; kind?: string };
        data?: { secretKey?: string; remoteRef?: { key?: string; property?: string } }[];
      };
      status?: { conditions?: Condition[]; refreshTime?: string; syncedResourceVersion?: string };
    };
    return {
      namespace,
      name,
      generation: es.metadata?.generation ?? 0,
      labels: es.metadata?.labels ?? {},
      annotations: es.metadata?.annotations ?? {},
      refreshInterval: es.spec?.refreshInterval,
      refreshPolicy: es.spec?.refreshPolicy,
      targetName: es.spec?.target?.name || name,
      ready: es.status?.conditions?.find((c) => c.type === 'Ready'),
      refreshTime: es.status?.refreshTime,
      syncedResourceVersion: es.status?.syncedResourceVersion,
      storeRef: { name: es.spec?.secretStoreRef?.name ?? '', kind: es.spec?.secretStoreRef?.kind ?? 'SecretStore' },
      remoteRefs: (es.spec?.data ?? []).map((d) => ({
        secretKey: d.secretKey ?? '',
        key: d.remoteRef?.key ?? '',
        property: d.remoteRef?.property,
      })),
      creationPolicy: es.spec?.target?.creationPolicy ?? 'Owner',
    };
  }

  async getClusterSecretStore(name: string): Promise<ClusterSecretStoreState> {
    const { custom } = await this.client();
    const store = (await call('getClusterSecretStore', name, () =>
      custom.getClusterCustomObject({
        group: 'external-secrets.io',
        version: 'v1',
        plural: 'clustersecretstores',
        name,
      }),
    )) as {
      spec?: {
        provider?: {
          vault?: {
            server?: string;
            path?: string;
            version?: string;
            auth?: {
              kubernetes?: {
                mountPath?: string;
                role?: string;
                serviceAccountRef?: { name?: string; namespace?: string; audiences?: string[] };
              };
            };
          };
        };
      };
      status?: { conditions?: Condition[] };
    };
    const vault = store.spec?.provider?.vault;
    const k8s = vault?.auth?.kubernetes;
    return {
      name,
      ready: store.status?.conditions?.find((c) => c.type === 'Ready'),
      vault: vault && {
        server: vault.server,
        path: vault.path,
        version: vault.version ?? 'v2',
        auth: {
          mountPath: k8s?.mountPath ?? 'kubernetes',
          role: k8s?.role,
          serviceAccount: k8s?.serviceAccountRef && {
            ...(k8s.serviceAccountRef.name === undefined ? {} : { name: k8s.serviceAccountRef.name }),
            ...(k8s.serviceAccountRef.namespace === undefined ? {} : { namespace: k8s.serviceAccountRef.namespace }),
            audiences: k8s.serviceAccountRef.audiences ?? [],
          },
        },
      },
    };
  }

  async esoInstalled(): Promise<boolean> {
    const { custom } = await this.client();
    try {
      await call('esoInstalled', 'external-secrets.io/v1', () =>
        custom.listClusterCustomObject({
          group: 'external-secrets.io',
          version: 'v1',
          plural: 'clustersecretstores',
          limit: 1,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof SecretNotFoundError) return false;
      throw error;
    }
  }

  async forceSync(namespace: string, name: string, value: string): Promise<void> {
    const { custom, headers } = await this.client();
    await call('forceSync', `${namespace}/${name}`, () =>
      custom.patchNamespacedCustomObject(
        {
          group: 'external-secrets.io',
          version: 'v1',
          namespace,
          plural: 'externalsecrets',
          name,
          body: { metadata: { annotations: { [FORCE_SYNC_ANNOTATION]: value } } },
        },
        headers('Content-Type', 'application/merge-patch+json') as never,
      ),
    );
  }

  async getSecretMetadata(namespace: string, name: string): Promise<SecretMetadataState> {
    const { core, headers } = await this.client();
    let metadata: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      creationTimestamp?: unknown;
      ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
    };
    try {
      const partial = await call('getSecretMetadata', `${namespace}/${name}`, () =>
        core.readNamespacedSecret({ namespace, name }, headers('Accept', PARTIAL_METADATA) as never),
      );
      metadata = (partial as { metadata?: typeof metadata }).metadata ?? {};
    } catch (error) {
      if (error instanceof SecretNotFoundError) {
        return {
          namespace,
          name,
          exists: false,
          managedByEso: false,
          owner: undefined,
          labels: {},
          annotations: {},
          creationTimestamp: undefined,
        };
      }
      throw error;
    }
    const { [ESO_DATA_HASH]: _hash, ...annotations } = metadata.annotations ?? {};
    const created = metadata.creationTimestamp;
    return {
      namespace,
      name,
      exists: true,
      managedByEso: metadata.labels?.[ESO_MANAGED_LABEL] === 'true',
      owner: metadata.ownerReferences?.find((o) => o.controller && o.kind === 'ExternalSecret')?.name,
      labels: metadata.labels ?? {},
      annotations,
      creationTimestamp:
        created instanceof Date ? created.toISOString() : typeof created === 'string' ? created : undefined,
    };
  }

  async getDeployment(namespace: string, name: string): Promise<DeploymentState> {
    const { apps } = await this.client();
    const d = await call('getDeployment', `${namespace}/${name}`, () =>
      apps.readNamespacedDeployment({ namespace, name }),
    );
    const generation = d.metadata?.generation ?? 0;
    const replicas = d.spec?.replicas ?? 1;
    const status = d.status ?? {};
    const conditions = (status.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status as Condition['status'],
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message ? { message: c.message } : {}),
    }));
    const observedGeneration = status.observedGeneration ?? 0;
    const updated = status.updatedReplicas ?? 0;
    const available = status.availableReplicas ?? 0;
    return {
      namespace,
      name,
      generation,
      observedGeneration,
      replicas,
      updatedReplicas: updated,
      readyReplicas: status.readyReplicas ?? 0,
      availableReplicas: available,
      conditions,
      restartedAt: d.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION],
      selector: d.spec?.selector?.matchLabels ?? d.spec?.template?.metadata?.labels ?? {},
      rolledOut:
        observedGeneration >= generation &&
        updated >= replicas &&
        available >= replicas &&
        (status.replicas ?? updated) <= updated,
      // A condition left from an earlier generation does not count until the controller has seen the new one.
      stalled:
        observedGeneration >= generation &&
        conditions.some(
          (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
        ),
    };
  }

  async restartDeployment(namespace: string, name: string, at: string): Promise<void> {
    const { apps, headers } = await this.client();
    await call('restartDeployment', `${namespace}/${name}`, () =>
      apps.patchNamespacedDeployment(
        {
          namespace,
          name,
          body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } } },
        },
        headers('Content-Type', 'application/strategic-merge-patch+json') as never,
      ),
    );
  }

  async listPods(namespace: string, selector: Record<string, string>): Promise<PodState[]> {
    const { core } = await this.client();
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const list = await call('listPods', namespace, () => core.listNamespacedPod({ namespace, labelSelector }));
    return list.items.map((p) => {
      const start = p.status?.startTime as unknown;
      return {
        name: p.metadata?.name ?? '',
        phase: p.status?.phase,
        startTime: start instanceof Date ? start.toISOString() : typeof start === 'string' ? start : undefined,
      };
    });
  }
}

/** Runs a client call, mapping its ApiException to a typed error with the Status reason — never the body's data. */
async function call<T>(operation: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw kubernetesError(operation, path, error);
  }
}

function kubernetesError(operation: string, path: string, error: unknown): SecretsError {
  const code = typeof (error as { code?: unknown })?.code === 'number' ? (error as { code: number }).code : undefined;
  let reason = 'request failed';
  const body = (error as { body?: unknown })?.body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as
      | { kind?: string; reason?: string; message?: string }
      | undefined;
    if (status?.kind === 'Status') reason = [status.reason, status.message].filter(Boolean).join(': ');
  } catch {
    // not a Status object: keep the generic reason, never the body
  }
  const details = { operation, path, backend: 'kubernetes' as const, ...(code === undefined ? {} : { status: code }) };
  if (code === 404) return new SecretNotFoundError('NOT_FOUND', reason, details);
  if (code === 401 || code === 403) return new PermissionDeniedError('PERMISSION_DENIED', reason, details);
  if (code === 409) return new BackendRequestError('CONFLICT', reason, details);
  if (code === undefined || code >= 500) {
    const cause = (error as { cause?: { code?: unknown }; code?: unknown })?.cause?.code;
    return new BackendUnavailableError(
      'UNAVAILABLE',
      code === undefined
        ? `Kubernetes API unreachable (${typeof cause === 'string' ? cause : 'network error'})`
        : reason,
      details,
    );
  }
  return new BackendRequestError('BAD_REQUEST', reason, details);
}
