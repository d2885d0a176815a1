import { type CanaryQueryTarget, selector } from '../metrics/canary-queries.js';
import type { PrometheusClient } from '../metrics/prometheus-client.js';
import type { CanaryPlan } from './canary-plan.js';

/**
 * Low traffic: before a run starts, how fast can its first step collect the requests it needs? A step is judged only
 * once each version has served `minRequests` at that weight, and it rolls back "not enough data" after
 * `missingData.maxHold` without a judgement — so at a low request rate a small first step can never pass.
 */

/** The range the current request rate is read over. */
export const REQUEST_RATE_WINDOW = '5m';

/** Requests per second to the service (all versions) over the last `REQUEST_RATE_WINDOW`. */
export async function readRequestRate(
  client: PrometheusClient,
  target: CanaryQueryTarget,
  timeoutMs: number,
): Promise<number> {
  const samples = await client.queryVector(
    `sum(rate(istio_requests_total${selector(target)}[${REQUEST_RATE_WINDOW}]))`,
    undefined,
    { timeoutMs },
  );
  return samples.reduce((sum, s) => sum + (Number.isFinite(s.value) ? s.value : 0), 0);
}

export interface FirstStepEstimate {
  requestsPerSecond: number;
  /** The first step's canary weight. */
  weight: number;
  /** Seconds until both versions have `minRequests` at that weight (Infinity without traffic). */
  secondsToMinRequests: number;
  maxHoldSeconds: number;
  warnings: string[];
}

const seconds = (s: number) => (s >= 100 ? `${Math.round(s)} s` : `${Number(s.toPrecision(2))} s`);

/** What the first step can collect at `requestsPerSecond`, and warnings when it cannot be judged within the hold. */
export function estimateFirstStep(plan: CanaryPlan, requestsPerSecond: number): FirstStepEstimate {
  const weight = plan.steps[0] ?? 100;
  const rate = Math.max(0, requestsPerSecond);
  const min = plan.thresholds.minRequests;
  // The smaller of the two shares sets the pace (at a 5% step that is the canary's).
  const slowest = (rate * Math.min(weight, 100 - weight)) / 100;
  const secondsToMinRequests = weight >= 100 ? 0 : slowest > 0 ? min / slowest : Number.POSITIVE_INFINITY;
  const maxHoldSeconds = plan.missingData.maxHoldMs / 1000;
  const warnings: string[] = [];
  if (weight < 100 && secondsToMinRequests > maxHoldSeconds) {
    const where = `${plan.canary} at ${weight}%`;
    if (rate === 0) {
      warnings.push(
        `no requests to the service in the last ${REQUEST_RATE_WINDOW}: the first step (${where}) cannot collect ` +
          `${min} requests and will roll back "not enough data" after the max hold (${seconds(maxHoldSeconds)}) ` +
          'unless traffic starts',
      );
    } else {
      const neededWeight = Math.ceil((100 * min) / (rate * maxHoldSeconds));
      const fixes = [
        `--min-requests ${Math.max(1, Math.floor(slowest * maxHoldSeconds))} or less`,
        `--max-hold ${Math.ceil(secondsToMinRequests)}s or more`,
      ];
      if (neededWeight < 50) fixes.push(`a first step of at least ${neededWeight}% (--steps ${neededWeight},…)`);
      warnings.push(
        `at ${Number(rate.toPrecision(3))} req/s, ${where} needs ~${seconds(secondsToMinRequests)} to collect ` +
          `${min} requests, more than the max hold (${seconds(maxHoldSeconds)}): the first step will likely roll ` +
          `back "not enough data". Use ${fixes.join(', or ')}.`,
      );
    }
  }
  return { requestsPerSecond: rate, weight, secondsToMinRequests, maxHoldSeconds, warnings };
}
