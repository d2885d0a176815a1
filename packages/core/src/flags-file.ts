import { DEFAULT_ENVIRONMENTS, type Evaluators, type Flag } from './flag-model.js';
import { isPlainObject, pointer, type ValidationIssue, validateEvaluators, validateFlag } from './flag-validation.js';
import { readYamlSource } from './yaml-source.js';

/** A problem in a flags file, with the line (1-based) it was found on. */
export interface FlagsFileIssue extends ValidationIssue {
  file: string;
  line: number;
  column: number;
}

export interface FlagsFile {
  flags: Flag[];
  evaluators: Evaluators;
}

export type FlagsFileResult = { ok: true; value: FlagsFile } | { ok: false; issues: FlagsFileIssue[] };

/**
 * Parses a flags file (YAML or JSON) and validates every flag, reporting problems with file, line and field.
 * Shape: `{ environments?: string[], evaluators?: {...}, flags: Flag[] }`.
 */
export function parseFlagsFile(
  text: string,
  file: string,
  environments: readonly string[] = DEFAULT_ENVIRONMENTS,
): FlagsFileResult {
  const source = readYamlSource(text);
  if (!source.ok) {
    return {
      ok: false,
      issues: source.errors.map((e) => ({
        file,
        line: e.line,
        column: e.column,
        path: '',
        code: 'SYNTAX_ERROR',
        message: e.message,
      })),
    };
  }
  const at = (path: string, code: string, message: string): FlagsFileIssue => ({
    file,
    ...source.locate(path),
    path,
    code,
    message,
  });
  const data = source.data;
  if (!isPlainObject(data)) {
    return { ok: false, issues: [at('', 'INVALID_TYPE', 'a flags file must be a mapping with a "flags" list')] };
  }
  const issues: FlagsFileIssue[] = [];
  for (const k of Object.keys(data)) {
    if (!['flags', 'evaluators', 'environments'].includes(k)) {
      issues.push(at(pointer(k), 'UNKNOWN_PROPERTY', `unknown top-level property "${k}"`));
    }
  }
  const evaluators = validateEvaluators(data.evaluators, '/evaluators');
  if (!evaluators.ok) issues.push(...evaluators.issues.map((i) => at(i.path, i.code, i.message)));
  const evaluatorNames = new Set(Object.keys(isPlainObject(data.evaluators) ? data.evaluators : {}));
  if (!Array.isArray(data.flags)) {
    issues.push(at('/flags', 'REQUIRED', '"flags" must be a list of flags'));
    return { ok: false, issues };
  }
  const flags: Flag[] = [];
  const seen = new Map<string, number>();
  data.flags.forEach((raw: unknown, index: number) => {
    const result = validateFlag(raw, {
      environments,
      evaluatorNames,
      evaluators: evaluators.ok ? evaluators.value : undefined,
    });
    if (!result.ok) {
      for (const i of result.issues) {
        const key = isPlainObject(raw) && typeof raw.key === 'string' ? `flag "${raw.key}": ` : '';
        issues.push(at(`/flags/${index}${i.path}`, i.code, `${key}${i.message}`));
      }
      return;
    }
    const previous = seen.get(result.value.key);
    if (previous !== undefined) {
      issues.push(
        at(
          `/flags/${index}/key`,
          'DUPLICATE_KEY',
          `flag "${result.value.key}" is defined twice (first at flags[${previous}])`,
        ),
      );
      return;
    }
    seen.set(result.value.key, index);
    flags.push(result.value);
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { flags, evaluators: evaluators.ok ? evaluators.value : {} } };
}

export function formatFlagsFileIssue(issue: FlagsFileIssue): string {
  const where = issue.path ? ` (at ${issue.path})` : '';
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}${where} [${issue.code}]`;
}
