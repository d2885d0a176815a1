import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { VALIDATED_BY } from './common.js';

/**
 * The route schemas' validator. Ajv, configured so that validation only checks (never changes) the input: no type
 * coercion, no removal of unknown properties, no defaults. Parts of a schema marked `validatedByCore` are accepted
 * as they are here: core's validation checks them with its own codes and paths (schemas/common.ts).
 */
const ajv = new Ajv({
  allErrors: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  strict: false,
  keywords: [VALIDATED_BY],
});

/** Makes a schema with an `$id` available to `$ref`s of the route schemas (once per process: apps share Ajv). */
export function addSharedSchema(schema: { $id?: string }): void {
  if (schema.$id && !ajv.getSchema(schema.$id)) ajv.addSchema(withoutCoreValidated(schema) as object);
}

/** A copy of `schema` with every subschema marked as validated by core replaced by `{}` (anything). */
function withoutCoreValidated(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutCoreValidated);
  if (typeof schema !== 'object' || schema === null) return schema;
  if ((schema as Record<string, unknown>)[VALIDATED_BY] !== undefined) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    // `properties`, `patternProperties`, `$defs` hold schemas by name; everything else is a keyword.
    out[k] = withoutCoreValidated(v);
  }
  return out;
}

const ACCEPT_ALL = Object.assign(() => true, { errors: null }) as unknown as ValidateFunction;

export function compileValidator({ schema }: { schema: unknown }): ValidateFunction {
  const stripped = withoutCoreValidated(schema);
  if (typeof stripped === 'object' && stripped !== null && Object.keys(stripped).length === 0) return ACCEPT_ALL;
  return ajv.compile(stripped as object);
}

export type { ErrorObject };
