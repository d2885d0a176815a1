import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, requireTestDatabaseUrl, serviceOrFail, type TestDatabase } from '@runtime-control/testkit';
import { LocalRouter } from '@runtime-control/traffic';
import { createPostgresStore } from '../store/postgres-store.js';
import { createSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { createTestApp, type TestApp } from '../testing/test-app.js';
import {
  type ApiOperation,
  type CorpusContext,
  describeRequest,
  HostileCorpus,
  type HostileRequest,
  operationsOf,
} from './hostile-corpus.js';

/**
 * Hostile-input fuzzing (issue 9 item 10). A seeded corpus of hostile requests, spread over every operation of the
 * served OpenAPI document, is sent to the app over SQLite and over PostgreSQL. Per request: no 5xx, no answer slower
 * than 5 s, and a 4xx wrote nothing (revision, flags, evaluators and tokens unchanged). After each accepted write
 * every environment must still serve. After the corpus the server must be healthy and its logs free of any token.
 *
 * RC_FUZZ_SEED (default below) and RC_FUZZ_REQUESTS (default 2000 per store) replay or widen a run;
 * RC_FUZZ_REPORT=<file> writes every finding as JSON; RC_FUZZ_TRACE=<file> every request with its answer.
 */

const DEFAULT_SEED = 20_240_910;
const seed = Number(process.env.RC_FUZZ_SEED ?? DEFAULT_SEED);
const requestCount = Number(process.env.RC_FUZZ_REQUESTS ?? 2000);
if (!Number.isInteger(seed)) throw new Error(`RC_FUZZ_SEED must be an integer, got ${process.env.RC_FUZZ_SEED}`);
if (!Number.isInteger(requestCount) || requestCount < 1) {
  throw new Error(`RC_FUZZ_REQUESTS must be a positive integer, got ${process.env.RC_FUZZ_REQUESTS}`);
}
const REQUEST_TIMEOUT_MS = 5000;
/** A deep comparison of the stored entities runs after every rejected write, and every this many requests. */
const DEEP_CHECK_EVERY = 25;
/** Fixtures the corpus deleted are recreated this often, so valid keys keep hitting existing entities. */
const RESEED_EVERY = 100;
/** Repeated hangs of one shape are not sent again (each costs the full timeout). */
const MAX_HANGS_PER_SHAPE = 2;

const SENTINEL_ADMIN_TOKEN = 'rc-fuzz-sentinel-admin-7c1f0e94d2b84a6f9d3e';
const SENTINEL_WEBHOOK_SECRET = 'rc-fuzz-sentinel-webhook-3a9d5b7e1c2f48a0b6';
const FIXTURE_FLAGS = ['fz-bool', 'fz-string', 'fz-number', 'fz-object', 'fz-targeted'];
const FIXTURE_EVALUATORS = ['fz-eval', 'fz-eval-free'];
const CANARY_SERVICES = ['ai-gateway', 'auth-service'];
const replay = `RC_FUZZ_SEED=${seed} RC_FUZZ_REQUESTS=${requestCount}`;

type Category =
  | 'status >= 500'
  | 'no HTTP response'
  | 'hang (no answer within 5 s)'
  | 'slow (over 5 s)'
  | '4xx bumped the revision'
  | '4xx changed stored entities'
  | 'environment broken after an accepted write'
  | 'environment broken after a 5xx'
  | 'harness error';

interface Finding {
  category: Category;
  /** Groups findings that are one bug: category, route, request shape, status and error. */
  classKey: string;
  request: string;
  status: number;
  ms: number;
  response: string;
  serverError?: string;
}

interface Answer {
  status: number;
  body: string;
  ms: number;
  timedOut: boolean;
  error?: string;
  contentType?: string;
}

function flagDoc(key: string, type: 'boolean' | 'string' | 'number' | 'object', extra: Record<string, unknown> = {}) {
  const variants = {
    boolean: { on: true, off: false },
    string: { on: 'blue', off: 'red' },
    number: { on: 2, off: 1 },
    object: { on: { color: 'blue' }, off: {} },
  }[type];
  return {
    key,
    type,
    variants,
    defaultVariant: 'off',
    environments: { development: { state: 'ENABLED' }, production: { state: 'ENABLED' } },
    ...extra,
  };
}

function fixtureFlag(key: string): Record<string, unknown> {
  switch (key) {
    case 'fz-string':
      return flagDoc(key, 'string');
    case 'fz-number':
      return flagDoc(key, 'number', { schema: { type: 'number', minimum: 0, maximum: 100 } });
    case 'fz-object':
      return flagDoc(key, 'object');
    case 'fz-targeted':
      return flagDoc(key, 'boolean', {
        environments: {
          development: { state: 'ENABLED', targeting: { if: [{ $ref: 'fz-eval' }, 'on', null] } },
          production: {
            state: 'ENABLED',
            overrides: { 'user-1': 'on' },
            // Reads whatever the corpus puts in the context, deep values included.
            targeting: { if: [{ '==': [{ var: 'deep' }, { var: 'profile' }] }, 'on', null] },
          },
        },
      });
    default:
      return flagDoc(key, 'boolean');
  }
}

const FIXTURE_LOGIC: Record<string, object> = {
  'fz-eval': { in: [{ var: 'email' }, ['a@example.com']] },
  'fz-eval-free': { '==': [{ var: 'tier' }, 'gold'] },
};

/** A Prometheus that answers every analysis query with a healthy sample (the canary routes need one). */
function startStubPrometheus(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    const sample = (v1: number, v2: number) => [
      { metric: { destination_version: 'v1' }, value: [Date.now() / 1000, String(v1)] },
      { metric: { destination_version: 'v2' }, value: [Date.now() / 1000, String(v2)] },
    ];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: sample(10, 10) } }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

/** Sends a request over a real connection with the raw path; a stream is cut right after its headers. */
function socketRequest(port: number, req: HostileRequest): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (a: Omit<Answer, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      resolve({ ...a, ms: performance.now() - started });
    };
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.payload !== undefined) headers['content-length'] = Buffer.byteLength(req.payload);
    const outgoing = http.request({
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    const timer = setTimeout(
      () => finish({ status: 0, body: '', timedOut: true, error: 'no answer within 5 s' }),
      REQUEST_TIMEOUT_MS,
    );
    outgoing.on('response', (res) => {
      const contentType = String(res.headers['content-type'] ?? '');
      if (contentType.includes('text/event-stream')) {
        // A live stream: the status is what counts; take the first frame if it comes at once, then hang up.
        res.once('data', (chunk: Buffer) =>
          finish({ status: res.statusCode ?? 0, body: chunk.toString().slice(0, 500), timedOut: false, contentType }),
        );
        setTimeout(() => finish({ status: res.statusCode ?? 0, body: '', timedOut: false, contentType }), 150).unref();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size < 256 * 1024) chunks.push(c);
      });
      res.on('end', () =>
        finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), timedOut: false, contentType }),
      );
      res.on('error', (e) => finish({ status: res.statusCode ?? 0, body: '', timedOut: false, error: e.message }));
    });
    outgoing.on('error', (e) => finish({ status: 0, body: '', timedOut: false, error: `${e.name}: ${e.message}` }));
    if (req.payload !== undefined) outgoing.write(req.payload);
    outgoing.end();
  });
}

async function injectRequest(t: TestApp, req: HostileRequest): Promise<Answer> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Answer>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          status: 0,
          body: '',
          ms: performance.now() - started,
          timedOut: true,
          error: 'no answer within 5 s',
        }),
      REQUEST_TIMEOUT_MS,
    );
  });
  const sent = t.app
    .inject({
      method: req.method as 'GET',
      url: req.url,
      headers: req.headers,
      ...(req.payload !== undefined ? { payload: req.payload } : {}),
    })
    .then(
      (res): Answer => ({
        status: res.statusCode,
        body: res.body,
        ms: performance.now() - started,
        timedOut: false,
        contentType: String(res.headers['content-type'] ?? ''),
      }),
      (err: Error): Answer => ({
        status: 0,
        body: '',
        ms: performance.now() - started,
        timedOut: false,
        error: `inject threw ${err.name}: ${err.message}`,
      }),
    );
  try {
    return await Promise.race([sent, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error code of a JSON error body (`error.code`, or OFREP's `errorCode`), if any. */
function errorCodeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string }; errorCode?: string; code?: string };
    return parsed.error?.code ?? parsed.errorCode ?? parsed.code ?? '';
  } catch {
    return '';
  }
}

/** The error the server logged while answering (level ≥ 50): type, message, SQLSTATE/routine, first stack frame. */
function loggedError(lines: string[]): string | undefined {
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown; error?: unknown };
      if ((entry.level ?? 0) < 50) continue;
      const e = (entry.err ?? entry.error) as Record<string, unknown> | undefined;
      if (!e || typeof e !== 'object') return String(entry.msg).slice(0, 300);
      const parts = [`${String(e.type ?? 'Error')}:`];
      if (e.message !== undefined) parts.push(String(e.message));
      if (e.sqlstate !== undefined) parts.push(`sqlstate ${String(e.sqlstate)}`);
      if (e.routine !== undefined) parts.push(`routine ${String(e.routine)}`);
      if (e.code !== undefined) parts.push(`code ${String(e.code)}`);
      const frame = typeof e.stack === 'string' ? /at .*/.exec(e.stack)?.[0] : undefined;
      if (frame) parts.push(`(${frame.replace(/file:\/\/\S*\/packages\//, '').slice(0, 120)})`);
      return parts.join(' ').slice(0, 400);
    } catch {
      // not JSON; ignore
    }
  }
  return undefined;
}

/** Collapses numbers, quoted values and long runs so one bug's messages group together. */
function normalise(message: string): string {
  return message
    .replace(/"[^"]{0,200}"/g, '"…"')
    .replace(/\d+/g, 'N')
    .replace(/(.)\1{5,}/g, '$1…')
    .slice(0, 140);
}

interface Harness {
  t: TestApp;
  port: number;
  ctx: CorpusContext;
  ops: ApiOperation[];
  adminHeaders: Record<string, string>;
  clientHeaders: Record<string, Record<string, string>>;
  /** Token values that must never appear in logs, by label. */
  sentinels: Map<string, string>;
  close(): Promise<void>;
}

async function setUp(store: Store, dropDatabase?: () => Promise<void>): Promise<Harness> {
  const prometheus = await startStubPrometheus();
  const router = new LocalRouter({
    routes: CANARY_SERVICES.map((service) => ({
      service,
      backends: { v1: 'http://127.0.0.1:1', v2: 'http://127.0.0.1:2' },
    })),
  });
  await router.listen();
  const t = await createTestApp(
    {
      RC_ADMIN_TOKEN: SENTINEL_ADMIN_TOKEN,
      RC_UNLEASH_WEBHOOK_SECRET: SENTINEL_WEBHOOK_SECRET,
      RC_CANARY_ROUTER: 'local',
      RC_LOCAL_ROUTER_URL: router.adminUrl,
      RC_PROMETHEUS_URL: prometheus.url,
      RC_CANARY_INTERVAL_MS: '3600000',
      RC_ENVIRONMENTS: 'development,production',
    },
    store,
  );
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as AddressInfo).port;
  const adminHeaders: Record<string, string> = {
    authorization: `Bearer ${SENTINEL_ADMIN_TOKEN}`,
    'content-type': 'application/json',
  };
  const inject = async (method: string, url: string, payload?: unknown, headers = adminHeaders) => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return {
      status: res.statusCode,
      body: res.body,
      json: () => (res.body ? (res.json() as Record<string, unknown>) : {}),
    };
  };
  const expectStatus = async (status: number, method: string, url: string, payload?: unknown) => {
    const res = await inject(method, url, payload);
    if (res.status !== status) throw new Error(`setup: ${method} ${url} answered ${res.status}: ${res.body}`);
    return res.json();
  };

  const environments = [...t.rt.config.environments];
  const sentinels = new Map<string, string>([
    ['admin token', SENTINEL_ADMIN_TOKEN],
    ['webhook secret', SENTINEL_WEBHOOK_SECRET],
  ]);
  for (const [name, logic] of Object.entries(FIXTURE_LOGIC)) {
    await expectStatus(200, 'PUT', `/api/admin/evaluators/${name}`, logic);
  }
  for (const key of FIXTURE_FLAGS) await expectStatus(201, 'POST', '/api/admin/flags', fixtureFlag(key));
  const clientTokens: Record<string, string> = {};
  const clientHeaders: Record<string, Record<string, string>> = {};
  for (const env of environments) {
    const created = await expectStatus(201, 'POST', '/api/admin/tokens', { kind: 'client', environment: env });
    clientTokens[env] = String(created.token);
    clientHeaders[env] = { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' };
    sentinels.set(`client token (${env})`, String(created.token));
  }
  const revoked = await expectStatus(201, 'POST', '/api/admin/tokens', {
    kind: 'client',
    environment: environments[0],
  });
  await expectStatus(204, 'DELETE', `/api/admin/tokens/${revoked.id}`);
  sentinels.set('revoked client token', String(revoked.token));
  const tokenIds: string[] = [];
  for (const [i, body] of [
    { kind: 'client', environment: environments[0], name: 'victim-1' },
    { kind: 'client', environment: environments.at(-1), name: 'victim-2' },
    { kind: 'admin', name: 'victim-admin' },
  ].entries()) {
    const created = await expectStatus(201, 'POST', '/api/admin/tokens', body);
    tokenIds.push(String(created.id));
    sentinels.set(`victim token ${i + 1}`, String(created.token));
  }
  const streamKeys: Record<string, string> = {};
  for (const env of environments) {
    const res = await inject('POST', '/ofrep/v1/evaluate/flags', {}, clientHeaders[env]);
    if (res.status !== 200) throw new Error(`setup: OFREP bulk evaluation answered ${res.status}: ${res.body}`);
    const url = (res.json().eventStreams as { url: string }[])[0]!.url;
    streamKeys[env] = new URL(url).searchParams.get('key') ?? '';
  }
  const doc = await inject('GET', '/api/openapi.json');
  assert.equal(doc.status, 200, 'GET /api/openapi.json');
  const ops = operationsOf(doc.json());

  return {
    t,
    port,
    ops,
    adminHeaders,
    clientHeaders,
    sentinels,
    ctx: {
      bodyLimit: t.rt.config.bodyLimitBytes,
      environments,
      adminToken: SENTINEL_ADMIN_TOKEN,
      clientTokens,
      revokedToken: String(revoked.token),
      webhookSecret: SENTINEL_WEBHOOK_SECRET,
      streamKeys,
      flagKeys: FIXTURE_FLAGS,
      evaluatorNames: FIXTURE_EVALUATORS,
      tokenIds,
      canaryServices: CANARY_SERVICES,
    },
    async close() {
      await t.close();
      await router.close();
      await prometheus.close();
      await dropDatabase?.();
    },
  };
}

interface RunResult {
  findings: Finding[];
  sent: number;
  skipped: number;
  perOperation: Map<string, number>;
  perKind: Map<string, number>;
  statuses: Map<number, number>;
  acceptedWrites: number;
  durationMs: number;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function runCorpus(h: Harness, storeName: string): Promise<RunResult> {
  const { t } = h;
  const started = performance.now();
  const corpus = new HostileCorpus(seed, h.ops, h.ctx);
  const findings: Finding[] = [];
  const perOperation = new Map<string, number>();
  const perKind = new Map<string, number>();
  const statuses = new Map<number, number>();
  const hangsPerShape = new Map<string, number>();
  let skipped = 0;
  let sent = 0;
  let acceptedWrites = 0;

  const redact = (s: string): string => {
    let out = s;
    for (const [label, value] of h.sentinels) out = out.split(value).join(`<${label}>`);
    return out;
  };
  const deepState = async (): Promise<string> =>
    JSON.stringify({
      flags: (await t.store.listFlags()).map((f) => [f.flag.key, f.revision, f.flag]),
      evaluators: (await t.store.listEvaluators()).map((e) => [e.name, e.revision, e.logic]),
      tokens: (await t.store.listTokens()).map((k) => [k.id, k.kind, k.environment, k.revokedAt]),
    });

  /** Every environment serves: snapshot 200 + JSON, OFREP bulk 200, ready 200. Returns the problems. */
  const environmentProblems = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const env of h.ctx.environments) {
      const snap = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: h.clientHeaders[env]! });
      if (snap.statusCode !== 200)
        problems.push(`snapshot of ${env} answered ${snap.statusCode}: ${snap.body.slice(0, 200)}`);
      else {
        try {
          JSON.parse(snap.body);
        } catch (e) {
          problems.push(`snapshot of ${env} is not JSON: ${(e as Error).message}`);
        }
      }
      const bulk = await t.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: h.clientHeaders[env]!,
        payload: { context: { targetingKey: 'user-1' } },
      });
      if (bulk.statusCode !== 200) {
        problems.push(`OFREP bulk evaluation in ${env} answered ${bulk.statusCode}: ${bulk.body.slice(0, 200)}`);
      }
    }
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    if (ready.statusCode !== 200)
      problems.push(`/health/ready answered ${ready.statusCode}: ${ready.body.slice(0, 200)}`);
    return problems;
  };

  /** Recreates fixtures the corpus deleted (outside the corpus: this write is not checked). */
  const reseed = async () => {
    for (const [name, logic] of Object.entries(FIXTURE_LOGIC)) {
      if (!(await t.store.getEvaluator(name))) {
        await t.app.inject({
          method: 'PUT',
          url: `/api/admin/evaluators/${name}`,
          headers: h.adminHeaders,
          payload: logic,
        });
      }
    }
    for (const key of FIXTURE_FLAGS) {
      if (!(await t.store.getFlag(key))) {
        await t.app.inject({
          method: 'POST',
          url: '/api/admin/flags',
          headers: h.adminHeaders,
          payload: fixtureFlag(key),
        });
      }
    }
  };

  /** Removes a flag an accepted write left behind when it breaks serving or weighs a lot, so the run continues. */
  const removeFlag = async (key: string) => {
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/admin/flags/${encodeURIComponent(key)}`,
      headers: h.adminHeaders,
    });
    if (res.statusCode !== 204 && (await t.store.getFlag(key))) {
      await t.store.deleteFlag(key, { name: 'fuzz-cleanup' }).catch(() => {});
    }
  };

  const trace: string[] | undefined = process.env.RC_FUZZ_TRACE ? [] : undefined;
  let revision = await t.store.currentRevision();
  let lastDeep = await deepState();

  for (let i = 0; i < requestCount; i++) {
    if (i > 0 && i % RESEED_EVERY === 0) {
      await reseed();
      revision = await t.store.currentRevision();
      lastDeep = await deepState();
    }
    const req = corpus.next();
    const opLabel = `${req.op.method} ${req.op.path}`;
    const shapeKey = `${opLabel} ${req.kind}: ${req.shape}`;
    if ((hangsPerShape.get(shapeKey) ?? 0) >= MAX_HANGS_PER_SHAPE) {
      skipped++;
      continue;
    }
    perOperation.set(opLabel, (perOperation.get(opLabel) ?? 0) + 1);
    perKind.set(req.kind, (perKind.get(req.kind) ?? 0) + 1);
    const logMark = t.logs.length;
    const answer = req.transport === 'socket' ? await socketRequest(h.port, req) : await injectRequest(t, req);
    sent++;
    if (trace) {
      trace.push(
        `${answer.status} ${Math.round(answer.ms)}ms ${req.kind}: ${req.shape} | ${describeRequest(req, 120)} (${req.detail}) => ${answer.body.slice(0, 160)}`,
      );
    }
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const code = errorCodeOf(answer.body);
    const serverError = loggedError(t.logs.slice(logMark));
    const record = (category: Category, extra = '') => {
      const what = category === 'status >= 500' && serverError ? normalise(serverError) : code;
      findings.push({
        category,
        classKey: `${category} | ${opLabel} | ${req.kind}: ${req.shape} → ${answer.status || answer.error?.split(':')[0] || '-'} ${what}${extra ? ` | ${normalise(extra)}` : ''}`,
        request: redact(`${describeRequest(req)}${req.detail ? ` (${req.detail})` : ''}`),
        status: answer.status,
        ms: Math.round(answer.ms),
        response: redact(
          `${answer.error ? `${answer.error} ` : ''}${answer.body.slice(0, 400)}${extra ? ` | ${extra}` : ''}`,
        ),
        ...(serverError ? { serverError: redact(serverError) } : {}),
      });
    };

    // Token values the corpus created must stay out of the logs too.
    if (answer.status === 201 && req.op.path === '/api/admin/tokens') {
      try {
        const token = (JSON.parse(answer.body) as { token?: unknown }).token;
        if (typeof token === 'string' && token.length >= 16) h.sentinels.set(`token created by #${req.index}`, token);
      } catch {
        // not JSON: the 2xx checks below do not depend on it
      }
    }
    if (answer.timedOut) {
      record('hang (no answer within 5 s)');
      hangsPerShape.set(shapeKey, (hangsPerShape.get(shapeKey) ?? 0) + 1);
    } else if (answer.status === 0) {
      record(answer.error?.startsWith('inject threw') ? 'harness error' : 'no HTTP response');
    } else if (answer.ms > REQUEST_TIMEOUT_MS) {
      record('slow (over 5 s)');
    }
    if (answer.status >= 500) record('status >= 500');

    const newRevision = await t.store.currentRevision();
    const rejected = answer.status >= 400 && answer.status < 500;
    if (rejected || answer.status === 0) {
      if (newRevision !== revision) record('4xx bumped the revision', `revision ${revision} → ${newRevision}`);
      if (MUTATING.has(req.method) || i % DEEP_CHECK_EVERY === 0 || newRevision !== revision) {
        const deep = await deepState();
        if (deep !== lastDeep) record('4xx changed stored entities');
        lastDeep = deep;
      }
    } else if ((answer.status >= 200 && answer.status < 400) || answer.status >= 500) {
      const wrote = newRevision !== revision;
      if (wrote || answer.status >= 500) {
        if (wrote && answer.status < 400) acceptedWrites++;
        const problems = await environmentProblems();
        if (problems.length > 0) {
          record(
            answer.status >= 500 ? 'environment broken after a 5xx' : 'environment broken after an accepted write',
            problems.join('; '),
          );
        }
        // Keep the run going (and fast): drop what broke serving, and anything heavy the corpus stored.
        const heavy = req.payload !== undefined && req.payload.length > 64 * 1024;
        if (wrote && (problems.length > 0 || heavy)) {
          for (const change of await t.store.changesSince(revision)) {
            if (change.entityType === 'flag' && !FIXTURE_FLAGS.includes(change.entityKey)) {
              await removeFlag(change.entityKey);
            }
          }
          if (problems.length > 0) await reseedBroken(t, h, revision);
        }
        lastDeep = await deepState();
      }
    }
    revision = await t.store.currentRevision();
  }

  if (trace && process.env.RC_FUZZ_TRACE) {
    writeFileSync(
      `${process.env.RC_FUZZ_TRACE}.${storeName.toLowerCase()}.log`,
      h.sentinels.size ? trace.map(redact).join('\n') : '',
    );
  }
  const durationMs = performance.now() - started;
  console.error(
    `[fuzz ${storeName}] seed ${seed}: ${sent} requests (${skipped} skipped after repeated hangs) in ${(durationMs / 1000).toFixed(1)} s; ` +
      `${acceptedWrites} accepted writes; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
  );
  return { findings, sent, skipped, perOperation, perKind, statuses, acceptedWrites, durationMs };
}

/** After an accepted write broke serving and its flag was removed, the fixtures it replaced come back as they were. */
async function reseedBroken(t: TestApp, h: Harness, since: number): Promise<void> {
  for (const change of await t.store.changesSince(since)) {
    if (change.entityType === 'flag' && FIXTURE_FLAGS.includes(change.entityKey)) {
      await t.app.inject({
        method: 'PUT',
        url: `/api/admin/flags/${change.entityKey}`,
        headers: h.adminHeaders,
        payload: fixtureFlag(change.entityKey),
      });
    }
  }
}

/** Distinct failure classes of some categories, each with its count and first example. */
function summarise(findings: Finding[], categories: Category[], storeName: string): string {
  const classes = new Map<string, { count: number; first: Finding }>();
  for (const f of findings) {
    if (!categories.includes(f.category)) continue;
    const c = classes.get(f.classKey);
    if (c) c.count++;
    else classes.set(f.classKey, { count: 1, first: f });
  }
  if (classes.size === 0) return '';
  const lines = [...classes.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .slice(0, 60)
    .map(
      ([key, { count, first }]) =>
        `- ${key} ×${count}\n    request: ${first.request}\n    answer (${first.status}, ${first.ms} ms): ${first.response.slice(0, 300)}${
          first.serverError ? `\n    server logged: ${first.serverError}` : ''
        }`,
    );
  return `${storeName}: ${classes.size} distinct failure class(es) (${replay} to replay)\n${lines.join('\n')}${
    classes.size > 60 ? `\n… and ${classes.size - 60} more` : ''
  }`;
}

function fuzzSuite(storeName: string, openStore: () => Promise<{ store: Store; drop?: () => Promise<void> }>) {
  describe(`hostile input against ${storeName} (seed ${seed}, ${requestCount} requests)`, () => {
    let h: Harness | undefined;
    let result: RunResult | undefined;
    let setupError: Error | undefined;

    before(
      async () => {
        try {
          const { store, drop } = await openStore();
          h = await setUp(store, drop);
          result = await runCorpus(h, storeName);
          if (process.env.RC_FUZZ_REPORT) {
            const file = process.env.RC_FUZZ_REPORT.replace(/(\.json)?$/, `.${storeName.toLowerCase()}.json`);
            writeFileSync(file, JSON.stringify({ seed, requestCount, findings: result.findings }, null, 2));
          }
        } catch (err) {
          setupError = err as Error;
        }
      },
      { timeout: 15 * 60_000 },
    );

    after(async () => {
      await h?.close();
    });

    const ran = (): RunResult => {
      if (setupError) throw new Error(`the fuzz run failed (${replay}): ${setupError.stack ?? setupError.message}`);
      assert.ok(result, 'the corpus ran');
      return result;
    };

    it('spreads the corpus over every operation of the OpenAPI document', () => {
      const r = ran();
      const missing = h!.ops.map((o) => `${o.method} ${o.path}`).filter((k) => !r.perOperation.has(k));
      assert.deepEqual(missing, [], 'operations the corpus never reached');
      assert.ok(h!.ops.length >= 20, `the OpenAPI document lists ${h!.ops.length} operations`);
      assert.ok(r.sent + r.skipped >= requestCount, `${r.sent} requests sent`);
    });

    it('answers no request with a 5xx, and every request with an HTTP response', () => {
      const text = summarise(ran().findings, ['status >= 500', 'no HTTP response', 'harness error'], storeName);
      assert.equal(text, '', `\n${text}`);
    });

    it('answers every request within 5 s', () => {
      const text = summarise(ran().findings, ['hang (no answer within 5 s)', 'slow (over 5 s)'], storeName);
      assert.equal(text, '', `\n${text}`);
    });

    it('writes nothing when it answers 4xx', () => {
      const text = summarise(ran().findings, ['4xx bumped the revision', '4xx changed stored entities'], storeName);
      assert.equal(text, '', `\n${text}`);
    });

    it('keeps every environment serving after accepted writes', () => {
      const text = summarise(
        ran().findings,
        ['environment broken after an accepted write', 'environment broken after a 5xx'],
        storeName,
      );
      assert.equal(text, '', `\n${text}`);
    });

    it('never writes a token or secret into its logs', () => {
      ran();
      const leaks: string[] = [];
      for (const [label, value] of h!.sentinels) {
        const line = h!.t.logs.find((l) => l.includes(value));
        if (line) leaks.push(`${label}: ${line.split(value).join(`<${label}>`).slice(0, 400)}`);
      }
      assert.deepEqual(leaks, [], `log lines holding a token (${replay})`);
    });

    it('is healthy after the corpus: ready, and a new flag can be created, patched, evaluated and seen', async () => {
      ran();
      const { t, adminHeaders, clientHeaders } = h!;
      const env = h!.ctx.environments[0]!;
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 200, `ready: ${ready.body}`);
      const key = `fz-after-${seed}`;
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/admin/flags',
        headers: adminHeaders,
        payload: flagDoc(key, 'boolean'),
      });
      assert.equal(created.statusCode, 201, `create: ${created.body}`);
      const targeting = { if: [{ '==': [{ var: 'targetingKey' }, 'fz-user'] }, 'on', null] };
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/api/admin/flags/${key}/environments/${env}`,
        headers: { ...adminHeaders, 'if-match': String(created.headers.etag) },
        payload: { targeting },
      });
      assert.equal(patched.statusCode, 200, `patch: ${patched.body}`);
      const evaluated = await t.app.inject({
        method: 'POST',
        url: `/ofrep/v1/evaluate/flags/${key}`,
        headers: clientHeaders[env]!,
        payload: { context: { targetingKey: 'fz-user' } },
      });
      assert.equal(evaluated.statusCode, 200, `OFREP: ${evaluated.body}`);
      assert.equal(evaluated.json().value, true);
      assert.equal(evaluated.json().variant, 'on');
      const other = await t.app.inject({
        method: 'POST',
        url: `/ofrep/v1/evaluate/flags/${key}`,
        headers: clientHeaders[env]!,
        payload: { context: { targetingKey: 'someone-else' } },
      });
      assert.equal(other.json().value, false, `OFREP for another user: ${other.body}`);
      const snapshot = await t.app.inject({ method: 'GET', url: '/api/client/snapshot', headers: clientHeaders[env]! });
      assert.equal(snapshot.statusCode, 200, `snapshot: ${snapshot.body.slice(0, 300)}`);
      const flag = (snapshot.json() as { flags: Record<string, { targeting?: unknown; state: string }> }).flags[key];
      assert.ok(flag, 'the new flag is in the snapshot');
      assert.equal(flag.state, 'ENABLED');
      assert.match(JSON.stringify(flag.targeting), /fz-user/, 'the snapshot carries the patched targeting');
    });
  });
}

fuzzSuite('SQLite', async () => ({ store: await createSqliteStore(':memory:') }));

const databaseUrl = requireTestDatabaseUrl();
const needsDatabase = serviceOrFail('RC_TEST_DATABASE_URL', databaseUrl);
if (needsDatabase.skip) {
  describe('hostile input against PostgreSQL', needsDatabase, () => {
    it('needs RC_TEST_DATABASE_URL', () => {});
  });
} else {
  fuzzSuite('PostgreSQL', async () => {
    let db: TestDatabase | undefined;
    db = await createTestDatabase(databaseUrl!, { prefix: 'rc_fuzz' });
    try {
      return { store: await createPostgresStore(db.url, { poolSize: 4 }), drop: () => db!.drop() };
    } catch (err) {
      await db.drop();
      db = undefined;
      throw err;
    }
  });
}
