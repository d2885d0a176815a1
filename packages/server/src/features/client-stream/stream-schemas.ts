import { Type } from '@sinclair/typebox';
import { CLIENT_SECURITY, Empty, errors, JsonObject, textResponse } from '../../schemas/common.js';

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
      'SSE: `snapshot` first (id = revision), then `change` per revision; Last-Event-ID resumes; `: heartbeat` comments',
    security: CLIENT_SECURITY,
    headers: Type.Object({
      'last-event-id': Type.Optional(Type.String({ description: 'The last revision received' })),
    }),
    response: { 200: textResponse('text/event-stream', 'Server-sent events'), ...errors(401, 403, 429, 503) },
  },
};
