import type { DeltaFrameData, FlagdConfigurationData } from '@runtime-control/core';

/** What a delta is computed from: a view's document and its revision (and, for the newer side, its ETag). */
interface ViewDocument {
  revision: number;
  config: Readonly<FlagdConfigurationData>;
}

/**
 * The delta from `previous` to `view` of one view (environment or flag set): the flags among `changedKeys` as they
 * are now (or removed), and the top-level entries other than `flags` that differ. Its size follows the change, not
 * the document: unchanged top-level entries are skipped by reference first, then by their JSON.
 */
export function deltaOf(
  previous: ViewDocument,
  view: ViewDocument & { etag: string },
  changedKeys: readonly string[],
): DeltaFrameData {
  return {
    revision: view.revision,
    base: previous.revision,
    etag: view.etag,
    ...flagChanges(view.config, changedKeys),
    top: topChanges(previous.config, view.config),
  };
}

/**
 * A delta that brings a client from any document of its view at `base` to `view`, when only the flag keys that
 * changed since are known (a resumed stream): those keys as they are now, and every top-level entry as it is now
 * (null for one the document does not have).
 */
export function resumeDeltaOf(
  base: number,
  view: ViewDocument & { etag: string },
  changedKeys: readonly string[],
): DeltaFrameData {
  const top: [string, unknown][] = TOP_LEVEL_ENTRIES.map((key) => [key, null]);
  for (const [key, value] of Object.entries(view.config)) if (key !== 'flags') top.push([key, value]);
  return {
    revision: view.revision,
    base,
    etag: view.etag,
    ...flagChanges(view.config, changedKeys),
    top: Object.fromEntries(top),
  };
}

/** The flags among `changedKeys` as `config` has them now, and those it no longer has. */
function flagChanges(config: Readonly<FlagdConfigurationData>, changedKeys: readonly string[]) {
  const now = config.flags;
  const flags: [string, unknown][] = [];
  const removed: string[] = [];
  for (const key of changedKeys) {
    if (Object.hasOwn(now, key)) flags.push([key, now[key]]);
    else removed.push(key);
  }
  // fromEntries defines own data properties, so a key is never taken for a prototype.
  return { flags: Object.fromEntries(flags), removed };
}

/** Top-level entries a document may have besides `flags`: a resume states each, present or not. */
const TOP_LEVEL_ENTRIES = ['$evaluators', 'metadata'] as const;

function topChanges(before: Readonly<FlagdConfigurationData>, after: Readonly<FlagdConfigurationData>) {
  const changes: [string, unknown][] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key === 'flags') continue;
    const was = Object.hasOwn(before, key) ? before[key] : undefined;
    const is = Object.hasOwn(after, key) ? after[key] : undefined;
    if (was === is || JSON.stringify(was) === JSON.stringify(is)) continue;
    changes.push([key, is ?? null]);
  }
  return Object.fromEntries(changes);
}
