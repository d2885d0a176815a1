import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { PlatformSecretsSchema } from './platform-secrets-schema.js';
import { StringEnum } from './schema-helpers.js';

/**
 * The platform file (what runs where on the mesh; the input of `rctl render`) as a JSON Schema: the shape of every
 * section, with descriptions an editor shows. `@runtime-control/traffic` checks a file against it first, then runs
 * the rules across fields (references between sections, unique names, ports that must differ) and builds its model.
 *
 * A new section is one more schema and one more optional property of `PLATFORM_FILE_SECTIONS` (as `secrets`,
 * declared in platform-secrets-schema.ts).
 *
 * Annotations besides the standard ones: `patternErrorMessage` and `errorMessage` (understood by VS Code and
 * yaml-language-server) say in words what a pattern or a constraint asks for; the file reader uses them too.
 * `title` on a map's value or key schema names what the map holds ("label", "header name").
 */

/** Kubernetes object names (RFC 1123 label): what namespaces, services, subsets and routes are called. */
export const PLATFORM_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS name, optionally starting with `*.` (gateway hosts may be wildcards). */
export const PLATFORM_HOST_PATTERN = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS name without wildcard: service hosts and egress hosts (DNS resolution needs a concrete name). */
export const PLATFORM_EXACT_HOST_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes label key: optional DNS prefix and `/`, then a name of up to 63 characters. */
export const LABEL_KEY_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes label value: empty, or up to 63 letters, digits, `-`, `_`, `.` starting and ending alphanumeric. */
export const LABEL_VALUE_PATTERN = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** HTTP header names as Istio accepts them in a match: lowercase. */
export const HEADER_NAME_PATTERN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

export const MTLS_MODES = ['PERMISSIVE', 'STRICT'] as const;
export const EGRESS_PROTOCOLS = ['HTTPS', 'TLS', 'HTTP', 'TCP'] as const;
/** `REGISTRY_ONLY` makes approved egress hosts the only ones a sidecar lets out; `ALLOW_ANY` is Istio's default. */
export const OUTBOUND_POLICIES = ['REGISTRY_ONLY', 'ALLOW_ANY'] as const;
export const STRING_MATCH_KINDS = ['exact', 'prefix', 'regex'] as const;

const Name = (description: string) =>
  Type.String({
    pattern: PLATFORM_NAME_PATTERN.source,
    patternErrorMessage: 'must be a Kubernetes name: lowercase letters, digits and "-"',
    description,
  });

const ExactHost = (description: string) =>
  Type.String({
    pattern: PLATFORM_EXACT_HOST_PATTERN.source,
    patternErrorMessage: 'must be a DNS name without wildcards, e.g. api.example.com',
    description,
  });

const Port = (description: string, defaultPort?: number) =>
  Type.Integer({
    minimum: 1,
    maximum: 65535,
    description,
    ...(defaultPort === undefined ? {} : { default: defaultPort }),
  });

const NamespaceRef = (description: string) =>
  Name(`${description}; must be declared under "namespaces". Default: the first declared namespace`);

/** A map of Kubernetes labels: label key → label value (a string: quote numbers, `version: "2"`). */
export const LabelsSchema = (
  description: string,
  options: { minProperties?: number; default?: unknown; title?: string } = {},
) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    propertyNames: {
      title: 'label key',
      pattern: LABEL_KEY_PATTERN.source,
      patternErrorMessage: 'must be a Kubernetes label key (optional DNS prefix and "/", then up to 63 characters)',
    },
    additionalProperties: {
      title: 'label',
      type: 'string',
      pattern: LABEL_VALUE_PATTERN.source,
      patternErrorMessage:
        'must be a Kubernetes label value: up to 63 letters, digits, "-", "_" and ".", alphanumeric at both ends',
    },
    ...(options.minProperties ? { errorMessage: 'must have at least one label' } : {}),
    ...options,
    description,
  });

export const PlatformNamespaceSchema = Type.Object(
  {
    name: Name('Namespace name'),
    labels: Type.Optional(
      LabelsSchema("The namespace's labels as they are (or will be) in the cluster, e.g. `istio-injection: enabled`"),
    ),
    mtls: StringEnum(MTLS_MODES, {
      description: 'Mutual TLS mode, rendered as the namespace-wide PeerAuthentication "default"',
    }),
  },
  { additionalProperties: false },
);

export const GatewayTlsSchema = Type.Object(
  {
    credentialName: Type.String({
      minLength: 1,
      description: "Kubernetes Secret (in the ingress gateway's namespace) holding the certificate",
    }),
    port: Type.Optional(Port('HTTPS port of the gateway; must differ from its HTTP port', 443)),
  },
  { additionalProperties: false, description: 'Adds an HTTPS server (tls.mode SIMPLE)' },
);

export const PlatformGatewaySchema = Type.Object(
  {
    name: Name('Name of the Istio Gateway'),
    namespace: Type.Optional(NamespaceRef('Namespace of the Gateway and the VirtualService of `routes`')),
    selector: Type.Optional(
      LabelsSchema('Pod labels of the ingress gateway deployment', {
        minProperties: 1,
        default: { istio: 'ingressgateway' },
      }),
    ),
    hosts: Type.Array(
      Type.String({
        pattern: PLATFORM_HOST_PATTERN.source,
        patternErrorMessage: 'must be a DNS name, e.g. shop.example.com or *.example.com',
      }),
      { minItems: 1, description: 'Hosts the gateway serves (DNS names; "*.example.com" allowed)' },
    ),
    port: Type.Optional(Port('Plain HTTP port of the gateway server', 80)),
    tls: Type.Optional(GatewayTlsSchema),
    virtualService: Type.Optional(
      Name('Name of the VirtualService holding `routes`. Default: "<gateway name>-routes"'),
    ),
  },
  { additionalProperties: false, description: 'The ingress Gateway and the VirtualService of `routes`' },
);

export const PlatformDeploymentSchema = Type.Object(
  {
    name: Name('Deployment name'),
    labels: LabelsSchema('Pod template labels; a version reaches these pods only if all its labels are here'),
    container: Type.Optional(
      Name(
        'The container that gets env vars from `secrets` bundles (the env patch names it). Default: the Deployment name',
      ),
    ),
  },
  { additionalProperties: false },
);

export const PlatformServiceSchema = Type.Object(
  {
    name: Name('Service name'),
    namespace: Type.Optional(NamespaceRef('Namespace of the service')),
    host: Type.Optional(ExactHost('Fully qualified host. Default: "<name>.<namespace>.svc.cluster.local"')),
    port: Port('Service port'),
    versions: Type.Optional(
      Type.Unsafe<Record<string, Record<string, string>>>({
        type: 'object',
        propertyNames: {
          title: 'version name',
          pattern: PLATFORM_NAME_PATTERN.source,
          patternErrorMessage: 'must be a Kubernetes name: lowercase letters, digits and "-"',
        },
        additionalProperties: LabelsSchema('The pod labels that select this version', {
          minProperties: 1,
          title: 'version',
        }),
        description: 'Version (DestinationRule subset) name → the pod labels that select it, e.g. `v1: {version: v1}`',
      }),
    ),
    deployments: Type.Optional(
      Type.Array(PlatformDeploymentSchema, {
        description: 'The Deployments that exist, with their pod template labels (checked against `versions`)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Istio's StringMatch: exactly one of exact, prefix, regex. */
export const StringMatchSchema = Type.Object(
  {
    exact: Type.Optional(Type.String({ description: 'The whole value' })),
    prefix: Type.Optional(Type.String({ minLength: 1, description: 'The start of the value' })),
    regex: Type.Optional(Type.String({ minLength: 1, description: 'An RE2 regular expression the value matches' })),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    errorMessage: 'needs exactly one of exact, prefix, regex',
  },
);

export const RouteMatchSchema = Type.Object(
  {
    uri: Type.Optional(StringMatchSchema),
    headers: Type.Optional(
      Type.Unsafe<Record<string, Static<typeof StringMatchSchema>>>({
        type: 'object',
        propertyNames: {
          title: 'header name',
          pattern: HEADER_NAME_PATTERN.source,
          patternErrorMessage: 'must be lowercase (Istio matches lowercase names)',
        },
        additionalProperties: StringMatchSchema,
        description: 'Lowercase header name → condition',
      }),
    ),
  },
  { additionalProperties: false, description: 'One match block: its conditions are ANDed' },
);

export const RouteDestinationSchema = Type.Object(
  {
    service: Type.String({ minLength: 1, description: 'Name of a service under `services`' }),
    subset: Type.Optional(Name('A version of that service; absent sends to all its pods')),
    weight: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        description: 'Percent; required when a route has several destinations',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PlatformRouteSchema = Type.Object(
  {
    name: Name('Rendered as the HTTPRoute name, so a router can find the route it must edit'),
    match: Type.Optional(
      Type.Union([RouteMatchSchema, Type.Array(RouteMatchSchema)], {
        description: 'Match blocks, ORed (one block may be written without the list). Absent: every request',
      }),
    ),
    destinations: Type.Array(RouteDestinationSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const ApprovedEgressHostSchema = Type.Object(
  {
    host: ExactHost('External host name'),
    port: Port('Port the external host is reached on'),
    protocol: StringEnum(EGRESS_PROTOCOLS),
    tlsOrigination: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'The sidecar originates TLS: the application calls http://host:<httpPort> and the sidecar connects to ' +
          '`port` with TLS (needs protocol HTTPS)',
      }),
    ),
    httpPort: Type.Optional(Port('Plain HTTP port the application uses when tlsOrigination is true', 80)),
  },
  { additionalProperties: false },
);

export const EgressRequestSchema = Type.Object(
  {
    from: Type.String({ minLength: 1, description: 'Name of a service under `services`' }),
    host: ExactHost('The external host it calls'),
    port: Type.Optional(Port('Default: any port of an approved host with that name')),
  },
  { additionalProperties: false },
);

export const PlatformEgressSchema = Type.Object(
  {
    namespace: Type.Optional(NamespaceRef('Namespace the ServiceEntries and their DestinationRules go to')),
    outboundPolicy: Type.Optional(
      StringEnum(OUTBOUND_POLICIES, {
        description: 'REGISTRY_ONLY (default) lets out approved hosts only and renders a namespace-wide Sidecar',
      }),
    ),
    approved: Type.Optional(Type.Array(ApprovedEgressHostSchema, { description: 'The approved external hosts' })),
    requests: Type.Optional(
      Type.Array(EgressRequestSchema, {
        description: 'Which service calls which external host (checked against `approved`)',
      }),
    ),
  },
  { additionalProperties: false, description: 'Approved external hosts and who calls them' },
);

/** The sections of a platform file. Adding one is adding its schema here. */
export const PLATFORM_FILE_SECTIONS = {
  platform: Name('The platform name; used in labels and the dashboard uid'),
  namespaces: Type.Array(PlatformNamespaceSchema, {
    minItems: 1,
    description: 'The namespaces; the first is the default namespace',
  }),
  gateway: PlatformGatewaySchema,
  services: Type.Array(PlatformServiceSchema, { description: 'The services on the mesh' }),
  routes: Type.Array(PlatformRouteSchema, {
    description: "Ordered routes of the gateway's VirtualService: Istio uses the first that matches",
  }),
  egress: Type.Optional(PlatformEgressSchema),
  secrets: Type.Optional(PlatformSecretsSchema),
} satisfies Record<string, TSchema>;

export const PlatformFileSchema = Type.Object(PLATFORM_FILE_SECTIONS, { additionalProperties: false });

/** A platform file whose shape passed the schema (defaults not applied; references not checked). */
export type PlatformFileData = Static<typeof PlatformFileSchema>;

/**
 * The platform file's JSON Schema as published (`GET /api/schemas/platform-file.json`,
 * docs/schemas/platform-file.json): self-contained plain JSON (draft-07), for editors and other tools.
 */
export function platformFileJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Runtime Control platform file',
    description:
      'What runs where on the mesh, read by `rctl render`. Checked against this schema first, then across fields ' +
      '(declared namespaces, services and versions, unique names) and by the troubleshooting checks. See docs/traffic.md and docs/secrets.md.',
    ...(JSON.parse(JSON.stringify(PlatformFileSchema)) as Record<string, unknown>),
  };
}
