import type { CanaryPlan, CanaryThresholds } from './canary-plan.js';

/**
 * The judgement of one analysis interval, and what the controller does about it. Pure functions over numbers: no
 * clock, no I/O, so every branch is unit-tested (`canary-analysis.test.ts`).
 */

/** One version's traffic over the analysis window (counts are `increase()` over the window, so not integers). */
export interface VersionSample {
  requests: number;
  /** Failed requests: 5xx plus those that got no response at all (Istio `response_code="0"`). */
  errors: number;
  fiveXx: number;
  /** p95 latency in milliseconds; null when Prometheus had no histogram data (NaN) for the version. */
  p95Ms: number | null;
}

/** What the metrics provider returned: samples per version, or why there are none. */
export type MetricsReading =
  | { ok: true; stable: VersionSample | undefined; canary: VersionSample | undefined }
  | { ok: false; errorKind: string; error: string };

export type CheckName = 'prometheus' | 'request-count' | 'error-rate' | '5xx-vs-stable' | 'p95-vs-stable';
export type CheckStatus = 'pass' | 'fail' | 'no-data';

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

const round = (n: number, digits = 4): number => Number(n.toFixed(digits));
const pct = (n: number): string => `${round(n * 100, 2)}%`;

/**
 * Judges one window. Missing data is never a pass: no Prometheus answer, or too few requests on either version,
 * makes the analysis inconclusive before any threshold is looked at. Otherwise every check runs and any failure
 * fails the analysis; a check that could not be computed (e.g. no histogram data) makes it inconclusive.
 */
export function analyse(reading: MetricsReading, thresholds: CanaryThresholds): Analysis {
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
  const countCheck: CheckResult = {
    name: 'request-count',
    status: 'pass',
    value: round(Math.min(canaryRequests, stableRequests), 1),
    threshold: thresholds.minRequests,
    detail: `canary ${round(canaryRequests, 1)}, stable ${round(stableRequests, 1)} requests in the window (each needs ${thresholds.minRequests})`,
  };
  if (!canary || !stable || canaryRequests < thresholds.minRequests || stableRequests < thresholds.minRequests) {
    countCheck.status = 'no-data';
    return { outcome: 'inconclusive', checks: [countCheck], ...base };
  }

  const checks: CheckResult[] = [countCheck];
  const errorRate = canary.errors / canary.requests;
  checks.push({
    name: 'error-rate',
    status: errorRate <= thresholds.maxErrorRate ? 'pass' : 'fail',
    value: round(errorRate, 6),
    threshold: thresholds.maxErrorRate,
    detail: `canary error rate ${pct(errorRate)} (bound ${pct(thresholds.maxErrorRate)})`,
  });

  const canary5xx = canary.fiveXx / canary.requests;
  const stable5xx = stable.fiveXx / stable.requests;
  // Relative to stable, with an absolute tolerance: 0.2% against 0% is not a spike, 3% against 1% is.
  const allowed5xx = Math.max(stable5xx * thresholds.max5xxRatio, stable5xx + thresholds.fiveXxTolerance);
  checks.push({
    name: '5xx-vs-stable',
    status: canary5xx <= allowed5xx ? 'pass' : 'fail',
    value: stable5xx > 0 ? round(canary5xx / stable5xx, 4) : canary5xx > 0 ? null : 1,
    threshold: thresholds.max5xxRatio,
    detail: `5xx share canary ${pct(canary5xx)} vs stable ${pct(stable5xx)} (allowed up to ${pct(allowed5xx)}: ×${thresholds.max5xxRatio} or +${pct(thresholds.fiveXxTolerance)})`,
  });

  if (canary.p95Ms === null || stable.p95Ms === null || stable.p95Ms <= 0) {
    checks.push({
      name: 'p95-vs-stable',
      status: 'no-data',
      value: null,
      threshold: thresholds.maxP95Ratio,
      detail: `no p95 for ${canary.p95Ms === null ? 'the canary' : 'the stable version'} (no latency histogram data in the window)`,
    });
  } else {
    const ratio = canary.p95Ms / stable.p95Ms;
    const withinTolerance = canary.p95Ms - stable.p95Ms <= thresholds.p95ToleranceMs;
    checks.push({
      name: 'p95-vs-stable',
      status: ratio <= thresholds.maxP95Ratio || withinTolerance ? 'pass' : 'fail',
      value: round(ratio, 4),
      threshold: thresholds.maxP95Ratio,
      detail: `p95 canary ${round(canary.p95Ms, 2)} ms vs stable ${round(stable.p95Ms, 2)} ms = ×${round(ratio, 3)} (bound ×${thresholds.maxP95Ratio}; differences under ${thresholds.p95ToleranceMs} ms pass)`,
    });
  }

  const outcome: AnalysisOutcome = checks.some((c) => c.status === 'fail')
    ? 'fail'
    : checks.some((c) => c.status === 'no-data')
      ? 'inconclusive'
      : 'pass';
  return { outcome, checks, ...base };
}

/** The part of a run's state the decision depends on. */
export interface RunProgress {
  /** Index into `plan.steps` of the weight now in force. */
  stepIndex: number;
  /** Failed checks so far in this run (cumulative, as in Flagger: a pass does not reset it). */
  failedChecks: number;
  /** Inconclusive analyses in a row (a conclusive one resets it). */
  inconclusiveStreak: number;
}

export type DecisionAction = 'advance' | 'promote' | 'hold' | 'fail-check' | 'rollback' | 'pause';

export interface Decision {
  action: DecisionAction;
  /** The progress after the decision. */
  next: RunProgress;
  /** Canary weight after the decision. */
  canaryWeight: number;
  reason: string;
}

/**
 * What to do after an analysis:
 * - pass → advance to the next step; when that step is 100, promote.
 * - fail → count a failed check; at `failureThreshold` failed checks, roll back.
 * - inconclusive → hold (never advance on missing data); after `missingData.limit` in a row, roll back or pause.
 */
export function decide(plan: CanaryPlan, progress: RunProgress, analysis: Analysis): Decision {
  const weight = plan.steps[progress.stepIndex] ?? 0;
  if (analysis.outcome === 'pass') {
    const nextIndex = Math.min(progress.stepIndex + 1, plan.steps.length - 1);
    const nextWeight = plan.steps[nextIndex] ?? 100;
    const next = { stepIndex: nextIndex, failedChecks: progress.failedChecks, inconclusiveStreak: 0 };
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
    const next = { stepIndex: progress.stepIndex, failedChecks, inconclusiveStreak: 0 };
    const failed = analysis.checks
      .filter((c) => c.status === 'fail')
      .map((c) => c.name)
      .join(', ');
    if (failedChecks >= plan.failureThreshold) {
      return {
        action: 'rollback',
        next,
        canaryWeight: 0,
        reason: `${failed} failed; ${failedChecks} failed checks reach the threshold ${plan.failureThreshold}: rolling back`,
      };
    }
    return {
      action: 'fail-check',
      next,
      canaryWeight: weight,
      reason: `${failed} failed (${failedChecks}/${plan.failureThreshold}); holding at ${weight}%`,
    };
  }
  const streak = progress.inconclusiveStreak + 1;
  const next = { stepIndex: progress.stepIndex, failedChecks: progress.failedChecks, inconclusiveStreak: streak };
  const missing = analysis.checks.find((c) => c.status === 'no-data')?.detail ?? 'no data';
  if (streak > plan.missingData.limit) {
    if (plan.missingData.action === 'pause') {
      return {
        action: 'pause',
        next,
        canaryWeight: weight,
        reason: `no usable data for ${streak} analyses in a row (limit ${plan.missingData.limit}): pausing at ${weight}% for a human (${missing})`,
      };
    }
    return {
      action: 'rollback',
      next,
      canaryWeight: 0,
      reason: `no usable data for ${streak} analyses in a row (limit ${plan.missingData.limit}): rolling back (${missing})`,
    };
  }
  return {
    action: 'hold',
    next,
    canaryWeight: weight,
    reason: `inconclusive (${streak}/${plan.missingData.limit} tolerated): holding at ${weight}% (${missing})`,
  };
}
