import { Type } from '@sinclair/typebox';
import { CLIENT_SECURITY, Empty, errors, JsonObject, StringEnum, textResponse } from '../../schemas/common.js';

export const streamSchemas = {
  snapshot: {
    summary: 'The environment as flagd JSON (ETag; If-None-Match → 304)',
    security: CLIENT_SECURITY,
    response: {
      200: JsonObject('flagd JSON: flags, $evaluators, metadata.revision'),
      304: Empty('Unchanged'),
      ...errors(401, 403, 503),
    },
  },
  stream: {
    summary:
      'SSE: `snapshot` first (id = revision), then `change` per revision (or `delta` with ?format=delta); Last-Event-ID resumes; `: heartbeat` comments',
    security: CLIENT_SECURITY,
    querystring: Type.Object(
      {
        format: Type.Optional(
          StringEnum(['full', 'delta'], {
            description:
              'full (default): each `change` carries the whole configuration; delta: each `delta` carries only what changed since its `base` revision (the SDK asks for this)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    headers: Type.Object({
      'last-event-id': Type.Optional(Type.String({ description: 'The last revision received' })),
    }),
    response: { 200: textResponse('text/event-stream', 'Server-sent events'), ...errors(401, 403, 429, 503) },
  },
};
