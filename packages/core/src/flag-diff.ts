import type { JsonValue } from './flag-model.js';

/** One difference between two JSON documents, for showing a reviewer what a write would change. */
export interface JsonChange {
  path: string;
  before: JsonValue | undefined;
  after: JsonValue | undefined;
}

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep structural diff; arrays compare as whole values (targeting lists are read as a unit). */
export function diffJson(before: unknown, after: unknown, path = ''): JsonChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffJson(before[k], after[k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path, before: before as JsonValue | undefined, after: after as JsonValue | undefined }];
}

/** Canonical JSON (sorted keys) so equal documents compare and hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
