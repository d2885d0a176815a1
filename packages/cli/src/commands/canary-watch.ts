import type { ResponseBody } from '../http-client.js';

/**
 * `rctl canary status SERVICE --watch`: what is drawn, as pure functions of the run the server returns (so they are
 * unit-tested without a clock or a terminal). On a terminal the whole frame is redrawn at each poll; otherwise one line
 * is printed per change (a step applied or ended, an analysis, a phase change).
 */

export type CanaryRun = ResponseBody<'/api/admin/canaries/{service}', 'get', 200>;
type LastAnalysis = NonNullable<CanaryRun['lastAnalysis']>;
export type WatchCheck = LastAnalysis['checks'][number];
type Sample = NonNullable<LastAnalysis['canary']>;

export const FINAL_PHASES: ReadonlySet<string> = new Set(['promoted', 'rolled_back', 'aborted']);

/** `HH:MM:SS` (UTC) of an ISO instant; `-` when there is none. */
export function clock(iso: string | null | undefined): string {
  return iso ? iso.slice(11, 19) : '-';
}

const num = (n: number, digits = 2): string => String(Number(n.toFixed(digits)));
const pct = (share: number): string => `${num(share * 100)} %`;
const ms = (value: number): string => `${num(value, 1)} ms`;

function threshold(run: CanaryRun, name: string): number | undefined {
  return run.plan.thresholds[name];
}

function share5xx(sample: Sample | undefined): number | undefined {
  return sample && sample.requests > 0 ? sample.fiveXx / sample.requests : undefined;
}

/**
 * One check's latest value against its threshold, in the terms of its rule: error rate vs its maximum, p95 and mean
 * vs v1's × ratio or + tolerance, request count vs the minimum, traffic share vs the weight, 5xx share vs v1's.
 */
export function formatCheck(run: CanaryRun, check: WatchCheck): string {
  const mark = check.status === 'pass' ? 'ok  ' : check.status === 'fail' ? 'FAIL' : 'n/a ';
  const a = run.lastAnalysis;
  const { stable, canary } = run.plan;
  const label = check.name.padEnd(14);
  let text: string;
  switch (check.name) {
    case 'request-count':
      text = `${check.value ?? '-'} requests (fewer of the two) vs minimum ${check.threshold ?? '-'}`;
      break;
    case 'traffic-share':
      text =
        check.value === null || check.threshold === null
          ? check.detail
          : `${canary} got ${pct(check.value)} of requests vs weight ${pct(check.threshold)}`;
      break;
    case 'error-rate':
      text =
        check.value === null || check.threshold === null
          ? check.detail
          : `${pct(check.value)} vs max ${pct(check.threshold)}`;
      break;
    case '5xx-vs-stable': {
      const c = share5xx(a?.canary);
      const s = share5xx(a?.stable);
      const ratio = threshold(run, 'max5xxRatio');
      const tolerance = threshold(run, 'fiveXxTolerance');
      text =
        c === undefined || s === undefined || ratio === undefined || tolerance === undefined
          ? check.detail
          : `${canary} 5xx ${pct(c)} vs ${stable} ${pct(s)}: spike above ${pct(Math.max(s * ratio, s + tolerance))}` +
            ` (× ${ratio} or + ${pct(tolerance)})`;
      break;
    }
    case 'p95-vs-stable':
    case 'mean-vs-stable': {
      const p95 = check.name === 'p95-vs-stable';
      const c = p95 ? a?.canary?.p95Ms : a?.canary?.meanMs;
      const s = p95 ? a?.stable?.p95Ms : a?.stable?.meanMs;
      const ratio = threshold(run, p95 ? 'maxP95Ratio' : 'maxMeanRatio');
      const tolerance = threshold(run, p95 ? 'p95ToleranceMs' : 'meanToleranceMs');
      text =
        c === undefined || c === null || s === undefined || s === null || ratio === undefined || tolerance === undefined
          ? check.detail
          : `${canary} ${ms(c)} vs ${stable} ${ms(s)}: max ${ms(Math.max(s * ratio, s + tolerance))}` +
            ` (${stable} × ${ratio} or + ${num(tolerance)} ms)`;
      break;
    }
    default:
      text = check.detail;
  }
  return `${mark} ${label} ${text}`;
}

/** The run's state in words: what it is doing now, or how it ended. */
export function headline(run: CanaryRun): string {
  const versions = `${run.service} ${run.plan.stable} → ${run.plan.canary}`;
  const weights = `${run.plan.stable} ${100 - run.canaryWeight}% / ${run.plan.canary} ${run.canaryWeight}%`;
  if (run.phase === 'paused' && run.gate) {
    return `${versions}: paused at the gate at ${run.gate.weight}% since ${clock(run.gate.since)}, ${weights} — go on with: rctl canary promote ${run.service}`;
  }
  if (run.phase === 'paused') return `${versions}: paused at ${run.canaryWeight}%, ${weights}`;
  if (run.phase === 'progressing') {
    return `${versions}: progressing at ${run.canaryWeight}%, ${weights}; next analysis ${clock(run.nextAnalysisAt)}, failed in a row ${run.failedChecks}/${run.plan.failureThreshold}`;
  }
  return `${versions}: ${run.outcome ?? run.phase.replace('_', ' ')}, ${weights}`;
}

/** The weight timeline: each step's weight, when it was applied, and how it went. */
export function timelineLines(run: CanaryRun): string[] {
  const gates = new Set(run.plan.pauseAt ?? []);
  return run.history.map((step) => {
    const gate = gates.has(step.weight) ? ' [gate]' : '';
    return `${`${step.weight}%`.padStart(5)}  applied ${clock(step.appliedAt).padEnd(8)}  ${step.outcome.padEnd(11)} ${step.detail}${gate}`;
  });
}

/** The whole frame drawn on a terminal. */
export function renderWatch(run: CanaryRun): string[] {
  const lines = [headline(run), '', 'weight timeline:', ...timelineLines(run)];
  const a = run.lastAnalysis;
  if (a) {
    lines.push('', `last analysis ${clock(a.at)}: ${a.outcome}`);
    for (const check of a.checks) lines.push(`  ${formatCheck(run, check)}`);
  } else {
    lines.push('', 'no analysis yet');
  }
  if (!run.routerSynced)
    lines.push('', `router has not applied the last decision yet${run.routerError ? `: ${run.routerError}` : ''}`);
  return lines;
}

/**
 * For a non-terminal: one line per change between two polls (all of the run's state on the first): each step that
 * appeared, was applied or ended, each new analysis with its checks, each phase change.
 */
export function watchChanges(previous: CanaryRun | undefined, run: CanaryRun): string[] {
  const lines: string[] = [];
  if (!previous || previous.runId !== run.runId) lines.push(headline(run));
  const before = previous?.runId === run.runId ? previous.history : [];
  run.history.forEach((step, i) => {
    const old = before[i];
    if (!old) {
      lines.push(`${clock(step.decidedAt)} step ${step.weight}%: ${step.outcome} — ${step.detail}`);
      if (step.appliedAt) lines.push(`${clock(step.appliedAt)} step ${step.weight}%: applied`);
      return;
    }
    if (!old.appliedAt && step.appliedAt) lines.push(`${clock(step.appliedAt)} step ${step.weight}%: applied`);
    if (old.outcome !== step.outcome) {
      lines.push(`${clock(step.endedAt ?? step.decidedAt)} step ${step.weight}%: ${step.outcome} — ${step.detail}`);
    }
  });
  const a = run.lastAnalysis;
  if (a && a.at !== previous?.lastAnalysis?.at) {
    lines.push(
      `${clock(a.at)} analysis ${a.outcome}: ${a.checks.map((c) => formatCheck(run, c).replace(/\s+/g, ' ')).join('; ')}`,
    );
  }
  if (previous && previous.runId === run.runId && previous.phase !== run.phase) lines.push(headline(run));
  return lines;
}

/** The exit code of a finished watch: 0 promoted, 1 rolled back or aborted. */
export function watchExitCode(run: CanaryRun): number {
  return run.phase === 'promoted' ? 0 : 1;
}
