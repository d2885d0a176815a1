import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, AnyJson, COMMON_ERRORS, errors } from '../../schemas/common.js';

export const EvaluationRequest = Type.Object({
  environment: Type.String({ description: 'One of the configured environments' }),
  context: Type.Optional(
    Type.Object(
      { targetingKey: Type.Optional(Type.String()) },
      { additionalProperties: true, description: 'Evaluation context' },
    ),
  ),
});

export const EvaluatedFlag = Type.Object({
  key: Type.String(),
  value: Type.Optional(AnyJson('Omitted for sensitive flags and when the code default applies')),
  variant: Type.Optional(Type.String()),
  reason: Type.String(),
  errorCode: Type.Optional(Type.String()),
  sensitive: Type.Optional(Type.Boolean()),
});

export const EvaluationResult = Type.Object(
  {
    environment: Type.String(),
    revision: Type.Integer(),
    flags: Type.Array(EvaluatedFlag),
  },
  { $id: 'EvaluationResult' },
);

export const debugSchemas = {
  evaluate: {
    summary: 'Debug view: every flag evaluated for a context (sensitive values withheld)',
    security: ADMIN_SECURITY,
    body: EvaluationRequest,
    response: { 200: Type.Ref(EvaluationResult), ...errors(...COMMON_ERRORS, 413, 415, 503) },
  },
};
