import { Type } from '@sinclair/typebox';
import { CLIENT_SECURITY, Empty, errors, JsonObject, StringEnum, textResponse } from '../../schemas/common.js';
import { SELECTOR_PATTERN } from './selector.js';

const selector = Type.Optional(
  Type.String({
    pattern: SELECTOR_PATTERN,
    description:
      "flagd's flag-set selector, flagSetId=<set>: only that set's flags (the SDK's `selector` option). It narrows what the token reads and never widens it: with a token limited to another set, the document is empty",
  }),
);

export const streamSchemas = {
  snapshot: {
    summary: 'The environment as flagd JSON (ETag; If-None-Match → 304)',
    security: CLIENT_SECURITY,
    // Other parameters are ignored, as before (a cache-busting one, say).
    querystring: Type.Object({ selector }),
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
        selector,
      },
      { additionalProperties: false },
    ),
    headers: Type.Object({
      'last-event-id': Type.Optional(Type.String({ description: 'The last revision received' })),
    }),
    response: { 200: textResponse('text/event-stream', 'Server-sent events'), ...errors(401, 403, 429, 503) },
  },
};
