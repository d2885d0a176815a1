import { type TSchema, Type } from '@sinclair/typebox';

/**
 * Shared pieces of the route schemas. Every route declares its params, querystring, body and responses with these
 * (TypeBox, i.e. JSON Schema): Fastify validates requests and serializes responses with them, and @fastify/swagger
 * builds `/api/openapi.json` from them.
 */

/**
 * Marks a schema (or a part of one) as validated by core code rather than by the schema validator: it still
 * describes the shape in the OpenAPI document, but `compileValidator` (schemas/validation.ts) accepts anything there,
 * because core's validation reports the same problems with better codes, messages and JSON-Pointer paths (the
 * variant's type against the flag's type, the targeting that flagd cannot build, …).
 */
export const VALIDATED_BY = 'x-validated-by';

export function validatedByCore<T extends TSchema>(schema: T): T {
  return { ...schema, [VALIDATED_BY]: 'core' };
}

// The generic pieces live in core, beside the flag schema that the flags file shares with the API.
export { AnyJson, AnyJsonObject as JsonObject, MapOf, StringEnum } from '@runtime-control/core';

export const ErrorDetail = Type.Object({
  path: Type.String({ description: 'JSON Pointer of the offending field in the body, or the query/header name' }),
  code: Type.String(),
  message: Type.String(),
});

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code (docs/api.md)' }),
      message: Type.String(),
      path: Type.Optional(Type.String({ description: 'JSON Pointer of the first offending field' })),
      details: Type.Optional(Type.Array(ErrorDetail)),
    }),
  },
  { $id: 'Error', description: 'An error: `{ error: { code, message, path?, details? } }`' },
);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (VALIDATION_FAILED, INVALID_TARGETING, MALFORMED_JSON, …; `path` names the field)',
  401: 'Missing, unknown or revoked token',
  403: 'Wrong token kind',
  404: 'Not found',
  409: 'Conflict',
  412: 'PRECONDITION_FAILED: If-Match does not match the current ETag',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED: the token holds too many open streams',
  503: 'UNAVAILABLE',
};

/** Error responses of a route, all with the error body. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref(ErrorBody, { description: ERROR_DESCRIPTIONS[s] ?? 'Error' });
  return out;
}

/** The errors every authenticated route with a JSON body can answer. */
export const COMMON_ERRORS = [400, 401, 403] as const;

/** No body (204, 304). */
export const Empty = (description: string) => Type.Unsafe<undefined>({ type: 'null', description });

/** A response that is not JSON (Prometheus text, an SSE stream). */
export function textResponse(contentType: string, description: string) {
  return { description, content: { [contentType]: { schema: Type.String() } } };
}

type Security = { [scheme: string]: string[] }[];
export const ADMIN_SECURITY: Security = [{ adminToken: [] }];
export const CLIENT_SECURITY: Security = [{ clientToken: [] }, { apiKey: [] }];
export const WEBHOOK_SECURITY: Security = [{ unleashWebhookSecret: [] }];
export const METRICS_SECURITY: Security = [{ metricsToken: [] }, {}];
export const NO_SECURITY: Security = [];

export const SECURITY_SCHEMES = {
  adminToken: { type: 'http', scheme: 'bearer', description: 'RC_ADMIN_TOKEN or a token of kind admin' },
  clientToken: { type: 'http', scheme: 'bearer', description: 'A client token, scoped to one environment' },
  apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A client token' },
  unleashWebhookSecret: { type: 'http', scheme: 'bearer', description: 'RC_UNLEASH_WEBHOOK_SECRET' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'RC_METRICS_TOKEN, when it is set' },
} as const;

export const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'The ETag of the last read ("N"); the write fails with 412 if it changed' }),
  ),
});
