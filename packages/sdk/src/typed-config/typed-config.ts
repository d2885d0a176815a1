import type {
  EvaluationContext,
  EventDetails,
  FlagValueType,
  JsonValue,
  ResolutionDetails,
} from '@openfeature/server-sdk';
import { ProviderEvents } from '@openfeature/server-sdk';
import { Ajv, type ValidateFunction } from 'ajv';
import { Counter, register as globalRegistry, type Registry } from 'prom-client';
import type { StructuredLogger } from '../hooks/logging-hook.js';
import { FlagAccessor, RuntimeControlProvider } from '../provider/runtime-control-provider.js';

/** What a `validate` function returns: true when valid, false or a description of the problem otherwise. */
export type KnobValidation = boolean | string;

interface KnobSpecBase {
  /** The flag that carries the knob. */
  key: string;
}

export interface BooleanKnobSpec extends KnobSpecBase {
  type: 'boolean';
  default: boolean;
}

export interface StringKnobSpec extends KnobSpecBase {
  type: 'string';
  default: string;
  /** The only accepted values. */
  oneOf?: readonly string[];
  pattern?: RegExp;
  validate?: (value: string) => KnobValidation;
}

export interface NumberKnobSpec extends KnobSpecBase {
  type: 'number';
  default: number;
  min?: number;
  max?: number;
  integer?: boolean;
  validate?: (value: number) => KnobValidation;
}

export interface ObjectKnobSpec<T = unknown> extends KnobSpecBase {
  type: 'object';
  /** Also the knob's TypeScript type, unless `validate` is a type guard. */
  default: T;
  /** A JSON Schema (draft-07, as the server's flag schemas) every value must satisfy; compiled once with ajv. */
  schema?: object;
  validate?: (value: unknown) => KnobValidation;
}

export type KnobSpec = BooleanKnobSpec | StringKnobSpec | NumberKnobSpec | ObjectKnobSpec;

/** The TypeScript type of a knob, from its declaration. */
export type KnobValue<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'number' }
    ? number
    : S extends { type: 'string'; oneOf: readonly (infer V)[] }
      ? V
      : S extends { type: 'string' }
        ? string
        : S extends { type: 'object'; validate: (value: unknown) => value is infer G }
          ? G
          : S extends { type: 'object'; default: infer T }
            ? T
            : never;

export type KnobValues<Specs> = { [Name in keyof Specs]: KnobValue<Specs[Name]> };

/** Why a knob served its declared default instead of the flag's value (the `reason` label of the metric). */
export type KnobFallbackReason =
  | 'missing'
  | 'disabled'
  | 'not_ready'
  | 'provider_error'
  | 'wrong_type'
  | 'out_of_bounds'
  | 'invalid';

export interface KnobsOptions {
  /** Receives the (rate-limited) fallback warnings (default: console). */
  logger?: Pick<StructuredLogger, 'warn'>;
  /** Where `runtime_config_fallbacks_total` lives (default: prom-client's global registry). */
  registry?: Registry;
  /** At most one warning per knob and reason in this interval; the rest are counted (default 60 s). */
  warnIntervalMs?: number;
  /** The context `onChange` evaluates with, unless one is given to it (default: none). */
  context?: EvaluationContext;
}

export interface OnChangeOptions {
  context?: EvaluationContext;
}

export type KnobSource = RuntimeControlProvider | FlagAccessor;

export interface Knobs<Specs extends Record<string, KnobSpec>> {
  /** The knob's current, valid value: the flag's value, or the declared default. Never throws. */
  get<Name extends keyof Specs & string>(name: Name, context?: EvaluationContext): KnobValue<Specs[Name]>;
  /** Every knob's current value. */
  snapshot(context?: EvaluationContext): KnobValues<Specs>;
  /**
   * Calls `listener` with the new and previous valid value whenever the provider reports a change of the knob's
   * flag (or becomes ready) and the evaluated value actually differs. Returns the unsubscribe function.
   */
  onChange<Name extends keyof Specs & string>(
    name: Name,
    listener: (value: KnobValue<Specs[Name]>, previous: KnobValue<Specs[Name]>) => void,
    options?: OnChangeOptions,
  ): () => void;
}

const FALLBACK_METRIC = 'runtime_config_fallbacks_total';

type Checked = { ok: true; value: unknown } | { ok: false; reason: KnobFallbackReason; problem: string };

const consoleLogger: Pick<StructuredLogger, 'warn'> = {
  warn: (fields, message) => console.warn(message, fields),
};

function fallbackCounter(registry: Registry): Counter<'knob' | 'reason'> {
  // One counter per registry however many knob sets are defined (prom-client rejects a second registration).
  const existing = registry.getSingleMetric(FALLBACK_METRIC);
  if (existing) return existing as Counter<'knob' | 'reason'>;
  return new Counter({
    name: FALLBACK_METRIC,
    help: 'Typed runtime knobs that served their declared default, by knob (flag key) and reason.',
    labelNames: ['knob', 'reason'],
    registers: [registry],
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Structural equality of JSON values (onChange must not fire for an equal object re-sent in a new snapshot). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  return aKeys.every((k) => Object.hasOwn(bRecord, k) && jsonEqual(aRecord[k], bRecord[k]));
}

function problemOf(result: KnobValidation, fallback: string): string | undefined {
  if (result === true) return undefined;
  return typeof result === 'string' && result.length > 0 ? result : fallback;
}

/** One declared knob, with its checks prepared once. */
class Knob {
  private readonly schemaCheck: ValidateFunction | undefined;
  /** Validation verdicts by object identity: the provider hands out the same variant object every time. */
  private readonly objectVerdicts = new WeakMap<object, Checked>();
  readonly fallback: JsonValue;

  constructor(
    readonly name: string,
    readonly spec: KnobSpec,
    ajv: () => Ajv,
  ) {
    this.schemaCheck = spec.type === 'object' && spec.schema ? ajv().compile(spec.schema) : undefined;
    this.fallback = deepFreeze(spec.default) as JsonValue;
  }

  get flagType(): FlagValueType {
    return this.spec.type;
  }

  check(details: ResolutionDetails<JsonValue>): Checked {
    if (details.errorCode) {
      const reason: KnobFallbackReason =
        details.errorCode === 'FLAG_NOT_FOUND'
          ? 'missing'
          : details.errorCode === 'PROVIDER_NOT_READY'
            ? 'not_ready'
            : details.errorCode === 'TYPE_MISMATCH'
              ? 'wrong_type'
              : 'provider_error';
      return { ok: false, reason, problem: `evaluation failed (${details.errorCode})` };
    }
    if (details.reason === 'DISABLED') return { ok: false, reason: 'disabled', problem: 'the flag is disabled' };
    const sensitive = details.flagMetadata?.sensitive === true;
    return this.checkValue(details.value, sensitive);
  }

  private checkValue(value: unknown, sensitive: boolean): Checked {
    const spec = this.spec;
    const shown = (v: unknown) => (sensitive ? '[sensitive]' : JSON.stringify(v));
    switch (spec.type) {
      case 'boolean':
        if (typeof value !== 'boolean') return { ok: false, reason: 'wrong_type', problem: 'not a boolean' };
        return { ok: true, value };
      case 'number': {
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          return { ok: false, reason: 'wrong_type', problem: 'not a finite number' };
        }
        if (spec.integer && !Number.isInteger(value)) {
          return { ok: false, reason: 'out_of_bounds', problem: `${shown(value)} is not an integer` };
        }
        if (spec.min !== undefined && value < spec.min) {
          return { ok: false, reason: 'out_of_bounds', problem: `${shown(value)} is below the minimum ${spec.min}` };
        }
        if (spec.max !== undefined && value > spec.max) {
          return { ok: false, reason: 'out_of_bounds', problem: `${shown(value)} is above the maximum ${spec.max}` };
        }
        const problem = spec.validate
          ? problemOf(
              this.safely(() => spec.validate?.(value)),
              'rejected',
            )
          : undefined;
        return problem ? { ok: false, reason: 'invalid', problem } : { ok: true, value };
      }
      case 'string': {
        if (typeof value !== 'string') return { ok: false, reason: 'wrong_type', problem: 'not a string' };
        if (spec.oneOf && !spec.oneOf.includes(value)) {
          return { ok: false, reason: 'invalid', problem: `${shown(value)} is not one of ${spec.oneOf.join(', ')}` };
        }
        if (spec.pattern && !spec.pattern.test(value)) {
          return { ok: false, reason: 'invalid', problem: `${shown(value)} does not match ${spec.pattern}` };
        }
        const problem = spec.validate
          ? problemOf(
              this.safely(() => spec.validate?.(value)),
              'rejected',
            )
          : undefined;
        return problem ? { ok: false, reason: 'invalid', problem } : { ok: true, value };
      }
      case 'object': {
        if (typeof value !== 'object' || value === null) {
          return { ok: false, reason: 'wrong_type', problem: 'not an object' };
        }
        const cached = this.objectVerdicts.get(value);
        if (cached) return cached;
        const verdict = this.checkObject(spec, value);
        this.objectVerdicts.set(value, verdict);
        return verdict;
      }
    }
  }

  private checkObject(spec: ObjectKnobSpec, value: object): Checked {
    if (this.schemaCheck && !this.schemaCheck(value)) {
      const first = this.schemaCheck.errors?.[0];
      const where = first ? `${first.instancePath || '/'} ${first.message ?? ''}`.trim() : 'schema violation';
      return { ok: false, reason: 'invalid', problem: `does not match the schema: ${where}` };
    }
    if (spec.validate) {
      const problem = problemOf(
        this.safely(() => spec.validate?.(value)),
        'rejected by validate',
      );
      if (problem) return { ok: false, reason: 'invalid', problem };
    }
    // Frozen so that no caller can change the provider's copy (every later evaluation would see the change).
    return { ok: true, value: deepFreeze(value) };
  }

  /** A throwing validator is a rejection, never an exception in the caller. */
  private safely(run: () => KnobValidation | undefined): KnobValidation {
    try {
      return run() ?? false;
    } catch (err) {
      return `validate threw: ${(err as Error).message}`;
    }
  }
}

/** Warns at most once per knob and reason per interval, and says how many it held back. */
class FallbackWarnings {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Pick<StructuredLogger, 'warn'>,
    private readonly intervalMs: number,
  ) {}

  warn(knob: Knob, reason: KnobFallbackReason, problem: string): void {
    const id = `${knob.name}\u0000${reason}`;
    const now = Date.now();
    const entry = this.last.get(id);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    this.last.set(id, { at: now, suppressed: 0 });
    try {
      this.logger.warn(
        {
          knob: knob.name,
          flagKey: knob.spec.key,
          reason,
          problem,
          suppressed: entry?.suppressed ?? 0,
        },
        `runtime config "${knob.name}" (${knob.spec.key}) is using its default: ${problem}`,
      );
    } catch {
      // A broken logger must not break configuration reads.
    }
  }
}

/**
 * Declares typed runtime knobs once and reads them anywhere: each `get` evaluates the knob's flag on the provider's
 * synchronous fast path and returns a value of the declared type that passed the declared checks — otherwise the
 * declared safe default, with a rate-limited warning and `runtime_config_fallbacks_total{knob, reason}`.
 */
export function defineKnobs<Specs extends Record<string, KnobSpec>>(
  source: KnobSource,
  specs: Specs,
  options: KnobsOptions = {},
): Knobs<Specs> {
  const accessor = source instanceof FlagAccessor ? source : source.flags;
  const provider = source instanceof RuntimeControlProvider ? source : undefined;
  const fallbacks = fallbackCounter(options.registry ?? globalRegistry);
  const logger = options.logger ?? consoleLogger;
  const warnings = new FallbackWarnings(logger, options.warnIntervalMs ?? 60_000);
  let ajv: Ajv | undefined;
  const sharedAjv = () => {
    ajv ??= new Ajv({ allErrors: false, strict: false });
    return ajv;
  };
  const knobs = new Map<string, Knob>();
  for (const [name, spec] of Object.entries(specs)) knobs.set(name, new Knob(name, spec, sharedAjv));

  function read(knob: Knob, context: EvaluationContext | undefined): unknown {
    let checked: Checked;
    try {
      checked = knob.check(accessor.details(knob.flagType, knob.spec.key, knob.fallback, context));
    } catch (err) {
      checked = { ok: false, reason: 'provider_error', problem: `evaluation threw: ${(err as Error).message}` };
    }
    if (checked.ok) return checked.value;
    fallbacks.inc({ knob: knob.spec.key, reason: checked.reason });
    warnings.warn(knob, checked.reason, checked.problem);
    return knob.fallback;
  }

  function knobNamed(name: string): Knob {
    const knob = knobs.get(name);
    if (!knob) throw new TypeError(`unknown knob "${name}"; declared: ${[...knobs.keys()].join(', ')}`);
    return knob;
  }

  return {
    get(name, context) {
      return read(knobNamed(name), context) as KnobValue<Specs[typeof name]>;
    },

    snapshot(context) {
      const values: Record<string, unknown> = {};
      for (const knob of knobs.values()) values[knob.name] = read(knob, context);
      return values as KnobValues<Specs>;
    },

    onChange(name, listener, onChangeOptions = {}) {
      const knob = knobNamed(name);
      if (!provider) {
        throw new TypeError('onChange needs the provider (its events), not only its FlagAccessor');
      }
      const context = onChangeOptions.context ?? options.context;
      let previous = read(knob, context);
      const reevaluate = (details?: EventDetails) => {
        const changed = details?.flagsChanged;
        if (Array.isArray(changed) && !changed.includes(knob.spec.key)) return;
        const value = read(knob, context);
        if (jsonEqual(value, previous)) return;
        const before = previous;
        previous = value;
        try {
          listener(value as KnobValue<Specs[typeof name]>, before as KnobValue<Specs[typeof name]>);
        } catch (err) {
          try {
            logger.warn(
              { knob: knob.name, flagKey: knob.spec.key },
              `an onChange listener of "${knob.name}" threw: ${(err as Error).message}`,
            );
          } catch {
            // As above: logging never breaks the change notification of other listeners.
          }
        }
      };
      const onReady = () => reevaluate();
      provider.events.addHandler(ProviderEvents.ConfigurationChanged, reevaluate);
      // A stream restored after an outage announces READY; values may have moved meanwhile. (The first READY after
      // `initialize` is the SDK's, not the provider's: subscribe once the provider is ready.)
      provider.events.addHandler(ProviderEvents.Ready, onReady);
      return () => {
        provider.events.removeHandler(ProviderEvents.ConfigurationChanged, reevaluate);
        provider.events.removeHandler(ProviderEvents.Ready, onReady);
      };
    },
  };
}
