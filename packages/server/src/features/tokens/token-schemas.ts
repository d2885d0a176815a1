import { FLAG_SET_PATTERN } from '@runtime-control/core';
import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, COMMON_ERRORS, Empty, errors, StringEnum, validatedByCore } from '../../schemas/common.js';

const TokenKind = StringEnum(['admin', 'client']);

export const TokenInfo = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: TokenKind,
    environment: Type.Union([Type.String(), Type.Null()], { description: 'The environment of a client token' }),
    flagSet: Type.Union([Type.String(), Type.Null()], {
      description: 'The flag set (flagd flagSetId) a client token is limited to; null: every flag of its environment',
    }),
    createdAt: Type.String(),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'TokenInfo', description: 'A token (never its secret)' },
);

export const CreatedToken = Type.Object(
  {
    ...TokenInfo.properties,
    token: Type.String({ description: 'The secret; shown only in this response' }),
  },
  { $id: 'CreatedToken', description: 'Created; the token is shown only in this response' },
);

export const CreateTokenRequest = Type.Object(
  {
    kind: TokenKind,
    environment: Type.Optional(Type.String({ description: 'Required for client tokens' })),
    name: Type.Optional(Type.String()),
    flagSet: Type.Optional(
      Type.Union([Type.String({ pattern: FLAG_SET_PATTERN.source }), Type.Null()], {
        description:
          'Client tokens only: limit the token to one flag set (flags whose metadata.flagSetId is this); snapshot, stream and OFREP then carry only its flags',
      }),
    ),
  },
  { additionalProperties: false },
);

export const tokenSchemas = {
  create: {
    summary: 'Create a token',
    security: ADMIN_SECURITY,
    // Checked by the token service (UNKNOWN_PROPERTY, INVALID_VALUE, INVALID_FLAG_SET, RESERVED_NAME at their paths).
    body: validatedByCore(CreateTokenRequest),
    response: { 201: Type.Ref(CreatedToken), ...errors(...COMMON_ERRORS, 413, 415) },
  },
  list: {
    summary: 'Tokens (never their secrets)',
    security: ADMIN_SECURITY,
    response: { 200: Type.Object({ tokens: Type.Array(Type.Ref(TokenInfo)) }), ...errors(401, 403) },
  },
  revoke: {
    summary: 'Revoke a token (its streams close, its requests fail, on every replica)',
    security: ADMIN_SECURITY,
    params: Type.Object({ id: Type.String() }),
    response: { 204: Empty('Revoked'), ...errors(...COMMON_ERRORS, 404) },
  },
};
