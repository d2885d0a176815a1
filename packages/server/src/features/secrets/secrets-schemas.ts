import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, COMMON_ERRORS, Empty, errors, StringEnum } from '../../schemas/common.js';

// Route schemas of the secrets feature (`/api/admin/secrets`). Every response carries names, versions, times and
// states — never a value: no schema below has a field that could hold one, and responses are serialized from them.

const NAME = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const ROTATION_ID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const BundleParams = Type.Object({
  service: Type.String({ pattern: NAME, description: 'The service (platform file `secrets.services[].name`)' }),
  bundle: Type.String({ pattern: NAME, description: 'The bundle (unique in its service)' }),
});

export const RotationParams = Type.Object({
  service: BundleParams.properties.service,
  bundle: BundleParams.properties.bundle,
  id: Type.String({ pattern: ROTATION_ID, description: 'The rotation id (a UUID)' }),
});

const STEP = StringEnum(['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout']);

export const SecretConsumer = Type.Object({
  namespace: Type.String(),
  deployment: Type.String(),
  runsCurrentValue: Nullable(
    Type.Boolean({
      description:
        'Every pod started after the current version was written and the rollout is complete (null: unknown, e.g. on the local backend)',
    }),
  ),
  rolledOut: Nullable(Type.Boolean()),
  pods: Nullable(Type.Integer()),
  stalePods: Nullable(Type.Integer()),
});

export const RotationSummary = Type.Object({
  id: Type.String(),
  kind: StringEnum(['rotation', 'rollback']),
  status: StringEnum(['running', 'failed', 'completed']),
  step: STEP,
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
});

export const SecretBundleStatus = Type.Object(
  {
    service: Type.String(),
    bundle: Type.String(),
    backend: StringEnum(['local', 'vault']),
    state: Type.String({
      description: 'in-sync | syncing | stale-pods | missing | overdue | "error: <reason>"',
    }),
    reasons: Type.Array(Type.String(), { description: 'Why, one line each (no values)' }),
    path: Type.String({ description: 'KV path under the mount' }),
    properties: Type.Array(Type.Object({ property: Type.String(), env: Type.String() })),
    currentVersion: Nullable(Type.Integer()),
    updatedTime: Nullable(Type.String({ description: 'ISO time the current version was written' })),
    ageSeconds: Nullable(Type.Integer()),
    maxAgeSeconds: Nullable(Type.Integer()),
    overdue: Type.Boolean({ description: 'ageSeconds > maxAgeSeconds' }),
    rotation: Nullable(
      Type.Object({
        strategy: StringEnum(['generated', 'supplied']),
        length: Type.Optional(Type.Integer()),
        alphabet: Type.Optional(Type.String()),
        maxAge: Type.Optional(Type.String()),
      }),
    ),
    externalSecret: Nullable(
      Type.Object({
        namespace: Type.String(),
        name: Type.String(),
        ready: Nullable(Type.String()),
        reason: Nullable(Type.String()),
        message: Nullable(Type.String()),
        refreshTime: Nullable(Type.String()),
        syncedResourceVersion: Nullable(Type.String()),
      }),
    ),
    secret: Nullable(Type.Object({ exists: Type.Boolean(), managedByEso: Type.Boolean() })),
    consumers: Type.Array(SecretConsumer),
    lastRotation: Nullable(RotationSummary),
  },
  { $id: 'SecretBundleStatus' },
);

export const SecretRotation = Type.Object(
  {
    id: Type.String(),
    service: Type.String(),
    bundle: Type.String(),
    kind: StringEnum(['rotation', 'rollback']),
    property: Type.String({ description: 'The property rotated (its name, never its value)' }),
    actor: Type.String(),
    status: StringEnum(['running', 'failed', 'completed']),
    step: STEP,
    startedAt: Type.String(),
    finishedAt: Nullable(Type.String()),
    previousVersion: Nullable(Type.Integer()),
    version: Nullable(Type.Integer()),
    steps: Type.Array(STEP, { description: 'The steps this rotation runs, in order' }),
    error: Nullable(Type.Object({ step: STEP, code: Type.String(), message: Type.String() })),
    history: Type.Array(
      Type.Object({
        step: STEP,
        outcome: StringEnum(['started', 'succeeded', 'failed']),
        at: Type.String(),
        detail: Type.Optional(Type.String()),
      }),
      { description: "Every step's start, success and failure: the rotation's audit trail" },
    ),
  },
  { $id: 'SecretRotation' },
);

export const RotateRequest = Type.Object(
  {
    property: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, description: "Default: the bundle's only property" }),
    ),
    value: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 65536,
        description: "A supplied value; omitted: generated per the bundle's rotation policy. Never echoed back.",
      }),
    ),
    expectedVersion: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Refuse when the current version is another (0: create only)' }),
    ),
  },
  { additionalProperties: false },
);

export const ResumeRequest = Type.Object(
  {
    value: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 65536,
        description: 'Needed again only when the rotation failed at write',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DefineBundleRequest = Type.Object(
  {
    properties: Type.Record(
      Type.String({ minLength: 1, maxLength: 253 }),
      Type.String({ minLength: 1, maxLength: 253 }),
      {
        minProperties: 1,
        maxProperties: 100,
        description: 'property → env var (e.g. {"JWT_SECRET": "JWT_SECRET"})',
      },
    ),
    path: Type.Optional(
      Type.String({ minLength: 1, maxLength: 512, description: 'KV path; default "<service>/<bundle>"' }),
    ),
    rotation: Type.Optional(
      Type.Object(
        {
          strategy: StringEnum(['generated', 'supplied']),
          length: Type.Optional(Type.Integer({ minimum: 8, maximum: 4096 })),
          alphabet: Type.Optional(StringEnum(['alphanumeric', 'hex', 'base64url'])),
          maxAge: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'e.g. 90d, 12h' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const secretsSchemas = {
  define: {
    summary:
      'Define or replace a bundle without a platform file (local backend only): property → env var, KV path, rotation ' +
      'policy. 201 created, 200 replaced; 409 BUNDLE_DEFINED_IN_FILE for a bundle of the platform file, ' +
      'BUNDLES_FROM_FILE on the Vault backend. Holds names, never a value',
    security: ADMIN_SECURITY,
    params: BundleParams,
    body: DefineBundleRequest,
    response: { 200: SecretBundleStatus, 201: SecretBundleStatus, ...errors(...COMMON_ERRORS, 409, 413, 415, 503) },
  },
  undefine: {
    summary: "Remove an API-defined bundle's definition (its versions stay in the local store)",
    security: ADMIN_SECURITY,
    params: BundleParams,
    response: { 204: Empty('Removed'), ...errors(...COMMON_ERRORS, 404, 409, 503) },
  },
  list: {
    summary: 'Every secret bundle: state, current version, age vs maximum age, consumers — never a value',
    security: ADMIN_SECURITY,
    response: {
      200: Type.Object({ backend: StringEnum(['local', 'vault']), bundles: Type.Array(SecretBundleStatus) }),
      ...errors(401, 403, 503),
    },
  },
  get: {
    summary: 'One secret bundle (status, never a value)',
    security: ADMIN_SECURITY,
    params: BundleParams,
    response: { 200: SecretBundleStatus, ...errors(...COMMON_ERRORS, 404, 503) },
  },
  rotate: {
    summary:
      'Rotate a bundle: write with check-and-set → force-sync → wait synced → restart consumers → wait rollouts ' +
      '(only write on the local backend). 202 with the rotation; poll GET …/rotations/{id}. 409 ROTATION_IN_PROGRESS',
    security: ADMIN_SECURITY,
    params: BundleParams,
    body: RotateRequest,
    response: { 202: SecretRotation, ...errors(...COMMON_ERRORS, 404, 409, 413, 415, 503) },
  },
  rotations: {
    summary: "A bundle's rotations, newest first (the audit trail: steps, versions, actor, times)",
    security: ADMIN_SECURITY,
    params: BundleParams,
    response: { 200: Type.Object({ rotations: Type.Array(SecretRotation) }), ...errors(...COMMON_ERRORS, 404, 503) },
  },
  rotation: {
    summary: 'A rotation: its steps and progress',
    security: ADMIN_SECURITY,
    params: RotationParams,
    response: { 200: SecretRotation, ...errors(...COMMON_ERRORS, 404, 503) },
  },
  resume: {
    summary: 'Resume a failed rotation from the step that failed',
    security: ADMIN_SECURITY,
    params: RotationParams,
    body: ResumeRequest,
    response: { 202: SecretRotation, ...errors(...COMMON_ERRORS, 404, 409, 413, 415, 503) },
  },
  rollback: {
    summary: 'Roll a rotation back: write the version before it as a new version, then sync and restart again',
    security: ADMIN_SECURITY,
    params: RotationParams,
    response: { 202: SecretRotation, ...errors(...COMMON_ERRORS, 404, 409, 503) },
  },
};
