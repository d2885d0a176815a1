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

/** The first problem in `value` as a 400 AppError, or undefined. Iterative, so any depth is safe to inspect. */
export function jsonInputProblem(value: unknown, base = ''): AppError | undefined {
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
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    // A reviver costs a call per key (a tenth of an OFREP evaluation's time), so it runs only when the text could
    // hold a "__proto__" key: literally, or spelled with \u escapes (the only escapes JSON allows for letters).
    const suspicious = text.includes('__proto__') || text.includes('\\u');
    value = suspicious ? JSON.parse(text, refuseProtoKey) : JSON.parse(text);
  } catch (err) {
    throw new AppError('MALFORMED_JSON', `body is not valid JSON: ${(err as Error).message.slice(0, 200)}`, {
      path: '',
    });
  }
  const problem = jsonInputProblem(value);
  if (problem) throw problem;
  return value;
}

/**
 * Query strings and path parameters: one value per name (a repeated name would reach the code as an array), and
 * only strings both stores can hold.
 */
export function requestParametersProblem(query: unknown, params: unknown): AppError | undefined {
  if (query && typeof query === 'object') {
    for (const [name, value] of Object.entries(query)) {
      if (!isStorableString(name)) return invalidString(name);
      if (Array.isArray(value)) {
        return new AppError('REPEATED_PARAMETER', `query parameter "${name}" may be given once`, { path: name });
      }
      if (typeof value === 'string' && !isStorableString(value)) return invalidString(name);
    }
  }
  if (params && typeof params === 'object') {
    for (const [name, value] of Object.entries(params)) {
      if (typeof value === 'string' && !isStorableString(value)) return invalidString(name);
    }
  }
  return undefined;
}
