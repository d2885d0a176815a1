/**
 * What a canary run is asked to do: the weight steps, how often and over which window it is analysed, the bounds a
 * healthy canary stays within, and what happens when metrics are missing. Pure data plus validation; every problem
 * is reported with the JSON Pointer of the field that caused it, so the API can answer 400 with a `path`.
 */

/** The runbook's quick canary: 95/5 → 90/10 → 75/25 → 50/50 → 0/100. */
export const DEFAULT_STEPS: readonly number[] = [5, 10, 25, 50, 100];

export interface CanaryThresholds {
  /** Largest acceptable share of the canary's requests that failed (5xx, or no response at all). Default 0.01. */
  maxErrorRate: number;
  /** Largest acceptable canary p95 ÷ stable p95 over the same window. Default 1.25. */
  maxP95Ratio: number;
  /**
   * A p95 difference below this many milliseconds passes whatever the ratio: at 2 ms vs 1 ms a ratio says nothing.
   * Default 5.
   */
  p95ToleranceMs: number;
  /** Largest acceptable canary mean latency ÷ stable mean latency (`_sum` ÷ `_count`, exact). Default 1.25. */
  maxMeanRatio: number;
  /** A mean-latency difference below this many milliseconds passes whatever the ratio. Default 5. */
  meanToleranceMs: number;
  /**
   * The spike rule: canary 5xx share ÷ stable 5xx share above this (and above the absolute tolerance, with at least
   * `spikeMinErrors` 5xx) in one analysis rolls back at once. Default 2.
   */
  max5xxRatio: number;
  /**
   * A 5xx share difference (absolute, 0–1) below this passes whatever the ratio, so one 5xx against a stable
   * version with none is not a spike by itself. Default 0.005.
   */
  fiveXxTolerance: number;
  /** Fewest canary 5xx in one analysis that can make a spike (one stray 5xx is not a spike). Default 3. */
  spikeMinErrors: number;
  /**
   * How far the canary's observed share of traffic may stray from its weight, relative to the weight (0.5: at 10 %,
   * 5 %–15 % pass), widened by four binomial standard deviations for small counts. Default 0.5.
   */
  maxShareDeviation: number;
  /** Requests each version must have served within the window before any judgement is made. Default 50. */
  minRequests: number;
}

/**
 * Missing data or a failing Prometheus: never a pass. Hold (no advance) while no analysis could judge the step, and
 * once that has lasted `maxHoldMs`, `action` ("rolled back: not enough data", or a pause for a human).
 */
export interface MissingDataPolicy {
  /** How long a step may go without a conclusive analysis. Default 5 × the interval (`limit` × interval if given). */
  maxHoldMs: number;
  /** What to do after `maxHoldMs` without data. Default `rollback`. */
  action: 'rollback' | 'pause';
}

/** Named test users sent to the canary whatever the weights, by an exact header match placed before the split. */
export interface UserPins {
  /** Lowercase header name, e.g. `x-user`. */
  header: string;
  values: string[];
}

/** Where the run's notifications go: a JSON POST per step, promotion and rollback, signed when a secret is set. */
export interface CanaryNotify {
  /** http(s) URL the controller POSTs to. */
  url: string;
  /** A file on the server holding the HMAC-SHA256 secret (read at each send, so it can be rotated). */
  secretFile?: string;
}

export interface CanaryPlan {
  /** Stable (baseline) version, e.g. `v1`. */
  stable: string;
  /** Canary version, e.g. `v2`. */
  canary: string;
  /** Canary weights in percent, strictly increasing; reaching 100 is promotion (added when the last step is lower). */
  steps: number[];
  /** Time between analyses. */
  intervalMs: number;
  /** PromQL range of each analysis, e.g. `1m`, `5s`. */
  window: string;
  /** Failed checks (cumulative within the run) that trigger a rollback. */
  failureThreshold: number;
  thresholds: CanaryThresholds;
  missingData: MissingDataPolicy;
  pins?: UserPins;
  notify?: CanaryNotify;
  /**
   * Manual gates: canary weights (each one of `steps`, below 100) at which the run pauses once that step's analysis
   * has passed, until `promote` (as Argo Rollouts' pause step / Flagger's confirm-promotion). Analyses go on while it
   * waits, and a failing one still rolls back.
   */
  pauseAt?: number[];
  /** Istio only: the VirtualService to edit (default: the service name) and its namespace. */
  virtualService?: string;
  namespace?: string;
}

export interface PlanIssue {
  path: string;
  code: string;
  message: string;
}

export class CanaryPlanError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(issues[0]?.message ?? 'invalid canary plan');
    this.name = 'CanaryPlanError';
  }
}

export const DEFAULT_THRESHOLDS: Readonly<CanaryThresholds> = Object.freeze({
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
});

/** Analyses of missing data tolerated by default: `maxHoldMs` defaults to this many intervals. */
export const DEFAULT_MAX_HOLD_INTERVALS = 5;
export const DEFAULT_MISSING_DATA_ACTION = 'rollback';

export const DEFAULT_INTERVAL_MS = 60_000;
export const DEFAULT_FAILURE_THRESHOLD = 3;

/** Kubernetes-style names: they become label values, route names and header-free URL segments. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const VERSION_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;
const HEADER_PATTERN = /^[a-z0-9-]{1,100}$/;
const WINDOW_PATTERN = /^(\d+)(ms|s|m|h)$/;

/** `500ms`, `10s`, `2m`, `1h` or a number of milliseconds → milliseconds; undefined if it is neither. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = WINDOW_PATTERN.exec(value.trim());
  if (!m) return /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
  const n = Number(m[1]);
  const unit = m[2];
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

/** Milliseconds → the shortest exact PromQL duration (`90s`, `2m`, `1500ms`). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns untrusted input (an API body, CLI flags) into a complete plan with defaults filled in, or throws
 * CanaryPlanError listing every problem. `defaults.intervalMs` lets the server's `RC_CANARY_INTERVAL_MS` apply.
 */
export function parseCanaryPlan(input: unknown, defaults: { intervalMs?: number } = {}): CanaryPlan {
  const issues: PlanIssue[] = [];
  const issue = (path: string, code: string, message: string) => issues.push({ path, code, message });
  if (!isObject(input)) throw new CanaryPlanError([{ path: '', code: 'INVALID_TYPE', message: 'expected an object' }]);

  const known = [
    'stable',
    'canary',
    'steps',
    'intervalMs',
    'interval',
    'window',
    'failureThreshold',
    'thresholds',
    'missingData',
    'pins',
    'notify',
    'pauseAt',
    'virtualService',
    'namespace',
  ];
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) issue(`/${key}`, 'UNKNOWN_PROPERTY', `unknown property "${key}"`);
  }

  const version = (key: 'stable' | 'canary', fallback: string | undefined): string => {
    const value = input[key] ?? fallback;
    if (typeof value !== 'string' || !VERSION_PATTERN.test(value)) {
      issue(`/${key}`, 'INVALID_VALUE', `${key} must be a version name such as "v2" (letters, digits, . _ -)`);
      return '';
    }
    return value;
  };
  const stable = version('stable', 'v1');
  const canary = version('canary', undefined);
  if (stable && canary && stable === canary) {
    issue('/canary', 'INVALID_VALUE', `canary version "${canary}" is the same as the stable version`);
  }

  let steps = [...DEFAULT_STEPS];
  if (input.steps !== undefined) {
    if (!Array.isArray(input.steps) || input.steps.length === 0) {
      issue('/steps', 'INVALID_VALUE', 'steps must be a non-empty array of weights in percent, e.g. [5, 10, 25, 50]');
    } else {
      steps = [];
      input.steps.forEach((step, i) => {
        if (typeof step !== 'number' || !Number.isInteger(step) || step < 1 || step > 100) {
          issue(`/steps/${i}`, 'INVALID_VALUE', `step ${i} must be an integer percentage from 1 to 100`);
        } else if (i > 0 && step <= (input.steps as number[])[i - 1]!) {
          issue(`/steps/${i}`, 'NOT_INCREASING', `steps must increase strictly (step ${i} is ${step})`);
        } else {
          steps.push(step);
        }
      });
    }
  }
  // Promotion is the last step: a plan stopping short of 100 promotes after its last analysis (as Flagger does).
  if (steps.length > 0 && steps[steps.length - 1] !== 100) steps.push(100);

  let intervalMs = defaults.intervalMs ?? DEFAULT_INTERVAL_MS;
  const rawInterval = input.intervalMs ?? input.interval;
  if (rawInterval !== undefined) {
    const parsed = parseDuration(rawInterval);
    const path = input.intervalMs !== undefined ? '/intervalMs' : '/interval';
    if (parsed === undefined || !Number.isInteger(parsed) || parsed < 100 || parsed > 86_400_000) {
      issue(path, 'INVALID_VALUE', 'interval must be from 100 ms to 24 h (e.g. 60s, 1m, or milliseconds)');
    } else {
      intervalMs = parsed;
    }
  }

  let window = '1m';
  if (input.window !== undefined) {
    const parsed = typeof input.window === 'string' ? parseDuration(input.window) : undefined;
    if (parsed === undefined || !WINDOW_PATTERN.test(String(input.window)) || parsed < 1000) {
      issue('/window', 'INVALID_VALUE', 'window must be a PromQL duration of at least 1s, e.g. "30s" or "1m"');
    } else {
      window = String(input.window);
    }
  }

  const integerField = (value: unknown, path: string, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      issue(path, 'INVALID_VALUE', `${path.slice(1).replaceAll('/', '.')} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const numberField = (value: unknown, path: string, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      issue(path, 'INVALID_VALUE', `${path.slice(1).replaceAll('/', '.')} must be a number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const failureThreshold = integerField(input.failureThreshold, '/failureThreshold', DEFAULT_FAILURE_THRESHOLD, 1, 100);

  const thresholds: CanaryThresholds = { ...DEFAULT_THRESHOLDS };
  if (input.thresholds !== undefined) {
    if (!isObject(input.thresholds)) {
      issue('/thresholds', 'INVALID_TYPE', 'thresholds must be an object');
    } else {
      const t = input.thresholds;
      for (const key of Object.keys(t)) {
        if (!Object.hasOwn(DEFAULT_THRESHOLDS, key)) {
          issue(`/thresholds/${key}`, 'UNKNOWN_PROPERTY', `unknown threshold "${key}"`);
        }
      }
      thresholds.maxErrorRate = numberField(t.maxErrorRate, '/thresholds/maxErrorRate', thresholds.maxErrorRate, 0, 1);
      thresholds.maxP95Ratio = numberField(t.maxP95Ratio, '/thresholds/maxP95Ratio', thresholds.maxP95Ratio, 1, 1000);
      thresholds.p95ToleranceMs = numberField(
        t.p95ToleranceMs,
        '/thresholds/p95ToleranceMs',
        thresholds.p95ToleranceMs,
        0,
        3_600_000,
      );
      thresholds.maxMeanRatio = numberField(
        t.maxMeanRatio,
        '/thresholds/maxMeanRatio',
        thresholds.maxMeanRatio,
        1,
        1000,
      );
      thresholds.meanToleranceMs = numberField(
        t.meanToleranceMs,
        '/thresholds/meanToleranceMs',
        thresholds.meanToleranceMs,
        0,
        3_600_000,
      );
      thresholds.spikeMinErrors = integerField(
        t.spikeMinErrors,
        '/thresholds/spikeMinErrors',
        thresholds.spikeMinErrors,
        1,
        1_000_000,
      );
      thresholds.maxShareDeviation = numberField(
        t.maxShareDeviation,
        '/thresholds/maxShareDeviation',
        thresholds.maxShareDeviation,
        0.05,
        1,
      );
      thresholds.max5xxRatio = numberField(t.max5xxRatio, '/thresholds/max5xxRatio', thresholds.max5xxRatio, 1, 1000);
      thresholds.fiveXxTolerance = numberField(
        t.fiveXxTolerance,
        '/thresholds/fiveXxTolerance',
        thresholds.fiveXxTolerance,
        0,
        1,
      );
      thresholds.minRequests = integerField(
        t.minRequests,
        '/thresholds/minRequests',
        thresholds.minRequests,
        1,
        1_000_000_000,
      );
    }
  }

  const missingData: MissingDataPolicy = {
    maxHoldMs: DEFAULT_MAX_HOLD_INTERVALS * intervalMs,
    action: DEFAULT_MISSING_DATA_ACTION,
  };
  if (input.missingData !== undefined) {
    if (!isObject(input.missingData)) {
      issue('/missingData', 'INVALID_TYPE', 'missingData must be an object {maxHold, action}');
    } else {
      for (const key of Object.keys(input.missingData)) {
        if (key !== 'limit' && key !== 'action' && key !== 'maxHold' && key !== 'maxHoldMs') {
          issue(`/missingData/${key}`, 'UNKNOWN_PROPERTY', `unknown property "${key}"`);
        }
      }
      // `limit` (analyses) is the older form: kept as limit × interval.
      const limit = integerField(input.missingData.limit, '/missingData/limit', DEFAULT_MAX_HOLD_INTERVALS, 1, 1000);
      missingData.maxHoldMs = limit * intervalMs;
      const rawHold = input.missingData.maxHoldMs ?? input.missingData.maxHold;
      if (rawHold !== undefined) {
        const path = input.missingData.maxHoldMs !== undefined ? '/missingData/maxHoldMs' : '/missingData/maxHold';
        const parsed = parseDuration(rawHold);
        if (parsed === undefined || !Number.isInteger(parsed) || parsed < 100 || parsed > 7 * 86_400_000) {
          issue(path, 'INVALID_VALUE', 'missingData.maxHold must be a duration from 100 ms to 7 days (e.g. 5m)');
        } else {
          missingData.maxHoldMs = parsed;
        }
      }
      const action = input.missingData.action;
      if (action !== undefined) {
        if (action !== 'rollback' && action !== 'pause') {
          issue('/missingData/action', 'INVALID_VALUE', 'missingData.action must be "rollback" or "pause"');
        } else {
          missingData.action = action;
        }
      }
    }
  }

  let pins: UserPins | undefined;
  if (input.pins !== undefined) {
    if (!isObject(input.pins)) {
      issue('/pins', 'INVALID_TYPE', 'pins must be an object {header, values}');
    } else {
      const header = input.pins.header ?? 'x-user';
      if (typeof header !== 'string' || !HEADER_PATTERN.test(header)) {
        issue('/pins/header', 'INVALID_VALUE', 'pins.header must be a lowercase header name (Istio matches lowercase)');
      }
      const values = input.pins.values;
      if (!Array.isArray(values) || values.length === 0 || values.length > 100) {
        issue('/pins/values', 'INVALID_VALUE', 'pins.values must list 1–100 user ids');
      } else {
        values.forEach((v, i) => {
          if (typeof v !== 'string' || v.length === 0 || v.length > 200) {
            issue(`/pins/values/${i}`, 'INVALID_VALUE', 'each pinned user id must be a string of 1–200 characters');
          }
        });
      }
      for (const key of Object.keys(input.pins)) {
        if (key !== 'header' && key !== 'values') {
          issue(`/pins/${key}`, 'UNKNOWN_PROPERTY', `unknown property "${key}"`);
        }
      }
      if (issues.every((i) => !i.path.startsWith('/pins'))) {
        pins = { header: header as string, values: [...new Set(values as string[])] };
      }
    }
  }

  let notify: CanaryNotify | undefined;
  if (input.notify !== undefined) {
    if (!isObject(input.notify)) {
      issue('/notify', 'INVALID_TYPE', 'notify must be an object {url, secretFile?}');
    } else {
      const { url, secretFile } = input.notify;
      let parsed: URL | undefined;
      try {
        parsed = typeof url === 'string' ? new URL(url) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        issue('/notify/url', 'INVALID_VALUE', 'notify.url must be an http:// or https:// URL');
      }
      if (secretFile !== undefined && (typeof secretFile !== 'string' || secretFile.length === 0)) {
        issue('/notify/secretFile', 'INVALID_VALUE', 'notify.secretFile must be a file path');
      }
      for (const key of Object.keys(input.notify)) {
        if (key !== 'url' && key !== 'secretFile') {
          issue(`/notify/${key}`, 'UNKNOWN_PROPERTY', `unknown property "${key}"`);
        }
      }
      if (issues.every((i) => !i.path.startsWith('/notify'))) {
        notify = { url: url as string, ...(secretFile !== undefined ? { secretFile: secretFile as string } : {}) };
      }
    }
  }

  let pauseAt: number[] | undefined;
  if (input.pauseAt !== undefined) {
    if (!Array.isArray(input.pauseAt)) {
      issue('/pauseAt', 'INVALID_TYPE', 'pauseAt must be an array of step weights, e.g. [50]');
    } else {
      const gates: number[] = [];
      input.pauseAt.forEach((gate, i) => {
        if (typeof gate !== 'number' || !Number.isInteger(gate) || !steps.includes(gate) || gate >= 100) {
          issue(
            `/pauseAt/${i}`,
            'INVALID_VALUE',
            `pauseAt ${i} must be the weight of a step below 100 (${steps.filter((s) => s < 100).join(', ') || 'none'}); got ${JSON.stringify(gate)}`,
          );
        } else if (gates.includes(gate)) {
          issue(`/pauseAt/${i}`, 'DUPLICATE', `pauseAt lists ${gate} twice`);
        } else {
          gates.push(gate);
        }
      });
      if (gates.length > 0) pauseAt = gates.sort((a, b) => a - b);
    }
  }

  const name = (key: 'virtualService' | 'namespace'): string | undefined => {
    const value = input[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !SERVICE_NAME_PATTERN.test(value)) {
      issue(`/${key}`, 'INVALID_VALUE', `${key} must be a Kubernetes name (lowercase letters, digits, "-")`);
      return undefined;
    }
    return value;
  };
  const virtualService = name('virtualService');
  const namespace = name('namespace');

  if (issues.length > 0) throw new CanaryPlanError(issues);
  const plan: CanaryPlan = { stable, canary, steps, intervalMs, window, failureThreshold, thresholds, missingData };
  if (pins) plan.pins = pins;
  if (notify) plan.notify = notify;
  if (pauseAt) plan.pauseAt = pauseAt;
  if (virtualService) plan.virtualService = virtualService;
  if (namespace) plan.namespace = namespace;
  return plan;
}

/** Validates a service name the same way everywhere (API path, CLI argument, label value). */
export function serviceNameIssue(service: unknown): PlanIssue | undefined {
  if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service)) {
    return {
      path: '/service',
      code: 'INVALID_VALUE',
      message: 'service must be a Kubernetes-style name (lowercase letters, digits, "-"; at most 63 characters)',
    };
  }
  return undefined;
}
