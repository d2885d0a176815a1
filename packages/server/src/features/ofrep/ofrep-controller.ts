import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { EvaluationContext } from '@openfeature/core';
import { canonicalJson, isPlainObject } from '@runtime-control/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientTokenCheck } from '../../auth/auth-hooks.js';
import { type StreamKeyDeps, StreamKeys } from '../../auth/stream-keys.js';
import { digestOf } from '../../auth/tokens.js';
import type { ServerConfig } from '../../config/config.js';
import { AppError } from '../../errors/app-error.js';
import { fusedRequestHooks } from '../../http/request-hooks.js';
import { type ServerMetrics, UNKNOWN_FLAG_LABEL } from '../../metrics/metrics.js';
import { type Evaluation, evaluateFlag } from '../../state/evaluation.js';
import type { EnvironmentView, ReplicaState } from '../../state/replica-state.js';
import type { Streams } from '../../streams/streams.js';
import type { PollingCallers } from '../clients/polling-callers.js';
import { OfrepAnswers, ofrepErrorBody, variantLabel } from './ofrep-answers.js';
import { ofrepSchemas as schemas } from './ofrep-schemas.js';

const MAX_CONTEXT_KEYS = 200;
/** What Fastify sets for a JSON body it serializes; bodies serialized ahead (ofrep-answers.ts) are sent with it. */
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Sends JSON already serialized by the route schema's serializer (ofrep-answers.ts). Fastify sends a string with a
 * JSON content type as it is; the route's type provider types `send` as the schema's object, hence the plain reply.
 */
function sendSerialized(reply: FastifyReply, json: string): void {
  reply.type(JSON_TYPE).send(json);
}

/** OFREP ADR-0008: how long a provider may keep the stream closed while inactive before it must refetch. */
const INACTIVITY_DELAY_SEC = 120;

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What the OFREP routes use; the server's `Runtime` satisfies it as it is. */
export interface OfrepRouteDeps extends StreamKeyDeps {
  config: Pick<ServerConfig, 'publicUrl' | 'host' | 'port'>;
  state: Pick<ReplicaState, 'view' | 'tokenByHash'>;
  metrics: Pick<ServerMetrics, 'evaluationCounts' | 'httpDuration'>;
  sse: Pick<Streams, 'openOfrepStream'>;
  /** Callers that evaluate without a stream are listed in the clients view from here. */
  pollingCallers: Pick<PollingCallers, 'seen'>;
}

/** Whether a parsed JSON object has over `max` keys, counted without an array of them (every request asks). */
function hasMoreKeys(obj: Record<string, unknown>, max: number): boolean {
  let n = 0;
  for (const _ in obj) if (++n > max) return true;
  return false;
}

type ContextResult = { ok: true; context: EvaluationContext } | { ok: false; details: string };

function readContext(body: unknown): ContextResult {
  if (body === undefined || body === null) return { ok: true, context: {} };
  if (!isPlainObject(body)) return { ok: false, details: 'request body must be a JSON object {"context": {...}}' };
  const ctx = body.context;
  if (ctx === undefined || ctx === null) return { ok: true, context: {} };
  if (!isPlainObject(ctx)) return { ok: false, details: 'context must be a JSON object' };
  if (hasMoreKeys(ctx, MAX_CONTEXT_KEYS)) return { ok: false, details: `context has over ${MAX_CONTEXT_KEYS} keys` };
  if (ctx.targetingKey !== undefined && typeof ctx.targetingKey !== 'string') {
    return { ok: false, details: 'context.targetingKey must be a string' };
  }
  return { ok: true, context: ctx as EvaluationContext };
}

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/**
 * `canonicalJson(context)` (sorted keys, as the ETag has always hashed it), without its per-object copy for the usual
 * context: flat, keys already in order, none an array index (those an object orders first). Then key order is
 * already canonical and plain JSON.stringify gives the same text; anything else takes canonicalJson itself.
 */
export function canonicalContext(context: EvaluationContext): string {
  let previous = '';
  for (const key of Object.keys(context)) {
    const value = context[key];
    const flat = value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number';
    if (!flat || key <= previous || ARRAY_INDEX.test(key)) return canonicalJson(context);
    previous = key;
  }
  return JSON.stringify(context);
}

export async function ofrepController(scope: FastifyInstance, deps: OfrepRouteDeps, guard: Guard): Promise<void> {
  const { config, state, metrics, pollingCallers } = deps;
  // Typed from the route schemas (ofrep-schemas.ts). The body is typed as its schema describes it but, being
  // `validatedByCore`, is checked by `readContext`, which answers OFREP's own INVALID_CONTEXT.
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const streamKeys = new StreamKeys(deps);
  const answers = new OfrepAnswers(metrics.evaluationCounts);

  function requireView(env: string, flagSet?: string | null): EnvironmentView {
    const view = state.view(env, flagSet);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    return view;
  }

  function countEvaluation(env: string, view: EnvironmentView, e: Evaluation): void {
    metrics.evaluationCounts.inc(
      env,
      view.flagTypes.has(e.key) ? e.key : UNKNOWN_FLAG_LABEL,
      variantLabel(view, e),
      e.errorCode ?? e.reason,
    );
  }

  /**
   * Where clients reach this server, for the advertised stream URL: RC_PUBLIC_URL, else the address it listens on.
   * Never the request's Host header: a client (or anything in between) chooses that, and the URL carries a key.
   * Not a relative URL either: a browser's EventSource resolves it against the page, not the OFREP base URL.
   * Remembered once the server listens (asking the socket for its address is a system call per request).
   */
  let listeningBase: string | undefined;
  function baseUrl(req: FastifyRequest): string {
    if (config.publicUrl) return config.publicUrl;
    if (listeningBase !== undefined) return listeningBase;
    const host = config.host;
    const shown = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
    const address = req.server.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const base = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
    if (typeof address === 'object' && address) listeningBase = base;
    return base;
  }

  // The evaluation routes are the hot path. Their guard (the same checks as `guard`, without binding the token for
  // streams: they never become one) and the parameter check every route gets run in one callback hook, and the
  // request duration is recorded by the handler and the error handler instead of a hook stage of its own
  // (http/request-hooks.ts). Their handlers are synchronous for the same reason: no promise per request.
  const clientCheck = clientTokenCheck(deps, { streams: false });
  function hotRoute(url: string) {
    const { sent, ...hooks } = fusedRequestHooks(metrics.httpDuration, url, clientCheck);
    return { url, sent, options: hooks };
  }
  const single = hotRoute('/ofrep/v1/evaluate/flags/:key');
  const bulk = hotRoute('/ofrep/v1/evaluate/flags');

  app.post(single.url, { schema: schemas.single, ...single.options }, (req, reply) => {
    const key = req.params.key;
    const parsed = readContext(req.body as unknown);
    if (!parsed.ok) {
      reply.code(400).send({ key, errorCode: 'INVALID_CONTEXT', errorDetails: parsed.details });
      single.sent(req, reply);
      return;
    }
    const env = req.clientEnvironment!;
    const view = requireView(env, req.clientFlagSet);
    pollingCallers.seen(req.clientToken!.id, view, req.headers);
    const fixed = answers.of(view).fixedByKey.get(key);
    if (fixed !== undefined) {
      // The same JSON the route's 200 schema makes of this evaluation, made once per configuration (ofrep-answers.ts).
      fixed.cell.pending++;
      sendSerialized(reply, fixed.json);
      single.sent(req, reply);
      return;
    }
    const e = evaluateFlag(view, key, parsed.context);
    if (e.errorCode === undefined) {
      const answer = answers.answerFor(view, e);
      answer.cell.pending++;
      sendSerialized(reply, answer.json);
    } else {
      countEvaluation(env, view, e);
      reply.code(e.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400).send(ofrepErrorBody(e, e.errorCode));
    }
    single.sent(req, reply);
  });

  app.post(bulk.url, { schema: schemas.bulk, ...bulk.options }, (req, reply) => {
    const parsed = readContext(req.body as unknown);
    if (!parsed.ok) {
      reply.code(400).send({ errorCode: 'INVALID_CONTEXT', errorDetails: parsed.details });
      bulk.sent(req, reply);
      return;
    }
    const env = req.clientEnvironment!;
    const view = requireView(env, req.clientFlagSet);
    pollingCallers.seen(req.clientToken!.id, view, req.headers);
    // The result depends only on the environment's configuration and the context: hash both into the ETag.
    const etag = `"${view.etag}.${digestOf('sha1', canonicalContext(parsed.context), 'base64url').slice(0, 16)}"`;
    reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) {
      reply.code(304).send();
      bulk.sent(req, reply);
      return;
    }
    // Every flag in key order, each serialized by the route schema's serializer, fixed answers made once per
    // configuration (ofrep-answers.ts).
    const body = answers.bulkBody(view, parsed.context, {
      metadata: { revision: view.revision },
      eventStreams: [
        {
          type: 'sse',
          url: `${baseUrl(req)}/ofrep/v1/sse?key=${streamKeys.keyFor(req.clientToken!)}`,
          inactivityDelaySec: INACTIVITY_DELAY_SEC,
        },
      ],
    });
    sendSerialized(reply, body);
    bulk.sent(req, reply);
  });

  // With `?key=` (from the bulk response's eventStreams) or the client token in a header.
  app.get('/ofrep/v1/sse', { schema: schemas.sse }, async (req, reply) => {
    const key = (req.query as Record<string, unknown>).key;
    let env: string;
    let token: { id: string; hash: string };
    let flagSet: string | null | undefined;
    if (key !== undefined) {
      const live = typeof key === 'string' ? await streamKeys.tokenOf(key) : undefined;
      if (!live?.environment) {
        throw new AppError(
          'UNAUTHORIZED',
          'unknown or revoked stream key; take the URL from a bulk evaluation response',
          { path: 'key' },
        );
      }
      env = live.environment;
      token = live;
      flagSet = live.flagSet;
    } else {
      await guard(req, reply);
      env = req.clientEnvironment!;
      token = req.clientToken!;
      flagSet = req.clientFlagSet;
    }
    requireView(env);
    // Checked again synchronously before taking the reply over, so a revocation applied meanwhile is not missed.
    if (!state.tokenByHash(token.hash)) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    deps.sse.openOfrepStream(reply, env, { tokenId: token.id }, flagSet);
  });
}
