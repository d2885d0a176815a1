import {
  ENVIRONMENT_NAME_PATTERN,
  type EnvironmentSettings,
  type Evaluators,
  FLAG_KEY_PATTERN,
  FLAG_METADATA_LIMITS,
  FLAG_SET_METADATA_KEY,
  FLAG_SET_PATTERN,
  FLAG_STATES,
  FLAG_TYPES,
  type Flag,
  type FlagMetadata,
  type FlagType,
  type JsonObject,
  type JsonValue,
  METADATA_KEY_PATTERN,
  RESERVED_METADATA_KEYS,
} from './flag-model.js';
import { collectRefs, evaluatorTextIssue, logicResults, validateJsonLogic } from './json-logic-rules.js';
import { compileUserSchema } from './user-schema.js';

/** One problem with an input document, located by JSON Pointer (RFC 6901) relative to the document root. */
export interface ValidationIssue {
  path: string;
  code: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export interface FlagValidationOptions {
  /** Environments the deployment knows; settings for any other environment are refused. */
  environments: readonly string[];
  /** Names of shared evaluators that `$ref` may point at. Unchecked when omitted. */
  evaluatorNames?: ReadonlySet<string>;
  /**
   * The shared evaluators themselves. When given, every environment's targeting is analysed through its `$ref`s:
   * a rule that can return a name that is not one of the flag's variants is refused.
   */
  evaluators?: Evaluators;
}

/** Every field a flag document may carry (the flags file and the API body share this shape). */
export const FLAG_FIELDS = [
  'key',
  'description',
  'owner',
  'type',
  'variants',
  'defaultVariant',
  'schema',
  'sensitive',
  'metadata',
  'environments',
] as const;
const FLAG_PROPERTIES = new Set<string>(FLAG_FIELDS);
const ENVIRONMENT_PROPERTIES = new Set(['state', 'targeting', 'overrides', 'rollout']);
const MAX_VARIANTS = 64;
const MAX_OVERRIDES = 10_000;
const MAX_VARIANT_NAME = 128;
/** Object variants are configuration, not documents: flagd hashes them recursively, so depth is bounded. */
export const MAX_VALUE_DEPTH = 32;
/** Names a JavaScript object cannot hold as plain data (and that no variant, key or override needs). */
const RESERVED_NAMES = new Set(['__proto__']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Own properties only: `in` would find `constructor`, `toString`, `valueOf`… on every object. */
function hasOwnName(map: Record<string, unknown>, name: string): boolean {
  return Object.hasOwn(map, name);
}

/** The JSON Pointer of the first point deeper than `max` levels below `base`, or undefined. Iterative. */
export function tooDeepAt(value: unknown, base: string, max: number): string | undefined {
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: value, path: base, depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return path;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) stack.push({ node: node[i], path: `${path}/${i}`, depth: depth + 1 });
    } else {
      for (const [k, v] of Object.entries(node)) {
        stack.push({ node: v, path: `${path}${pointer(k)}`, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOfJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function variantMatchesType(type: FlagType, value: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return isPlainObject(value);
  }
}

export { collectRefs };

function validateEnvironment(
  raw: unknown,
  base: string,
  variants: Record<string, JsonValue>,
  options: FlagValidationOptions,
  issues: ValidationIssue[],
): EnvironmentSettings | undefined {
  if (!isPlainObject(raw)) {
    issues.push({ path: base, code: 'INVALID_TYPE', message: `must be an object, got ${typeOfJson(raw)}` });
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!ENVIRONMENT_PROPERTIES.has(k)) {
      issues.push({ path: `${base}${pointer(k)}`, code: 'UNKNOWN_PROPERTY', message: `unknown property "${k}"` });
    }
  }
  const settings: EnvironmentSettings = { state: 'DISABLED' };
  if (raw.state === undefined) {
    issues.push({ path: `${base}/state`, code: 'REQUIRED', message: 'state is required (ENABLED or DISABLED)' });
  } else if (!FLAG_STATES.includes(raw.state as never)) {
    issues.push({ path: `${base}/state`, code: 'INVALID_VALUE', message: 'state must be ENABLED or DISABLED' });
  } else {
    settings.state = raw.state as EnvironmentSettings['state'];
  }
  if (raw.targeting !== undefined && raw.targeting !== null) {
    if (!isPlainObject(raw.targeting)) {
      issues.push({
        path: `${base}/targeting`,
        code: 'INVALID_TARGETING',
        message: `targeting must be a JsonLogic object, got ${typeOfJson(raw.targeting)}`,
      });
    } else {
      const logicIssues = validateJsonLogic(raw.targeting, `${base}/targeting`, { allowRefs: true });
      issues.push(...logicIssues.map((i) => ({ ...i, code: 'INVALID_TARGETING' })));
      const names = options.evaluatorNames ?? (options.evaluators && new Set(Object.keys(options.evaluators)));
      if (logicIssues.length === 0 && names) {
        for (const ref of collectRefs(raw.targeting)) {
          if (!names.has(ref)) {
            issues.push({
              path: `${base}/targeting`,
              code: 'UNKNOWN_EVALUATOR',
              message: `$ref "${ref}" names no shared evaluator`,
            });
          }
        }
      }
      if (logicIssues.length === 0 && options.evaluators) {
        const results = logicResults(raw.targeting, options.evaluators, `${base}/targeting`);
        for (const d of results.dynamic) issues.push({ ...d, code: 'INVALID_TARGETING' });
        for (const name of results.names) {
          if (!hasOwnName(variants, name)) {
            issues.push({
              path: `${base}/targeting`,
              code: 'INVALID_TARGETING',
              message: `targeting can return "${name}", which is not a variant (${Object.keys(variants).join(', ')})`,
            });
          }
        }
      }
      settings.targeting = raw.targeting as JsonObject;
    }
  }
  if (raw.overrides !== undefined && raw.overrides !== null) {
    if (!isPlainObject(raw.overrides)) {
      issues.push({
        path: `${base}/overrides`,
        code: 'INVALID_TYPE',
        message: 'overrides must map targeting keys to variant names',
      });
    } else {
      const entries = Object.entries(raw.overrides);
      if (entries.length > MAX_OVERRIDES) {
        issues.push({
          path: `${base}/overrides`,
          code: 'TOO_MANY',
          message: `at most ${MAX_OVERRIDES} overrides per environment`,
        });
      }
      const overrides: Record<string, string> = Object.create(null);
      for (const [targetingKey, variant] of entries) {
        const p = `${base}/overrides${pointer(targetingKey)}`;
        if (targetingKey.length === 0 || targetingKey.length > 256) {
          issues.push({ path: p, code: 'INVALID_VALUE', message: 'targeting key must be 1–256 characters' });
        } else if (RESERVED_NAMES.has(targetingKey)) {
          issues.push({ path: p, code: 'INVALID_VALUE', message: `"${targetingKey}" cannot be a targeting key` });
        } else if (typeof variant !== 'string' || !hasOwnName(variants, variant)) {
          issues.push({
            path: p,
            code: 'UNKNOWN_VARIANT',
            message: `override must name one of the variants (${Object.keys(variants).join(', ')})`,
          });
        } else {
          overrides[targetingKey] = variant;
        }
      }
      if (entries.length > 0) settings.overrides = { ...overrides };
    }
  }
  if (raw.rollout !== undefined && raw.rollout !== null) {
    const r = raw.rollout;
    if (!isPlainObject(r)) {
      issues.push({ path: `${base}/rollout`, code: 'INVALID_TYPE', message: 'rollout must be {variant, percentage}' });
    } else {
      for (const k of Object.keys(r)) {
        if (k !== 'variant' && k !== 'percentage') {
          issues.push({
            path: `${base}/rollout${pointer(k)}`,
            code: 'UNKNOWN_PROPERTY',
            message: `unknown property "${k}"`,
          });
        }
      }
      const percentage = r.percentage;
      if (
        typeof percentage !== 'number' ||
        !Number.isFinite(percentage) ||
        percentage < 0 ||
        percentage > 100 ||
        Math.round(percentage * 100) !== percentage * 100
      ) {
        issues.push({
          path: `${base}/rollout/percentage`,
          code: 'INVALID_VALUE',
          message: 'percentage must be a number from 0 to 100 with at most two decimals',
        });
      } else if (typeof r.variant !== 'string' || !hasOwnName(variants, r.variant)) {
        issues.push({
          path: `${base}/rollout/variant`,
          code: 'UNKNOWN_VARIANT',
          message: `rollout variant must be one of ${Object.keys(variants).join(', ')}`,
        });
      } else {
        settings.rollout = { variant: r.variant, percentage };
      }
    }
  }
  return settings;
}

/**
 * Checks a flag document (one entry of the flags file, or an API request body) and returns it typed.
 * Every problem is reported with its JSON Pointer, so a caller can name the field (or the file line).
 */
export function validateFlag(input: unknown, options: FlagValidationOptions): ValidationResult<Flag> {
  const issues: ValidationIssue[] = [];
  if (!isPlainObject(input)) {
    return { ok: false, issues: [{ path: '', code: 'INVALID_TYPE', message: 'a flag must be a JSON object' }] };
  }
  for (const k of Object.keys(input)) {
    if (!FLAG_PROPERTIES.has(k)) {
      issues.push({ path: pointer(k), code: 'UNKNOWN_PROPERTY', message: `unknown property "${k}"` });
    }
  }
  const { key, type, variants, defaultVariant } = input;
  if (typeof key !== 'string') {
    issues.push({ path: '/key', code: 'REQUIRED', message: 'key is required and must be a string' });
  } else if (!FLAG_KEY_PATTERN.test(key)) {
    issues.push({
      path: '/key',
      code: 'INVALID_KEY',
      message: 'key must start with a letter or digit and contain only letters, digits, ".", "_" or "-" (≤128)',
    });
  }
  for (const field of ['description', 'owner'] as const) {
    const v = input[field];
    if (v !== undefined && (typeof v !== 'string' || v.length > 1000)) {
      issues.push({
        path: `/${field}`,
        code: 'INVALID_TYPE',
        message: `${field} must be a string of ≤1000 characters`,
      });
    }
  }
  if (input.sensitive !== undefined && typeof input.sensitive !== 'boolean') {
    issues.push({ path: '/sensitive', code: 'INVALID_TYPE', message: 'sensitive must be true or false' });
  }
  if (input.metadata !== undefined) issues.push(...metadataIssues(input.metadata));
  const typeOk = typeof type === 'string' && FLAG_TYPES.includes(type as FlagType);
  if (!typeOk) {
    issues.push({ path: '/type', code: 'INVALID_VALUE', message: `type must be one of ${FLAG_TYPES.join(', ')}` });
  }
  const variantMap: Record<string, JsonValue> = {};
  if (!isPlainObject(variants) || Object.keys(variants).length === 0) {
    issues.push({
      path: '/variants',
      code: 'REQUIRED',
      message: 'variants must be an object with at least one variant',
    });
  } else if (Object.keys(variants).length > MAX_VARIANTS) {
    issues.push({ path: '/variants', code: 'TOO_MANY', message: `at most ${MAX_VARIANTS} variants` });
  } else {
    for (const [name, value] of Object.entries(variants)) {
      if (
        name.length === 0 ||
        name.length > MAX_VARIANT_NAME ||
        CONTROL_CHARACTERS.test(name) ||
        RESERVED_NAMES.has(name)
      ) {
        issues.push({
          path: `/variants${pointer(name)}`,
          code: 'INVALID_KEY',
          message: `variant names are 1–${MAX_VARIANT_NAME} characters without control characters (and not "__proto__")`,
        });
        continue;
      }
      const deep = tooDeepAt(value, `/variants${pointer(name)}`, MAX_VALUE_DEPTH);
      if (deep !== undefined) {
        issues.push({
          path: deep,
          code: 'TOO_DEEP',
          message: `variant values may nest at most ${MAX_VALUE_DEPTH} levels`,
        });
        continue;
      }
      if (typeOk && !variantMatchesType(type as FlagType, value)) {
        issues.push({
          path: `/variants${pointer(name)}`,
          code: 'VARIANT_TYPE_MISMATCH',
          message: `variant "${name}" must be a ${type} (got ${typeOfJson(value)})`,
        });
      }
      Object.defineProperty(variantMap, name, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  if (defaultVariant !== undefined && defaultVariant !== null && typeof defaultVariant !== 'string') {
    issues.push({
      path: '/defaultVariant',
      code: 'INVALID_TYPE',
      message: 'defaultVariant must be a variant name, or null for "the code default"',
    });
  } else if (typeof defaultVariant === 'string' && isPlainObject(variants) && !hasOwnName(variants, defaultVariant)) {
    issues.push({
      path: '/defaultVariant',
      code: 'UNKNOWN_DEFAULT_VARIANT',
      message: `defaultVariant "${defaultVariant}" is not one of the variants (${Object.keys(variants).join(', ')})`,
    });
  }
  if (input.schema !== undefined) {
    if (typeOk && type !== 'number' && type !== 'object') {
      issues.push({
        path: '/schema',
        code: 'INVALID_VALUE',
        message: 'schema applies to number and object flags only',
      });
    } else if (!isPlainObject(input.schema)) {
      issues.push({ path: '/schema', code: 'INVALID_SCHEMA', message: 'schema must be a JSON Schema object' });
    } else {
      // Each schema is compiled in isolation (no shared registry: `$id` cannot collide, memory stays bounded) and
      // its regular expressions run on a linear-time engine (see user-schema.ts).
      const compiled = compileUserSchema(input.schema);
      if (!compiled.ok) {
        issues.push({ path: '/schema', code: 'INVALID_SCHEMA', message: `invalid JSON Schema: ${compiled.message}` });
      } else {
        for (const [name, value] of Object.entries(variantMap)) {
          issues.push(...compiled.validate(value, `/variants${pointer(name)}`));
        }
      }
    }
  }
  const environments: Record<string, EnvironmentSettings> = {};
  if (input.environments === undefined) {
    // A flag without environment settings is served nowhere (absent from every environment): safe by default.
  } else if (!isPlainObject(input.environments)) {
    issues.push({ path: '/environments', code: 'INVALID_TYPE', message: 'environments must be an object' });
  } else {
    for (const [env, raw] of Object.entries(input.environments)) {
      const base = `/environments${pointer(env)}`;
      if (!ENVIRONMENT_NAME_PATTERN.test(env) || !options.environments.includes(env)) {
        issues.push({
          path: base,
          code: 'UNKNOWN_ENVIRONMENT',
          message: `unknown environment "${env}" (configured: ${options.environments.join(', ')})`,
        });
        continue;
      }
      const settings = validateEnvironment(raw, base, variantMap, options, issues);
      if (settings) environments[env] = settings;
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  const flag: Flag = {
    key: key as string,
    type: type as FlagType,
    variants: variantMap,
    defaultVariant: typeof defaultVariant === 'string' ? defaultVariant : null,
    environments,
  };
  if (typeof input.description === 'string') flag.description = input.description;
  if (typeof input.owner === 'string') flag.owner = input.owner;
  if (input.schema !== undefined) flag.schema = input.schema as JsonObject;
  if (input.sensitive === true) flag.sensitive = true;
  if (isPlainObject(input.metadata) && Object.keys(input.metadata).length > 0) {
    flag.metadata = { ...(input.metadata as FlagMetadata) };
  }
  return { ok: true, value: flag };
}

/**
 * flagd flag metadata: a flat object of scalars, bounded, without the keys the control plane sets itself; a
 * `flagSetId` names a flag set. Paths are `/metadata/<key>`, which is also where a flags file's set-level
 * metadata sits, so the file reader checks that with the same function.
 */
export function metadataIssues(metadata: unknown): ValidationIssue[] {
  if (!isPlainObject(metadata)) {
    return [
      {
        path: '/metadata',
        code: 'INVALID_TYPE',
        message: 'metadata must be an object of string, number or boolean values',
      },
    ];
  }
  const issues: ValidationIssue[] = [];
  const keys = Object.keys(metadata);
  if (keys.length > FLAG_METADATA_LIMITS.keys) {
    issues.push({
      path: '/metadata',
      code: 'TOO_MANY',
      message: `metadata has ${keys.length} keys; at most ${FLAG_METADATA_LIMITS.keys}`,
    });
  }
  for (const key of keys) {
    const path = pointer('metadata', key);
    if ((RESERVED_METADATA_KEYS as readonly string[]).includes(key)) {
      issues.push({
        path,
        code: 'RESERVED_KEY',
        message: `metadata key "${key}" is set by Runtime Control (${key === 'sensitive' ? 'use the flag\'s "sensitive"' : 'the configuration revision'})`,
      });
      continue;
    }
    if (key.length > FLAG_METADATA_LIMITS.keyLength || !METADATA_KEY_PATTERN.test(key)) {
      issues.push({
        path,
        code: 'INVALID_KEY',
        message: `metadata keys start with a letter or "_" and contain letters, digits, "_", "." or "-" (≤${FLAG_METADATA_LIMITS.keyLength})`,
      });
      continue;
    }
    const value = metadata[key];
    const ok =
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' &&
        value.length <= FLAG_METADATA_LIMITS.stringLength &&
        !CONTROL_CHARACTERS.test(value));
    if (!ok) {
      issues.push({
        path,
        code: 'INVALID_TYPE',
        message: `metadata "${key}" must be a string (≤${FLAG_METADATA_LIMITS.stringLength} characters, no control characters), a finite number or a boolean`,
      });
    } else if (key === FLAG_SET_METADATA_KEY && (typeof value !== 'string' || !FLAG_SET_PATTERN.test(value))) {
      // A set name is what tokens and selectors name: one that could never be selected would silently hide a flag.
      issues.push({
        path,
        code: 'INVALID_FLAG_SET',
        message: `metadata "${key}" names a flag set: letters, digits, ".", "_" or "-", starting with a letter or digit (≤64)`,
      });
    }
  }
  return issues;
}

const EVALUATOR_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks shared evaluators: names, JsonLogic that flagd builds (known operators, size and depth limits), no nested
 * `$ref` (flagd does not resolve nested refs) and no text that flagd's `$ref` substitution would misread.
 */
export function validateEvaluators(input: unknown, base = ''): ValidationResult<Evaluators> {
  if (input === undefined || input === null) return { ok: true, value: {} };
  if (!isPlainObject(input)) {
    return { ok: false, issues: [{ path: base, code: 'INVALID_TYPE', message: 'evaluators must be an object' }] };
  }
  const issues: ValidationIssue[] = [];
  for (const [name, logic] of Object.entries(input)) {
    const p = `${base}${pointer(name)}`;
    if (!EVALUATOR_NAME_PATTERN.test(name)) {
      issues.push({ path: p, code: 'INVALID_KEY', message: 'evaluator names use letters, digits, ".", "_", "-"' });
    } else if (!isPlainObject(logic)) {
      issues.push({ path: p, code: 'INVALID_TARGETING', message: 'an evaluator must be a JsonLogic object' });
    } else {
      const logicIssues = validateJsonLogic(logic, p, { allowRefs: false });
      issues.push(...logicIssues.map((i) => ({ ...i, code: 'INVALID_TARGETING' })));
      if (logicIssues.length === 0) {
        const text = evaluatorTextIssue(logic, p);
        if (text) issues.push(text);
      }
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: input as Evaluators };
}
