import type { FlagMetadata, Logger as OpenFeatureLogger } from '@openfeature/core';
import { type FeatureFlag, MemoryStorage, type Storage } from '@openfeature/flagd-core';
import type { Evaluators } from '@runtime-control/core';

/**
 * flagd-core storage holding flags that were parsed one at a time, so an environment's engine after a write reuses
 * every flag the write did not change instead of re-parsing the whole document (flagd-core's own MemoryStorage
 * only loads whole documents). `setConfigurations` still loads a whole document, exactly as MemoryStorage does.
 */
export class PrecompiledStorage implements Storage {
  private flags: Map<string, FeatureFlag>;
  private metadata: FlagMetadata = {};

  constructor(
    flags: Map<string, FeatureFlag>,
    private readonly logger: OpenFeatureLogger,
  ) {
    this.flags = flags;
  }

  setConfigurations(flagConfig: string, strictValidation?: boolean): string[] {
    const storage = new MemoryStorage(this.logger);
    storage.setConfigurations(flagConfig, strictValidation);
    const changed: string[] = [];
    for (const [key, flag] of storage.getFlags()) if (this.flags.get(key)?.hash !== flag.hash) changed.push(key);
    for (const key of this.flags.keys()) if (!storage.getFlag(key)) changed.push(key);
    this.flags = storage.getFlags();
    this.metadata = storage.getFlagSetMetadata();
    return changed;
  }

  getFlag(key: string): FeatureFlag | undefined {
    return this.flags.get(key);
  }

  getFlags(): Map<string, FeatureFlag> {
    return this.flags;
  }

  getFlagSetMetadata(): FlagMetadata {
    return this.metadata;
  }
}

/**
 * Parses one flag (`flagJson`, its flagd definition) as flagd-core parses it inside a whole document: with the
 * shared evaluators its `$ref`s reach, expanded by flagd-core's own loader. Throws flagd-core's ParseError.
 *
 * flagd-core expands `$ref` by replacing the text `{"$ref":"name"}` for each evaluator in document order, so only
 * the evaluators whose text occurs (directly, or inside one that does) change the result; the others are left out
 * so that a flag costs the same whatever the number of evaluators.
 */
export function parseOneFlag(
  key: string,
  flagJson: string,
  evaluators: Evaluators,
  logger: OpenFeatureLogger,
): FeatureFlag | undefined {
  const names = Object.keys(evaluators);
  const used = new Set<string>();
  const pending = [flagJson];
  while (pending.length > 0) {
    const text = pending.pop()!;
    for (const name of names) {
      if (used.has(name) || !text.includes(`{"$ref":"${name}"}`)) continue;
      used.add(name);
      pending.push(JSON.stringify(evaluators[name]));
    }
  }
  let doc = `{"flags":{${JSON.stringify(key)}:${flagJson}}`;
  if (used.size > 0) {
    const subset: Evaluators = {};
    // Same relative order as the whole document's `$evaluators`: the order flagd-core expands them in.
    for (const name of names) if (used.has(name)) subset[name] = evaluators[name]!;
    doc += `,"$evaluators":${JSON.stringify(subset)}`;
  }
  const storage = new MemoryStorage(logger);
  storage.setConfigurations(`${doc}}`);
  return storage.getFlag(key);
}

/**
 * Keys in the order a JavaScript object enumerates them (what JSON.stringify of the whole document wrote): array
 * indices first, ascending, then the other keys in the order given.
 */
export function objectKeyOrder(sortedKeys: readonly string[]): string[] {
  const indices: string[] = [];
  const rest: string[] = [];
  for (const k of sortedKeys) (isArrayIndex(k) ? indices : rest).push(k);
  if (indices.length === 0) return rest;
  indices.sort((a, b) => Number(a) - Number(b));
  return [...indices, ...rest];
}

function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]{0,9})$/.test(key) && Number(key) < 4294967295;
}
