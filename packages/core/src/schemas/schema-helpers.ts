import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * Building blocks of the JSON Schemas (TypeBox) shared by the server's route schemas and the files core reads
 * (the flags file): one definition of a flag for the API, its OpenAPI document and the flags file.
 */

/** A JSON object with free-form members of `value`'s schema (`additionalProperties`), e.g. variants or overrides. */
export function MapOf<T extends TSchema>(value: T, options: { description?: string } = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, ...options });
}

/** Any JSON value. */
export const AnyJson = (description?: string) => Type.Unknown(description ? { description } : {});

/** A free-form JSON object (JsonLogic, metadata, …). */
export const AnyJsonObject = (description?: string) =>
  Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    additionalProperties: true,
    ...(description ? { description } : {}),
  });

/** A string from a fixed list (`{type: "string", enum}`: fast to serialize, one TypeScript union). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}
