import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { DEFAULT_ENVIRONMENTS, type Evaluators, type Flag } from './flag-model.js';
import { isPlainObject, pointer, type ValidationIssue, validateEvaluators, validateFlag } from './flag-validation.js';

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

function decodePointer(path: string): string[] {
  if (path === '') return [];
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Finds the YAML node deepest along `path`, to report the line of the closest thing that exists. */
function nodeAt(root: YamlNode | null | undefined, segments: string[]): YamlNode | undefined {
  let node: unknown = root;
  let found: YamlNode | undefined = (root ?? undefined) as YamlNode | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      node = pair.value ?? pair.key;
      found = (pair.value ?? pair.key) as YamlNode;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      node = item;
      found = item as YamlNode;
    } else {
      break;
    }
  }
  return found;
}

/**
 * Parses a flags file (YAML or JSON) and validates every flag, reporting problems with file, line and field.
 * Shape: `{ environments?: string[], evaluators?: {...}, flags: Flag[] }`.
 */
export function parseFlagsFile(
  text: string,
  file: string,
  environments: readonly string[] = DEFAULT_ENVIRONMENTS,
): FlagsFileResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        file,
        ...locate(e.pos[0]),
        path: '',
        code: 'SYNTAX_ERROR',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  }
  const at = (path: string, code: string, message: string): FlagsFileIssue => {
    const node = nodeAt(doc.contents, decodePointer(path));
    return { file, ...locate(node?.range?.[0]), path, code, message };
  };
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
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
    const result = validateFlag(raw, { environments, evaluatorNames });
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
