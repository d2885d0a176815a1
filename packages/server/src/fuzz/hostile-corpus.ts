/**
 * A seeded generator of hostile HTTP requests for the fuzz suite (`hostile-input.fuzz.test.ts`). It walks the
 * operations of the served OpenAPI document and, for each, builds requests of one hostile kind: malformed JSON,
 * wrong types, deep nesting, huge strings, NUL and lone surrogates, prototype keys, bad auth, bad If-Match, repeated
 * or out-of-range query parameters, path tricks, wrong content types, odd JsonLogic, deep object variants…
 *
 * Everything drawn comes from one PRNG seeded by the caller (plus fast-check's seeded `jsonValue` samples), so a seed
 * and a count name one corpus. Requests are generated lazily, one at a time (some weigh close to the body limit).
 */
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------------------------------

/** sfc32: small, fast, good enough for fuzzing, and identical on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let x = (this.next() / 0x1_0000_0000) * total;
    for (const [item, w] of items) {
      x -= w;
      if (x < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Operations of the OpenAPI document
// ---------------------------------------------------------------------------------------------------------------

export type Security = 'admin' | 'client' | 'webhook' | 'none';

export interface ApiOperation {
  /** Upper case: GET, POST… */
  method: string;
  /** The template, e.g. `/api/admin/flags/{key}`. */
  path: string;
  /** Path parameter names, in order of appearance. */
  params: string[];
  security: Security;
  /** A text/event-stream route: it never ends, so it is sent over a socket and cut short. */
  streaming: boolean;
  /** The document gives the operation a request body. */
  hasRequestBody: boolean;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

interface OpenApiOperationObject {
  security?: Record<string, unknown>[];
  summary?: string;
  description?: string;
  responses?: Record<string, { description?: string; content?: Record<string, unknown> }>;
}

/** Every (path, method) of an OpenAPI 3 document, in document order. */
export function operationsOf(doc: unknown): ApiOperation[] {
  const paths = (doc as { paths?: Record<string, Record<string, unknown>> }).paths;
  if (!paths || typeof paths !== 'object') throw new Error('the OpenAPI document has no paths');
  const ops: ApiOperation[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of HTTP_METHODS) {
      const op = item[method] as OpenApiOperationObject | undefined;
      if (!op) continue;
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      const security: Security = schemes.includes('adminToken')
        ? 'admin'
        : schemes.includes('clientToken') || schemes.includes('apiKey')
          ? 'client'
          : schemes.includes('unleashWebhookSecret')
            ? 'webhook'
            : 'none';
      const ok = op.responses?.['200'];
      const text = `${op.summary ?? ''} ${op.description ?? ''} ${ok?.description ?? ''}`;
      const streaming =
        method === 'get' &&
        (/event-stream|\bSSE\b/i.test(text) ||
          ok?.description === 'Stream' ||
          Object.keys(ok?.content ?? {}).includes('text/event-stream'));
      const hasRequestBody = (op as { requestBody?: unknown }).requestBody !== undefined;
      ops.push({ method: method.toUpperCase(), path, params, security, streaming, hasRequestBody });
    }
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------------------------
// What the generator knows about the server under test
// ---------------------------------------------------------------------------------------------------------------

export interface CorpusContext {
  bodyLimit: number;
  environments: string[];
  adminToken: string;
  /** environment → a client token of that environment. */
  clientTokens: Record<string, string>;
  /** A client token that was revoked. */
  revokedToken: string;
  webhookSecret: string;
  /** environment → the OFREP SSE `?key=` of that environment. */
  streamKeys: Record<string, string>;
  /** Flags that exist (the suite recreates them when the corpus deletes them); every one has variants on/off. */
  flagKeys: string[];
  evaluatorNames: string[];
  /** Token ids the corpus may revoke (never the tokens it authenticates with). */
  tokenIds: string[];
  /** Services the canary router knows. */
  canaryServices: string[];
}

export interface HostileRequest {
  index: number;
  /** The hostile kind, e.g. `deep-nesting`. */
  kind: string;
  /** A coarse description of where the hostility sits, stable across seeds (used to group failures). */
  shape: string;
  /** Finer detail (depth, length…). */
  detail: string;
  op: ApiOperation;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** `socket`: sent over a real connection (streams, and paths that `inject`'s URL parser would normalise). */
  transport: 'inject' | 'socket';
}

// ---------------------------------------------------------------------------------------------------------------
// Palettes
// ---------------------------------------------------------------------------------------------------------------

export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  '__defineGetter__',
  'isPrototypeOf',
  'toJSON',
];

/** Strings that break naive code: NUL, lone surrogates, `String.replace` patterns, control and bidi characters. */
const HOSTILE_STRINGS = [
  '\u0000',
  'a\u0000b',
  'on\u0000',
  '\ud800',
  'x\udfffy',
  '\ud800\u0000',
  '\udbff\udbff',
  "$'",
  '$`',
  "a$'b$`c",
  '$&',
  '$1$2',
  '$$',
  '$' + '{x}',
  '%00',
  '%ED%A0%80',
  '',
  ' ',
  '\u202e\u2066',
  '\r\nx-injected: 1',
  '\ufeff',
  '\uffff',
  '💩',
  '../../etc/passwd',
  "' OR '1'='1' --",
  '"; DROP TABLE flags; --',
  '<script>alert(1)</script>',
  '{{7*7}}',
  'on ',
  'ON',
  ...PROTOTYPE_KEYS,
];

/** Raw path segments, already percent-encoded where needed. */
const HOSTILE_SEGMENTS = [
  '%00',
  'a%00b',
  '%ED%A0%80',
  'x%ED%B0%80y',
  '%C0%80',
  '%FF',
  '%FE%FF',
  '%E2%80%AE',
  '%F0%9F%92%A9',
  '__proto__',
  '%5F%5Fproto%5F%5F',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  '%24%27',
  '%24%60',
  "$'",
  '$%60',
  '$&',
  '.',
  '%2e',
  '%2F',
  'a%2Fb',
  '%5C',
  '%25',
  '%',
  '%zz',
  '%u0000',
  '%20',
  '%09',
  '%0D%0Aset-cookie:%20x=1',
  "'%20OR%20'1'='1",
  '%22%3E%3Cscript%3E',
  '-',
  '0',
  '-1',
  '1e400',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '00000000-0000-0000-0000-000000000000',
  'x'.repeat(101),
  'a'.repeat(128),
  'a'.repeat(129),
  'x'.repeat(3000),
];

const OUT_OF_RANGE_NUMBERS = [
  '1e400',
  '-1e400',
  '1E400',
  '1e-400',
  '-0',
  '1e20',
  '9007199254740993',
  '123456789012345678901234567890',
  '-9223372036854775809',
  '9223372036854775808',
  '0.1e1',
  '2147483648',
  '4294967296',
];

const MALFORMED_JSON = [
  '{',
  '}',
  '{"key":',
  '{"key": "k",',
  '[1,2',
  '{"a":1,}',
  '{a:1}',
  "{'a':1}",
  'nul',
  'undefined',
  'NaN',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":01}',
  '{"a":1}{"b":2}',
  '{"a":1} trailing',
  '"\\ud800',
  '"\\u00"',
  '"\\x00"',
  '{"a":"\u0000"}',
  '{"a":"\t"}',
  '\ufeff{"a":1}',
  '{"__proto__":{"polluted":true}}',
  '{"\\u005f_proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[',
  ']',
  ',',
  '{"a":[1,2,]}',
  '{"key":"x","key":{"a":1}}',
  '{"context":{"targetingKey":"a","targetingKey":{"x":1}}}',
  '{"a":"b"',
  '//comment\n{}',
  '/*x*/{}',
  '0x10',
  '-',
  '1.',
  '.5',
  '+1',
  '"unterminated',
  '{"a":"\\q"}',
  '{"":',
  `{"a":${'['.repeat(100)}`,
];

const CONTENT_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'application/JSON',
  'Application/Json',
  'application/json;;;',
  'application/json; boundary=',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/octet-stream',
  'application/xml',
  'text/event-stream',
  '*/*',
  'application/json, text/plain',
  'json',
  '',
  ' ',
];

const EVALUATOR_LOGIC: readonly unknown[] = [
  { bogus_op: [1] },
  { bogus_op: "$'" },
  { var: "$'" },
  { var: '$`' },
  { in: ['$`', { var: 'email' }] },
  { starts_with: [{ var: 'email' }, "$'"] },
  { ends_with: [{ var: 'email' }, '$`'] },
  { sem_ver: [{ var: 'version' }, '>=', '1.0.0'] },
  { sem_ver: ['garbage', '~~', "$'"] },
  { sem_ver: [] },
  {
    fractional: [
      ['on', 50],
      ['off', 50],
    ],
  },
  { fractional: [] },
  { fractional: [['on', -1]] },
  { fractional: [['on', 'FZ_NUM']] },
  { fractional: [{ var: 'targetingKey' }, ['constructor', 50], ['toString', 50]] },
  { if: [] },
  { if: [true] },
  { if: 'notarray' },
  { and: 'notarray' },
  { or: [] },
  { var: ['__proto__'] },
  { var: '__proto__.polluted' },
  { var: 'constructor.name' },
  { var: 'toString' },
  { var: 'a.b.c.d.e.f' },
  { var: '' },
  { var: [] },
  { '==': [{ var: 'targetingKey' }, "$'"] },
  { cat: ["$'", '$`', '$&'] },
  { substr: ['abc', 'FZ_NUM'] },
  { merge: [] },
  { map: [[1, 2], { var: '' }] },
  { reduce: [[1, 2], { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] },
  { method: ['x', 'toString'] },
  { log: 'x' },
  { $ref: 'fz-eval' },
  { $ref: 'constructor' },
  { $ref: '__proto__' },
  { '': 1 },
  {},
  { missing: {} },
  { missing_some: [1, ['a']] },
  { regex: ['.*', '(a+)+$'] },
  { '<': [1, 2, 3, 4] },
  { '!': [] },
  { '!!': [[]] },
  { '%': [1, 0] },
  { '/': [1, 0] },
  { max: [] },
  { in: ['a', null] },
  { toString: [1] },
  { constructor: [1] },
  { valueOf: [] },
  { hasOwnProperty: ['x'] },
];

// ---------------------------------------------------------------------------------------------------------------
// JSON text with raw splices (deep nesting and out-of-range numbers cannot be written through JSON.stringify)
// ---------------------------------------------------------------------------------------------------------------

/** A value rendered as raw JSON text where it appears in a body. */
class Raw {
  constructor(readonly text: string) {}
}

/** JSON.stringify, except `Raw` values are spliced in verbatim (so depth and number text are exactly as written). */
function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `\u0001FZRAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return '';
  if (raws.length === 0) return text;
  return text.replace(/"\\u0001FZRAW(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}

function deepText(rng: Rng, depth: number, style?: string): { text: string; style: string } {
  const s = style ?? rng.pick(['array', 'object', 'mixed', 'logic-not', 'logic-and', 'var-chain']);
  switch (s) {
    case 'array':
      return { text: `${'['.repeat(depth)}1${']'.repeat(depth)}`, style: s };
    case 'object':
      return { text: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, style: s };
    case 'mixed':
      return { text: `${'[{"a":'.repeat(depth)}null${'}]'.repeat(depth)}`, style: s };
    case 'logic-not':
      return { text: `${'{"!":['.repeat(depth)}true${']}'.repeat(depth)}`, style: s };
    case 'logic-and':
      return { text: `${'{"and":[true,'.repeat(depth)}true${']}'.repeat(depth)}`, style: s };
    default:
      return { text: `${'{"if":[true,'.repeat(depth)}"on"${',null]}'.repeat(depth)}`, style: 'logic-if' };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------------------------

type Body = Record<string, unknown>;

interface Draft {
  kind: string;
  shape: string;
  detail: string;
  method: string;
  /** Path segments by parameter name, raw (already encoded). */
  segments: Record<string, string>;
  /** Replaces the whole path (path tricks). */
  rawPath?: string;
  query?: string;
  headers: Record<string, string>;
  /** undefined: no body. A string or Buffer is sent as is; anything else is rendered with `toJsonText`. */
  body?: unknown;
  contentType?: string | null;
  transport?: 'inject' | 'socket';
}

const KINDS = [
  ['valid', 7],
  ['auth', 10],
  ['malformed-json', 6],
  ['wrong-types', 8],
  ['deep-nesting', 5],
  ['huge-string', 3],
  ['nul-surrogate', 8],
  ['prototype-keys', 8],
  ['if-match', 5],
  ['query', 6],
  ['numbers', 5],
  ['path-tricks', 5],
  ['content-type', 5],
  ['evaluator-logic', 6],
  ['object-variant-deep', 3],
  ['method', 2],
  ['wide', 4],
  ['schema', 4],
] as const;

export type Kind = (typeof KINDS)[number][0];

/** Kinds whose hostility lives in the body: pointless on GET/HEAD (no body is sent), rarer on body-less writes. */
const BODY_KINDS = new Set<string>([
  'malformed-json',
  'wrong-types',
  'deep-nesting',
  'numbers',
  'content-type',
  'evaluator-logic',
  'object-variant-deep',
  'wide',
  'schema',
]);

/** Whether the operation reads a body: documented, or an OFREP evaluation (whose context body is optional). */
export function readsBody(op: ApiOperation): boolean {
  return op.hasRequestBody || (op.method === 'POST' && op.path.startsWith('/ofrep/'));
}

function operationWeight(op: ApiOperation): number {
  if (op.path === '/api/admin/audit') return 4;
  if (op.path === '/ofrep/v1/sse') return 3;
  if (readsBody(op)) return op.path.startsWith('/api/admin/flags') || op.path.startsWith('/ofrep/') ? 4 : 3;
  if (op.params.length > 0 || op.method !== 'GET') return 2;
  return 1;
}

function kindWeights(op: ApiOperation): (readonly [Kind, number])[] {
  const bodyless = op.method === 'GET' || op.method === 'HEAD';
  return KINDS.map(([kind, w]) => {
    if (BODY_KINDS.has(kind)) return [kind, bodyless ? 0 : readsBody(op) ? w : w * 0.25] as const;
    if (kind === 'schema') {
      const flagWrite =
        (op.path === '/api/admin/flags' && op.method === 'POST') ||
        (op.path === '/api/admin/flags/{key}' && op.method === 'PUT');
      return [kind, flagWrite ? 8 : 0] as const;
    }
    if (kind === 'query' && (op.path === '/api/admin/audit' || op.path === '/ofrep/v1/sse')) return [kind, 40] as const;
    if (kind === 'if-match' && /\{(key|name)\}/.test(op.path) && op.method !== 'GET') return [kind, 12] as const;
    return [kind, w] as const;
  });
}
export const ALL_KINDS: readonly Kind[] = KINDS.map(([k]) => k);

const FLAG_TYPES = ['boolean', 'string', 'number', 'object'] as const;
const VARIANTS: Record<(typeof FLAG_TYPES)[number], Record<string, unknown>> = {
  boolean: { on: true, off: false },
  string: { on: 'blue', off: 'red' },
  number: { on: 2, off: 1 },
  object: { on: { color: 'blue', limits: [1, 2] }, off: {} },
};

export class HostileCorpus {
  private readonly rng: Rng;
  private index = 0;
  private flagSerial = 0;

  constructor(
    readonly seed: number,
    readonly operations: readonly ApiOperation[],
    private readonly ctx: CorpusContext,
  ) {
    if (operations.length === 0) throw new Error('no operations to fuzz');
    this.rng = new Rng(seed);
    // Every operation appears in each cycle; those that read a body (or a query worth attacking) appear more often.
    this.schedule = operations.flatMap((op) => Array.from({ length: operationWeight(op) }, () => op));
    // Interleave rather than repeat back to back, so state changes reach every route between visits.
    const rounds = Math.max(...operations.map(operationWeight));
    this.schedule = Array.from({ length: rounds }, (_, round) =>
      operations.filter((op) => operationWeight(op) > round),
    ).flat();
  }

  private readonly schedule: ApiOperation[];

  /** The next request: operations round-robin (so each gets its share), a weighted-random kind. */
  next(): HostileRequest {
    const index = this.index++;
    const op = this.schedule[index % this.schedule.length]!;
    const kind = this.rng.weighted(kindWeights(op));
    const draft = this.draft(op, kind);
    return this.render(index, op, draft);
  }

  // -- building blocks --------------------------------------------------------------------------------------------

  private validAuth(op: ApiOperation): Record<string, string> {
    const r = this.rng;
    const env = r.pick(this.ctx.environments);
    switch (op.security) {
      case 'admin':
        return { authorization: `Bearer ${this.ctx.adminToken}` };
      case 'client':
        return r.chance(0.2)
          ? { 'x-api-key': this.ctx.clientTokens[env]! }
          : { authorization: `Bearer ${this.ctx.clientTokens[env]!}` };
      case 'webhook':
        return { authorization: `Bearer ${this.ctx.webhookSecret}` };
      default:
        // The OFREP stream takes a client token (or its ?key=); other open routes ignore it.
        return op.streaming ? { authorization: `Bearer ${this.ctx.clientTokens[env]!}` } : {};
    }
  }

  private validSegment(name: string): string {
    const r = this.rng;
    const ctx = this.ctx;
    switch (name) {
      case 'key':
        return encodeURIComponent(r.chance(0.85) ? r.pick(ctx.flagKeys) : `fz-missing-${r.int(1000)}`);
      case 'env':
        return r.pick(ctx.environments);
      case 'targetingKey':
        return encodeURIComponent(r.pick(['user-1', 'user@example.com', 'fz-user', '42']));
      case 'name':
        return encodeURIComponent(r.chance(0.7) ? r.pick(ctx.evaluatorNames) : `fz-eval-${r.int(100)}`);
      case 'id':
        return r.pick(ctx.tokenIds);
      case 'service':
        return r.pick(ctx.canaryServices);
      default:
        return 'x';
    }
  }

  private hostileSegment(): string {
    const r = this.rng;
    if (r.chance(0.15)) return encodeSegment(r.pick(HOSTILE_STRINGS)) || '%00';
    return r.pick(HOSTILE_SEGMENTS);
  }

  private segments(op: ApiOperation, hostileChance: number): { segments: Record<string, string>; hostile: string[] } {
    const segments: Record<string, string> = {};
    const hostile: string[] = [];
    for (const p of op.params) {
      if (this.rng.chance(hostileChance)) {
        segments[p] = this.hostileSegment();
        hostile.push(p);
      } else segments[p] = this.validSegment(p);
    }
    return { segments, hostile };
  }

  private flagDoc(key: string, type?: (typeof FLAG_TYPES)[number]): Body {
    const r = this.rng;
    const t = type ?? r.pick(FLAG_TYPES);
    const envs: Body = {};
    for (const e of this.ctx.environments) {
      if (r.chance(0.8)) envs[e] = { state: r.chance(0.8) ? 'ENABLED' : 'DISABLED' };
    }
    const doc: Body = {
      key,
      type: t,
      variants: structuredClone(VARIANTS[t]),
      defaultVariant: r.pick(['on', 'off']),
      environments: envs,
    };
    if (r.chance(0.3)) doc.description = 'fuzz flag';
    if (r.chance(0.2)) doc.owner = 'fuzz-team';
    if (r.chance(0.1)) doc.sensitive = true;
    return doc;
  }

  private newFlagKey(): string {
    return `fz-new-${this.seed.toString(36)}-${this.flagSerial++}`;
  }

  private decodedKey(segments: Record<string, string>): string {
    try {
      return decodeURIComponent(segments.key ?? 'x');
    } catch {
      return segments.key ?? 'x';
    }
  }

  /** A plausible, valid body for the operation (or undefined when it takes none). */
  private validBody(op: ApiOperation, segments: Record<string, string>): unknown {
    const r = this.rng;
    const p = op.path;
    const m = op.method;
    const env = r.pick(this.ctx.environments);
    if (p === '/api/admin/flags' && m === 'POST') return this.flagDoc(this.newFlagKey());
    if (p === '/api/admin/flags/{key}' && m === 'PUT') return this.flagDoc(this.decodedKey(segments));
    if (p.endsWith('/environments/{env}') && m === 'PATCH') {
      return r.pick<Body>([
        { state: 'ENABLED' },
        { state: 'DISABLED' },
        { rollout: { variant: 'on', percentage: r.int(101) } },
        { overrides: { 'user-1': 'on' } },
        { targeting: { if: [{ '==': [{ var: 'tier' }, 'gold'] }, 'on', null] } },
        { targeting: { if: [{ $ref: r.pick(this.ctx.evaluatorNames) }, 'on', 'off'] } },
      ]);
    }
    if (p.endsWith('/overrides/{targetingKey}') && m === 'PUT') return { variant: r.pick(['on', 'off']) };
    if (p === '/api/admin/evaluators/{name}' && m === 'PUT') {
      return r.pick<Body>([
        { in: [{ var: 'email' }, ['a@example.com', 'b@example.com']] },
        { '==': [{ var: 'tier' }, 'gold'] },
        { starts_with: [{ var: 'email' }, 'admin@'] },
      ]);
    }
    if (p === '/api/admin/tokens' && m === 'POST') {
      return r.chance(0.7) ? { kind: 'client', environment: env, name: `fz-${r.int(1000)}` } : { kind: 'admin' };
    }
    if (p === '/api/admin/evaluate' && m === 'POST') {
      return { environment: env, context: { targetingKey: 'user-1', tier: 'gold', email: 'a@example.com' } };
    }
    if (p === '/api/admin/canaries' && m === 'POST') {
      return {
        service: r.pick(this.ctx.canaryServices),
        to: 'v2',
        intervalMs: 3_600_000,
        ...(r.chance(0.3) ? { steps: [10, 50, 100] } : {}),
      };
    }
    if (p.startsWith('/ofrep/') && m === 'POST') {
      return r.chance(0.2) ? undefined : { context: { targetingKey: 'user-1', tier: 'gold', email: 'a@example.com' } };
    }
    if (p === '/api/integrations/unleash/webhook' && m === 'POST') {
      return {
        id: r.int(100000),
        type: r.pick(['feature-updated', 'feature-created', 'feature-environment-enabled', 'user-created']),
        featureName: 'fz-feature',
        environment: 'development',
        project: 'default',
        createdAt: new Date(0).toISOString(),
      };
    }
    if (m === 'POST' || m === 'PUT' || m === 'PATCH') return {};
    return undefined;
  }

  /** Where a hostile value can go in this operation's body: a list of setters over a fresh valid body. */
  private bodySlots(op: ApiOperation, base: Body): { name: string; set: (v: unknown) => void }[] {
    const slots: { name: string; set: (v: unknown) => void }[] = [
      { name: 'root', set: () => {} }, // replaced by the caller (the value becomes the whole body)
      { name: 'new-key', set: (v) => (base.fzExtra = v) },
    ];
    for (const k of Object.keys(base)) slots.push({ name: k, set: (v) => (base[k] = v) });
    const envs = base.environments as Body | undefined;
    if (envs && typeof envs === 'object') {
      const env = Object.keys(envs)[0];
      if (env) {
        slots.push(
          { name: 'environments.*.state', set: (v) => ((envs[env] as Body).state = v) },
          { name: 'environments.*.targeting', set: (v) => ((envs[env] as Body).targeting = v) },
          { name: 'environments.*.overrides', set: (v) => ((envs[env] as Body).overrides = { 'user-1': v }) },
          { name: 'environments.*.rollout', set: (v) => ((envs[env] as Body).rollout = v) },
          {
            name: 'environments.*.rollout.percentage',
            set: (v) => ((envs[env] as Body).rollout = { variant: 'on', percentage: v }),
          },
        );
      }
    }
    const variants = base.variants as Body | undefined;
    if (variants && typeof variants === 'object') {
      slots.push({ name: 'variants.on', set: (v) => (variants.on = v) });
    }
    const context = base.context as Body | undefined;
    if (context && typeof context === 'object') {
      slots.push(
        { name: 'context.targetingKey', set: (v) => (context.targetingKey = v) },
        { name: 'context.attribute', set: (v) => (context.tier = v) },
      );
    }
    if (op.path.startsWith('/ofrep/') && !context) {
      slots.push({ name: 'context', set: (v) => (base.context = v) });
    }
    return slots;
  }

  /** Puts `value` at a random slot of a valid body; returns the body and the slot name. */
  private bodyWith(
    op: ApiOperation,
    segments: Record<string, string>,
    value: unknown,
  ): { body: unknown; slot: string } {
    const valid = this.validBody(op, segments);
    const base: Body = valid && typeof valid === 'object' && !Array.isArray(valid) ? (valid as Body) : {};
    const slots = this.bodySlots(op, base);
    const slot = this.rng.pick(slots);
    if (slot.name === 'root') return { body: value, slot: 'root' };
    slot.set(value);
    return { body: base, slot: slot.name };
  }

  private wrongTypeValue(): { value: unknown; label: string } {
    const r = this.rng;
    if (r.chance(0.1)) return { value: this.hostileString(), label: 'hostile string' };
    if (r.chance(0.35)) {
      const [value] = fc.sample(fc.jsonValue({ maxDepth: 3 }), { seed: r.next() | 0, numRuns: 1 });
      return { value, label: 'fc.jsonValue' };
    }
    const options: [unknown, string][] = [
      [null, 'null'],
      [true, 'boolean'],
      [0, 'zero'],
      [-1, 'negative'],
      [1.5, 'fraction'],
      [[], 'empty array'],
      [{}, 'empty object'],
      [[null], 'array of null'],
      [{ a: [] }, 'object'],
      ['string', 'string'],
      [[1, 'a', {}], 'mixed array'],
      [new Raw('1e400'), '1e400'],
    ];
    const [value, label] = r.pick(options);
    return { value, label };
  }

  private hostileString(): string {
    return this.rng.pick(HOSTILE_STRINGS);
  }

  private deepDepth(): number {
    return this.rng.range(2000, 5000);
  }

  // -- drafts per kind --------------------------------------------------------------------------------------------

  private draft(op: ApiOperation, kind: Kind): Draft {
    const r = this.rng;
    const base = (hostileParams: number): Draft & { hostileParams: string[] } => {
      const { segments, hostile } = this.segments(op, hostileParams);
      return {
        kind,
        shape: '',
        detail: '',
        method: op.method,
        segments,
        hostileParams: hostile,
        headers: this.validAuth(op),
      };
    };
    const paramNote = (d: { hostileParams: string[]; segments: Record<string, string> }) =>
      d.hostileParams.length > 0 ? ` params ${d.hostileParams.map((p) => `${p}=${d.segments[p]}`).join(',')}` : '';
    const hasBody = op.method === 'POST' || op.method === 'PUT' || op.method === 'PATCH';

    switch (kind) {
      case 'valid': {
        const d = base(0);
        d.body = this.validBody(op, d.segments);
        d.shape = 'valid request';
        return d;
      }

      case 'auth': {
        const d = base(0.1);
        d.body = this.validBody(op, d.segments);
        const env = r.pick(this.ctx.environments);
        const client = this.ctx.clientTokens[env]!;
        const admin = this.ctx.adminToken;
        const garbage = r.pick(['garbage', 'rc_admin_x', 'null', '', ' ', 'Bearer', '\u00e9t\u00e9', 'a'.repeat(8000)]);
        const variants: [string, Record<string, string>][] = [
          ['no token', {}],
          ['garbage bearer', { authorization: `Bearer ${garbage}` }],
          ['empty bearer', { authorization: 'Bearer ' }],
          ['scheme only', { authorization: 'Bearer' }],
          ['revoked client token', { authorization: `Bearer ${this.ctx.revokedToken}` }],
          ['admin token on this route', { authorization: `Bearer ${admin}` }],
          ['client token on this route', { authorization: `Bearer ${client}` }],
          ['admin token without scheme', { authorization: admin }],
          ['client token without scheme', { authorization: client }],
          [
            'basic auth with admin token',
            { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString('base64')}` },
          ],
          ['lower-case bearer, extra spaces', { authorization: `bearer   ${admin}   ` }],
          ['token with a suffix', { authorization: `Bearer ${admin}x` }],
          ['token with a trailing word', { authorization: `Bearer ${client} extra` }],
          ['two bearer tokens', { authorization: `Bearer ${admin}, Bearer ${client}` }],
          ['x-api-key admin token', { 'x-api-key': admin }],
          ['x-api-key client token', { 'x-api-key': client }],
          ['x-api-key garbage', { 'x-api-key': garbage || 'x' }],
          ['both headers disagree', { authorization: `Bearer ${admin}`, 'x-api-key': client }],
          ['webhook secret as bearer', { authorization: `Bearer ${this.ctx.webhookSecret}` }],
          ['webhook secret with suffix', { authorization: `Bearer ${this.ctx.webhookSecret}x` }],
          ['huge bearer', { authorization: `Bearer ${'A'.repeat(r.range(9000, 60000))}` }],
          ['token in a cookie', { cookie: `token=${admin}` }],
          ['x-rc-actor hostile', { authorization: `Bearer ${admin}`, 'x-rc-actor': "$' $` %00 <x>" }],
        ];
        const [label, headers] = r.pick(variants);
        d.headers = headers;
        d.shape = `auth: ${label}`;
        d.detail = paramNote(d);
        return d;
      }

      case 'malformed-json': {
        const d = base(0.1);
        const text = r.chance(0.8) ? r.pick(MALFORMED_JSON) : `${toJsonText(this.validBody(op, d.segments) ?? {})}}`;
        d.body = text;
        d.contentType = 'application/json';
        d.shape = 'malformed JSON body';
        d.detail = JSON.stringify(text.slice(0, 60));
        return d;
      }

      case 'wrong-types': {
        const d = base(0.1);
        const { value, label } = this.wrongTypeValue();
        const { body, slot } = this.bodyWith(op, d.segments, value);
        d.body = body;
        d.shape = `wrong type at ${slot}`;
        d.detail = label;
        return d;
      }

      case 'deep-nesting': {
        const d = base(0.05);
        const depth = this.deepDepth();
        const placement =
          op.path.startsWith('/ofrep/') || op.path === '/api/admin/evaluate'
            ? r.pick(['context', 'context', 'context', 'body', 'slot'])
            : op.path.startsWith('/api/admin/flags') && readsBody(op)
              ? r.pick(['targeting', 'variant', 'schema', 'body', 'slot'])
              : op.path.startsWith('/api/admin/evaluators')
                ? r.pick(['evaluator', 'evaluator', 'body', 'slot'])
                : r.pick(['body', 'slot', 'context', 'targeting', 'variant', 'schema', 'evaluator']);
        let deep: { text: string; style: string };
        let shape: string;
        if (placement === 'body') {
          deep = deepText(r, depth, r.pick(['array', 'object', 'mixed']));
          d.body = deep.text;
          d.contentType = 'application/json';
          shape = 'deep body';
        } else if (placement === 'context') {
          deep = deepText(r, depth, r.pick(['array', 'object', 'mixed']));
          const ctx = { targetingKey: 'user-1', deep: new Raw(deep.text) };
          d.body =
            op.path === '/api/admin/evaluate'
              ? { environment: this.ctx.environments[0], context: ctx }
              : { context: ctx };
          shape = 'deep context value';
        } else if (placement === 'targeting' || placement === 'variant' || placement === 'schema') {
          deep =
            placement === 'targeting'
              ? deepText(r, depth, r.pick(['logic-not', 'logic-and', 'var-chain', 'array']))
              : deepText(r, depth, r.pick(['object', 'array', 'mixed']));
          const doc = this.flagDoc(
            op.path === '/api/admin/flags/{key}' ? this.decodedKey(d.segments) : this.newFlagKey(),
            placement === 'targeting' ? undefined : 'object',
          );
          if (placement === 'targeting') {
            const env = this.ctx.environments[0]!;
            doc.environments = {
              ...(doc.environments as Body),
              [env]: { state: 'ENABLED', targeting: new Raw(deep.text) },
            };
          } else if (placement === 'variant') {
            doc.variants = { on: new Raw(deep.text), off: {} };
          } else {
            doc.schema = new Raw(deep.text);
          }
          d.body = op.path.endsWith('/environments/{env}')
            ? { targeting: new Raw(deep.text) }
            : op.path === '/api/admin/evaluators/{name}'
              ? new Raw(deep.text)
              : doc;
          shape = `deep ${placement}`;
        } else if (placement === 'evaluator') {
          deep = deepText(r, depth, r.pick(['logic-not', 'logic-and', 'var-chain']));
          d.body = new Raw(deep.text);
          shape = 'deep JsonLogic body';
        } else {
          deep = deepText(r, depth);
          const { body, slot } = this.bodyWith(op, d.segments, new Raw(deep.text));
          d.body = body;
          shape = `deep value at ${slot}`;
        }
        d.shape = shape;
        d.detail = `${deep.style}, ${depth} levels`;
        return d;
      }

      case 'huge-string': {
        const d = base(0.05);
        const limit = this.ctx.bodyLimit;
        const over = r.chance(0.3);
        const unit = r.pick(['x', 'é', '\u0000', '💩', "$'"]);
        const escapedLen = Buffer.byteLength(JSON.stringify(unit)) - 2;
        const targetBytes = over ? limit + r.range(1, 4096) : limit - r.range(600, 4000);
        const count = Math.max(1, Math.floor(targetBytes / escapedLen));
        const huge = unit.repeat(count);
        const where = readsBody(op)
          ? r.pick(['slot', 'key', 'variant name', 'context', 'header'])
          : r.pick(['path', 'query', 'header']);
        if (where === 'path' || where === 'query') {
          const n = r.pick([1000, 8000, 20000, 100_000]);
          const segment = encodeSegment(unit)
            .repeat(Math.ceil(n / encodeSegment(unit).length))
            .slice(0, n);
          const name = op.params.length > 0 && where === 'path' ? r.pick(op.params) : undefined;
          if (name) d.segments[name] = segment;
          else d.query = `${op.path === '/ofrep/v1/sse' ? 'key' : r.pick(['flag', 'actor', 'key', 'x'])}=${segment}`;
          d.shape = name ? `huge path parameter ${name}` : 'huge query value';
          d.detail = `${n} chars of ${JSON.stringify(unit)}`;
          return d;
        }
        if (where === 'header') {
          d.headers = { ...d.headers, 'x-rc-actor': 'a'.repeat(Math.min(count, 200_000)) };
          d.body = this.validBody(op, d.segments);
          d.shape = 'huge header';
        } else if (where === 'key' && hasBody) {
          const doc = this.flagDoc(huge);
          d.body = op.path.startsWith('/api/admin/flags') && !op.path.includes('/environments') ? doc : { key: huge };
          d.shape = 'huge flag key';
        } else if (where === 'variant name' && hasBody) {
          const doc = this.flagDoc(this.newFlagKey(), 'string');
          doc.variants = { on: 'blue', [huge]: 'red' };
          d.body = doc;
          d.shape = 'huge variant name';
        } else if (where === 'context') {
          d.body = { context: { targetingKey: huge } };
          d.shape = 'huge context.targetingKey';
        } else {
          const { body, slot } = this.bodyWith(op, d.segments, huge);
          d.body = body;
          d.shape = `huge string at ${slot}`;
        }
        d.shape += over ? ' (over the body limit)' : ' (near the body limit)';
        d.detail = `${count} × ${JSON.stringify(unit)}`;
        return d;
      }

      case 'nul-surrogate': {
        const d = base(0.5);
        const s = r.pick(['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ud800\u0000', 'on\u0000', '\udbff']);
        const label = JSON.stringify(s);
        const where = r.pick([
          'path',
          'slot',
          'key',
          'variant name',
          'variant value',
          'override key',
          'context key',
          'raw bytes',
        ]);
        if (where === 'raw bytes' && hasBody) {
          // Invalid UTF-8 on the wire: an encoded surrogate (ED A0 80), an overlong NUL (C0 80) and a stray FF.
          const valid = toJsonText(this.validBody(op, d.segments) ?? {});
          const i = Math.max(1, valid.indexOf('"') + 1);
          d.body = Buffer.concat([
            Buffer.from(valid.slice(0, i)),
            Buffer.from(r.pick([[0xed, 0xa0, 0x80], [0xc0, 0x80], [0xff, 0xfe], [0x00]])),
            Buffer.from(valid.slice(i)),
          ]);
          d.contentType = 'application/json';
          d.shape = 'invalid UTF-8 bytes in the body';
          d.detail = paramNote(d);
          return d;
        }
        if (where === 'path' || !hasBody) {
          const name = op.params.length > 0 ? r.pick(op.params) : undefined;
          if (name) {
            d.segments[name] = r.pick(['%00', 'a%00b', '%ED%A0%80', 'x%ED%B0%80y', '%C0%80', '%FF', 'on%00']);
            d.shape = `NUL/surrogate in path parameter ${name}`;
            d.detail = d.segments[name]!;
          } else {
            d.query = r.pick(['x=%00', 'x=%ED%A0%80', '%00=1', 'key=%00', 'flag=%ED%A0%80']);
            d.shape = 'NUL/surrogate in the query';
            d.detail = d.query;
          }
          d.body = this.validBody(op, d.segments);
          return d;
        }
        if (where === 'key' || where === 'variant name' || where === 'variant value' || where === 'override key') {
          if (op.path.startsWith('/api/admin/flags') && !op.path.includes('/overrides')) {
            const doc = this.flagDoc(
              where === 'key'
                ? `fz${s}`
                : op.path === '/api/admin/flags/{key}'
                  ? this.decodedKey(d.segments)
                  : this.newFlagKey(),
              'string',
            );
            const env = this.ctx.environments[0]!;
            if (where === 'variant name') doc.variants = { on: 'blue', [s]: 'red' };
            if (where === 'variant value') doc.variants = { on: s, off: 'red' };
            if (where === 'override key') doc.environments = { [env]: { state: 'ENABLED', overrides: { [s]: 'on' } } };
            d.body = op.path.endsWith('/environments/{env}') ? { overrides: { [s]: 'on' } } : doc;
            d.shape = `NUL/surrogate in flag ${where}`;
            d.detail = `${label}${paramNote(d)}`;
            return d;
          }
        }
        if (where === 'context key') {
          d.body = { context: { targetingKey: s, [s]: s } };
          if (op.path === '/api/admin/evaluate') (d.body as Body).environment = this.ctx.environments[0];
          d.shape = 'NUL/surrogate in context keys and values';
          d.detail = label;
          return d;
        }
        const { body, slot } = this.bodyWith(op, d.segments, s);
        d.body = body;
        d.shape = `NUL/surrogate string at ${slot}`;
        d.detail = `${label}${paramNote(d)}`;
        return d;
      }

      case 'prototype-keys': {
        const d = base(0.1);
        const p = r.pick(PROTOTYPE_KEYS);
        const where = r.pick([
          'path',
          'flag key',
          'variant name',
          'defaultVariant',
          'override key',
          'environment',
          'context',
          'evaluator',
          'body key',
          'query',
        ]);
        const env = this.ctx.environments[0]!;
        const flagBody = (doc: Body) =>
          op.path.endsWith('/environments/{env}') ? ((doc.environments as Body)[env] ?? { state: 'ENABLED' }) : doc;
        if (where === 'path' && op.params.length > 0) {
          const name = r.pick(op.params);
          d.segments[name] = p === '__proto__' && r.chance(0.5) ? '%5F%5Fproto%5F%5F' : p;
          d.body = this.validBody(op, d.segments);
          d.shape = `prototype name as path parameter ${name}`;
          d.detail = p;
          return d;
        }
        if (where === 'query') {
          d.query = r.pick([
            `${p}=1`,
            `${p}[x]=1`,
            `flag=${p}`,
            `key=${p}`,
            `actor=${p}`,
            `type=${p}`,
            `${p}=1&${p}=2`,
          ]);
          d.body = this.validBody(op, d.segments);
          d.shape = 'prototype name in the query';
          d.detail = d.query;
          return d;
        }
        if (where === 'context' || !hasBody || op.path.startsWith('/ofrep/')) {
          const ctx: Body = { targetingKey: r.chance(0.5) ? p : 'user-1' };
          ctx[p] = r.pick([1, 'x', {}, [], null]);
          d.body =
            op.path === '/api/admin/evaluate' ? { environment: r.pick([env, p]), context: ctx } : { context: ctx };
          if (op.path.startsWith('/ofrep/') && op.params.includes('key') && r.chance(0.5)) d.segments.key = p;
          d.shape = 'prototype names as context keys / targetingKey';
          d.detail = p;
          return d;
        }
        if (op.path === '/api/admin/evaluators/{name}' || where === 'evaluator') {
          if (op.path === '/api/admin/evaluators/{name}') {
            d.segments.name = p;
            d.body = r.chance(0.5) ? { [p]: [1] } : { in: [{ var: p }, ['x']] };
            d.shape = 'prototype name as evaluator name';
          } else {
            const doc = this.flagDoc(this.newFlagKey());
            doc.environments = { [env]: { state: 'ENABLED', targeting: { if: [{ $ref: p }, 'on', null] } } };
            d.body = flagBody(doc);
            d.shape = 'prototype name as $ref evaluator in targeting';
          }
          d.detail = p;
          return d;
        }
        if (
          op.path === '/api/admin/tokens' ||
          op.path === '/api/admin/canaries' ||
          op.path.includes('webhook') ||
          op.path.includes('/canaries/')
        ) {
          const body = this.validBody(op, d.segments);
          const b: Body = body && typeof body === 'object' ? (body as Body) : {};
          for (const k of Object.keys(b)) if (r.chance(0.5)) b[k] = p;
          if (p !== '__proto__') b[p] = r.pick([1, 'x', {}]);
          d.body = b;
          d.shape = 'prototype names as body keys and values';
          d.detail = p;
          return d;
        }
        // Flag documents.
        const keyForDoc =
          where === 'flag key'
            ? p
            : op.path === '/api/admin/flags/{key}'
              ? this.decodedKey(d.segments)
              : this.newFlagKey();
        if (where === 'flag key' && op.path === '/api/admin/flags/{key}') d.segments.key = p;
        const doc = this.flagDoc(keyForDoc, 'boolean');
        if (where === 'variant name') {
          doc.variants = { [p]: true, off: false };
          doc.defaultVariant = r.chance(0.5) ? p : 'off';
        } else if (where === 'defaultVariant') {
          doc.defaultVariant = p;
          if (r.chance(0.3)) doc.variants = { [p]: true, off: false };
        } else if (where === 'override key') {
          doc.environments = { [env]: { state: 'ENABLED', overrides: { [p]: 'on', 'user-1': r.pick(['on', p]) } } };
        } else if (where === 'environment') {
          doc.environments = { [p]: { state: 'ENABLED' } };
          if (op.path.endsWith('/environments/{env}')) d.segments.env = p;
        } else if (where === 'body key' && p !== '__proto__') {
          doc[p] = r.pick([1, 'x', {}, []]);
        } else if (where === 'body key') {
          // `__proto__` spelled with escapes, so it survives the literal check in our JSON text.
          d.body = `{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":true},${toJsonText(doc).slice(1)}`;
          d.contentType = 'application/json';
          d.shape = 'escaped __proto__ key';
          return d;
        }
        let body: unknown = flagBody(doc);
        if (op.path.endsWith('/environments/{env}')) {
          body = r.pick<Body>([
            { rollout: { variant: p, percentage: 50 } },
            { overrides: { [p]: 'on' } },
            { overrides: { 'user-1': p } },
            { targeting: { if: [true, p, null] } },
            { [p]: 'ENABLED' },
          ]);
        } else if (op.path.endsWith('/overrides/{targetingKey}')) {
          if (r.chance(0.5)) d.segments.targetingKey = p;
          body = { variant: r.pick([p, 'on']) };
        }
        d.body = body;
        d.shape = `prototype name as ${where}`;
        d.detail = p;
        return d;
      }

      case 'if-match': {
        const d = base(0.05);
        if (op.streaming) {
          const value = r.pick([
            '-1',
            '1e400',
            '99999999999999999999',
            'abc',
            '',
            ' ',
            '0x10',
            '1.5',
            '%00',
            '9'.repeat(400),
          ]);
          d.headers = { ...d.headers, 'last-event-id': value };
          d.shape = 'odd Last-Event-ID';
          d.detail = value.slice(0, 40);
          return d;
        }
        const value = r.pick([
          '"abc"',
          'W/"1"',
          'W/',
          '*',
          '**',
          '""',
          '"-1"',
          '-1',
          '"1e400"',
          '1e400',
          `"${'9'.repeat(r.range(17, 400))}"`,
          '"9007199254740993"',
          '"18446744073709551616"',
          '"1", "2"',
          '"0"',
          '0x10',
          '" 1 "',
          '"%00"',
          `"${'1'.repeat(20000)}"`,
          '"1"junk',
          'W/"W/"1""',
        ]);
        d.headers = { ...d.headers, [r.chance(0.8) ? 'if-match' : 'if-none-match']: value };
        d.body = this.validBody(op, d.segments);
        d.shape = 'bad If-Match / If-None-Match';
        d.detail = value.length > 60 ? `${value.slice(0, 30)}… (${value.length} chars)` : value;
        return d;
      }

      case 'query': {
        const d = base(0.05);
        const audit = op.path === '/api/admin/audit';
        const stream = op.path === '/ofrep/v1/sse';
        const key = this.ctx.streamKeys[this.ctx.environments[0]!] ?? 'x';
        const choices = audit
          ? [
              'flag=a&flag=b',
              'type=flag&type=token',
              'key=a&key=b',
              'actor=a&actor=b',
              'limit=1&limit=2',
              'before=1&before=2',
              'since=2020-01-01&since=2021-01-01',
              'before=1e20',
              'before=1e400',
              'before=-1',
              'before=9007199254740993',
              'before=99999999999999999999999',
              'before=0x10',
              'before=',
              'limit=-1',
              'limit=0',
              'limit=1e3',
              'limit=1001',
              'limit=1.5',
              'limit=1e400',
              'limit=',
              'since=garbage',
              'since=+275760-09-13T00:00:00.000Z',
              'since=-271821-04-20T00:00:00.000Z',
              'until=+275760-09-13T00:00:00.001Z',
              'since=0',
              'since=1e400',
              'until=-1',
              'flag=%00',
              'flag=%ED%A0%80',
              'actor=%00',
              'flag[]=a',
              'flag[a]=b',
              'type=',
              `${'a'.repeat(5000)}=1`,
              `flag=${'x'.repeat(20000)}`,
            ]
          : stream
            ? [
                `key=${key}&key=${key}`,
                'key=a&key=b',
                'key=',
                'key=.',
                'key=%00',
                `key=${key}x`,
                `key=${'A'.repeat(5000)}.x`,
                'key=Y29uc3RydWN0b3I.x',
                'key=X19wcm90b19f.x',
              ]
            : [
                Array.from({ length: 2000 }, (_, i) => `p${i}=1`).join('&'),
                'x=1&x=2',
                'limit=-1',
                'a=%00',
                '%ZZ=1',
                'a[b][c]=1',
                '&&&',
                '=',
                'a=1e400',
                `x=${'y'.repeat(10000)}`,
              ];
        d.query = r.pick(choices);
        d.body = this.validBody(op, d.segments);
        d.shape = audit ? 'audit query' : stream ? 'OFREP stream key query' : 'unexpected query';
        d.detail = d.query.length > 60 ? `${d.query.slice(0, 40)}… (${d.query.length} chars)` : d.query;
        return d;
      }

      case 'numbers': {
        const d = base(0.05);
        const n = r.pick(OUT_OF_RANGE_NUMBERS);
        const raw = new Raw(n);
        const p = op.path;
        let body: unknown;
        let shape: string;
        if (p === '/api/admin/flags' || p === '/api/admin/flags/{key}') {
          const doc = this.flagDoc(
            p === '/api/admin/flags' ? this.newFlagKey() : this.decodedKey(d.segments),
            'number',
          );
          const env = this.ctx.environments[0]!;
          const which = r.pick(['variant', 'rollout', 'schema']);
          if (which === 'variant') doc.variants = { on: raw, off: 1 };
          else if (which === 'rollout')
            doc.environments = { [env]: { state: 'ENABLED', rollout: { variant: 'on', percentage: raw } } };
          else doc.schema = { type: 'number', minimum: raw, maximum: new Raw(r.pick(OUT_OF_RANGE_NUMBERS)) };
          body = doc;
          shape = `out-of-range number in flag ${which}`;
        } else if (p.endsWith('/environments/{env}')) {
          body = r.pick<Body>([
            { rollout: { variant: 'on', percentage: raw } },
            {
              targeting: {
                fractional: [
                  ['on', raw],
                  ['off', 1],
                ],
              },
            },
            { targeting: { if: [{ '>': [{ var: 'n' }, raw] }, 'on', null] } },
          ]);
          shape = 'out-of-range number in an environment patch';
        } else if (p === '/api/admin/canaries') {
          body = {
            service: r.pick(this.ctx.canaryServices),
            to: 'v2',
            ...r.pick<Body>([
              { steps: [raw] },
              { intervalMs: raw },
              { failureThreshold: raw },
              { thresholds: { maxErrorRate: raw, minRequests: raw } },
              { missingData: { limit: raw, action: 'pause' } },
            ]),
          };
          shape = 'out-of-range number in a canary start';
        } else if (p === '/api/integrations/unleash/webhook') {
          body = { id: raw, type: 'feature-updated', featureName: 'x' };
          shape = 'out-of-range webhook event id';
        } else {
          const { body: b, slot } = this.bodyWith(op, d.segments, raw);
          body = b;
          shape = `out-of-range number at ${slot}`;
        }
        d.body = body;
        d.shape = shape;
        d.detail = n;
        return d;
      }

      case 'path-tricks': {
        const d = base(0);
        d.body = this.validBody(op, d.segments);
        const path = fillPath(op.path, d.segments);
        const parts = path.split('/');
        const cut = r.range(1, Math.max(1, parts.length - 1));
        const tricks: [string, string, boolean][] = [
          ['".." segment', [...parts.slice(0, cut), '..', ...parts.slice(cut)].join('/'), true],
          ['"%2e%2e" segment', [...parts.slice(0, cut), '%2e%2e', ...parts.slice(cut)].join('/'), true],
          ['"%2E%2E%2F" segment', [...parts.slice(0, cut), '%2E%2E%2F', ...parts.slice(cut)].join('/'), true],
          ['"." segment', [...parts.slice(0, cut), '.', ...parts.slice(cut)].join('/'), true],
          ['escape upwards', `/api/client/../admin/${parts.slice(3).join('/')}`, true],
          ['double slash', [...parts.slice(0, cut), '', ...parts.slice(cut)].join('/'), false],
          ['leading double slash', `/${path}`, false],
          ['trailing slash', `${path}/`, false],
          ['trailing double slash', `${path}//`, false],
          ['upper case', path.toUpperCase(), false],
          ['matrix parameter', `${path};jsessionid=1`, false],
          ['encoded slash', path.replace(/\/([^/]*)$/, '%2F$1'), false],
          ['backslash', path.replace(/\//g, '\\'), true],
          ['very long path', `${path}/${'a/'.repeat(r.range(2000, 6000))}`, r.chance(0.5)],
          ['very long segment', `${path}/${'x'.repeat(r.range(5000, 70000))}`, r.chance(0.5)],
          ['many encoded chars', `${path}${'%41'.repeat(r.range(1000, 5000))}`, false],
          ['double-encoded dots', [...parts.slice(0, cut), '%252e%252e', ...parts.slice(cut)].join('/'), false],
          ['fragment', `${path}#frag`, true],
          ['absolute-form', `http://evil.example${path}`, true],
          ['asterisk', '*', true],
        ];
        const [label, rawPath, socket] = r.pick(tricks);
        d.rawPath = rawPath;
        d.transport = socket ? 'socket' : 'inject';
        d.shape = `path trick: ${label}`;
        d.detail = rawPath.length > 80 ? `${rawPath.slice(0, 60)}… (${rawPath.length} chars)` : rawPath;
        return d;
      }

      case 'content-type': {
        const d = base(0.05);
        const ct = r.pick(CONTENT_TYPES);
        const valid = this.validBody(op, d.segments) ?? {};
        const text = toJsonText(valid);
        const payload = r.pick<string | Buffer>([
          text,
          'a=1&b=2',
          '<flag key="x"/>',
          '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--',
          Buffer.from(text, 'utf16le'),
          Buffer.from(`\ufeff${text}`, 'utf16le'),
          Buffer.from(text, 'latin1'),
        ]);
        d.body = payload;
        d.contentType = ct === '' && r.chance(0.5) ? null : ct;
        if (r.chance(0.15))
          d.headers = { ...d.headers, 'content-encoding': r.pick(['gzip', 'br', 'deflate', 'bogus']) };
        d.shape = `content type ${JSON.stringify(d.contentType ?? '(none)')}`;
        d.detail = Buffer.isBuffer(payload) ? 'binary payload' : payload.slice(0, 40);
        return d;
      }

      case 'evaluator-logic': {
        const d = base(0.15);
        const logic = r.pick(EVALUATOR_LOGIC);
        const logicBody = JSON.parse(JSON.stringify(logic), (_k, v) =>
          v === 'FZ_NUM' ? new Raw('1e400') : v,
        ) as unknown;
        const p = op.path;
        const replaceString = r.pick(["$'", '$`', "a$'b", '$&$1']);
        if (p === '/api/admin/evaluators/{name}' && op.method === 'PUT') {
          if (r.chance(0.2)) d.segments.name = encodeURIComponent(replaceString);
          d.body = logicBody;
          d.shape = 'evaluator body';
        } else if (p === '/api/admin/flags' || p === '/api/admin/flags/{key}') {
          const doc = this.flagDoc(
            p === '/api/admin/flags' ? this.newFlagKey() : this.decodedKey(d.segments),
            'string',
          );
          const env = this.ctx.environments[0]!;
          if (r.chance(0.25)) {
            doc.variants = { [replaceString]: 'blue', off: "$'$`" };
            doc.defaultVariant = r.chance(0.5) ? replaceString : 'off';
            doc.description = replaceString;
          }
          doc.environments = { [env]: { state: 'ENABLED', targeting: logicBody } };
          d.body = doc;
          d.shape = 'flag targeting logic';
        } else if (p.endsWith('/environments/{env}')) {
          d.body = r.chance(0.8) ? { targeting: logicBody } : { overrides: { [replaceString]: 'on' } };
          d.shape = 'targeting patch logic';
        } else if (p.endsWith('/overrides/{targetingKey}')) {
          d.segments.targetingKey = encodeURIComponent(replaceString);
          d.body = { variant: r.chance(0.5) ? replaceString : 'on' };
          d.shape = 'String.replace patterns in override';
        } else if (p.startsWith('/ofrep/') || p === '/api/admin/evaluate') {
          d.body = {
            ...(p === '/api/admin/evaluate' ? { environment: this.ctx.environments[0] } : {}),
            context: { targetingKey: replaceString, email: replaceString, version: replaceString, tier: '$`' },
          };
          if (p.startsWith('/ofrep/') && op.params.includes('key') && r.chance(0.3)) {
            d.segments.key = encodeURIComponent(replaceString);
          }
          d.shape = 'String.replace patterns in the context';
        } else {
          const { body, slot } = this.bodyWith(op, d.segments, r.chance(0.5) ? logicBody : replaceString);
          d.body = body;
          d.shape = `JsonLogic / replace pattern at ${slot}`;
        }
        d.detail = `${JSON.stringify(logic).slice(0, 60)}${paramNote(d)}`;
        return d;
      }

      case 'object-variant-deep': {
        const d = base(0);
        const depth = this.deepDepth();
        const deep = deepText(r, depth, r.pick(['object', 'array', 'mixed']));
        const p = op.path;
        const doc = this.flagDoc(
          p === '/api/admin/flags/{key}' ? this.decodedKey(d.segments) : this.newFlagKey(),
          'object',
        );
        doc.variants = { on: new Raw(deep.text), off: {} };
        doc.defaultVariant = r.pick(['on', 'off', 'constructor']);
        if (p === '/api/admin/flags' || (p === '/api/admin/flags/{key}' && op.method === 'PUT')) {
          d.body = doc;
        } else if (p.endsWith('/environments/{env}')) {
          d.body = { overrides: { 'user-1': new Raw(deep.text) } };
        } else if (p.startsWith('/ofrep/') || p === '/api/admin/evaluate') {
          d.body = {
            ...(p === '/api/admin/evaluate' ? { environment: this.ctx.environments[0] } : {}),
            context: { targetingKey: 'user-1', profile: new Raw(deep.text) },
          };
        } else {
          const { body } = this.bodyWith(op, d.segments, new Raw(deep.text));
          d.body = body;
        }
        d.shape = 'object variant / value nested thousands of levels';
        d.detail = `${deep.style}, ${depth} levels, defaultVariant ${String(doc.defaultVariant)}`;
        return d;
      }

      case 'wide': {
        const d = base(0.05);
        const n = r.pick([1000, 10_000, 50_000]);
        const p = op.path;
        const env = this.ctx.environments[0]!;
        const many = (f: (i: number) => [string, unknown]) =>
          Object.fromEntries(Array.from({ length: n }, (_, i) => f(i)));
        let body: unknown;
        let shape: string;
        if (p === '/api/admin/flags' || p === '/api/admin/flags/{key}') {
          const doc = this.flagDoc(
            p === '/api/admin/flags' ? this.newFlagKey() : this.decodedKey(d.segments),
            'string',
          );
          const which = r.pick(['variants', 'overrides', 'in-list', 'or-chain']);
          if (which === 'variants') doc.variants = many((i) => [`v${i}`, `value-${i}`]);
          else if (which === 'overrides')
            doc.environments = { [env]: { state: 'ENABLED', overrides: many((i) => [`user-${i}`, 'on']) } };
          else if (which === 'in-list') {
            doc.environments = {
              [env]: {
                state: 'ENABLED',
                targeting: {
                  if: [{ in: [{ var: 'targetingKey' }, Array.from({ length: n }, (_, i) => `u${i}`)] }, 'on', null],
                },
              },
            };
          } else {
            doc.environments = {
              [env]: {
                state: 'ENABLED',
                targeting: {
                  if: [
                    { or: Array.from({ length: n }, (_, i) => ({ '==': [{ var: 'targetingKey' }, `u${i}`] })) },
                    'on',
                    null,
                  ],
                },
              },
            };
          }
          body = doc;
          shape = `wide flag: ${which}`;
        } else if (p.endsWith('/environments/{env}')) {
          body = r.chance(0.5)
            ? { overrides: many((i) => [`user-${i}`, 'on']) }
            : {
                targeting: {
                  if: [{ in: [{ var: 'targetingKey' }, Array.from({ length: n }, (_, i) => `u${i}`)] }, 'on', null],
                },
              };
          shape = 'wide environment patch';
        } else if (p.startsWith('/ofrep/') || p === '/api/admin/evaluate') {
          body = {
            ...(p === '/api/admin/evaluate' ? { environment: env } : {}),
            context: r.chance(0.5)
              ? { targetingKey: 'user-1', ...many((i) => [`attr${i}`, i]) }
              : {
                  targetingKey: 'user-1',
                  deep: Array.from({ length: n }, (_, i) => i),
                  profile: Array.from({ length: n }, (_, i) => i),
                },
          };
          shape = 'wide context (many keys or long arrays)';
        } else if (p === '/api/admin/canaries') {
          body = {
            service: r.pick(this.ctx.canaryServices),
            to: 'v2',
            intervalMs: 3_600_000,
            ...r.pick<Body>([
              { steps: Array.from({ length: n }, (_, i) => 1 + (i % 100)) },
              { pins: { header: 'x-user', values: Array.from({ length: n }, (_, i) => `u${i}`) } },
            ]),
          };
          shape = 'wide canary start';
        } else if (p === '/api/admin/evaluators/{name}') {
          body = { in: [{ var: 'email' }, Array.from({ length: n }, (_, i) => `u${i}@example.com`)] };
          shape = 'wide evaluator';
        } else {
          const { body: b, slot } = this.bodyWith(
            op,
            d.segments,
            many((i) => [`k${i}`, i]),
          );
          body = b;
          shape = `wide object at ${slot}`;
        }
        d.body = body;
        d.shape = shape;
        d.detail = `${n} entries`;
        return d;
      }

      case 'schema': {
        const d = base(0.05);
        const redos = r.pick(['^(a+)+$', '^(a|aa)+$', '^(\\w+\\s?)*$', '(x+x+)+y', '^(([a-z])+.)+[A-Z]([a-z])+$']);
        // 29–30 characters: seconds of backtracking on an unprotected engine (each one more doubles it), instant on a linear one.
        const evil = `${'a'.repeat(r.range(29, 30))}!`;
        const schemas: [string, unknown, Record<string, unknown>][] = [
          ['ReDoS pattern', { type: 'string', pattern: redos }, { on: evil, off: 'b' }],
          [
            'ReDoS patternProperties',
            { type: 'object', patternProperties: { [redos]: {} } },
            { on: { [evil]: 1 }, off: {} },
          ],
          ['$ref to itself', { $ref: '#' }, { on: 'x', off: 'y' }],
          [
            '$ref loop',
            {
              definitions: { a: { $ref: '#/definitions/b' }, b: { $ref: '#/definitions/a' } },
              $ref: '#/definitions/a',
            },
            { on: 'x', off: 'y' },
          ],
          ['remote $ref', { $ref: 'http://127.0.0.1:1/schema.json' }, { on: 'x', off: 'y' }],
          ['$async', { $async: true, type: 'string' }, { on: 'x', off: 'y' }],
          [
            'unknown $schema',
            { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'string' },
            { on: 'x', off: 'y' },
          ],
          ['format regex', { type: 'string', format: 'regex' }, { on: '(', off: 'a' }],
          ['tiny multipleOf', { type: 'number', multipleOf: 1e-300 }, { on: 1, off: 2 }],
          ['huge enum', { enum: Array.from({ length: 50_000 }, (_, i) => `e${i}`) }, { on: 'e1', off: 'e2' }],
          ['not {}', { not: {} }, { on: 'x', off: 'y' }],
          ['$id collision', { $id: 'fz', type: 'string' }, { on: 'x', off: 'y' }],
          [
            'prototype keywords',
            { constructor: {}, __defineGetter__: 1, toString: 'x', type: 'string' },
            { on: 'x', off: 'y' },
          ],
          ['wrong type for keyword', { type: 'strin', minLength: 'x', pattern: 5 }, { on: 'x', off: 'y' }],
          ['invalid pattern', { type: 'string', pattern: '(' }, { on: 'x', off: 'y' }],
          ['backreference pattern', { type: 'string', pattern: '^(a+)\\1$' }, { on: 'aa', off: 'aaaa' }],
        ];
        const [label, inner, innerVariants] = r.pick(schemas);
        // Schemas apply to number and object flags: string-level schemas are nested under an object property.
        const numeric = typeof innerVariants.on === 'number';
        const objectLevel = typeof innerVariants.on === 'object';
        const type = numeric ? 'number' : 'object';
        const schema = numeric || objectLevel ? inner : { type: 'object', required: ['s'], properties: { s: inner } };
        const variants =
          numeric || objectLevel ? innerVariants : { on: { s: innerVariants.on }, off: { s: innerVariants.off } };
        const doc = this.flagDoc(
          op.path === '/api/admin/flags/{key}' ? this.decodedKey(d.segments) : this.newFlagKey(),
          type,
        );
        doc.schema = schema;
        doc.variants = variants;
        d.body = doc;
        d.shape = `hostile JSON Schema: ${label}`;
        d.detail = JSON.stringify(schema).slice(0, 60);
        return d;
      }

      case 'method': {
        const d = base(0.1);
        d.method = r.pick(
          ['PATCH', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'HEAD', 'POST', 'GET', 'PROPFIND'].filter(
            (m) => m !== op.method,
          ),
        );
        d.body = r.chance(0.5) ? this.validBody(op, d.segments) : undefined;
        if (d.method === 'GET' || d.method === 'HEAD' || d.method === 'TRACE') d.body = undefined;
        d.shape = 'unexpected method';
        d.detail = d.method;
        if (op.streaming || d.method === 'GET') d.transport = op.streaming ? 'socket' : 'inject';
        return d;
      }
    }
  }

  private render(index: number, op: ApiOperation, d: Draft): HostileRequest {
    const path = d.rawPath ?? fillPath(op.path, d.segments);
    const url = d.query ? `${path}${path.includes('?') ? '&' : '?'}${d.query}` : path;
    const headers: Record<string, string> = { ...d.headers };
    let payload: string | Buffer | undefined;
    if (d.body !== undefined) {
      payload = typeof d.body === 'string' || Buffer.isBuffer(d.body) ? d.body : toJsonText(d.body);
    }
    if (d.contentType !== null && payload !== undefined) headers['content-type'] = d.contentType ?? 'application/json';
    // GET/HEAD bodies are meaningless; streams (and HEAD) go over a socket.
    const method = d.method;
    if (method === 'GET' || method === 'HEAD') payload = undefined;
    if (payload === undefined) delete headers['content-type'];
    const streaming = op.streaming && (method === 'GET' || method === 'HEAD');
    return {
      index,
      kind: d.kind,
      shape: d.shape,
      detail: d.detail,
      op,
      method,
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
      transport: streaming ? 'socket' : (d.transport ?? 'inject'),
    };
  }
}

/** encodeURIComponent, except a lone surrogate becomes its WTF-8 bytes (%ED%A0%80) instead of throwing. */
export function encodeSegment(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else out += encodeURIComponent(s[i]!);
  }
  return out;
}

export function fillPath(template: string, segments: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => segments[name] ?? 'x');
}

/** A short, printable description of a request for failure reports. */
export function describeRequest(req: HostileRequest, max = 300): string {
  const url = req.url.length > 200 ? `${req.url.slice(0, 150)}… (${req.url.length} chars)` : req.url;
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 40)}… (${v.length} chars)` : v}`)
    .join('; ');
  let body = '';
  if (req.payload !== undefined) {
    const text = Buffer.isBuffer(req.payload)
      ? `<${req.payload.length} bytes> ${req.payload.toString('hex', 0, 40)}`
      : req.payload;
    body = text.length > max ? `${JSON.stringify(text.slice(0, max))}… (${text.length} chars)` : JSON.stringify(text);
  }
  return `#${req.index} ${req.method} ${url} [${req.transport}] {${headers}}${body ? ` body ${body}` : ''}`;
}
