/**
 * The platform file's `secrets` section with its defaults applied: the store, and every bundle with its namespace,
 * Secret name, refresh interval and consumers (Deployment, container). What render, the checks and (later) status
 * and rotation read. Types come from core's schema (`PlatformSecretsData`); the services are taken structurally,
 * so `@runtime-control/traffic`'s model fits without this package importing it.
 */
import {
  DEFAULT_GENERATED_LENGTH,
  DEFAULT_KUBERNETES_AUTH_MOUNT,
  DEFAULT_REFRESH_INTERVAL,
  durationSeconds,
  type PlatformSecretsData,
  type SecretRotationData,
} from '@runtime-control/core';
import type { SecretBundle } from '../bundle.js';

/** What the secrets rendering needs of a platform: its name, services (with namespaces and Deployments), secrets. */
export interface SecretsPlatformInput {
  name: string;
  services: readonly {
    name: string;
    namespace: string;
    deployments: readonly { name: string; container: string }[];
  }[];
  secrets?: PlatformSecretsData;
}

export interface SecretsStorePlan {
  name: string;
  server: string;
  /** The KV mount. */
  path: string;
  version: 'v1' | 'v2';
  namespace?: string;
  auth: {
    mountPath: string;
    role?: string;
    serviceAccount?: { name: string; namespace?: string; audiences: string[] };
  };
}

export interface BundleConsumer {
  deployment: string;
  container: string;
  namespace: string;
}

export interface SecretsBundlePlan {
  service: string;
  name: string;
  /** `service/bundle`, how commands name a bundle. */
  id: string;
  namespace: string;
  /** Name of the ExternalSecret and of the Kubernetes Secret it writes. */
  secretName: string;
  /** Path under the store's mount (ESO `remoteRef.key`). */
  path: string;
  /** Vault property → env var (also the Secret key), in file order. */
  properties: { property: string; env: string }[];
  /** As ESO reads it: a Go duration, `0s` for 0. */
  refreshInterval: string;
  consumers: BundleConsumer[];
  rotation?: Required<Pick<SecretRotationData, 'strategy'>> & {
    length?: number;
    alphabet?: string;
    maxAge?: string;
  };
  /** JSON Pointer of the bundle in the platform file. */
  pointer: string;
}

export interface SecretsPlan {
  platform: string;
  store: SecretsStorePlan;
  bundles: SecretsBundlePlan[];
}

/** The plan of a platform's `secrets` section; undefined when it has none. Assumes the file passed its checks. */
export function planSecrets(input: SecretsPlatformInput): SecretsPlan | undefined {
  const { secrets } = input;
  if (!secrets) return undefined;
  const s = secrets.store;
  const k = s.auth.kubernetes;
  const sa = k.serviceAccountRef;
  const store: SecretsStorePlan = {
    name: s.name,
    server: s.server,
    path: s.path,
    version: s.version ?? 'v2',
    ...(s.namespace !== undefined ? { namespace: s.namespace } : {}),
    auth: {
      mountPath: k.mountPath ?? DEFAULT_KUBERNETES_AUTH_MOUNT,
      ...(k.role !== undefined ? { role: k.role } : {}),
      ...(sa
        ? {
            serviceAccount: {
              name: sa.name,
              ...(sa.namespace !== undefined ? { namespace: sa.namespace } : {}),
              audiences: sa.audiences ?? [],
            },
          }
        : {}),
    },
  };
  const deployments = new Map<string, BundleConsumer>();
  for (const service of input.services) {
    for (const d of service.deployments) {
      deployments.set(d.name, { deployment: d.name, container: d.container, namespace: service.namespace });
    }
  }
  const defaultNamespace = input.services[0]?.namespace ?? 'default';
  const bundles: SecretsBundlePlan[] = [];
  (secrets.services ?? []).forEach((entry, i) => {
    const namespace = input.services.find((x) => x.name === entry.name)?.namespace ?? defaultNamespace;
    (entry.bundles ?? []).forEach((b, j) => {
      const interval = b.refreshInterval ?? DEFAULT_REFRESH_INTERVAL;
      const rotation = b.rotation;
      bundles.push({
        service: entry.name,
        name: b.name,
        id: `${entry.name}/${b.name}`,
        namespace,
        secretName: b.secretName ?? `${entry.name}-${b.name}`,
        path: b.path,
        properties: Object.entries(b.properties).map(([property, env]) => ({ property, env })),
        refreshInterval: interval === 0 ? '0s' : interval,
        consumers: b.consumers.map(
          (name) => deployments.get(name) ?? { deployment: name, container: name, namespace: namespace },
        ),
        ...(rotation
          ? {
              rotation: {
                strategy: rotation.strategy,
                ...(rotation.strategy === 'generated'
                  ? {
                      length: rotation.length ?? DEFAULT_GENERATED_LENGTH,
                      alphabet: rotation.alphabet ?? 'alphanumeric',
                    }
                  : {}),
                ...(rotation.maxAge !== undefined ? { maxAge: rotation.maxAge } : {}),
              },
            }
          : {}),
        pointer: `/secrets/services/${i}/bundles/${j}`,
      });
    });
  });
  return { platform: input.name, store, bundles };
}

/** The bundles as status and rotation take them (`bundleStatus`, `Rotator`): names and paths only. */
export function secretBundles(plan: SecretsPlan): SecretBundle[] {
  return plan.bundles.map((b) => {
    const maxAge = b.rotation?.maxAge === undefined ? undefined : durationSeconds(b.rotation.maxAge);
    return {
      service: b.service,
      name: b.name,
      path: b.path,
      properties: Object.fromEntries(b.properties.map((p) => [p.property, p.env])),
      externalSecret: { namespace: b.namespace, name: b.secretName },
      consumers: b.consumers.map((c) => ({ namespace: c.namespace, deployment: c.deployment })),
      ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    };
  });
}
