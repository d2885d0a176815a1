import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, JsonObject, SECURITY_SCHEMES } from '../../schemas/common.js';
import { addSharedSchema } from '../../schemas/validation.js';
import { AuditRecord } from '../audit/audit-schemas.js';
import { EvaluationResult } from '../debug/debug-schemas.js';
import { Flag } from '../flags/flag-schemas.js';
import { OfrepEvaluation } from '../ofrep/ofrep-schemas.js';
import { CreatedToken, TokenInfo } from '../tokens/token-schemas.js';
import { UnleashBridgeStatus } from '../unleash-bridge/unleash-bridge-schemas.js';

/** Schemas routes refer to by `$id` (Type.Ref): named components of the document and of the generated types. */
const SHARED_SCHEMAS = [
  ErrorBody,
  Flag,
  TokenInfo,
  CreatedToken,
  AuditRecord,
  EvaluationResult,
  OfrepEvaluation,
  UnleashBridgeStatus,
];

/**
 * `/api/openapi.json` is generated from the routes' own schemas by @fastify/swagger (OpenAPI 3.1): what a route
 * validates and serializes is what the document says. `registerOpenApi` must run before any route is declared.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  for (const schema of SHARED_SCHEMAS) {
    app.addSchema(schema);
    addSharedSchema(schema);
  }
  await app.register(swagger, {
    // Shared schemas become `#/components/schemas/<$id>`.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Runtime Control',
        version,
        description: 'Feature flags and typed runtime config: admin API, OFREP, snapshot and change stream.',
      },
      components: { securitySchemes: SECURITY_SCHEMES as never },
    },
  });
}

export const openApiRouteSchema = {
  summary: 'This document (OpenAPI 3.1, generated from the route schemas)',
  response: { 200: JsonObject('OpenAPI 3.1 document') },
};

export const indexRouteSchema = {
  summary: 'JSON index: version, revision, environments and links',
  response: {
    200: Type.Object(
      {
        name: Type.String(),
        version: Type.String(),
        revision: Type.Integer(),
        environments: Type.Array(Type.String()),
        storage: Type.String(),
        bus: Type.String(),
        links: Type.Record(Type.String(), Type.String()),
        console: Type.String(),
      },
      { additionalProperties: true },
    ),
  },
};

/** Serves the generated document (built once, on the first request: every route is declared by then). */
export function serveOpenApi(app: FastifyInstance): void {
  let document: unknown;
  app.get('/api/openapi.json', { schema: openApiRouteSchema }, async () => {
    document ??= app.swagger();
    return document;
  });
}
