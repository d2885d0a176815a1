import { AppError } from '../errors/app-error.js';

/**
 * Limits every JSON value that comes in from outside (request bodies, OFREP contexts), checked once at the edge so
 * no code behind it meets input it cannot handle: deep nesting (recursive code further in — flagd-core, hashing,
 * JSON.stringify — overflows its stack), strings PostgreSQL cannot store (NUL, lone surrogates: both stores refuse
 * them alike) and numbers JSON turned into Infinity.
 */
export const MAX_JSON_DEPTH = 64;

function segment(key: string | number): string {
  return `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** True for a string both stores can hold: no NUL, no unpaired UTF-16 surrogate. */
export function isStorableString(s: string): boolean {
  // String.prototype.isWellFormed is in Node 20; TypeScript's lib for our target does not declare it yet.
  return !s.includes('\u0000') && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Whether `node` holds nothing `jsonInputProblem` would refuse. The common case (valid input) takes this path: it
 * builds no JSON-Pointer paths and allocates almost nothing, which the path-building walk below did for every key of
 * every request body. Recursive, but it never goes deeper than MAX_JSON_DEPTH + 1 frames.
 */
function isAcceptableJson(node: unknown, depth: number, checkStrings: boolean): boolean {
  if (typeof node === 'string') return !checkStrings || isStorableString(node);
  if (typeof node === 'number') return Number.isFinite(node);
  if (typeof node !== 'object' || node === null) return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (!isAcceptableJson(node[i], depth + 1, checkStrings)) return false;
    return true;
  }
  const obj = node as Record<string, unknown>;
  // for-in rather than Object.keys: no array per object. A parsed value's objects inherit nothing enumerable (JSON
  // makes plain objects and `__proto__` keys are refused), and anything inherited would only be checked too.
  for (const k in obj) {
    if ((checkStrings && !isStorableString(k)) || !isAcceptableJson(obj[k], depth + 1, checkStrings)) return false;
  }
  return true;
}

/** The first problem in `value` as a 400 AppError, or undefined. Iterative, so any depth is safe to inspect. */
export function jsonInputProblem(value: unknown, base = ''): AppError | undefined {
  if (isAcceptableJson(value, 0, true)) return undefined;
  // Something is refused: find the first problem and its path.
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: value, path: base, depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (typeof node === 'string') {
      if (!isStorableString(node)) return invalidString(path);
      continue;
    }
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) {
        return new AppError('NUMBER_OUT_OF_RANGE', 'number is out of range (JSON numbers must be finite doubles)', {
          path,
        });
      }
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      return new AppError('INPUT_TOO_DEEP', `JSON may nest at most ${MAX_JSON_DEPTH} levels`, { path });
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], path: `${path}/${i}`, depth: depth + 1 });
    } else {
      for (const [k, v] of Object.entries(node)) {
        const p = `${path}${segment(k)}`;
        if (!isStorableString(k)) return invalidString(p);
        stack.push({ node: v, path: p, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

function invalidString(path: string): AppError {
  return new AppError('INVALID_STRING', 'strings may not contain NUL (\\u0000) or unpaired UTF-16 surrogates', {
    path,
  });
}

function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('"__proto__" is not allowed as a key');
  return value;
}

/**
 * Parses a JSON request body. An empty body (DELETE sent with a JSON content type) is "no body", not an error; a
 * `__proto__` key is refused outright instead of risking prototype pollution further down; then the limits above.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return undefined;
  // Only a text starting with whitespace (ASCII or not) can be blank: skip trim()'s copy for the usual `{…}`.
  const first = text.charCodeAt(0);
  if ((first <= 0x20 || first > 0x7e) && text.trim() === '') return undefined;
  let value: unknown;
  let escapes = false;
  try {
    // A reviver costs a call per key (a tenth of an OFREP evaluation's time), so it runs only when the text could
    // hold a "__proto__" key: literally, or spelled with \u escapes (the only escapes JSON allows for letters).
    escapes = text.includes('\\u');
    value = escapes || text.includes('__proto__') ? JSON.parse(text, refuseProtoKey) : JSON.parse(text);
  } catch (err) {
    throw new AppError('MALFORMED_JSON', `body is not valid JSON: ${(err as Error).message.slice(0, 200)}`, {
      path: '',
    });
  }
  // JSON allows no raw control character in a string and a well-formed text holds no lone surrogate, so a string
  // (key or value) can hold NUL or a lone surrogate only through a \u escape: without one, in a storable text, the
  // strings need no look and only depth and numbers are checked.
  if (isAcceptableJson(value, 0, escapes || !isStorableString(text))) return value;
  const problem = jsonInputProblem(value);
  if (problem) throw problem;
  return value;
}

/**
 * Query strings and path parameters: one value per name (a repeated name would reach the code as an array), and
 * only strings both stores can hold.
 */
export function requestParametersProblem(query: unknown, params: unknown): AppError | undefined {
  // Runs on every request: look at the values without building [name, value] pairs.
  if (query && typeof query === 'object') {
    const q = query as Record<string, unknown>;
    for (const name in q) {
      if (!Object.hasOwn(q, name)) continue;
      const value = q[name];
      if (!isStorableString(name)) return invalidString(name);
      if (Array.isArray(value)) {
        return new AppError('REPEATED_PARAMETER', `query parameter "${name}" may be given once`, { path: name });
      }
      if (typeof value === 'string' && !isStorableString(value)) return invalidString(name);
    }
  }
  if (params && typeof params === 'object') {
    const p = params as Record<string, unknown>;
    for (const name in p) {
      if (!Object.hasOwn(p, name)) continue;
      const value = p[name];
      if (typeof value === 'string' && !isStorableString(value)) return invalidString(name);
    }
  }
  return undefined;
}
