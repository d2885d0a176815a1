import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { pointer } from './flag-validation.js';

/**
 * Checking a file's plain data (read by `readYamlSource`) against its JSON Schema, with Ajv's errors turned into one
 * problem per place: a JSON Pointer, a code and what the file's reader needs to word a message. Used by the flags
 * file's reader (`flags-file.ts`) and the platform file's (`@runtime-control/traffic`), which word messages their way.
 */

/** The issue code of each JSON Schema keyword that failed (anything else is `INVALID_VALUE`). */
export const SCHEMA_KEYWORD_CODES: Readonly<Record<string, string>> = {
  additionalProperties: 'UNKNOWN_PROPERTY',
  required: 'REQUIRED',
  type: 'INVALID_TYPE',
  anyOf: 'INVALID_TYPE',
  minItems: 'REQUIRED',
  minProperties: 'REQUIRED',
};

/** One shape problem of a file. */
export interface FileShapeError {
  /**
   * JSON Pointer of what is at fault: the value; for `required` the missing property; for `additionalProperties`
   * the unknown property; for `propertyNames` the badly named property.
   */
  path: string;
  code: string;
  /**
   * The JSON Schema keyword that failed, e.g. `type`, `pattern`, `required`; `plainData` for a value JSON cannot
   * hold (checked before the schema).
   */
  keyword: string;
  params: Record<string, unknown>;
  /**
   * The schema holding the keyword; for `required` the missing property's schema, for `propertyNames` the
   * schema of the names.
   */
  schema: Record<string, unknown>;
  /** The value at fault (for `propertyNames` the name; for `required` undefined). */
  data: unknown;
  /** Ajv's own wording, e.g. `must be integer`. */
  message: string;
}

const validators = new WeakMap<object, ValidateFunction>();

/**
 * The shape problems of `data` against `schema` (a plain JSON Schema, compiled once per object): at most one per
 * path, in the schema's order. Of a union (`anyOf`) only the branch of the value's type is reported.
 */
export function fileShapeErrors(schema: Record<string, unknown>, data: unknown): FileShapeError[] {
  let validate = validators.get(schema);
  if (!validate) {
    validate = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false }).compile(schema);
    validators.set(schema, validate);
  }
  const foreign = nonJsonValues(data);
  if (foreign.length > 0) return foreign;
  if (validate(data)) return [];
  const errors = pruneUnionBranches(validate.errors ?? []).filter((e) => e.propertyName === undefined);
  const seen = new Set<string>();
  const result: FileShapeError[] = [];
  for (const e of errors) {
    const error = shapeError(e);
    if (seen.has(error.path)) continue;
    seen.add(error.path);
    result.push(error);
  }
  return result;
}

/**
 * Values YAML can hold that JSON cannot (tags such as `!!set`, `!!omap`, `!!binary`, `!!timestamp` give a Set, a
 * Map, bytes, a Date): a JSON Schema validator would take them for objects with no properties, so they are refused
 * before it runs. Walked without recursion; at most 20 reported.
 */
function nonJsonValues(data: unknown): FileShapeError[] {
  const found: FileShapeError[] = [];
  const stack: [unknown, string][] = [[data, '']];
  while (stack.length > 0 && found.length < 20) {
    const [value, path] = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}/${i}`]);
    } else if (typeof value === 'object' && value !== null) {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        found.push({
          path,
          code: 'INVALID_TYPE',
          keyword: 'plainData',
          params: {},
          schema: {},
          data: value,
          message: 'must be plain data: YAML tags such as !!set, !!omap, !!binary and !!timestamp are not supported',
        });
        continue;
      }
      for (const [key, v] of Object.entries(value).reverse()) stack.push([v, `${path}${pointer(key)}`]);
    } else if (typeof value === 'number' && !Number.isFinite(value)) {
      found.push({
        path,
        code: 'INVALID_VALUE',
        keyword: 'plainData',
        params: {},
        schema: {},
        data: value,
        message: 'must be a finite number',
      });
    } else if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') {
      found.push({
        path,
        code: 'INVALID_TYPE',
        keyword: 'plainData',
        params: {},
        schema: {},
        data: String(value),
        message: 'must be plain data',
      });
    }
  }
  return found;
}

function shapeError(e: ErrorObject): FileShapeError {
  const params = e.params as Record<string, unknown>;
  const parent = (isObject(e.parentSchema) ? e.parentSchema : {}) as Record<string, unknown>;
  const base = {
    code: SCHEMA_KEYWORD_CODES[e.keyword] ?? 'INVALID_VALUE',
    keyword: e.keyword,
    params,
    message: e.message ?? 'is invalid',
  };
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    const name = params.additionalProperty;
    const data = isObject(e.data) ? (e.data as Record<string, unknown>)[name] : undefined;
    return { ...base, path: `${e.instancePath}${pointer(name)}`, schema: parent, data };
  }
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
    const name = params.missingProperty;
    const properties = (isObject(parent.properties) ? parent.properties : {}) as Record<string, unknown>;
    const schema = isObject(properties[name]) ? (properties[name] as Record<string, unknown>) : {};
    return { ...base, path: `${e.instancePath}${pointer(name)}`, schema, data: undefined };
  }
  if (e.keyword === 'propertyNames' && typeof params.propertyName === 'string') {
    const schema = isObject(e.schema) ? (e.schema as Record<string, unknown>) : {};
    return { ...base, path: `${e.instancePath}${pointer(params.propertyName)}`, schema, data: params.propertyName };
  }
  return { ...base, path: e.instancePath, schema: parent, data: e.data };
}

/**
 * Of each failed `anyOf`, keeps only the errors of the branch whose `type` is the value's (a mapping checked as a
 * mapping, not also as a list), or only the `anyOf` error itself when no branch is of the value's type.
 */
function pruneUnionBranches(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  for (const union of errors) {
    if (union.keyword !== 'anyOf' || !Array.isArray(union.schema)) continue;
    const branch = (union.schema as unknown[]).findIndex((s) => isObject(s) && typeMatches(s.type, union.data));
    for (const e of errors) {
      if (!e.schemaPath.startsWith(`${union.schemaPath}/`)) continue;
      const index = Number(e.schemaPath.slice(union.schemaPath.length + 1).split('/')[0]);
      if (index !== branch) drop.add(e);
    }
    if (branch >= 0) drop.add(union);
  }
  return errors.filter((e) => !drop.has(e));
}

/** The JSON type of a value as JSON Schema names it (`integer` for whole numbers). */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(type: unknown, value: unknown): boolean {
  const actual = jsonTypeOf(value);
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
