import {
  ErrorCode,
  type EvaluationDetails,
  type FlagValue,
  type Hook,
  type HookContext,
} from '@openfeature/server-sdk';
import { Counter, register as globalRegistry, type Registry } from 'prom-client';
import type { EvaluationRecord, EvaluationRecorder } from '../metrics/evaluation-recorder.js';

export interface PrometheusHookOptions {
  /** Where the counters live (default: prom-client's global registry). */
  registry?: Registry;
  /** Prepended to the metric names, e.g. `devmentor_` (default none). */
  prefix?: string;
  /** Distinct flag keys kept as their own label value; later keys are counted as `__other__` (default 500). */
  maxFlagKeys?: number;
}

/** The label value every flag key beyond the cap is folded into. */
export const OTHER_FLAG_KEY = '__other__';

type EvaluationLabel = 'flag_key' | 'variant' | 'reason' | 'provider';
type ErrorLabel = 'flag_key' | 'error_code' | 'provider';

/** One label tuple: its bound prom-client child and the increments not yet handed to it. */
interface Cell {
  readonly child: { inc(value?: number): void };
  pending: number;
}

/** The cells of one variant label, by reason. */
interface VariantCells {
  readonly label: string;
  readonly byReason: Map<string, Cell>;
}

/** Cells of one flag key: evaluations by provider → variant → reason, errors by provider → error code. */
interface FlagCells {
  readonly label: string;
  readonly evaluations: Map<string, Map<string, VariantCells>>;
  readonly errors: Map<string, Map<string, Cell>>;
}

const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));
// Reasons are open-ended in the spec (providers add their own, e.g. STALE, CACHED); keep a generous cap anyway.
const MAX_REASONS = 64;
// Variants come from flag definitions, so they are bounded per flag; this cap guards against a provider that puts
// values or user ids into variant names.
const MAX_VARIANTS_PER_FLAG = 64;
// Custom error codes per flag and provider before they stop being remembered (they all count as GENERAL).
const MAX_ERROR_CODE_ALIASES = 64;
const OTHER = '__other__';

/**
 * The counters of one (registry, prefix) pair. Shared by every PrometheusHook built for it, because prom-client
 * refuses to register a metric name twice and two hooks on one registry must add up, not collide.
 */
class EvaluationSeries {
  private readonly evaluations: Counter<EvaluationLabel>;
  private readonly errors: Counter<ErrorLabel>;
  private readonly byFlag = new Map<string, FlagCells>();
  private readonly cells: Cell[] = [];
  private readonly reasons = new Set<string>();
  private admittedFlags = 0;

  constructor(
    registry: Registry,
    prefix: string,
    private readonly maxFlagKeys: number,
  ) {
    // The hot path only bumps a plain number; prom-client's own `inc` hashes and validates the labels on every
    // call, far too slow for a million evaluations a second. Pending counts are handed over when scraped.
    const flush = () => this.flush();
    this.evaluations = new Counter({
      name: `${prefix}openfeature_evaluations_total`,
      help: 'Feature flag evaluations, by flag key, variant, reason and provider.',
      labelNames: ['flag_key', 'variant', 'reason', 'provider'],
      registers: [registry],
      collect: flush,
    });
    this.errors = new Counter({
      name: `${prefix}openfeature_evaluation_errors_total`,
      help: 'Feature flag evaluations that failed (the code default was used), by flag key, error code and provider.',
      labelNames: ['flag_key', 'error_code', 'provider'],
      registers: [registry],
      collect: flush,
    });
  }

  record(e: EvaluationRecord): void {
    const flag = this.byFlag.get(e.flagKey) ?? this.admit(e.flagKey);
    const provider = e.providerName;
    const variant = e.variant ?? '';
    const reason = e.reason ?? 'UNKNOWN';
    const cell =
      flag.evaluations.get(provider)?.get(variant)?.byReason.get(reason) ??
      this.evaluationCell(flag, provider, variant, reason);
    cell.pending++;
    if (e.errorCode !== undefined) {
      (flag.errors.get(provider)?.get(e.errorCode) ?? this.errorCell(flag, provider, e.errorCode)).pending++;
    }
  }

  /** Hands pending increments to prom-client; runs on every scrape (`registry.metrics()`). */
  flush(): void {
    for (const cell of this.cells) {
      if (cell.pending > 0) {
        cell.child.inc(cell.pending);
        cell.pending = 0;
      }
    }
  }

  private admit(flagKey: string): FlagCells {
    if (this.admittedFlags >= this.maxFlagKeys) {
      // Not cached under the raw key: an endless stream of new keys must not grow memory either.
      return this.byFlag.get(OTHER_FLAG_KEY) ?? this.addFlag(OTHER_FLAG_KEY);
    }
    this.admittedFlags++;
    return this.addFlag(flagKey);
  }

  private addFlag(flagKey: string): FlagCells {
    const cells: FlagCells = { label: flagKey, evaluations: new Map(), errors: new Map() };
    this.byFlag.set(flagKey, cells);
    return cells;
  }

  /** The slow path of `record`: first sight of a label tuple (or of a folded one). */
  private evaluationCell(flag: FlagCells, provider: string, variant: string, reason: string): Cell {
    let byVariant = flag.evaluations.get(provider);
    if (byVariant === undefined) {
      byVariant = new Map();
      flag.evaluations.set(provider, byVariant);
    }
    let variantCells = byVariant.get(variant);
    if (variantCells === undefined) {
      if (byVariant.size >= MAX_VARIANTS_PER_FLAG) {
        variantCells = byVariant.get(OTHER) ?? { label: OTHER, byReason: new Map() };
        byVariant.set(OTHER, variantCells);
      } else {
        variantCells = { label: variant, byReason: new Map() };
        byVariant.set(variant, variantCells);
      }
    }
    let reasonLabel = reason;
    if (!this.reasons.has(reason)) {
      if (this.reasons.size >= MAX_REASONS) reasonLabel = OTHER;
      else this.reasons.add(reason);
    }
    let cell = variantCells.byReason.get(reasonLabel);
    if (cell === undefined) {
      cell = this.cell(this.evaluations.labels(flag.label, variantCells.label, reasonLabel, provider));
      variantCells.byReason.set(reasonLabel, cell);
    }
    return cell;
  }

  private errorCell(flag: FlagCells, provider: string, errorCode: string): Cell {
    let byCode = flag.errors.get(provider);
    if (byCode === undefined) {
      byCode = new Map();
      flag.errors.set(provider, byCode);
    }
    // Only the spec's codes become label values; anything else (a custom error's code) counts as GENERAL.
    const label = KNOWN_ERROR_CODES.has(errorCode) ? errorCode : ErrorCode.GENERAL;
    let cell = byCode.get(label);
    if (cell === undefined) {
      cell = this.cell(this.errors.labels(flag.label, label, provider));
      byCode.set(label, cell);
    }
    if (label !== errorCode && byCode.size < MAX_ERROR_CODE_ALIASES) byCode.set(errorCode, cell);
    return cell;
  }

  private cell(child: { inc(value?: number): void }): Cell {
    const cell: Cell = { child, pending: 0 };
    this.cells.push(cell);
    return cell;
  }
}

const seriesByRegistry = new WeakMap<Registry, Map<string, EvaluationSeries>>();

function seriesFor(registry: Registry, prefix: string, maxFlagKeys: number): EvaluationSeries {
  let byPrefix = seriesByRegistry.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    seriesByRegistry.set(registry, byPrefix);
  }
  let series = byPrefix.get(prefix);
  if (series === undefined) {
    series = new EvaluationSeries(registry, prefix, maxFlagKeys);
    byPrefix.set(prefix, series);
  }
  return series;
}

/**
 * Prometheus counters for flag evaluations, fed from both evaluation paths through one `record()`: the provider's
 * synchronous fast path calls `record` directly, and the OpenFeature client runs this object as a hook. Label
 * values are bounded: flag keys are capped (extra keys fold into `__other__`), error codes are the spec's enum, and
 * error messages are never labels.
 */
export class PrometheusHook implements Hook, EvaluationRecorder {
  private readonly series: EvaluationSeries;

  constructor(options: PrometheusHookOptions = {}) {
    this.series = seriesFor(options.registry ?? globalRegistry, options.prefix ?? '', options.maxFlagKeys ?? 500);
  }

  record(evaluation: EvaluationRecord): void {
    this.series.record(evaluation);
  }

  /**
   * `finally` rather than `after` + `error`: it runs exactly once per evaluation with the final details (for an
   * error: reason ERROR, the error code, no variant — what the fast path reports), whereas `error` also runs when a
   * later hook's `after` throws, which would count one evaluation twice.
   */
  finally(hookContext: Readonly<HookContext<FlagValue>>, details: EvaluationDetails<FlagValue>): void {
    this.series.record({
      flagKey: hookContext.flagKey,
      providerName: hookContext.providerMetadata.name,
      variant: details.variant,
      reason: details.reason,
      errorCode: details.errorCode,
    });
  }
}
