import { type TSchema, Type } from '@sinclair/typebox';
import {
  ADMIN_SECURITY,
  COMMON_ERRORS,
  errors,
  JsonObject,
  MapOf,
  StringEnum,
  validatedByCore,
} from '../../schemas/common.js';

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
    pauseAt: Type.Optional(
      Type.Array(Type.Integer(), {
        description:
          'manual gates: step weights (below 100) at which the run pauses once the step passed, until promote',
      }),
    ),
    virtualService: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const open = { additionalProperties: true } as const;

const CanaryCheck = Type.Object(
  {
    name: Type.String({ description: 'request-count, traffic-share, error-rate, 5xx-vs-stable, p95-vs-stable, ...' }),
    status: StringEnum(['pass', 'fail', 'no-data']),
    value: Nullable(Type.Number({ description: "the canary's value (a ratio to the stable version's for latency)" })),
    threshold: Nullable(Type.Number({ description: 'the bound the value was compared with' })),
    detail: Type.String(),
  },
  open,
);

const VersionSample = Type.Object(
  {
    requests: Type.Number(),
    errors: Type.Number(),
    fiveXx: Type.Number(),
    p95Ms: Nullable(Type.Number()),
    meanMs: Type.Optional(Nullable(Type.Number())),
  },
  open,
);

const CanaryStep = Type.Object(
  {
    weight: Type.Integer({ description: 'canary weight in percent' }),
    stepIndex: Type.Integer(),
    decidedAt: Type.String(),
    appliedAt: Nullable(Type.String({ description: 'when the router confirmed the weight' })),
    endedAt: Nullable(Type.String()),
    outcome: StringEnum(['in-progress', 'gated', 'passed', 'failed', 'skipped', 'promoted', 'rolled-back', 'aborted']),
    detail: Type.String(),
  },
  open,
);

/** A run as the API shows it. Open objects: fields added later reach clients before this schema names them. */
export const CanaryRun = Type.Object(
  {
    service: Type.String(),
    runId: Type.String(),
    phase: StringEnum(['progressing', 'paused', 'promoted', 'rolled_back', 'aborted']),
    plan: Type.Object(
      {
        stable: Type.String(),
        canary: Type.String(),
        steps: Type.Array(Type.Integer()),
        intervalMs: Type.Integer(),
        window: Type.String(),
        failureThreshold: Type.Integer(),
        thresholds: MapOf(Type.Number(), { description: 'every threshold, defaults filled in' }),
        pauseAt: Type.Optional(Type.Array(Type.Integer())),
      },
      open,
    ),
    stepIndex: Type.Integer(),
    canaryWeight: Type.Integer(),
    weights: MapOf(Type.Integer(), { description: 'the split the run wants, per version' }),
    failedChecks: Type.Integer(),
    inconclusiveStreak: Type.Integer(),
    startedAt: Type.String(),
    updatedAt: Type.String(),
    nextAnalysisAt: Nullable(Type.String()),
    finishedAt: Nullable(Type.String()),
    routerSynced: Type.Boolean(),
    routerError: Nullable(Type.String()),
    outcome: Type.Optional(Nullable(Type.String({ description: 'promoted, rolled back: 5xx spike, ...' }))),
    gate: Nullable(
      Type.Object(
        { weight: Type.Integer(), since: Type.String() },
        { description: 'set while the run waits at a manual gate for promote', ...open },
      ),
    ),
    history: Type.Array(CanaryStep, { description: 'the weight timeline, oldest first' }),
    lastAnalysis: Nullable(
      Type.Object(
        {
          at: Type.String(),
          outcome: StringEnum(['pass', 'fail', 'inconclusive']),
          checks: Type.Array(CanaryCheck),
          window: Type.Optional(Type.Object({ from: Type.String(), to: Type.String() })),
          stable: Type.Optional(VersionSample),
          canary: Type.Optional(VersionSample),
        },
        { description: "the last analysis: each check's value against its threshold", ...open },
      ),
    ),
    revision: Type.Integer(),
    decisions: Type.Optional(
      Type.Array(JsonObject('a decision with its reason, checks, window and samples'), {
        description: "the run's decisions, oldest first (one run only)",
      }),
    ),
  },
  {
    description: 'A run: phase, weights, weight timeline, gate, last analysis and (for one run) every decision',
    ...open,
  },
);

const ServiceParams = Type.Object({ service: Type.String() });

const command = (summary: string) => ({
  summary,
  security: ADMIN_SECURITY,
  params: ServiceParams,
  response: { 200: CanaryRun, ...errors(...COMMON_ERRORS, 404, 409, 503) },
});

/** All strings: the handler checks them and names the parameter in its errors. */
export const PromoteQuery = Type.Object({
  full: Type.Optional(Type.String({ description: 'true: 100% now from progressing or paused, skipping every step' })),
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
  promote: {
    ...command(
      'Promote a paused run (at a manual gate, or paused) one step on; with full=true, 100% now from progressing or ' +
        'paused. 409 CANARY_NOT_PAUSED when a step promotion finds the run not paused',
    ),
    querystring: PromoteQuery,
  },
  abort: command('Roll back: 100% to the stable version; the run ends aborted'),
};
