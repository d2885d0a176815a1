// Compiling the JSON Schemas that users attach to number and object flags. The schemas come from API callers, so
// none of Ajv's defaults for trusted schemas hold: each compile gets its own Ajv (a `$id` is never registered
// anywhere shared, so the same `$id` can be compiled any number of times), the compiled validators live only in a
// bounded LRU cache (replicas re-validate stored flags on load, so repeated schemas are common), regular
// expressions run on re2js (linear time, no catastrophic backtracking), and anything Ajv would need to fetch, run
// asynchronously or recurse into without bound is refused with a message instead of a throw.
import { createHash } from 'node:crypto';
import { Ajv, type CodeOptions, type ErrorObject, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import type { ValidationIssue } from './flag-validation.js';

/** The limits `compileUserSchema` enforces. */
export const USER_SCHEMA_LIMITS = Object.freeze({
  /** Deepest nesting of objects/arrays in the schema document (the root object counts as 1). */
  maxDepth: 32,
  /** Largest schema, measured as UTF-8 bytes of its canonical JSON. */
  maxBytes: 64 * 1024,
  /** Most issues one `validate` call reports; the last one summarises the rest when there are more. */
  maxReportedErrors: 20,
  /** Most compiled schemas (and refusals) kept; least recently used ones go first. */
  cacheEntries: 256,
});

/**
 * Validates one value against a compiled user schema. Returns `[]` when the value satisfies the schema, otherwise
 * at most `USER_SCHEMA_LIMITS.maxReportedErrors` issues with code `SCHEMA_VIOLATION`, each located at `basePath`
 * (a JSON Pointer, already escaped, e.g. `/variants/big`) followed by the offending part of the value. Never throws.
 */
export type UserSchemaValidator = (value: unknown, basePath?: string) => ValidationIssue[];

/** The outcome of `compileUserSchema`: a validator, or why the schema is refused (one line, for a human). */
export type CompiledUserSchema = { ok: true; validate: UserSchemaValidator } | { ok: false; message: string };

const DRAFT_07 = 'http://json-schema.org/draft-07/schema';
const ACCEPTED_SCHEMA_URIS = new Set([DRAFT_07, `${DRAFT_07}#`]);
const MAX_META_ERRORS = 5;

class SchemaRefusal extends Error {}

/** A user pattern that must not reach a regular-expression engine; `problem` completes "pattern … ". */
class PatternRefusal extends Error {
  constructor(readonly problem: string) {
    super(`a regular expression in the schema ${problem}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Regular expressions: ECMAScript syntax (what JSON Schema specifies) checked first, then run on re2js.

/** True if `source` (a valid ECMAScript pattern) uses a backreference or a lookaround outside a character class. */
function usesBacktrackingSyntax(source: string): boolean {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (next === 'k' || (next >= '1' && next <= '9'))) return true;
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && source[i + 1] === '?') {
      const a = source[i + 2];
      const b = source[i + 3];
      if (a === '=' || a === '!' || (a === '<' && (b === '=' || b === '!'))) return true;
    }
  }
  return false;
}

// ECMAScript's `\s` (and so `\S`) is Unicode white space and its `.` excludes four line terminators; re2's `\s` is
// ASCII-only and its `.` excludes only `\n`. These spell the ECMAScript sets out for re2.
const WHITE_SPACE: readonly (readonly [number, number])[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
function complementOf(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const [a, b] of [...ranges, [0xd800, 0xdfff] as const].sort((x, y) => x[0] - y[0])) {
    if (a > next) out.push([next, a - 1]);
    next = Math.max(next, b + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}
function classBody(ranges: readonly (readonly [number, number])[]): string {
  const cp = (n: number) => `\\u{${n.toString(16)}}`;
  return ranges.map(([a, b]) => (a === b ? cp(a) : `${cp(a)}-${cp(b)}`)).join('');
}
const WHITE_SPACE_BODY = classBody(WHITE_SPACE);
const NOT_WHITE_SPACE_BODY = classBody(complementOf(WHITE_SPACE));
const DOT = '[^\\n\\r\\u2028\\u2029]';

/**
 * Rewrites `.`, `\s`, `\S`, `[]`, `[^]` and a literal `[` inside a class (which re2 could read as `[:alpha:]`) so
 * that re2 gives them their ECMAScript meaning. `source` is a valid ECMAScript pattern (u flag).
 */
function withEcmaScriptClasses(source: string, dotAll: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      i++;
      if (next === 's') out += inClass ? WHITE_SPACE_BODY : `[${WHITE_SPACE_BODY}]`;
      else if (next === 'S') out += inClass ? NOT_WHITE_SPACE_BODY : `[${NOT_WHITE_SPACE_BODY}]`;
      else out += `\\${next}`;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
    } else if (c === '[') {
      const negated = source[i + 1] === '^';
      const start = negated ? i + 2 : i + 1;
      if (source[start] === ']') {
        // `[]` matches nothing and `[^]` anything in ECMAScript; re2 would read that `]` as a literal.
        out += negated ? '[\\u{0}-\\u{10ffff}]' : '[^\\u{0}-\\u{10ffff}]';
        i = start;
      } else {
        inClass = true;
        out += negated ? '[^' : '[';
        i = start - 1;
      }
    } else if (c === '.' && !dotAll) {
      out += DOT;
    } else {
      out += c;
    }
  }
  return out;
}

function re2Flags(flags: string): number {
  let out = 0;
  for (const f of flags) {
    if (f === 'u')
      continue; // re2js always matches by code point
    else if (f === 'i') out |= RE2JS.CASE_INSENSITIVE;
    else if (f === 'm') out |= RE2JS.MULTILINE;
    else if (f === 's') out |= RE2JS.DOTALL;
    else throw new PatternRefusal(`needs the regular expression flag "${f}", which is not supported`);
  }
  return out;
}

/** Compiles an ECMAScript pattern for re2js, or throws a PatternRefusal saying why it cannot be. */
function compilePattern(source: string, flags: string): RE2JS {
  const shown = JSON.stringify(source);
  try {
    // Compiling (never executing) the native expression only checks that the syntax is ECMAScript.
    new RegExp(source, flags);
  } catch (e) {
    throw new PatternRefusal(`is not a valid regular expression (${(e as Error).message}): ${shown}`);
  }
  if (usesBacktrackingSyntax(source)) {
    throw new PatternRefusal(`uses syntax that is not supported (backreferences/lookaround): ${shown}`);
  }
  const re2flags = re2Flags(flags);
  try {
    return RE2JS.compile(RE2JS.translateRegExp(withEcmaScriptClasses(source, flags.includes('s'))), re2flags);
  } catch (e) {
    throw new PatternRefusal(
      `uses syntax that the linear-time regular expression engine does not support (${(e as Error).message}): ${shown}`,
    );
  }
}

type RegExpEngine = NonNullable<CodeOptions['regExp']>;

const re2Engine: RegExpEngine = Object.assign(
  (source: string, flags: string) => {
    const re = compilePattern(source, flags);
    // Ajv de-duplicates compiled patterns by `toString()`, so it must identify the pattern.
    const id = `/${source}/${flags}`;
    return { test: (s: string) => re.test(s), toString: () => id };
  },
  { code: 're2js' },
);

// ---------------------------------------------------------------------------------------------------------------
// Limits and the cache key: one pass over the document, refusing what is not JSON, too deep or too large.

function canonicalJson(root: unknown): string {
  const { maxDepth, maxBytes } = USER_SCHEMA_LIMITS;
  const parts: string[] = [];
  let length = 0;
  const emit = (s: string): void => {
    length += s.length;
    if (length > maxBytes) throw new SchemaRefusal(`schema is larger than ${maxBytes} bytes`);
    parts.push(s);
  };
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') {
      emit(JSON.stringify(v));
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new SchemaRefusal('schema is not JSON (it holds a non-finite number)');
      emit(JSON.stringify(v));
    } else if (typeof v === 'object') {
      if (depth >= maxDepth) throw new SchemaRefusal(`schema is nested deeper than ${maxDepth} levels`);
      if (Array.isArray(v)) {
        emit('[');
        for (let i = 0; i < v.length; i++) {
          if (i > 0) emit(',');
          walk(v[i], depth + 1);
        }
        emit(']');
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          throw new SchemaRefusal('schema is not JSON (it holds an object that is not a plain object)');
        }
        const record = v as Record<string, unknown>;
        const keys = Object.keys(record).sort();
        emit('{');
        keys.forEach((k, i) => {
          if (i > 0) emit(',');
          emit(`${JSON.stringify(k)}:`);
          walk(record[k], depth + 1);
        });
        emit('}');
      }
    } else {
      throw new SchemaRefusal(`schema is not JSON (it holds a value of type ${typeof v})`);
    }
  };
  walk(root, 0);
  const text = parts.join('');
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new SchemaRefusal(`schema is larger than ${maxBytes} bytes`);
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// A walk over the subschemas (draft-07 applicators), to refuse `$async` and name the keyword of a bad pattern.

const SINGLE_SUBSCHEMA = [
  'additionalItems',
  'additionalProperties',
  'contains',
  'else',
  'if',
  'items',
  'not',
  'propertyNames',
  'then',
  'unevaluatedItems',
  'unevaluatedProperties',
];
const SUBSCHEMA_ARRAYS = ['allOf', 'anyOf', 'items', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAPS = ['$defs', 'definitions', 'dependencies', 'dependentSchemas', 'patternProperties', 'properties'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function checkSubschemas(schema: unknown, at: string): void {
  if (!isRecord(schema)) return;
  const where = at === '' ? 'the schema root' : `#${at}`;
  if (Object.hasOwn(schema, '$async') && schema.$async !== false) {
    throw new SchemaRefusal(`"$async" at ${where} is not supported: flag values are validated synchronously`);
  }
  if (typeof schema.pattern === 'string') {
    try {
      compilePattern(schema.pattern, 'u');
    } catch (e) {
      if (e instanceof PatternRefusal) throw new SchemaRefusal(`"pattern" at ${where} ${e.problem}`);
      throw e;
    }
  }
  if (isRecord(schema.patternProperties)) {
    for (const key of Object.keys(schema.patternProperties)) {
      try {
        compilePattern(key, 'u');
      } catch (e) {
        if (e instanceof PatternRefusal) throw new SchemaRefusal(`"patternProperties" key at ${where} ${e.problem}`);
        throw e;
      }
    }
  }
  for (const k of SINGLE_SUBSCHEMA) checkSubschemas(schema[k], `${at}/${escapePointer(k)}`);
  for (const k of SUBSCHEMA_ARRAYS) {
    const list = schema[k];
    if (Array.isArray(list)) {
      for (let i = 0; i < list.length; i++) checkSubschemas(list[i], `${at}/${k}/${i}`);
    }
  }
  for (const k of SUBSCHEMA_MAPS) {
    const map = schema[k];
    if (isRecord(map)) {
      for (const [name, s] of Object.entries(map))
        checkSubschemas(s, `${at}/${escapePointer(k)}/${escapePointer(name)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Compiling.

// Checks user schemas against the draft-07 meta-schema. Only the meta-schema is ever compiled into this instance
// (the user schema is passed as data), so sharing it cannot collide or grow.
let metaValidate: ValidateFunction | undefined;
function draft07MetaValidate(): ValidateFunction {
  if (metaValidate === undefined) {
    const metaAjv = new Ajv({ allErrors: true, strict: false, logger: false });
    const validate = metaAjv.getSchema(DRAFT_07);
    if (validate === undefined) throw new Error('Ajv lost its draft-07 meta-schema');
    metaValidate = validate;
  }
  return metaValidate;
}

function metaErrorsText(errors: ErrorObject[]): string {
  const shown = errors.slice(0, MAX_META_ERRORS).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  const more = errors.length > MAX_META_ERRORS ? `; and ${errors.length - MAX_META_ERRORS} more` : '';
  return `${shown.join('; ')}${more}`;
}

function freshAjv(): Ajv {
  return new Ajv({
    // Users write schemas by hand: unknown keywords (e.g. `examples`, `x-…`) must not make a knob unusable.
    strict: false,
    allErrors: true,
    // The draft-07 check happens once, above; this instance holds nothing but the one user schema.
    meta: false,
    validateSchema: false,
    addUsedSchema: false,
    // Warnings about user input (unknown formats) are not the server's log lines.
    logger: false,
    code: { regExp: re2Engine },
  });
}

function makeValidator(validateFn: ValidateFunction): UserSchemaValidator {
  const { maxReportedErrors } = USER_SCHEMA_LIMITS;
  return (value, basePath = '') => {
    let valid: boolean;
    try {
      valid = validateFn(value) === true;
    } catch (e) {
      return [
        { path: basePath, code: 'SCHEMA_VIOLATION', message: `value could not be validated: ${(e as Error).message}` },
      ];
    }
    if (valid) return [];
    const errors = validateFn.errors ?? [];
    const toIssue = (e: ErrorObject): ValidationIssue => ({
      path: `${basePath}${e.instancePath}`,
      code: 'SCHEMA_VIOLATION',
      message: `value ${e.message ?? 'is invalid'}`,
    });
    if (errors.length === 0) return [{ path: basePath, code: 'SCHEMA_VIOLATION', message: 'value is invalid' }];
    if (errors.length <= maxReportedErrors) return errors.map(toIssue);
    const listed = errors.slice(0, maxReportedErrors - 1).map(toIssue);
    listed.push({
      path: basePath,
      code: 'SCHEMA_VIOLATION',
      message: `value has ${errors.length - listed.length} more schema violations (not listed)`,
    });
    return listed;
  };
}

function refusal(message: string): CompiledUserSchema {
  return Object.freeze({ ok: false as const, message });
}

function compileCanonical(canonical: string): CompiledUserSchema {
  // Ajv gets a private copy, so later changes to the caller's object cannot reach a cached validator.
  const schema: unknown = JSON.parse(canonical);
  if (typeof schema !== 'boolean' && !isRecord(schema)) {
    return refusal('schema must be a JSON Schema object (or true/false)');
  }
  try {
    if (isRecord(schema) && schema.$schema !== undefined && !ACCEPTED_SCHEMA_URIS.has(schema.$schema as string)) {
      return refusal(`"$schema" ${JSON.stringify(schema.$schema)} is not supported; schemas are JSON Schema draft-07`);
    }
    const meta = draft07MetaValidate();
    if (!meta(schema)) return refusal(`schema is invalid: ${metaErrorsText(meta.errors ?? [])}`);
    checkSubschemas(schema, '');
    const validateFn = freshAjv().compile(schema);
    if ((validateFn as { $async?: unknown }).$async === true) {
      return refusal('"$async" is not supported: flag values are validated synchronously');
    }
    return Object.freeze({ ok: true as const, validate: makeValidator(validateFn) });
  } catch (e) {
    if (e instanceof SchemaRefusal) return refusal(e.message);
    if (e instanceof PatternRefusal) return refusal(e.message);
    const err = e as { missingRef?: unknown; message?: unknown };
    if (typeof err?.missingRef === 'string') {
      return refusal(
        `"$ref" ${JSON.stringify(err.missingRef)} cannot be resolved: only references inside the schema are supported`,
      );
    }
    return refusal(typeof err?.message === 'string' ? err.message : String(e));
  }
}

// Keyed by the SHA-256 of the canonical JSON; a Map iterates in insertion order, so the first key is the least
// recently used one.
const cache = new Map<string, CompiledUserSchema>();

/** How many compiled schemas (and refusals) the cache holds now, and at most. */
export function userSchemaCacheStats(): { size: number; capacity: number } {
  return { size: cache.size, capacity: USER_SCHEMA_LIMITS.cacheEntries };
}

/** Drops every cached schema (for tests and for freeing memory; results already handed out keep working). */
export function clearUserSchemaCache(): void {
  cache.clear();
}

/**
 * Compiles a user-written JSON Schema (draft-07) for validating flag variants. Never throws: a schema that is not
 * JSON, nested deeper than `USER_SCHEMA_LIMITS.maxDepth`, larger than `maxBytes`, invalid against the draft-07
 * meta-schema, asynchronous, referring (`$ref`) outside itself, or using a regular expression that cannot run in
 * linear time (backreferences, lookaround) yields `{ ok: false, message }`.
 */
export function compileUserSchema(schema: unknown): CompiledUserSchema {
  let canonical: string;
  try {
    canonical = canonicalJson(schema);
  } catch (e) {
    if (e instanceof SchemaRefusal) return refusal(e.message);
    return refusal(`schema could not be read: ${(e as Error).message}`);
  }
  const key = createHash('sha256').update(canonical).digest('base64');
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const compiled = compileCanonical(canonical);
  cache.set(key, compiled);
  while (cache.size > USER_SCHEMA_LIMITS.cacheEntries) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
  return compiled;
}
