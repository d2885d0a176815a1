import type { Evaluators, JsonValue } from './flag-model.js';

/**
 * What flagd's JsonLogic engine (json-logic-engine, as configured by @openfeature/flagd-core) accepts, and what a
 * rule can return. Checked at write time so that a rule the engine would reject, or a rule that can name a variant
 * the flag does not have, is refused with its JSON path instead of answering PARSE_ERROR or GENERAL for every user.
 */

/** A problem with a JsonLogic rule, located by JSON Pointer (same shape as flag-validation's ValidationIssue). */
export interface LogicIssue {
  path: string;
  code: string;
  message: string;
}

/** Operators of json-logic-engine 5 plus the ones flagd adds (`fractional`, `sem_ver`, `starts_with`, `ends_with`). */
export const JSON_LOGIC_OPERATORS: ReadonlySet<string> = new Set([
  // flagd's custom operators
  'fractional',
  'sem_ver',
  'starts_with',
  'ends_with',
  // json-logic-engine's defaults
  '+',
  '*',
  '/',
  '-',
  '%',
  'throw',
  'max',
  'min',
  'in',
  'preserve',
  'if',
  '<',
  '<=',
  '>',
  '>=',
  '==',
  '===',
  '!=',
  '!==',
  'or',
  '??',
  'try',
  'and',
  'substr',
  'length',
  'exists',
  'val',
  'map',
  'some',
  'all',
  'none',
  'merge',
  'filter',
  'reduce',
  '!',
  '!!',
  'cat',
  'keys',
  'pipe',
  'eachKey',
  'every',
  '?:',
  'not',
  'get',
  'var',
  'missing',
  'missing_some',
]);

/** Deepest a rule may nest (the compiled targeting wraps it a few levels more; flagd's validator recurses per level). */
export const MAX_LOGIC_DEPTH = 32;
/** Largest serialized rule (targeting of one environment, or one shared evaluator). */
export const MAX_LOGIC_BYTES = 64 * 1024;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function segment(s: string | number): string {
  return `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/**
 * Checks that `logic` is JsonLogic the engine builds: every object is a single known operator (or `{"$ref": name}`
 * where references are allowed), within the depth and size limits. `allowRefs` is false for shared evaluators
 * (flagd does not resolve a `$ref` inside an evaluator).
 */
export function validateJsonLogic(logic: unknown, base: string, options: { allowRefs: boolean }): LogicIssue[] {
  let serialized: string;
  try {
    serialized = JSON.stringify(logic) ?? '';
  } catch {
    return [{ path: base, code: 'INVALID_TARGETING', message: 'rule is not serializable JSON' }];
  }
  if (Buffer.byteLength(serialized, 'utf8') > MAX_LOGIC_BYTES) {
    return [{ path: base, code: 'TOO_LARGE', message: `a rule may be at most ${MAX_LOGIC_BYTES / 1024} KiB of JSON` }];
  }
  const issues: LogicIssue[] = [];
  // Iterative walk: the depth limit is what makes the recursive checks elsewhere safe, so it must not recurse itself.
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: logic, path: base, depth: 1 }];
  while (stack.length > 0 && issues.length < 20) {
    const { node, path, depth } = stack.pop()!;
    if (depth > MAX_LOGIC_DEPTH) {
      issues.push({ path, code: 'TOO_DEEP', message: `rules may nest at most ${MAX_LOGIC_DEPTH} levels` });
      continue;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        stack.push({ node: item, path: `${path}${segment(i)}`, depth: depth + 1 });
      });
      continue;
    }
    if (!isObject(node)) continue;
    const keys = Object.keys(node);
    if (keys.length === 0) continue; // `{}` is data to the engine (it evaluates to itself)
    if (keys.length > 1) {
      issues.push({
        path,
        code: 'INVALID_TARGETING',
        message: `a JsonLogic operation has exactly one operator, got ${keys.length} keys (${keys.slice(0, 3).join(', ')})`,
      });
      continue;
    }
    const op = keys[0]!;
    const args = node[op];
    if (op === '$ref') {
      if (!options.allowRefs) {
        issues.push({
          path,
          code: 'INVALID_TARGETING',
          message: 'evaluators cannot use $ref (flagd does not nest them)',
        });
      } else if (typeof args !== 'string') {
        issues.push({ path: `${path}/$ref`, code: 'INVALID_TARGETING', message: '$ref must name a shared evaluator' });
      }
      continue;
    }
    if (!JSON_LOGIC_OPERATORS.has(op)) {
      issues.push({
        path: `${path}${segment(op)}`,
        code: 'UNKNOWN_OPERATOR',
        message: `"${op}" is not a JsonLogic operator flagd knows`,
      });
      continue;
    }
    if (op === 'preserve') continue; // its argument is data, not logic
    stack.push({ node: args, path: `${path}${segment(op)}`, depth: depth + 1 });
  }
  return issues;
}

/**
 * `$$`, `$&`, `` $` `` and `$'` in an evaluator's JSON would be read as replacement patterns by flagd's `$ref`
 * substitution (a string `replaceAll`), corrupting every configuration that uses the evaluator.
 */
const REPLACEMENT_PATTERN = /\$[$&`']/;

export function evaluatorTextIssue(logic: unknown, base: string): LogicIssue | undefined {
  const text = JSON.stringify(logic) ?? '';
  const m = REPLACEMENT_PATTERN.exec(text);
  if (!m) return undefined;
  return {
    path: base,
    code: 'INVALID_TARGETING',
    message: `evaluators cannot contain "${m[0]}": flagd's $ref substitution reads it as a replacement pattern`,
  };
}

/** Operators whose result is always true or false (or null for a misconfigured flagd operator). */
const BOOLEAN_OPERATORS = new Set([
  '==',
  '===',
  '!=',
  '!==',
  '<',
  '<=',
  '>',
  '>=',
  '!',
  '!!',
  'not',
  'in',
  'some',
  'all',
  'none',
  'every',
  'exists',
  'starts_with',
  'ends_with',
  'sem_ver',
]);

/** What a rule can return, as flagd turns it into a variant name (`String(result)`); null means "fall through". */
export interface LogicResults {
  /** Variant names the rule can return. */
  names: Set<string>;
  /** True when the rule can return null (flagd then serves the default variant). */
  nullable: boolean;
  /** Result positions whose value is computed at evaluation time, so no variant check is possible. */
  dynamic: LogicIssue[];
}

/**
 * Static analysis of a rule's possible results. Condition positions (`if`'s conditions, comparison operands) do not
 * matter; result positions do. `$ref`s are followed into `evaluators` (names that are absent are reported by the
 * reference check, not here).
 */
export function logicResults(logic: unknown, evaluators: Evaluators, base: string): LogicResults {
  const out: LogicResults = { names: new Set(), nullable: false, dynamic: [] };
  collectResults(logic, evaluators, base, out, 0);
  return out;
}

function collectResults(node: unknown, evaluators: Evaluators, path: string, out: LogicResults, depth: number): void {
  if (depth > MAX_LOGIC_DEPTH * 2) {
    out.dynamic.push({ path, code: 'TOO_DEEP', message: 'rule nests too deeply to analyse' });
    return;
  }
  if (node === null || node === undefined) {
    out.nullable = true;
    return;
  }
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') {
    out.names.add(String(node));
    return;
  }
  if (Array.isArray(node)) {
    out.dynamic.push({
      path,
      code: 'INVALID_RESULT',
      message: 'a list cannot name a variant (targeting must return a variant name or null)',
    });
    return;
  }
  if (!isObject(node)) return;
  const keys = Object.keys(node);
  if (keys.length !== 1) {
    // `{}` evaluates to itself; several keys are refused by validateJsonLogic.
    out.dynamic.push({ path, code: 'INVALID_RESULT', message: 'an object cannot name a variant' });
    return;
  }
  const op = keys[0]!;
  const args = node[op];
  const at = `${path}${segment(op)}`;
  const list = Array.isArray(args) ? args : [args];
  switch (op) {
    case '$ref': {
      if (typeof args === 'string' && Object.hasOwn(evaluators, args)) {
        collectResults(evaluators[args], evaluators, path, out, depth + 1);
      }
      return;
    }
    case 'if':
    case '?:': {
      // [c1, r1, c2, r2, …, else?]: a single argument is returned as is; with no else, no match gives null.
      if (list.length === 1) {
        collectResults(list[0], evaluators, `${at}/0`, out, depth + 1);
        return;
      }
      for (let i = 1; i < list.length; i += 2) collectResults(list[i], evaluators, `${at}/${i}`, out, depth + 1);
      if (list.length % 2 === 1)
        collectResults(list[list.length - 1], evaluators, `${at}/${list.length - 1}`, out, depth + 1);
      else out.nullable = true;
      return;
    }
    case 'or':
    case 'and':
    case '??':
    case 'try': {
      // Each returns one of its arguments.
      list.forEach((item, i) => {
        collectResults(item, evaluators, `${at}/${i}`, out, depth + 1);
      });
      if (list.length === 0) out.nullable = true;
      return;
    }
    case 'fractional': {
      // [bucketBy?, [variant, weight]…]: a leading non-list is the bucketing value; null when misconfigured.
      out.nullable = true;
      list.forEach((bucket, i) => {
        if (i === 0 && !Array.isArray(bucket)) return;
        if (Array.isArray(bucket) && bucket.length > 0) {
          collectResults(bucket[0], evaluators, `${at}/${i}/0`, out, depth + 1);
        }
      });
      return;
    }
    case 'preserve': {
      if (typeof args === 'string' || typeof args === 'number' || typeof args === 'boolean')
        out.names.add(String(args));
      else if (args === null) out.nullable = true;
      else out.dynamic.push({ path: at, code: 'INVALID_RESULT', message: 'preserved data cannot name a variant' });
      return;
    }
    default:
      if (BOOLEAN_OPERATORS.has(op)) {
        out.names.add('true');
        out.names.add('false');
        // flagd's operators answer null when misconfigured (e.g. a non-semver value).
        if (op === 'sem_ver' || op === 'starts_with' || op === 'ends_with') out.nullable = true;
        return;
      }
      out.dynamic.push({
        path: at,
        code: 'COMPUTED_RESULT',
        message: `the result of "${op}" is computed per request, so it can name a variant the flag does not have; map it to variant names with "if"`,
      });
  }
}

/** Every `$ref` name used in a JsonLogic tree (iterative: safe on any depth). */
export function collectRefs(logic: unknown, into: Set<string> = new Set()): Set<string> {
  const stack: unknown[] = [logic];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
    } else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string') into.add(v);
        else stack.push(v);
      }
    }
  }
  return into;
}

export type { JsonValue };
