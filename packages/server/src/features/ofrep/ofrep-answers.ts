import type { EvaluationContext } from '@openfeature/core';
import { Type } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';
import type { CountCell, EvaluationCounts } from '../../metrics/metrics.js';
import { type Evaluation, evaluateFlag } from '../../state/evaluation.js';
import type { EnvironmentView } from '../../state/replica-state.js';
import { OfrepEvaluation, ofrepSchemas } from './ofrep-schemas.js';

/** The `variant` label of `rc_flag_evaluations_total`: never a sensitive flag's variant name. */
export const SENSITIVE_VARIANT_LABEL = '[sensitive]';

export function variantLabel(view: EnvironmentView, e: Evaluation): string {
  if (view.sensitive.has(e.key)) return SENSITIVE_VARIANT_LABEL;
  return e.variant ?? '';
}

/** OFREP's failure body of one flag. */
export function ofrepErrorBody(e: Evaluation, errorCode: string) {
  return { key: e.key, errorCode, errorDetails: e.errorDetails, metadata: e.metadata };
}

// The response schemas' own serializers (fast-json-stringify, as Fastify compiles the route schemas): one flag's
// evaluation, and the bulk body's members after `flags`.
const bulkBody = ofrepSchemas.bulk.response[200];
const serializeEvaluation = fastJson(OfrepEvaluation);
const serializeBulkTail = fastJson(
  Type.Object({ metadata: bulkBody.properties.metadata, eventStreams: bulkBody.properties.eventStreams }),
);

/** One flag's answer (not an error): its evaluation, its JSON, its evaluation-counter cell. */
export interface Answer {
  readonly evaluation: Evaluation;
  readonly json: string;
  readonly cell: CountCell;
}

/** An answer that is the same for every context (the flag has no targeting, or is disabled). */
export type FixedAnswer = Answer;

/** What the OFREP routes answer from one view (an environment, or its flag set), prepared once per configuration. */
export interface ViewAnswers {
  /** The view's flag keys in key order: the order of the bulk response. */
  readonly keys: readonly string[];
  /** Per key of `keys` (same index): its fixed answer, or undefined where the context decides. */
  readonly fixed: readonly (FixedAnswer | undefined)[];
  readonly fixedByKey: ReadonlyMap<string, FixedAnswer>;
  /** Answers by flag, variant (undefined: none, the code default) and reason, made as outcomes first occur. */
  readonly byOutcome: Map<string, Map<string | undefined, Map<string, Answer>>>;
}

/** The bulk response's members after `flags`, as the route schema serializes them. */
export interface BulkTail {
  metadata: { revision: number };
  eventStreams: { type: string; url: string; inactivityDelaySec: number }[];
}

/**
 * Whether a flag's evaluation cannot depend on the context: disabled, or without targeting (flagd-core evaluates a
 * flag whose `targeting` is absent or empty to its default variant, reason STATIC). flagd's own providers cache
 * exactly these evaluations (their cache holds only answers whose reason is STATIC) for the same reason.
 */
function isContextFree(view: EnvironmentView, key: string): boolean {
  const flags = view.config.flags;
  if (!Object.hasOwn(flags, key)) return false;
  const flag = flags[key]!;
  if (flag.state === 'DISABLED') return true;
  const targeting = flag.targeting;
  if (targeting === undefined || targeting === null) return true;
  for (const _ in targeting) return false;
  return true;
}

/**
 * The OFREP answers of each view, made when a view is first asked for (a change makes new views; the old ones and
 * their answers are then collected). Most flags of a platform — timeouts, TTLs, kill switches — have no targeting,
 * so their answer is the same for every caller: it is evaluated, serialized and its metric cell found once per
 * configuration instead of on every request. A flag with targeting is evaluated by flagd for every context, but
 * what is sent follows from flagd's outcome alone — the variant (whose value and the flag's metadata the view fixes)
 * and the reason — so its JSON and metric cell are made once per outcome. The bulk body is these pieces joined,
 * each serialized by the route schema's own serializer. Errors are never kept (they take the routes' error paths
 * every time): their details can name the context.
 */
export class OfrepAnswers {
  private readonly byView = new WeakMap<EnvironmentView, ViewAnswers>();

  constructor(private readonly counts: Pick<EvaluationCounts, 'cell'>) {}

  of(view: EnvironmentView): ViewAnswers {
    let answers = this.byView.get(view);
    if (answers === undefined) {
      answers = this.prepare(view);
      this.byView.set(view, answers);
    }
    return answers;
  }

  private prepare(view: EnvironmentView): ViewAnswers {
    const keys = [...view.flagTypes.keys()].sort();
    const fixedByKey = new Map<string, FixedAnswer>();
    const fixed = keys.map((key) => {
      if (!isContextFree(view, key)) return undefined;
      const evaluation = evaluateFlag(view, key, {});
      if (evaluation.errorCode !== undefined) return undefined;
      const answer = this.make(view, evaluation);
      fixedByKey.set(key, answer);
      return answer;
    });
    return { keys, fixed, fixedByKey, byOutcome: new Map() };
  }

  private make(view: EnvironmentView, evaluation: Evaluation): Answer {
    return {
      evaluation,
      json: serializeEvaluation(evaluation),
      cell: this.counts.cell(view.name, evaluation.key, variantLabel(view, evaluation), evaluation.reason),
    };
  }

  /**
   * The answer to an evaluation that is not an error, made the first time its outcome (flag, variant, reason) occurs
   * for this view: the same JSON and cell as for `evaluation` itself, since the view fixes everything else.
   */
  answerFor(view: EnvironmentView, evaluation: Evaluation): Answer {
    const { byOutcome } = this.of(view);
    const variant = evaluation.variant;
    let byVariant = byOutcome.get(evaluation.key);
    if (byVariant === undefined) {
      byVariant = new Map();
      byOutcome.set(evaluation.key, byVariant);
    }
    let byReason = byVariant.get(variant);
    if (byReason === undefined) {
      byReason = new Map();
      byVariant.set(variant, byReason);
    }
    let answer = byReason.get(evaluation.reason);
    if (answer === undefined) {
      answer = this.make(view, evaluation);
      byReason.set(evaluation.reason, answer);
    }
    return answer;
  }

  /**
   * The bulk evaluation's body: every flag of the view in key order, its fixed answer or its evaluation for
   * `context`, each counted (an error under its error code), then `tail`.
   */
  bulkBody(view: EnvironmentView, context: EvaluationContext, tail: BulkTail): string {
    const { keys, fixed } = this.of(view);
    let json = '{"flags":[';
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) json += ',';
      const answer = fixed[i];
      if (answer !== undefined) {
        answer.cell.pending++;
        json += answer.json;
        continue;
      }
      const e = evaluateFlag(view, keys[i]!, context);
      if (e.errorCode === undefined) {
        const outcome = this.answerFor(view, e);
        outcome.cell.pending++;
        json += outcome.json;
      } else {
        // The key is the view's own, so it is its label (the routes fold unknown keys into one).
        this.counts.cell(view.name, e.key, variantLabel(view, e), e.errorCode).pending++;
        json += serializeEvaluation(ofrepErrorBody(e, e.errorCode));
      }
    }
    // `{"metadata":…,"eventStreams":…}` after the flags' `],`.
    return `${json}],${serializeBulkTail(tail).slice(1)}`;
  }
}
