import type { DeltaFrameData, FlagdConfigurationData } from '@runtime-control/core';

/**
 * Applies a `delta` frame to the provider's copy of the server's document, in place; returns the flag keys it
 * touched. Writes go through defineProperty so that a key such as `__proto__` stays data, never a prototype.
 */
export function applyDelta(document: FlagdConfigurationData, delta: DeltaFrameData): string[] {
  const define = (target: object, key: string, value: unknown) =>
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  for (const [key, flag] of Object.entries(delta.flags)) define(document.flags, key, flag);
  for (const key of delta.removed) if (Object.hasOwn(document.flags, key)) delete document.flags[key];
  for (const [key, value] of Object.entries(delta.top)) {
    if (key === 'flags') continue;
    if (value === null) delete document[key];
    else define(document, key, value);
  }
  return [...Object.keys(delta.flags), ...delta.removed];
}

/**
 * Where a client holding `held` stands against a delta: `apply` it (it holds the document the delta starts from:
 * the view did not change between `base` and `revision`), `skip` it (already newer), or it missed a change (`gap`):
 * it must take a snapshot.
 */
export function deltaFit(
  held: number | undefined,
  delta: Pick<DeltaFrameData, 'base' | 'revision'>,
): 'apply' | 'skip' | 'gap' {
  if (held === undefined) return 'gap';
  if (held >= delta.revision) return 'skip';
  return held >= delta.base ? 'apply' : 'gap';
}
