import { Type } from '@sinclair/typebox';
import { errors, METRICS_SECURITY, StringEnum, textResponse } from '../../schemas/common.js';

const Check = Type.Object({ status: StringEnum(['ok', 'error']), error: Type.Optional(Type.String()) });

const readiness = (description: string) =>
  Type.Object(
    {
      status: StringEnum(['ok', 'unavailable', 'draining'], {
        description: 'draining: the replica is shutting down and takes no new work (503)',
      }),
      revision: Type.Integer(),
      checks: Type.Object({
        database: Check,
        bus: Type.Object({
          kind: Type.String({ description: 'redis or in-process' }),
          status: StringEnum(['ok', 'degraded']),
          error: Type.Optional(Type.String()),
        }),
      }),
      unloadable: Type.Optional(
        Type.Array(
          Type.Object({
            entityType: StringEnum(['flag', 'evaluator']),
            key: Type.String(),
            revision: Type.Integer(),
            problem: Type.String(),
          }),
          { description: 'Stored records this replica cannot load (it stays ready)' },
        ),
      ),
    },
    { description },
  );

export const healthSchemas = {
  live: {
    summary: 'Liveness',
    response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'Alive' }) },
  },
  ready: {
    summary:
      'Readiness: 503 when the database does not answer or the replica is draining (shutting down); a bus outage is reported as degraded',
    response: {
      200: readiness('Ready'),
      503: readiness('Not ready'),
    },
  },
  metrics: {
    summary: 'Prometheus metrics (Authorization: Bearer <RC_METRICS_TOKEN> when that is set)',
    security: METRICS_SECURITY,
    response: { 200: textResponse('text/plain', 'Prometheus text format'), ...errors(401) },
  },
};
