import type { KubeConfig } from '@kubernetes/client-node';
import type {
  ClusterSnapshot,
  LiveDeployment,
  LiveDestinationRule,
  LiveNamespace,
  LivePod,
  LiveVirtualService,
} from './cluster-checks.js';

export interface ClusterReaderOptions {
  /**
   * Kubernetes API server, used as is with `token` (or with none: `kubectl proxy`). Unset: `loadFromDefault()`
   * (in-cluster service account or ~/.kube/config).
   */
  apiUrl?: string;
  token?: string;
  kubeConfig?: KubeConfig;
}

export interface ClusterRead {
  snapshot: ClusterSnapshot;
  /** What could not be read, e.g. a namespace that does not exist or Istio's CRDs missing. */
  problems: string[];
}

function statusOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const v of [e.code, e.statusCode, e.response?.statusCode]) if (typeof v === 'number') return v;
  return undefined;
}

function messageOf(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { body?: unknown }).body;
  let detail = '';
  if (typeof body === 'string') {
    try {
      detail = (JSON.parse(body) as { message?: string }).message ?? '';
    } catch {
      detail = '';
    }
  } else if (typeof body === 'object' && body !== null) {
    detail = String((body as { message?: unknown }).message ?? '');
  }
  return `${status ?? 'error'}${detail ? ` ${detail}` : ''}${!status && !detail ? `: ${(error as Error).message}` : ''}`;
}

/** The client's objects as plain JSON (its Date fields become the API's ISO strings again). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

async function kubeConfigOf(options: ClusterReaderOptions): Promise<KubeConfig> {
  const { KubeConfig: Config } = await import('@kubernetes/client-node');
  if (options.kubeConfig) return options.kubeConfig;
  const kc = new Config();
  if (options.apiUrl) {
    kc.loadFromOptions({
      clusters: [{ name: 'rc', server: options.apiUrl, skipTLSVerify: options.apiUrl.startsWith('http://') }],
      users: [options.token ? { name: 'rc', token: options.token } : { name: 'rc' }],
      contexts: [{ name: 'rc', cluster: 'rc', user: 'rc' }],
      currentContext: 'rc',
    });
  } else {
    kc.loadFromDefault();
  }
  return kc;
}

/**
 * Reads what the live checks need from the given namespaces: the namespaces themselves, their Deployments and
 * pods, and Istio's DestinationRules and VirtualServices (networking.istio.io/v1). Read-only; nothing is changed.
 */
export async function readCluster(
  namespaces: readonly string[],
  options: ClusterReaderOptions = {},
): Promise<ClusterRead> {
  const k8s = await import('@kubernetes/client-node');
  const kc = await kubeConfigOf(options);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const snapshot: ClusterSnapshot = {
    namespaces: [],
    deployments: [],
    pods: [],
    destinationRules: [],
    virtualServices: [],
  };
  const problems: string[] = [];
  for (const namespace of namespaces) {
    try {
      snapshot.namespaces.push(plain(await core.readNamespace({ name: namespace })) as LiveNamespace);
    } catch (error) {
      problems.push(`namespace ${namespace}: ${messageOf(error)}`);
      continue;
    }
    const reads: [string, () => Promise<unknown[]>, unknown[]][] = [
      [
        'deployments',
        async () => (await apps.listNamespacedDeployment({ namespace })).items,
        snapshot.deployments as LiveDeployment[],
      ],
      ['pods', async () => (await core.listNamespacedPod({ namespace })).items, snapshot.pods as LivePod[]],
      [
        'destinationrules.networking.istio.io',
        async () =>
          (
            (await custom.listNamespacedCustomObject({
              group: 'networking.istio.io',
              version: 'v1',
              namespace,
              plural: 'destinationrules',
            })) as { items: unknown[] }
          ).items,
        snapshot.destinationRules as LiveDestinationRule[],
      ],
      [
        'virtualservices.networking.istio.io',
        async () =>
          (
            (await custom.listNamespacedCustomObject({
              group: 'networking.istio.io',
              version: 'v1',
              namespace,
              plural: 'virtualservices',
            })) as { items: unknown[] }
          ).items,
        snapshot.virtualServices as LiveVirtualService[],
      ],
    ];
    for (const [what, read, into] of reads) {
      try {
        into.push(...(await read()).map(plain));
      } catch (error) {
        const status = statusOf(error);
        problems.push(
          status === 404 && what.includes('istio')
            ? `${what}: not served (404): Istio's CRDs are not installed in this cluster`
            : `${what} in ${namespace}: ${messageOf(error)}`,
        );
      }
    }
  }
  return { snapshot, problems };
}
