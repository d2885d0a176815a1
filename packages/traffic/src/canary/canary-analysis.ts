import type { CanaryPlan, CanaryThresholds } from './canary-plan.js';

/**
 * The judgement of one analysis interval, and what the controller does about it. Pure functions over numbers: no
 * clock, no I/O, so every branch is unit-tested (`canary-analysis.test.ts`).
 */

/** One version's traffic over the analysis window (counts are counter differences over the window). */
export interface VersionSample {
  requests: number;
  /** Failed requests: 5xx plus those that got no response at all (Istio `response_code="0"`). */
  errors: number;
  fiveXx: number;
  /** p95 latency in milliseconds; null when Prometheus had no histogram data (NaN) for the version. */
  p95Ms: number | null;
  /** Mean latency in milliseconds (`_sum` ÷ `_count` over the window): exact, whatever the buckets. */
  meanMs?: number | null;
}

/** The time range an analysis covered (ISO), kept in the decision record. */
export interface AnalysisWindow {
  from: string;
  to: string;
}

/** What the metrics provider returned: samples per version, or why there are none. */
export type MetricsReading =
  | { ok: true; stable: VersionSample | undefined; canary: VersionSample | undefined }
  | { ok: false; errorKind: string; error: string };

export type CheckName =
  | 'prometheus'
  | 'request-count'
  | 'traffic-share'
  | 'error-rate'
  | '5xx-vs-stable'
  | 'p95-vs-stable'
  | 'mean-vs-stable';
export type CheckStatus = 'pass' | 'fail' | 'no-data';

/** Checks whose failure rolls back at once (the runbook's "no spike in 5xx"); the others need N in a row. */
export const IMMEDIATE_CHECKS: readonly CheckName[] = ['5xx-vs-stable'];

/** One check with the numbers that decided it, so `status` shows exactly why a canary moved or stopped. */
export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** The measured value (canary's, or canary ÷ stable for ratios); null when there was none. */
  value: number | null;
  /** The bound the value was compared with. */
  threshold: number | null;
  detail: string;
}

export type AnalysisOutcome = 'pass' | 'fail' | 'inconclusive';

export interface Analysis {
  outcome: AnalysisOutcome;
  checks: CheckResult[];
  /** Raw numbers per version, kept in the decision record. */
  stable?: VersionSample;
  canary?: VersionSample;
}

/** What the analysis needs to know about the step being judged. */
export interface StepContext {
  /** Canary weight in force over the window, percent. */
  weight: number;
  /** Whether pinned users are also sent to the canary (their traffic comes on top of the weight). */
  pinned?: boolean;
}

const round = (n: number, digits = 4): number => Number(n.toFixed(digits));
const pct = (n: number): string => `${round(n * 100, 2)}%`;

/**
 * Judges one window, which holds only traffic at the weight now in force. Missing data is never a pass: no
 * Prometheus answer, or too little traffic to judge, makes the analysis inconclusive before any threshold is
 * looked at. Traffic is "too little" when the stable version has fewer than `minRequests`, or when the canary
 * should have had fewer than `minRequests` at its weight. When it should have had them but did not get its share,
 * the `traffic-share` check fails: a canary that gets no traffic cannot pass a step. Otherwise every check runs and
 * any failure fails the analysis; a check that could not be computed (e.g. no histogram data) makes it inconclusive.
 */
export function analyse(reading: MetricsReading, thresholds: CanaryThresholds, step?: StepContext): Analysis {
  if (!reading.ok) {
    return {
      outcome: 'inconclusive',
      checks: [
        {
          name: 'prometheus',
          status: 'no-data',
          value: null,
          threshold: null,
          detail: `${reading.errorKind}: ${reading.error}`,
        },
      ],
    };
  }
  const { stable, canary } = reading;
  const base: Pick<Analysis, 'stable' | 'canary'> = {};
  if (stable) base.stable = stable;
  if (canary) base.canary = canary;
  const canaryRequests = canary?.requests ?? 0;
  const stableRequests = stable?.requests ?? 0;
  const total = canaryRequests + stableRequests;
  const weight = step?.weight;
  const expectedShare = weight === undefined ? undefined : weight / 100;
  // The canary requests the window should hold at this weight (without a weight: what it holds).
  const expectedCanary = expectedShare === undefined ? canaryRequests : total * expectedShare;
  const countCheck: CheckResult = {
    name: 'request-count',
    status: 'pass',
    value: round(Math.min(canaryRequests, stableRequests), 1),
    threshold: thresholds.minRequests,
    detail: `canary ${round(canaryRequests, 1)}, stable ${round(stableRequests, 1)} requests at this weight (each needs ${thresholds.minRequests})`,
  };
  if (stableRequests < thresholds.minRequests || expectedCanary < thresholds.minRequests) {
    countCheck.status = 'no-data';
    return { outcome: 'inconclusive', checks: [countCheck], ...base };
  }
  const checks: CheckResult[] = [countCheck];

  if (expectedShare !== undefined) {
    const observed = total > 0 ? canaryRequests / total : 0;
    // Relative tolerance, widened by 4 binomial standard deviations so small counts do not fail by chance (this
    // check is judged at every analysis: at 3σ a healthy rollout of many steps would fail it now and then).
    const sigma = Math.sqrt((expectedShare * (1 - expectedShare)) / Math.max(total, 1));
    const tolerance = Math.max(expectedShare * thresholds.maxShareDeviation, 4 * sigma);
    const tooLow = observed < expectedShare - tolerance;
    // Pinned users come on top of the weight, so with pins only a shortfall counts.
    const tooHigh = !step?.pinned && observed > expectedShare + tolerance;
    checks.push({
      name: 'traffic-share',
      status: tooLow || tooHigh ? 'fail' : 'pass',
      value: round(observed, 4),
      threshold: round(expectedShare, 4),
      detail: `canary got ${pct(observed)} of ${round(total, 1)} requests at weight ${pct(expectedShare)} (allowed ${pct(Math.max(0, expectedShare - tolerance))}–${step?.pinned ? 'any' : pct(Math.min(1, expectedShare + tolerance))})`,
    });
  }
  if (!canary || canaryRequests < thresholds.minRequests) {
    // Too few canary requests to judge it: a failed share says why (the canary is not getting its traffic).
    if (checks.some((c) => c.status === 'fail')) return { outcome: 'fail', checks, ...base };
    countCheck.status = 'no-data';
    return { outcome: 'inconclusive', checks, ...base };
  }

  const errorRate = canary.errors / canary.requests;
  checks.push({
    name: 'error-rate',
    status: errorRate <= thresholds.maxErrorRate ? 'pass' : 'fail',
    value: round(errorRate, 6),
    threshold: thresholds.maxErrorRate,
    detail: `canary error rate ${pct(errorRate)} (bound ${pct(thresholds.maxErrorRate)})`,
  });

  const s = stable!;
  const canary5xx = canary.fiveXx / canary.requests;
  const stable5xx = s.fiveXx / s.requests;
  // Relative to stable, with an absolute tolerance and a minimum count: 0.2% against 0% is not a spike, nor is one
  // stray 5xx; 3% against 1% is.
  const allowed5xx = Math.max(stable5xx * thresholds.max5xxRatio, stable5xx + thresholds.fiveXxTolerance);
  const spike = canary5xx > allowed5xx && canary.fiveXx >= thresholds.spikeMinErrors;
  checks.push({
    name: '5xx-vs-stable',
    status: spike ? 'fail' : 'pass',
    value: stable5xx > 0 ? round(canary5xx / stable5xx, 4) : canary5xx > 0 ? null : 1,
    threshold: thresholds.max5xxRatio,
    detail: `5xx share canary ${pct(canary5xx)} (${round(canary.fiveXx, 1)}) vs stable ${pct(stable5xx)} (spike above ${pct(allowed5xx)}: ×${thresholds.max5xxRatio} or +${pct(thresholds.fiveXxTolerance)}, with at least ${thresholds.spikeMinErrors} 5xx)`,
  });

  checks.push(
    latencyCheck('p95-vs-stable', 'p95', canary.p95Ms, s.p95Ms, thresholds.maxP95Ratio, thresholds.p95ToleranceMs),
  );
  if (canary.meanMs !== undefined || s.meanMs !== undefined) {
    checks.push(
      latencyCheck(
        'mean-vs-stable',
        'mean',
        canary.meanMs ?? null,
        s.meanMs ?? null,
        thresholds.maxMeanRatio,
        thresholds.meanToleranceMs,
      ),
    );
  }

  const outcome: AnalysisOutcome = checks.some((c) => c.status === 'fail')
    ? 'fail'
    : checks.some((c) => c.status === 'no-data')
      ? 'inconclusive'
      : 'pass';
  return { outcome, checks, ...base };
}

function latencyCheck(
  name: 'p95-vs-stable' | 'mean-vs-stable',
  label: string,
  canaryMs: number | null,
  stableMs: number | null,
  maxRatio: number,
  toleranceMs: number,
): CheckResult {
  if (canaryMs === null || stableMs === null || stableMs <= 0) {
    return {
      name,
      status: 'no-data',
      value: null,
      threshold: maxRatio,
      detail: `no ${label} for ${canaryMs === null ? 'the canary' : 'the stable version'} (no latency data in the window)`,
    };
  }
  const ratio = canaryMs / stableMs;
  const withinTolerance = canaryMs - stableMs <= toleranceMs;
  return {
    name,
    status: ratio <= maxRatio || withinTolerance ? 'pass' : 'fail',
    value: round(ratio, 4),
    threshold: maxRatio,
    detail: `${label} canary ${round(canaryMs, 2)} ms vs stable ${round(stableMs, 2)} ms = ×${round(ratio, 3)} (bound ×${maxRatio}; differences under ${toleranceMs} ms pass)`,
  };
}

/** The part of a run's state the decision depends on. */
export interface RunProgress {
  /** Index into `plan.steps` of the weight now in force. */
  stepIndex: number;
  /** Failed analyses in a row (a passing analysis resets it; an inconclusive one leaves it). */
  failedChecks: number;
  /** Inconclusive analyses in a row (a conclusive one resets it). */
  inconclusiveStreak: number;
  /** Since when (ms since the epoch) the step has had no conclusive analysis; null while data comes in. */
  holdingSinceMs?: number | null;
}

export type DecisionAction = 'advance' | 'promote' | 'hold' | 'fail-check' | 'rollback' | 'pause';

/** Why a run was rolled back: a failed check, or too long without the data to judge it. */
export type RollbackCause = 'spike' | 'failed-checks' | 'not-enough-data';

export interface Decision {
  action: DecisionAction;
  /** The progress after the decision. */
  next: RunProgress;
  /** Canary weight after the decision. */
  canaryWeight: number;
  reason: string;
  cause?: RollbackCause;
}

/** The run's final outcome as shown to people: `promoted`, `rolled back: not enough data`, ... */
export function rollbackOutcome(cause: RollbackCause): string {
  return cause === 'not-enough-data'
    ? 'rolled back: not enough data'
    : cause === 'spike'
      ? 'rolled back: 5xx spike'
      : 'rolled back: failed checks';
}

/** Old stored plans have `missingData.limit` (analyses) instead of `maxHoldMs`. */
export function maxHoldMs(plan: CanaryPlan): number {
  const policy = plan.missingData as { maxHoldMs?: number; limit?: number };
  return policy.maxHoldMs ?? (policy.limit ?? 5) * plan.intervalMs;
}

/**
 * What to do after an analysis at `nowMs`:
 * - pass → advance to the next step (failures in a row reset); when that step is 100, promote.
 * - fail with a spike (`IMMEDIATE_CHECKS`) → roll back at once.
 * - other failures (error rate, latency, traffic share) → count; at `failureThreshold` failed analyses in a row,
 *   roll back.
 * - inconclusive → hold (never advance on missing data); once the step has gone `missingData.maxHoldMs` without a
 *   conclusive analysis, roll back ("not enough data") or pause.
 */
export function decide(plan: CanaryPlan, progress: RunProgress, analysis: Analysis, nowMs = Date.now()): Decision {
  const weight = plan.steps[progress.stepIndex] ?? 0;
  if (analysis.outcome === 'pass') {
    const nextIndex = Math.min(progress.stepIndex + 1, plan.steps.length - 1);
    const nextWeight = plan.steps[nextIndex] ?? 100;
    const next = { stepIndex: nextIndex, failedChecks: 0, inconclusiveStreak: 0, holdingSinceMs: null };
    if (nextWeight >= 100) {
      return { action: 'promote', next, canaryWeight: 100, reason: `all checks passed at ${weight}%; promoting` };
    }
    return {
      action: 'advance',
      next,
      canaryWeight: nextWeight,
      reason: `all checks passed at ${weight}%; advancing to ${nextWeight}%`,
    };
  }
  if (analysis.outcome === 'fail') {
    const failedChecks = progress.failedChecks + 1;
    const next = { stepIndex: progress.stepIndex, failedChecks, inconclusiveStreak: 0, holdingSinceMs: null };
    const failing = analysis.checks.filter((c) => c.status === 'fail');
    const failed = failing.map((c) => c.name).join(', ');
    const immediate = failing.filter((c) => IMMEDIATE_CHECKS.includes(c.name));
    if (immediate.length > 0) {
      return {
        action: 'rollback',
        next,
        canaryWeight: 0,
        cause: 'spike',
        reason: `rolled back: 5xx spike at ${weight}% (${immediate.map((c) => c.detail).join('; ')})`,
      };
    }
    if (failedChecks >= plan.failureThreshold) {
      return {
        action: 'rollback',
        next,
        canaryWeight: 0,
        cause: 'failed-checks',
        reason: `rolled back: failed checks: ${failed} failed; ${failedChecks} failed analyses in a row reach the threshold ${plan.failureThreshold}`,
      };
    }
    return {
      action: 'fail-check',
      next,
      canaryWeight: weight,
      reason: `${failed} failed (${failedChecks}/${plan.failureThreshold} in a row); holding at ${weight}%`,
    };
  }
  const streak = progress.inconclusiveStreak + 1;
  const holdingSinceMs = progress.holdingSinceMs ?? nowMs;
  const next = {
    stepIndex: progress.stepIndex,
    failedChecks: progress.failedChecks,
    inconclusiveStreak: streak,
    holdingSinceMs,
  };
  const missing = analysis.checks.find((c) => c.status === 'no-data')?.detail ?? 'no data';
  const held = nowMs - holdingSinceMs;
  const limit = maxHoldMs(plan);
  if (held >= limit) {
    if (plan.missingData.action === 'pause') {
      return {
        action: 'pause',
        next,
        canaryWeight: weight,
        reason: `not enough data for ${held} ms (max hold ${limit} ms): pausing at ${weight}% for a human (${missing})`,
      };
    }
    return {
      action: 'rollback',
      next,
      canaryWeight: 0,
      cause: 'not-enough-data',
      reason: `rolled back: not enough data for ${held} ms at ${weight}% (max hold ${limit} ms; ${missing})`,
    };
  }
  return {
    action: 'hold',
    next,
    canaryWeight: weight,
    reason: `inconclusive for ${held} ms (max hold ${limit} ms): holding at ${weight}% (${missing})`,
  };
}
