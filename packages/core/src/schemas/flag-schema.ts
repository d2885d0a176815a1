import { Type } from '@sinclair/typebox';
import { FLAG_KEY_PATTERN, FLAG_METADATA_LIMITS } from '../flag-model.js';
import { AnyJson, AnyJsonObject, MapOf, StringEnum } from './schema-helpers.js';

/**
 * The flag as a JSON Schema: the server's route schemas use it for the Flag body and responses (the `Flag` component
 * of /api/openapi.json), and the flags file is checked against it (`FlagsFileSchema`). Cross-field rules (a variant
 * of the flag's type, a default that is a variant, targeting flagd can build, …) are core's validateFlag's.
 */

export const RolloutSchema = Type.Object(
  {
    variant: Type.String(),
    percentage: Type.Number({ minimum: 0, maximum: 100, description: '0–100, at most two decimals' }),
  },
  { additionalProperties: false, description: 'That percentage of targeting keys get `variant`' },
);

export const EnvironmentSettingsSchema = Type.Object(
  {
    state: StringEnum(['ENABLED', 'DISABLED']),
    targeting: Type.Optional(AnyJsonObject('flagd JsonLogic returning a variant name or null')),
    overrides: Type.Optional(MapOf(Type.String(), { description: 'targeting key → variant' })),
    rollout: Type.Optional(RolloutSchema),
  },
  { additionalProperties: false },
);

/** One entry of the flags file, and the body and response of the flag routes. */
export const FlagSchema = Type.Object(
  {
    key: Type.String({ pattern: FLAG_KEY_PATTERN.source }),
    description: Type.Optional(Type.String()),
    owner: Type.Optional(Type.String()),
    type: StringEnum(['boolean', 'string', 'number', 'object']),
    variants: MapOf(AnyJson(), { description: 'variant name → value of the flag type' }),
    defaultVariant: Type.Union([Type.String(), Type.Null()], {
      description:
        'served when nothing matches; null (or absent in a request or the flags file): the code default, reason DEFAULT, no variant',
    }),
    schema: Type.Optional(AnyJsonObject('JSON Schema every variant must satisfy (number and object flags)')),
    sensitive: Type.Optional(Type.Boolean()),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        maxProperties: FLAG_METADATA_LIMITS.keys,
        description:
          'flagd flag metadata (owner, team, ticket, expiry, …): string, number or boolean values, returned with every evaluation; keys "sensitive" and "revision" are reserved; "flagSetId" puts the flag in that flag set',
      }),
    ),
    environments: MapOf(EnvironmentSettingsSchema, { description: 'environment name → settings' }),
  },
  { $id: 'Flag', additionalProperties: false, description: 'A flag (one entry of the flags file)' },
);

/**
 * A flag as written in the flags file (or sent to the API): the Flag schema, with `environments` optional (a flag
 * without it is disabled everywhere; the server always answers with it).
 */
export const FlagInputSchema = Type.Object(
  {
    ...FlagSchema.properties,
    defaultVariant: Type.Optional(FlagSchema.properties.defaultVariant),
    environments: Type.Optional(FlagSchema.properties.environments),
  },
  { additionalProperties: false, description: FlagSchema.description },
);

/** The flags file: `{ environments?, evaluators?, metadata?, flags }`. */
export const FlagsFileSchema = Type.Object(
  {
    environments: Type.Optional(
      Type.Array(Type.String(), { description: 'Environments the file is written for (informative)' }),
    ),
    evaluators: Type.Optional(
      MapOf(AnyJsonObject('JsonLogic'), { description: 'name → JsonLogic shared by flags through {"$ref": name}' }),
    ),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        maxProperties: FLAG_METADATA_LIMITS.keys,
        description:
          'Set-level metadata (flagd): merged into every flag\'s metadata, the flag\'s own keys winning; e.g. {"flagSetId": "payments"} puts every flag of the file that names no set of its own in that set',
      }),
    ),
    flags: Type.Array(FlagInputSchema, { description: 'The flags' }),
  },
  { additionalProperties: false },
);

/**
 * The flags file's JSON Schema as published (`GET /api/schemas/flags-file.json`, docs/schemas/flags-file.json):
 * self-contained plain JSON (draft-07), for editors (`# yaml-language-server: $schema=…`) and other tools.
 */
export function flagsFileJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Runtime Control flags file',
    description:
      'Flags and shared evaluators, read by `rctl seed` and `rctl up --seed`. Checked against this schema first, ' +
      'then flag by flag (variant types, default variant, targeting) by Runtime Control.',
    ...(JSON.parse(JSON.stringify(FlagsFileSchema)) as Record<string, unknown>),
  };
}
