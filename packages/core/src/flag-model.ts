/**
 * The flag model: what a flag is, independent of storage and transport.
 * One flag holds every environment's settings so that a single document can be reviewed, diffed and seeded.
 */

export const FLAG_TYPES = ['boolean', 'string', 'number', 'object'] as const;
export type FlagType = (typeof FLAG_TYPES)[number];

export const FLAG_STATES = ['ENABLED', 'DISABLED'] as const;
export type FlagState = (typeof FLAG_STATES)[number];

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A percentage of users (bucketed with flagd's `fractional`) that receive `variant` when nothing earlier matched. */
export interface Rollout {
  variant: string;
  /** 0–100, at most two decimals (bucketed in basis points). */
  percentage: number;
}

export interface EnvironmentSettings {
  state: FlagState;
  /** flagd JsonLogic; returns a variant name, or null to fall through. */
  targeting?: JsonObject;
  /** targeting key → variant, applied before targeting ("test users"). */
  overrides?: Record<string, string>;
  rollout?: Rollout;
}

export interface Flag {
  key: string;
  description?: string;
  owner?: string;
  type: FlagType;
  variants: Record<string, JsonValue>;
  /**
   * What is served when nothing in an environment's settings matches. `null` (flagd allows it, and an absent one in
   * the API or the flags file means the same): the caller's code default, reason DEFAULT, no variant.
   */
  defaultVariant: string | null;
  /** JSON Schema every variant must satisfy (number and object flags only). */
  schema?: JsonObject;
  /** Sensitive flags are evaluated like any other, but their values are hidden from debug views and logs. */
  sensitive?: boolean;
  /**
   * flagd flag metadata (owner, team, ticket, expiry, …): flat, scalar values, returned with every evaluation (OFREP
   * `metadata`, the SDK's `flagMetadata`). See FLAG_METADATA_LIMITS and RESERVED_METADATA_KEYS.
   */
  metadata?: FlagMetadata;
  environments: Record<string, EnvironmentSettings>;
}

/** flagd flag metadata: a flat object of string, number and boolean values. */
export type FlagMetadata = Record<string, string | number | boolean>;

export const FLAG_METADATA_LIMITS = { keys: 32, keyLength: 64, stringLength: 1024 } as const;
/**
 * Metadata keys the control plane sets itself, so a flag cannot: `sensitive` (from the flag's `sensitive`) and
 * `revision` (the configuration's revision, set-level metadata that flagd merges into every flag's).
 */
export const RESERVED_METADATA_KEYS = ['sensitive', 'revision'] as const;
export const METADATA_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * flagd's flag sets: a flag belongs to the set named by its `metadata.flagSetId` (in a flags file, set-level
 * `metadata` supplies it to every flag that does not name its own, as flagd merges set metadata into each flag's).
 * A client token or an SDK `selector` (`flagSetId=payments`) limits what a client receives to one set.
 */
export const FLAG_SET_METADATA_KEY = 'flagSetId';
/** Set names: what a token stores and a selector names, and what `metadata.flagSetId` must be. */
export const FLAG_SET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Shared JsonLogic rules, referenced from targeting as `{"$ref": "name"}` (flagd `$evaluators`). */
export type Evaluators = Record<string, JsonObject>;

export const FLAG_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ENVIRONMENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const DEFAULT_ENVIRONMENTS = ['development', 'production'] as const;
