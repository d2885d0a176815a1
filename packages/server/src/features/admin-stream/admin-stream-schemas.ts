import { ADMIN_SECURITY, errors, textResponse } from '../../schemas/common.js';

export const adminStreamSchemas = {
  stream: {
    summary:
      'SSE for the console: `ready` {revision}, then `change` {revision, flags, evaluators, tokens} per applied revision (keys only, never values); `: heartbeat` comments',
    security: ADMIN_SECURITY,
    response: { 200: textResponse('text/event-stream', 'Server-sent events'), ...errors(401, 403, 429, 503) },
  },
};
