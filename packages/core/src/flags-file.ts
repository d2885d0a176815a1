import { type FileShapeError, fileShapeErrors } from './file-schema.js';
import type { FlagMetadata } from './flag-model.js';
import { DEFAULT_ENVIRONMENTS, type Evaluators, type Flag } from './flag-model.js';
import {
  isPlainObject,
  metadataIssues,
  pointer,
  type ValidationIssue,
  validateEvaluators,
  validateFlag,
} from './flag-validation.js';
import { flagsFileJsonSchema } from './schemas/flag-schema.js';
import { decodePointer, readYamlSource } from './yaml-source.js';

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
  // The shape first, from the flags file's JSON Schema (the API's flag schema); then the rules across fields.
  const shape = shapeIssues(data);
  const issues: FlagsFileIssue[] = shape.map((i) => at(i.path, i.code, withFlagKey(data, i.path, i.message)));
  /** A problem core's validation finds again where the schema already reported one is not repeated. */
  const known = (path: string) => shape.some((i) => i.path === path);
  const evaluators = validateEvaluators(data.evaluators, '/evaluators');
  if (!evaluators.ok) {
    for (const i of evaluators.issues) if (!known(i.path)) issues.push(at(i.path, i.code, i.message));
  }
  const evaluatorNames = new Set(Object.keys(isPlainObject(data.evaluators) ? data.evaluators : {}));
  // Set-level metadata obeys the flag metadata rules (its paths, /metadata/<key>, are the file's own).
  const setMetadataIssues = data.metadata === undefined ? [] : metadataIssues(data.metadata);
  for (const i of setMetadataIssues) if (!known(i.path)) issues.push(at(i.path, i.code, i.message));
  const setMetadata =
    setMetadataIssues.length === 0 && isPlainObject(data.metadata) ? (data.metadata as FlagMetadata) : undefined;
  if (!Array.isArray(data.flags)) {
    if (!known('/flags')) issues.push(at('/flags', 'REQUIRED', '"flags" must be a list of flags'));
    return { ok: false, issues };
  }
  const flags: Flag[] = [];
  const seen = new Map<string, number>();
  data.flags.forEach((entry: unknown, index: number) => {
    const raw = mergeSetMetadata(entry, setMetadata);
    const result = validateFlag(raw, {
      environments,
      evaluatorNames,
      evaluators: evaluators.ok ? evaluators.value : undefined,
    });
    if (!result.ok) {
      for (const i of result.issues) {
        const path = `/flags/${index}${i.path}`;
        if (!known(path)) issues.push(at(path, i.code, withFlagKey(data, path, i.message)));
      }
      return;
    }
    if (shape.some((i) => i.path.startsWith(`/flags/${index}/`) || i.path === `/flags/${index}`)) return;
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

/** A flag entry with the file's set-level metadata under its own (what flagd does with a flag set's metadata). */
function mergeSetMetadata(entry: unknown, setMetadata: FlagMetadata | undefined): unknown {
  if (!setMetadata || !isPlainObject(entry)) return entry;
  const own = entry.metadata;
  // A non-object `metadata` is left for validateFlag to report at its path.
  if (own !== undefined && !isPlainObject(own)) return entry;
  return { ...entry, metadata: { ...setMetadata, ...(own as FlagMetadata | undefined) } };
}

/** The flags file's JSON Schema, compiled once by `fileShapeErrors` (shared with the platform file's reader). */
const FLAGS_FILE_SCHEMA = flagsFileJsonSchema();

/** The document's shape problems against the flags file's JSON Schema, as JSON-Pointer issues. */
function shapeIssues(data: unknown): ValidationIssue[] {
  return fileShapeErrors(FLAGS_FILE_SCHEMA, data).map(shapeIssue);
}

function shapeIssue(e: FileShapeError): ValidationIssue {
  const { path, code } = e;
  const name = decodePointer(path).at(-1) ?? '';
  if (e.keyword === 'additionalProperties') {
    const topLevel = path === pointer(name);
    return { path, code, message: `unknown ${topLevel ? 'top-level ' : ''}property "${name}"` };
  }
  if (e.keyword === 'required') {
    return { path, code, message: path === '/flags' ? '"flags" must be a list of flags' : `${name} is required` };
  }
  const field = path === '' ? 'the document' : name;
  const detail = e.keyword === 'enum' ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : '';
  return { path, code, message: `${field} ${e.message}${detail}` };
}

/** `flag "k": message` for a problem inside a flag whose key is known. */
function withFlagKey(data: Record<string, unknown>, path: string, message: string): string {
  const match = /^\/flags\/(\d+)(?:\/|$)/.exec(path);
  if (!match || !Array.isArray(data.flags)) return message;
  const raw: unknown = data.flags[Number(match[1])];
  return isPlainObject(raw) && typeof raw.key === 'string' ? `flag "${raw.key}": ${message}` : message;
}

export function formatFlagsFileIssue(issue: FlagsFileIssue): string {
  const where = issue.path ? ` (at ${issue.path})` : '';
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}${where} [${issue.code}]`;
}
