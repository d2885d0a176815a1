import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CanaryRun, formatCheck, headline, renderWatch, watchChanges, watchExitCode } from './canary-watch.js';

const thresholds = {
  maxErrorRate: 0.01,
  maxP95Ratio: 1.25,
  p95ToleranceMs: 5,
  maxMeanRatio: 1.25,
  meanToleranceMs: 5,
  max5xxRatio: 2,
  fiveXxTolerance: 0.005,
  spikeMinErrors: 3,
  maxShareDeviation: 0.5,
  minRequests: 50,
};

function run(overrides: Partial<CanaryRun> = {}): CanaryRun {
  return {
    service: 'ai-gateway',
    runId: 'r1',
    phase: 'paused',
    plan: {
      stable: 'v1',
      canary: 'v2',
      steps: [5, 10, 25, 50, 100],
      intervalMs: 60000,
      window: '1m',
      failureThreshold: 3,
      thresholds,
      pauseAt: [10],
    },
    stepIndex: 1,
    canaryWeight: 10,
    weights: { v1: 90, v2: 10 },
    failedChecks: 0,
    inconclusiveStreak: 0,
    startedAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:02:00.000Z',
    nextAnalysisAt: '2026-01-01T10:03:00.000Z',
    finishedAt: null,
    routerSynced: true,
    routerError: null,
    outcome: null,
    gate: { weight: 10, since: '2026-01-01T10:02:00.000Z' },
    history: [
      {
        weight: 5,
        stepIndex: 0,
        decidedAt: '2026-01-01T10:00:00.000Z',
        appliedAt: '2026-01-01T10:00:01.000Z',
        endedAt: '2026-01-01T10:01:01.000Z',
        outcome: 'passed',
        detail: 'all checks passed at 5%; advancing to 10%',
      },
      {
        weight: 10,
        stepIndex: 1,
        decidedAt: '2026-01-01T10:01:01.000Z',
        appliedAt: '2026-01-01T10:01:02.000Z',
        endedAt: null,
        outcome: 'gated',
        detail: 'all checks passed at 10%; paused at the gate',
      },
    ],
    lastAnalysis: {
      at: '2026-01-01T10:02:00.000Z',
      outcome: 'pass',
      window: { from: '2026-01-01T10:01:02.000Z', to: '2026-01-01T10:02:00.000Z' },
      stable: { requests: 900, errors: 0, fiveXx: 0, p95Ms: 60, meanMs: 40 },
      canary: { requests: 100, errors: 1, fiveXx: 1, p95Ms: 62, meanMs: 41 },
      checks: [
        { name: 'request-count', status: 'pass', value: 100, threshold: 50, detail: '' },
        { name: 'traffic-share', status: 'pass', value: 0.1, threshold: 0.1, detail: '' },
        { name: 'error-rate', status: 'pass', value: 0.01, threshold: 0.01, detail: '' },
        { name: '5xx-vs-stable', status: 'pass', value: null, threshold: 2, detail: '' },
        { name: 'p95-vs-stable', status: 'pass', value: 1.0333, threshold: 1.25, detail: '' },
        { name: 'mean-vs-stable', status: 'pass', value: 1.025, threshold: 1.25, detail: '' },
      ],
    },
    revision: 7,
    ...overrides,
  } as CanaryRun;
}

describe('canary status --watch rendering', () => {
  it("shows each check's latest value against its threshold, in the terms of its rule", () => {
    const r = run();
    const checks = r.lastAnalysis!.checks.map((c) => formatCheck(r, c));
    assert.deepEqual(checks, [
      'ok   request-count  100 requests (fewer of the two) vs minimum 50',
      'ok   traffic-share  v2 got 10 % of requests vs weight 10 %',
      'ok   error-rate     1 % vs max 1 %',
      'ok   5xx-vs-stable  v2 5xx 1 % vs v1 0 %: spike above 0.5 % (× 2 or + 0.5 %)',
      'ok   p95-vs-stable  v2 62 ms vs v1 60 ms: max 75 ms (v1 × 1.25 or + 5 ms)',
      'ok   mean-vs-stable v2 41 ms vs v1 40 ms: max 50 ms (v1 × 1.25 or + 5 ms)',
    ]);
    // Small latencies: the tolerance is the larger bound.
    const fast = run();
    fast.lastAnalysis!.stable!.p95Ms = 4;
    assert.match(formatCheck(fast, fast.lastAnalysis!.checks[4]!), /vs v1 4 ms: max 9 ms/);
    // A failing or unjudged check says so, and falls back to the server's sentence without numbers.
    const failing = { name: 'error-rate', status: 'fail', value: 0.05, threshold: 0.01, detail: '' } as const;
    assert.equal(formatCheck(r, failing), 'FAIL error-rate     5 % vs max 1 %');
    const down = {
      name: 'prometheus',
      status: 'no-data',
      value: null,
      threshold: null,
      detail: 'timeout: slow',
    } as const;
    assert.equal(formatCheck(r, down), 'n/a  prometheus     timeout: slow');
  });

  it('draws the headline, the weight timeline (weight, when applied, outcome) and the last analysis', () => {
    const frame = renderWatch(run());
    assert.equal(
      frame[0],
      'ai-gateway v1 → v2: paused at the gate at 10% since 10:02:00, v1 90% / v2 10% — go on with: rctl canary promote ai-gateway',
    );
    assert.deepEqual(frame.slice(2, 5), [
      'weight timeline:',
      '   5%  applied 10:00:01  passed      all checks passed at 5%; advancing to 10%',
      '  10%  applied 10:01:02  gated       all checks passed at 10%; paused at the gate [gate]',
    ]);
    assert.equal(frame[6], 'last analysis 10:02:00: pass');
    assert.equal(frame.length, 13);
    const progressing = headline(run({ phase: 'progressing', gate: null, failedChecks: 1 }));
    assert.match(progressing, /progressing at 10%.*next analysis 10:03:00, failed in a row 1\/3/);
    const ended = run({ phase: 'rolled_back', gate: null, outcome: 'rolled back: 5xx spike', canaryWeight: 0 });
    assert.equal(headline(ended), 'ai-gateway v1 → v2: rolled back: 5xx spike, v1 100% / v2 0%');
    assert.match(renderWatch(run({ routerSynced: false, routerError: 'down' })).at(-1)!, /not applied .*: down/);
  });

  it('on a non-terminal prints one line per change: steps appearing, applied or ending, analyses, phases', () => {
    const first = run({ phase: 'progressing', gate: null });
    first.history = [
      { ...first.history[0]!, outcome: 'in-progress', endedAt: null, appliedAt: null, detail: 'started: v1 → v2' },
    ];
    first.lastAnalysis = null;
    const initial = watchChanges(undefined, first);
    assert.deepEqual(initial.slice(1), ['10:00:00 step 5%: in-progress — started: v1 → v2']);
    assert.match(initial[0]!, /progressing/);
    assert.deepEqual(watchChanges(first, first), [], 'nothing changed, nothing printed');
    const second = run();
    const lines = watchChanges(first, second);
    assert.deepEqual(lines.slice(0, 4), [
      '10:00:01 step 5%: applied',
      '10:01:01 step 5%: passed — all checks passed at 5%; advancing to 10%',
      '10:01:01 step 10%: gated — all checks passed at 10%; paused at the gate',
      '10:01:02 step 10%: applied',
    ]);
    assert.match(lines[4]!, /^10:02:00 analysis pass: ok request-count 100 requests .*; ok error-rate 1 % vs max 1 %;/);
    assert.match(lines[5]!, /paused at the gate at 10%/);
    assert.equal(lines.length, 6);
  });

  it('exits 0 only when promoted', () => {
    assert.equal(watchExitCode(run({ phase: 'promoted' })), 0);
    assert.equal(watchExitCode(run({ phase: 'rolled_back' })), 1);
    assert.equal(watchExitCode(run({ phase: 'aborted' })), 1);
  });
});
