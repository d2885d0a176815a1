import { type Static, Type } from '@sinclair/typebox';
import { StringEnum } from './schema-helpers.js';

/**
 * The platform file's `secrets` section: where secrets live (a Vault KV store, reached by the External Secrets
 * Operator through Kubernetes auth) and, per service, the bundles synced from it into Kubernetes Secrets and given
 * to Deployments as env vars. The store's fields are named as ESO's ClusterSecretStore `provider.vault` fields
 * (`server`, `path`, `version`, `namespace`, `auth.kubernetes.mountPath|role|serviceAccountRef`), so what one reads
 * in the file is what one finds in the rendered manifest. No value is ever written here: only where values are.
 */

/** An environment variable name as shells and most runtimes accept it. */
export const ENV_VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A property of a Vault KV secret, also usable as a Kubernetes Secret key. */
export const SECRET_PROPERTY_PATTERN = /^[-._A-Za-z0-9]+$/;
/** A Vault path: segments of letters, digits, `-`, `_`, `.`; no leading or trailing `/`, no empty segment. */
export const VAULT_PATH_PATTERN = /^[-_.A-Za-z0-9]+(\/[-_.A-Za-z0-9]+)*$/;
/** A Go duration as ESO reads `refreshInterval` (`1h`, `30m`, `1h30m`, `0s`). */
export const GO_DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
/** A maximum age: whole days, hours, minutes or seconds (`90d`, `720h`, `1d12h`). */
export const MAX_AGE_PATTERN = /^([0-9]+(d|h|m|s))+$/;

export const VAULT_KV_VERSIONS = ['v1', 'v2'] as const;
export const ROTATION_STRATEGIES = ['generated', 'supplied'] as const;
/** Alphabets of a generated value (the secrets package's `generateSecretValue`). */
export const SECRET_ALPHABETS = ['alphanumeric', 'hex', 'base64url'] as const;

export const DEFAULT_REFRESH_INTERVAL = '1h';
export const DEFAULT_KUBERNETES_AUTH_MOUNT = 'kubernetes';
export const DEFAULT_GENERATED_LENGTH = 32;

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const Name = (description: string) =>
  Type.String({
    pattern: K8S_NAME.source,
    patternErrorMessage: 'must be a Kubernetes name: lowercase letters, digits and "-"',
    description,
  });

const EnvVarName = (description: string, title?: string) =>
  Type.String({
    pattern: ENV_VAR_NAME_PATTERN.source,
    patternErrorMessage: 'must be an environment variable name: letters, digits and "_", not starting with a digit',
    description,
    ...(title ? { title } : {}),
  });

export const SecretStoreServiceAccountSchema = Type.Object(
  {
    name: Name('Service account whose token ESO sends to Vault (`auth/<mountPath>/login`)'),
    namespace: Type.Optional(Name('Namespace of the service account')),
    audiences: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Audiences of the token ESO requests for the service account; must include the Vault role\'s audience (Vault 1.21+ refuses a login without one), e.g. ["vault"]',
      }),
    ),
  },
  { additionalProperties: false, description: 'ESO `auth.kubernetes.serviceAccountRef`' },
);

export const SecretStoreKubernetesAuthSchema = Type.Object(
  {
    mountPath: Type.Optional(
      Type.String({
        pattern: VAULT_PATH_PATTERN.source,
        patternErrorMessage: 'must be a Vault path without leading or trailing "/"',
        default: DEFAULT_KUBERNETES_AUTH_MOUNT,
        description: 'Where the Kubernetes auth method is mounted in Vault. Default: "kubernetes"',
      }),
    ),
    role: Type.Optional(
      Type.String({ minLength: 1, description: 'Vault role bound to the service account (required by ESO)' }),
    ),
    serviceAccountRef: Type.Optional(SecretStoreServiceAccountSchema),
  },
  { additionalProperties: false, description: 'ESO `auth.kubernetes`: Vault login with a Kubernetes service account' },
);

export const SecretStoreSchema = Type.Object(
  {
    name: Name('Name of the rendered ClusterSecretStore'),
    server: Type.String({
      pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$',
      patternErrorMessage: 'must be an http(s) URL, e.g. https://vault.example.com:8200',
      description: 'Vault address, e.g. https://vault.example.com:8200',
    }),
    path: Type.String({
      pattern: VAULT_PATH_PATTERN.source,
      patternErrorMessage: 'must be a Vault path without leading or trailing "/"',
      description:
        'The KV mount, e.g. "secret" (ESO `provider.vault.path`). Only the mount: with version v2 ESO inserts "/data" itself',
    }),
    version: Type.Optional(
      StringEnum(VAULT_KV_VERSIONS, { description: 'KV secrets engine version of the mount. Default: v2' }),
    ),
    namespace: Type.Optional(Type.String({ minLength: 1, description: 'Vault Enterprise namespace, if any' })),
    auth: Type.Object(
      { kubernetes: SecretStoreKubernetesAuthSchema },
      { additionalProperties: false, description: 'How ESO logs in to Vault' },
    ),
  },
  {
    additionalProperties: false,
    description: 'The Vault store, rendered as an external-secrets.io/v1 ClusterSecretStore (provider vault)',
  },
);

export const SecretRotationSchema = Type.Object(
  {
    strategy: StringEnum(ROTATION_STRATEGIES, {
      description: 'generated: rctl generates each new value; supplied: a person or system provides it',
    }),
    length: Type.Optional(
      Type.Integer({
        minimum: 8,
        maximum: 4096,
        default: DEFAULT_GENERATED_LENGTH,
        description: 'Length of a generated value (strategy generated only). Default: 32',
      }),
    ),
    alphabet: Type.Optional(
      StringEnum(SECRET_ALPHABETS, {
        description: 'Characters of a generated value (strategy generated only). Default: alphanumeric',
      }),
    ),
    maxAge: Type.Optional(
      Type.String({
        pattern: MAX_AGE_PATTERN.source,
        patternErrorMessage: 'must be a duration in d, h, m or s, e.g. 90d or 720h',
        description: 'Age after which the bundle is overdue for rotation, e.g. 90d',
      }),
    ),
  },
  { additionalProperties: false, description: 'How the bundle is rotated' },
);

export const SecretBundleSchema = Type.Object(
  {
    name: Name('Bundle name, unique within the service'),
    secretName: Type.Optional(
      Name('Name of the ExternalSecret and of the Kubernetes Secret it writes. Default: "<service>-<bundle>"'),
    ),
    path: Type.String({
      pattern: VAULT_PATH_PATTERN.source,
      patternErrorMessage: 'must be a Vault path without leading or trailing "/"',
      description:
        'Path of the KV secret under the store\'s mount, e.g. devmentor/api-gateway (ESO `remoteRef.key`; without "data/")',
    }),
    properties: Type.Unsafe<Record<string, string>>({
      type: 'object',
      minProperties: 1,
      errorMessage: 'must map at least one property to an env var',
      propertyNames: {
        title: 'property',
        pattern: SECRET_PROPERTY_PATTERN.source,
        patternErrorMessage: 'must be letters, digits, "-", "_" or "." (a Kubernetes Secret key)',
      },
      additionalProperties: EnvVarName('Env var the property is given as', 'env var'),
      description: 'Vault property → the env var name consumers get it as, e.g. `JWT_SECRET: JWT_SECRET`',
    }),
    refreshInterval: Type.Optional(
      Type.Union(
        [
          Type.String({
            pattern: GO_DURATION_PATTERN.source,
            patternErrorMessage: 'must be a Go duration, e.g. 1h, 15m or 1h30m',
          }),
          Type.Literal(0, { errorMessage: 'must be a duration such as "1h" (a bare number may only be 0)' }),
        ],
        {
          description:
            'How often ESO reads Vault again (ESO `refreshInterval`). Default: 1h. 0 reads once, and then ignores force-sync',
        },
      ),
    ),
    consumers: Type.Array(Name('A Deployment under `services[].deployments`, in the same namespace'), {
      minItems: 1,
      description: 'The Deployments that get the properties as env vars',
    }),
    rotation: Type.Optional(SecretRotationSchema),
  },
  { additionalProperties: false },
);

export const SecretsServiceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name of a service under `services`' }),
    needs: Type.Optional(
      Type.Array(EnvVarName('An env var the service reads from a secret'), {
        description:
          "Env vars every Deployment of the service needs from secrets; each must reach each Deployment from a bundle's properties",
      }),
    ),
    bundles: Type.Optional(
      Type.Array(SecretBundleSchema, {
        description: 'Secrets synced for this service, each rendered as one ExternalSecret in its namespace',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PlatformSecretsSchema = Type.Object(
  {
    store: SecretStoreSchema,
    services: Type.Optional(
      Type.Array(SecretsServiceSchema, { description: 'Per service: what it needs, its bundles' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Secrets as code: the Vault store and, per service, bundles rendered as ExternalSecrets (external-secrets.io/v1) and env wiring of their consumers. See docs/secrets.md',
  },
);

export type PlatformSecretsData = Static<typeof PlatformSecretsSchema>;
export type SecretStoreData = Static<typeof SecretStoreSchema>;
export type SecretBundleData = Static<typeof SecretBundleSchema>;
export type SecretsServiceData = Static<typeof SecretsServiceSchema>;
export type SecretRotationData = Static<typeof SecretRotationSchema>;

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/**
 * Seconds of a duration written as the secrets section allows (`1h30m`, `0s`, `90d`, the number 0); undefined when
 * it is not one.
 */
export function durationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (!GO_DURATION_PATTERN.test(value) && !MAX_AGE_PATTERN.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)/g)) {
    total += Number(amount) * UNIT_SECONDS[unit!]!;
  }
  return total;
}
