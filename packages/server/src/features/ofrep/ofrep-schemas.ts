import { Type } from '@sinclair/typebox';
import {
  AnyJson,
  CLIENT_SECURITY,
  Empty,
  ErrorBody,
  errors,
  JsonObject,
  NO_SECURITY,
  textResponse,
  validatedByCore,
} from '../../schemas/common.js';

/**
 * OFREP request body. Checked by the handler, which answers OFREP's own `INVALID_CONTEXT` body (not the error body
 * of the admin API) when it is not an object or the context is not one.
 */
export const OfrepRequest = validatedByCore(
  Type.Object({
    context: Type.Optional(
      Type.Object(
        { targetingKey: Type.Optional(Type.String()) },
        { additionalProperties: true, description: 'Evaluation context (at most 200 keys)' },
      ),
    ),
  }),
);

/** One flag's evaluation: value, variant and reason, or errorCode and errorDetails. */
export const OfrepEvaluation = Type.Object(
  {
    key: Type.String(),
    value: Type.Optional(AnyJson('Absent when the code default applies (e.g. reason DISABLED)')),
    variant: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
    errorCode: Type.Optional(Type.String()),
    errorDetails: Type.Optional(Type.String()),
    metadata: Type.Optional(JsonObject('Flag metadata')),
  },
  { $id: 'OfrepEvaluation' },
);

const OfrepError = Type.Object({
  key: Type.Optional(Type.String()),
  errorCode: Type.String({ description: 'INVALID_CONTEXT, PARSE_ERROR, TARGETING_KEY_MISSING, …' }),
  errorDetails: Type.Optional(Type.String()),
  metadata: Type.Optional(JsonObject()),
});

/** OFREP's 400: its own error body, or the server's error body for input refused before evaluation (too deep…). */
const badRequest = Type.Union([OfrepError, Type.Ref(ErrorBody)], {
  description: 'Invalid context or evaluation error',
});

export const ofrepSchemas = {
  single: {
    summary: 'OFREP single-flag evaluation',
    security: CLIENT_SECURITY,
    params: Type.Object({ key: Type.String({ description: 'Flag key' }) }),
    body: OfrepRequest,
    response: {
      200: Type.Ref(OfrepEvaluation, { description: 'Evaluated' }),
      400: badRequest,
      404: Type.Union([OfrepError, Type.Ref(ErrorBody)], { description: 'FLAG_NOT_FOUND' }),
      ...errors(401, 403, 413, 415, 503),
    },
  },
  bulk: {
    summary: 'OFREP bulk evaluation (ETag / If-None-Match → 304; eventStreams per ADR-0008)',
    security: CLIENT_SECURITY,
    body: OfrepRequest,
    response: {
      200: Type.Object(
        {
          flags: Type.Array(Type.Ref(OfrepEvaluation)),
          metadata: Type.Object({ revision: Type.Integer() }),
          eventStreams: Type.Array(
            Type.Object({
              type: Type.String({ description: 'sse' }),
              url: Type.String({ description: 'The OFREP SSE URL with this token’s stream key' }),
              inactivityDelaySec: Type.Integer(),
            }),
          ),
        },
        { description: 'All flags' },
      ),
      304: Empty('Unchanged (If-None-Match)'),
      400: badRequest,
      ...errors(401, 403, 413, 415, 503),
    },
  },
  sse: {
    summary: 'OFREP change notifications (ADR-0008): `event: message`, data {"type":"refetchEvaluation","etag"}',
    // `?key=` from a bulk response's eventStreams, or a client token in a header (checked by the handler).
    security: NO_SECURITY,
    querystring: Type.Object({
      key: Type.Optional(Type.String({ description: 'Stream key from a bulk evaluation response' })),
    }),
    response: {
      200: textResponse('text/event-stream', 'Server-sent events'),
      ...errors(400, 401, 403, 429, 503),
    },
  },
};
