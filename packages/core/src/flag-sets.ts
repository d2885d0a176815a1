import { FLAG_SET_METADATA_KEY, FLAG_SET_PATTERN, type Flag } from './flag-model.js';
import type { FlagdConfig, FlagdFlag } from './flagd-compile.js';

/** The set a flag belongs to (its `metadata.flagSetId`), or undefined for a flag in no set. */
export function flagSetOf(flag: Pick<Flag, 'metadata'> | undefined): string | undefined {
  const metadata: unknown = flag?.metadata;
  if (typeof metadata !== 'object' || metadata === null || !Object.hasOwn(metadata, FLAG_SET_METADATA_KEY)) {
    return undefined;
  }
  const set = (metadata as Record<string, unknown>)[FLAG_SET_METADATA_KEY];
  return typeof set === 'string' ? set : undefined;
}

/** Whether `name` can name a flag set (a token's `flagSet`, a selector's value). */
export function isFlagSetName(name: unknown): name is string {
  return typeof name === 'string' && FLAG_SET_PATTERN.test(name);
}

/**
 * The set a flagd-style selector names: `flagSetId=payments` (flagd's in-process and RPC providers' `selector`).
 * Returns an error message for anything else, so a mistyped selector fails loudly instead of selecting nothing.
 */
export function parseFlagSetSelector(selector: string): { ok: true; flagSet: string } | { ok: false; message: string } {
  const match = /^\s*flagSetId\s*=\s*(\S+)\s*$/.exec(selector);
  if (!match || !isFlagSetName(match[1])) {
    return {
      ok: false,
      message: `selector "${selector}" must be flagSetId=<set> (letters, digits, ".", "_" or "-", ≤64 characters)`,
    };
  }
  return { ok: true, flagSet: match[1]! };
}

/**
 * The part of a flagd document that belongs to `flagSet`: the flags whose effective `flagSetId` (the flag's own
 * metadata over the document's, as flagd-core merges them) is that set. Shared evaluators and document metadata stay.
 */
export function selectFlagSet(config: FlagdConfig, flagSet: string): FlagdConfig {
  // fromEntries defines own properties, so a key such as "__proto__" from a parsed document stays a plain key.
  const flags: Record<string, FlagdFlag> = Object.fromEntries(
    Object.entries(config.flags).filter(
      ([, flag]) => flagSetOf({ metadata: { ...config.metadata, ...flag.metadata } }) === flagSet,
    ),
  );
  return { ...config, flags };
}
