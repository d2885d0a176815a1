import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, COMMON_ERRORS, errors, JsonObject, validatedByCore } from '../../schemas/common.js';

export const CanaryStartRequest = Type.Object(
  {
    service: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    to: Type.String({ description: 'canary version, e.g. v2' }),
    from: Type.Optional(Type.String({ description: 'stable version (default v1)' })),
    steps: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { description: 'default [5,10,25,50,100]' }),
    ),
    interval: Type.Optional(Type.String({ description: 'e.g. 60s (default RC_CANARY_INTERVAL_MS)' })),
    intervalMs: Type.Optional(Type.Integer({ minimum: 100 })),
    window: Type.Optional(Type.String({ description: 'PromQL range of each analysis (default 1m)' })),
    failureThreshold: Type.Optional(
      Type.Integer({ minimum: 1, description: 'failed checks before rollback (default 3)' }),
    ),
    thresholds: Type.Optional(
      Type.Object({
        maxErrorRate: Type.Optional(Type.Number()),
        maxP95Ratio: Type.Optional(Type.Number()),
        p95ToleranceMs: Type.Optional(Type.Number()),
        maxMeanRatio: Type.Optional(Type.Number()),
        meanToleranceMs: Type.Optional(Type.Number()),
        max5xxRatio: Type.Optional(Type.Number()),
        fiveXxTolerance: Type.Optional(Type.Number()),
        spikeMinErrors: Type.Optional(Type.Integer()),
        maxShareDeviation: Type.Optional(Type.Number()),
        minRequests: Type.Optional(Type.Integer()),
      }),
    ),
    missingData: Type.Optional(
      Type.Object({
        maxHold: Type.Optional(Type.String({ description: 'e.g. 5m (default 5 × interval)' })),
        maxHoldMs: Type.Optional(Type.Integer()),
        limit: Type.Optional(Type.Integer({ description: 'older form: limit × interval' })),
        action: Type.Optional(Type.Unsafe<'rollback' | 'pause'>({ type: 'string', enum: ['rollback', 'pause'] })),
      }),
    ),
    pins: Type.Optional(
      Type.Object({ header: Type.Optional(Type.String()), values: Type.Optional(Type.Array(Type.String())) }),
    ),
    notify: Type.Optional(
      Type.Object(
        {
          url: Type.String({ description: 'http(s) URL POSTed a JSON body on each step, promotion and rollback' }),
          secretFile: Type.Optional(
            Type.String({ description: 'file on the server holding the HMAC-SHA256 secret (x-rc-signature-256)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    virtualService: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const CanaryRun = JsonObject(
  'A run: phase, weights, failed checks, last analysis and every decision with its values and thresholds',
);
const ServiceParams = Type.Object({ service: Type.String() });

const command = (summary: string) => ({
  summary,
  security: ADMIN_SECURITY,
  params: ServiceParams,
  response: { 200: CanaryRun, ...errors(...COMMON_ERRORS, 404, 409, 503) },
});

export const canarySchemas = {
  start: {
    summary: 'Start a canary: shift traffic from `from` (default v1) to `to` step by step, analysing each interval',
    security: ADMIN_SECURITY,
    // Checked by the canary service (its codes and paths).
    body: validatedByCore(CanaryStartRequest),
    response: { 201: CanaryRun, ...errors(...COMMON_ERRORS, 409, 413, 415, 503) },
  },
  list: {
    summary: 'Canary runs (one per service: the current or last run), with the split in force',
    security: ADMIN_SECURITY,
    response: { 200: Type.Object({ canaries: Type.Array(CanaryRun) }), ...errors(401, 403, 503) },
  },
  get: {
    summary: 'A canary run',
    security: ADMIN_SECURITY,
    params: ServiceParams,
    response: { 200: CanaryRun, ...errors(...COMMON_ERRORS, 404, 503) },
  },
  pause: command('Stop analysing and hold the current split'),
  resume: command('Resume analysis of a paused run'),
  promote: command('Send 100% to the canary now (remaining steps skipped)'),
  abort: command('Roll back: 100% to the stable version; the run ends aborted'),
};
