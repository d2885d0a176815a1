/** The OpenAPI 3.1 description served at `/api/openapi.json`. Kept beside the routes it describes. */

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const json = (schema: object) => ({ 'application/json': { schema } });
const flagRef = { $ref: '#/components/schemas/Flag' };
const keyParam = { name: 'key', in: 'path', required: true, schema: { type: 'string' } };
const envParam = { name: 'env', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } };
const admin = [{ adminToken: [] }];
const client = [{ clientToken: [] }, { apiKey: [] }];
const common = {
  400: errorResponse(
    'Invalid input (code VALIDATION_FAILED, INVALID_TARGETING or MALFORMED_JSON; `path` names the field)',
  ),
  401: errorResponse('Missing, unknown or revoked token'),
  403: errorResponse('Wrong token kind'),
};
const flagResponse = (description: string) => ({
  description,
  headers: { ETag: { schema: { type: 'string' } } },
  content: json(flagRef),
});

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Runtime Control',
      version: '0.1.0',
      description: 'Feature flags and typed runtime config: admin API, OFREP, snapshot and change stream.',
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'RC_ADMIN_TOKEN or a token of kind admin' },
        clientToken: { type: 'http', scheme: 'bearer', description: 'A client token, scoped to one environment' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        unleashWebhookSecret: { type: 'http', scheme: 'bearer', description: 'RC_UNLEASH_WEBHOOK_SECRET' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                path: { type: 'string', description: 'JSON Pointer of the offending field' },
                details: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { path: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
        Environment: {
          type: 'object',
          required: ['state'],
          additionalProperties: false,
          properties: {
            state: { enum: ['ENABLED', 'DISABLED'] },
            targeting: { type: 'object', description: 'flagd JsonLogic returning a variant name or null' },
            overrides: { type: 'object', additionalProperties: { type: 'string' } },
            rollout: {
              type: 'object',
              required: ['variant', 'percentage'],
              properties: { variant: { type: 'string' }, percentage: { type: 'number', minimum: 0, maximum: 100 } },
            },
          },
        },
        Flag: {
          type: 'object',
          required: ['key', 'type', 'variants', 'defaultVariant'],
          additionalProperties: false,
          properties: {
            key: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
            description: { type: 'string' },
            owner: { type: 'string' },
            type: { enum: ['boolean', 'string', 'number', 'object'] },
            variants: { type: 'object', minProperties: 1 },
            defaultVariant: { type: 'string' },
            schema: { type: 'object', description: 'JSON Schema every variant must satisfy (number/object flags)' },
            sensitive: { type: 'boolean' },
            environments: { type: 'object', additionalProperties: { $ref: '#/components/schemas/Environment' } },
          },
        },
        OfrepEvaluation: {
          type: 'object',
          required: ['key'],
          properties: {
            key: { type: 'string' },
            value: {},
            variant: { type: 'string' },
            reason: { type: 'string' },
            metadata: { type: 'object' },
            errorCode: { type: 'string' },
            errorDetails: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/api/admin/flags': {
        get: {
          security: admin,
          summary: 'List flags',
          responses: { 200: { description: 'Flags and revision' }, ...common },
        },
        post: {
          security: admin,
          summary: 'Create a flag (409 if the key exists; nothing changes)',
          requestBody: { required: true, content: json(flagRef) },
          responses: {
            201: flagResponse('Created'),
            409: errorResponse('FLAG_EXISTS'),
            413: errorResponse('BODY_TOO_LARGE'),
            ...common,
          },
        },
      },
      '/api/admin/flags/{key}': {
        parameters: [keyParam],
        get: {
          security: admin,
          responses: { 200: flagResponse('The flag'), 404: errorResponse('FLAG_NOT_FOUND'), ...common },
        },
        put: {
          security: admin,
          parameters: [ifMatch],
          requestBody: { required: true, content: json(flagRef) },
          responses: {
            200: flagResponse('Replaced'),
            412: errorResponse('PRECONDITION_FAILED'),
            404: errorResponse('FLAG_NOT_FOUND'),
            ...common,
          },
        },
        delete: {
          security: admin,
          parameters: [ifMatch],
          responses: { 204: { description: 'Deleted' }, 412: errorResponse('PRECONDITION_FAILED'), ...common },
        },
      },
      '/api/admin/flags/{key}/environments/{env}': {
        parameters: [keyParam, envParam],
        patch: {
          security: admin,
          summary: 'Change state, targeting, rollout or overrides in one environment',
          parameters: [ifMatch],
          requestBody: { required: true, content: json({ type: 'object' }) },
          responses: { 200: flagResponse('Updated'), 412: errorResponse('PRECONDITION_FAILED'), ...common },
        },
      },
      '/api/admin/flags/{key}/environments/{env}/overrides/{targetingKey}': {
        parameters: [
          keyParam,
          envParam,
          { name: 'targetingKey', in: 'path', required: true, schema: { type: 'string' } },
        ],
        put: {
          security: admin,
          requestBody: {
            required: true,
            content: json({ type: 'object', properties: { variant: { type: 'string' } } }),
          },
          responses: { 200: flagResponse('Override set'), ...common },
        },
        delete: { security: admin, responses: { 200: flagResponse('Override removed'), ...common } },
      },
      '/api/admin/evaluators': { get: { security: admin, responses: { 200: { description: 'Shared evaluators' } } } },
      '/api/admin/evaluators/{name}': {
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          security: admin,
          responses: { 200: { description: 'JsonLogic' }, 404: errorResponse('EVALUATOR_NOT_FOUND') },
        },
        put: { security: admin, responses: { 200: { description: 'Stored' }, ...common } },
        delete: {
          security: admin,
          responses: { 204: { description: 'Deleted' }, 409: errorResponse('EVALUATOR_IN_USE') },
        },
      },
      '/api/admin/environments': {
        get: { security: admin, responses: { 200: { description: 'Configured environments' } } },
      },
      '/api/admin/audit': {
        get: {
          security: admin,
          parameters: ['flag', 'type', 'key', 'actor', 'since', 'until', 'before', 'limit'].map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
          })),
          responses: { 200: { description: 'Audit records, newest first' }, ...common },
        },
      },
      '/api/admin/tokens': {
        get: { security: admin, responses: { 200: { description: 'Tokens (never their secrets)' } } },
        post: {
          security: admin,
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['kind'],
              properties: {
                kind: { enum: ['client', 'admin'] },
                environment: { type: 'string' },
                name: { type: 'string' },
              },
            }),
          },
          responses: { 201: { description: 'Created; the token is shown only in this response' }, ...common },
        },
      },
      '/api/admin/tokens/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        delete: {
          security: admin,
          responses: { 204: { description: 'Revoked' }, 404: errorResponse('TOKEN_NOT_FOUND') },
        },
      },
      '/api/admin/evaluate': {
        post: {
          security: admin,
          summary: 'Debug view: every flag evaluated for a context (sensitive values withheld)',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              properties: { environment: { type: 'string' }, context: { type: 'object' } },
            }),
          },
          responses: { 200: { description: 'Evaluations' }, ...common },
        },
      },
      '/api/admin/canaries': {
        get: {
          security: admin,
          summary: 'Canary runs (one per service: the current or last run), with the split in force',
          responses: {
            200: { description: '{ canaries: [...] }' },
            503: errorResponse('CANARIES_DISABLED'),
            ...common,
          },
        },
        post: {
          security: admin,
          summary:
            'Start a canary: shift traffic from `from` (default v1) to `to` step by step, analysing each interval',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['service', 'to'],
              additionalProperties: false,
              properties: {
                service: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
                to: { type: 'string', description: 'canary version, e.g. v2' },
                from: { type: 'string', description: 'stable version (default v1)' },
                steps: {
                  type: 'array',
                  items: { type: 'integer', minimum: 1, maximum: 100 },
                  description: 'default [5,10,25,50,100]',
                },
                interval: { type: 'string', description: 'e.g. 60s (default RC_CANARY_INTERVAL_MS)' },
                intervalMs: { type: 'integer', minimum: 100 },
                window: { type: 'string', description: 'PromQL range of each analysis (default 1m)' },
                failureThreshold: {
                  type: 'integer',
                  minimum: 1,
                  description: 'failed checks before rollback (default 3)',
                },
                thresholds: {
                  type: 'object',
                  properties: {
                    maxErrorRate: { type: 'number' },
                    maxP95Ratio: { type: 'number' },
                    p95ToleranceMs: { type: 'number' },
                    max5xxRatio: { type: 'number' },
                    fiveXxTolerance: { type: 'number' },
                    minRequests: { type: 'integer' },
                  },
                },
                missingData: {
                  type: 'object',
                  properties: { limit: { type: 'integer' }, action: { enum: ['rollback', 'pause'] } },
                },
                pins: {
                  type: 'object',
                  properties: { header: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } },
                },
                virtualService: { type: 'string' },
                namespace: { type: 'string' },
              },
            }),
          },
          responses: {
            201: { description: 'Started; the run with its first decision' },
            409: errorResponse('CANARY_ACTIVE'),
            503: errorResponse('CANARIES_DISABLED'),
            ...common,
          },
        },
      },
      '/api/admin/canaries/{service}': {
        parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          security: admin,
          summary:
            'A run: phase, weights, failed checks, last analysis and every decision with its values and thresholds',
          responses: { 200: { description: 'The run' }, 404: errorResponse('CANARY_NOT_FOUND'), ...common },
        },
      },
      '/api/admin/canaries/{service}/pause': {
        parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          security: admin,
          summary: 'Stop analysing and hold the current split',
          responses: {
            200: { description: 'The run after the command' },
            404: errorResponse('CANARY_NOT_FOUND'),
            409: errorResponse('CANARY_INVALID_TRANSITION or CANARY_CONFLICT'),
            ...common,
          },
        },
      },
      '/api/admin/canaries/{service}/resume': {
        parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          security: admin,
          summary: 'Resume analysis of a paused run',
          responses: {
            200: { description: 'The run after the command' },
            404: errorResponse('CANARY_NOT_FOUND'),
            409: errorResponse('CANARY_INVALID_TRANSITION or CANARY_CONFLICT'),
            ...common,
          },
        },
      },
      '/api/admin/canaries/{service}/promote': {
        parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          security: admin,
          summary: 'Send 100% to the canary now (remaining steps skipped)',
          responses: {
            200: { description: 'The run after the command' },
            404: errorResponse('CANARY_NOT_FOUND'),
            409: errorResponse('CANARY_INVALID_TRANSITION or CANARY_CONFLICT'),
            ...common,
          },
        },
      },
      '/api/admin/canaries/{service}/abort': {
        parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          security: admin,
          summary: 'Roll back: 100% to the stable version; the run ends aborted',
          responses: {
            200: { description: 'The run after the command' },
            404: errorResponse('CANARY_NOT_FOUND'),
            409: errorResponse('CANARY_INVALID_TRANSITION or CANARY_CONFLICT'),
            ...common,
          },
        },
      },
      '/ofrep/v1/evaluate/flags/{key}': {
        parameters: [keyParam],
        post: {
          security: client,
          summary: 'OFREP single-flag evaluation',
          requestBody: { content: json({ type: 'object', properties: { context: { type: 'object' } } }) },
          responses: {
            200: { description: 'Evaluated', content: json({ $ref: '#/components/schemas/OfrepEvaluation' }) },
            400: { description: 'Evaluation error', content: json({ $ref: '#/components/schemas/OfrepEvaluation' }) },
            404: { description: 'FLAG_NOT_FOUND', content: json({ $ref: '#/components/schemas/OfrepEvaluation' }) },
          },
        },
      },
      '/ofrep/v1/evaluate/flags': {
        post: {
          security: client,
          summary: 'OFREP bulk evaluation (ETag / If-None-Match → 304; eventStreams per ADR-0008)',
          responses: { 200: { description: 'All flags' }, 304: { description: 'Unchanged' } },
        },
      },
      '/ofrep/v1/sse': {
        get: {
          summary: 'OFREP change notifications (text/event-stream)',
          responses: { 200: { description: 'Stream' } },
        },
      },
      '/api/client/snapshot': {
        get: {
          security: client,
          summary: 'The environment as flagd JSON',
          responses: { 200: { description: 'flagd JSON' }, 304: { description: 'Unchanged' } },
        },
      },
      '/api/client/stream': {
        get: {
          security: client,
          summary: 'SSE: snapshot, then change events (id = revision; Last-Event-ID resumes)',
          responses: { 200: { description: 'Stream' } },
        },
      },
      '/api/integrations/unleash/webhook': {
        post: {
          security: [{ unleashWebhookSecret: [] }],
          summary:
            'Unleash webhook addon target: a feature event makes connected UnleashProviders refresh (404 unless RC_UNLEASH_WEBHOOK_SECRET is set)',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['type'],
              properties: {
                id: { type: ['integer', 'null'], description: 'Unleash event id (de-duplicates webhook and watch)' },
                type: { type: 'string', description: 'Unleash event type, e.g. feature-updated' },
                featureName: { type: ['string', 'null'] },
                environment: { type: ['string', 'null'] },
                project: { type: ['string', 'null'] },
                createdAt: { type: ['string', 'null'] },
              },
            }),
          },
          responses: {
            202: {
              description:
                'Accepted: `accepted` says whether a refresh was sent (feature events) and to how many clients',
              content: json({
                type: 'object',
                properties: { accepted: { type: 'boolean' }, clients: { type: 'integer' }, reason: { type: 'string' } },
              }),
            },
            400: common[400],
            401: errorResponse('Missing or wrong webhook secret'),
            404: errorResponse('The bridge is disabled'),
          },
        },
      },
      '/api/integrations/unleash/stream': {
        get: {
          security: client,
          summary:
            'SSE for UnleashProviders: `ready` on connect, then `unleash-refresh` ({feature, type, environment, eventId}) once per Unleash feature event (404 unless the webhook or the event watch is configured)',
          responses: {
            200: { description: 'Stream' },
            401: common[401],
            403: common[403],
            404: errorResponse('The bridge is disabled'),
          },
        },
      },
      '/api/admin/integrations/unleash': {
        get: {
          security: admin,
          summary: 'How the Unleash bridge is configured and doing: webhook, event watch state, hints sent, clients',
          responses: {
            200: {
              description: 'Bridge status (never a secret or token)',
              content: json({
                type: 'object',
                properties: {
                  enabled: { type: 'boolean' },
                  webhook: { type: 'object' },
                  watch: { type: 'object' },
                  hintsSent: { type: 'object' },
                  clients: { type: 'integer' },
                },
              }),
            },
            401: common[401],
            403: common[403],
          },
        },
      },
      '/health': { get: { responses: { 200: { description: 'Alive' } } } },
      '/health/ready': { get: { responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } } } },
      '/metrics': { get: { responses: { 200: { description: 'Prometheus metrics' } } } },
    },
  };
}
