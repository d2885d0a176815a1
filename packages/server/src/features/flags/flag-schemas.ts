import { EnvironmentSettingsSchema, FlagSchema, RolloutSchema } from '@runtime-control/core';
import { Type } from '@sinclair/typebox';
import {
  ADMIN_SECURITY,
  COMMON_ERRORS,
  Empty,
  errors,
  IfMatchHeader,
  JsonObject,
  MapOf,
  StringEnum,
  validatedByCore,
} from '../../schemas/common.js';

/** The flag's schema is core's: the flags file is checked against the same one (core/src/schemas/flag-schema.ts). */
export const Flag = FlagSchema;
export const Rollout = RolloutSchema;
export const EnvironmentSettings = EnvironmentSettingsSchema;

const FlagBody = validatedByCore(Type.Ref(Flag));

/** Flags one bulk create may carry: bounds the work (validation, transaction) of one request. */
export const BULK_MAX_FLAGS = 1000;

export const BrokenRecord = Type.Object({
  entityType: StringEnum(['flag', 'evaluator']),
  key: Type.String(),
  revision: Type.Integer(),
  problem: Type.String(),
});

const KeyParams = Type.Object({ key: Type.String({ description: 'Flag key' }) });
const EnvParams = Type.Object({ key: Type.String({ description: 'Flag key' }), env: Type.String() });
const OverrideParams = Type.Object({ key: Type.String(), env: Type.String(), targetingKey: Type.String() });
/** `If-Match` is read by the handler (a value that matches no revision is 412, not 400). */
const WriteHeaders = validatedByCore(IfMatchHeader);

const flagResponse = (description: string) => Type.Ref(Flag, { description });

/** PATCH body: its shape is checked here, each field's value by core (paths under `/environments/{env}`). */
export const EnvironmentPatch = Type.Object(
  {
    state: Type.Optional(validatedByCore(EnvironmentSettings.properties.state)),
    targeting: Type.Optional(validatedByCore(Type.Union([JsonObject('JsonLogic'), Type.Null()]))),
    rollout: Type.Optional(validatedByCore(Type.Union([Rollout, Type.Null()]))),
    overrides: Type.Optional(validatedByCore(MapOf(Type.String()))),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'Any of state, targeting (null clears), rollout (null clears), overrides (replaces the map)',
  },
);

export const flagSchemas = {
  list: {
    summary: 'List flags',
    security: ADMIN_SECURITY,
    response: {
      200: Type.Object({
        revision: Type.Integer(),
        flags: Type.Array(Type.Ref(Flag)),
        unloadable: Type.Optional(Type.Array(BrokenRecord, { description: 'Stored records this replica cannot load' })),
      }),
      ...errors(...COMMON_ERRORS),
    },
  },
  get: {
    summary: 'A flag (ETag: its revision)',
    security: ADMIN_SECURITY,
    params: KeyParams,
    response: { 200: flagResponse('The flag'), ...errors(...COMMON_ERRORS, 404) },
  },
  create: {
    summary: 'Create a flag (409 FLAG_EXISTS if the key exists; nothing changes)',
    security: ADMIN_SECURITY,
    body: FlagBody,
    response: { 201: flagResponse('Created'), ...errors(...COMMON_ERRORS, 409, 413, 415) },
  },
  createMany: {
    summary: 'Create many flags in one transaction (seeding); existing keys are left as they are',
    description:
      'Every flag is validated as `POST /api/admin/flags` validates one; if any is refused, nothing is written and the error lists every problem with its path under `/flags/{index}` (400 VALIDATION_FAILED or INVALID_TARGETING; a key named twice is 400 VALIDATION_FAILED at its second `/flags/{index}/key`). Otherwise all are created at once: each created flag is a change of its own (its own revision and audit record, action `create`), and keys that already exist are left unchanged and listed in `existing`.',
    security: ADMIN_SECURITY,
    body: Type.Object(
      {
        flags: Type.Array(FlagBody, {
          minItems: 1,
          maxItems: BULK_MAX_FLAGS,
          description: `The flags to create (at most ${BULK_MAX_FLAGS}; the request body is also bounded by RC_BODY_LIMIT_BYTES)`,
        }),
      },
      { additionalProperties: false },
    ),
    response: {
      200: Type.Object({
        revision: Type.Integer({ description: 'The revision that includes every created flag' }),
        created: Type.Array(Type.String(), { description: 'Keys created, in request order' }),
        existing: Type.Array(Type.String(), { description: 'Keys that existed and were left as they are' }),
      }),
      ...errors(...COMMON_ERRORS, 413, 415),
    },
  },
  replace: {
    summary: 'Replace a flag (the key must match)',
    security: ADMIN_SECURITY,
    params: KeyParams,
    headers: WriteHeaders,
    body: FlagBody,
    response: { 200: flagResponse('Replaced'), ...errors(...COMMON_ERRORS, 404, 412, 413, 415) },
  },
  revert: {
    summary: 'Revert a flag to one of its earlier versions (a new write, audited as "revert")',
    description:
      'The body of the flag as it was after the change at `revision` (from the audit log) is validated as any write and replaces the current flag; the audit record has action `revert`. 404 REVISION_NOT_FOUND when that revision is not a change of this flag; 409 REVERT_TARGET_DELETED when it deleted the flag.',
    security: ADMIN_SECURITY,
    params: KeyParams,
    headers: WriteHeaders,
    body: Type.Object(
      { revision: Type.Integer({ minimum: 1, description: 'A revision at which this flag changed (audit log)' }) },
      { additionalProperties: false },
    ),
    response: { 200: flagResponse('Reverted'), ...errors(...COMMON_ERRORS, 404, 409, 412, 413, 415) },
  },
  delete: {
    summary: 'Delete a flag',
    security: ADMIN_SECURITY,
    params: KeyParams,
    headers: WriteHeaders,
    response: { 204: Empty('Deleted'), ...errors(...COMMON_ERRORS, 404, 412) },
  },
  patchEnvironment: {
    summary: 'Change state, targeting, rollout or overrides in one environment',
    security: ADMIN_SECURITY,
    params: EnvParams,
    headers: WriteHeaders,
    body: EnvironmentPatch,
    response: { 200: flagResponse('Updated'), ...errors(...COMMON_ERRORS, 404, 412, 413, 415) },
  },
  setOverride: {
    summary: 'Serve a variant to one targeting key',
    security: ADMIN_SECURITY,
    params: OverrideParams,
    headers: WriteHeaders,
    body: Type.Object({ variant: Type.String({ description: 'A variant name of the flag' }) }),
    response: { 200: flagResponse('Override set'), ...errors(...COMMON_ERRORS, 404, 412, 413, 415) },
  },
  removeOverride: {
    summary: 'Remove the override of one targeting key',
    security: ADMIN_SECURITY,
    params: OverrideParams,
    headers: WriteHeaders,
    response: { 200: flagResponse('Override removed'), ...errors(...COMMON_ERRORS, 404, 412) },
  },
  environments: {
    summary: 'The configured environments',
    security: ADMIN_SECURITY,
    response: { 200: Type.Object({ environments: Type.Array(Type.String()) }), ...errors(401, 403) },
  },
};
