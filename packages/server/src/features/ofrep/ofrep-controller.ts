import { createHash } from 'node:crypto';
import type { EvaluationContext } from '@openfeature/core';
import { canonicalJson, isPlainObject } from '@runtime-control/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { streamKeyFor, tokenOfStreamKey } from '../../auth/stream-keys.js';
import { AppError } from '../../errors/app-error.js';
import { UNKNOWN_FLAG_LABEL } from '../../metrics/metrics.js';
import type { Runtime } from '../../runtime.js';
import { type Evaluation, evaluateAll, evaluateFlag } from '../../state/evaluation.js';
import type { EnvironmentView } from '../../state/replica-state.js';
import { param } from '../http-util.js';
import { ofrepSchemas as schemas } from './ofrep-schemas.js';

const MAX_CONTEXT_KEYS = 200;
/** OFREP ADR-0008: how long a provider may keep the stream closed while inactive before it must refetch. */
const INACTIVITY_DELAY_SEC = 120;

type ContextResult = { ok: true; context: EvaluationContext } | { ok: false; details: string };

function readContext(body: unknown): ContextResult {
  if (body === undefined || body === null) return { ok: true, context: {} };
  if (!isPlainObject(body)) return { ok: false, details: 'request body must be a JSON object {"context": {...}}' };
  const ctx = body.context;
  if (ctx === undefined || ctx === null) return { ok: true, context: {} };
  if (!isPlainObject(ctx)) return { ok: false, details: 'context must be a JSON object' };
  if (Object.keys(ctx).length > MAX_CONTEXT_KEYS)
    return { ok: false, details: `context has over ${MAX_CONTEXT_KEYS} keys` };
  if (ctx.targetingKey !== undefined && typeof ctx.targetingKey !== 'string') {
    return { ok: false, details: 'context.targetingKey must be a string' };
  }
  return { ok: true, context: ctx as EvaluationContext };
}

function requireView(rt: Runtime, env: string): EnvironmentView {
  const view = rt.state.view(env);
  if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
  return view;
}

/** The `variant` label of `rc_flag_evaluations_total`: never a sensitive flag's variant name. */
export const SENSITIVE_VARIANT_LABEL = '[sensitive]';

export function variantLabel(view: EnvironmentView, e: Evaluation): string {
  if (view.sensitive.has(e.key)) return SENSITIVE_VARIANT_LABEL;
  return e.variant ?? '';
}

function countEvaluation(rt: Runtime, env: string, view: EnvironmentView, e: Evaluation): void {
  rt.metrics.evaluations.inc({
    environment: env,
    flag: view.flagTypes.has(e.key) ? e.key : UNKNOWN_FLAG_LABEL,
    variant: variantLabel(view, e),
    reason: e.errorCode ?? e.reason,
  });
}

/** OFREP success or per-flag failure body. */
function ofrepBody(e: Evaluation): Record<string, unknown> {
  if (e.errorCode) return { key: e.key, errorCode: e.errorCode, errorDetails: e.errorDetails, metadata: e.metadata };
  const body: Record<string, unknown> = { key: e.key, reason: e.reason, metadata: e.metadata };
  if (e.value !== undefined) {
    body.value = e.value;
    body.variant = e.variant;
  }
  return body;
}

/**
 * Where clients reach this server, for the advertised stream URL: RC_PUBLIC_URL, else the address it listens on.
 * Never the request's Host header: a client (or anything in between) chooses that, and the URL carries a key.
 * Not a relative URL either: a browser's EventSource resolves it against the page, not the OFREP base URL.
 */
function baseUrl(rt: Runtime, req: FastifyRequest): string {
  if (rt.config.publicUrl) return rt.config.publicUrl;
  const host = rt.config.host;
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  const address = req.server.server.address();
  const port = typeof address === 'object' && address ? address.port : rt.config.port;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

export async function ofrepController(
  app: FastifyInstance,
  rt: Runtime,
  guard: (r: FastifyRequest, p: FastifyReply) => Promise<void>,
): Promise<void> {
  app.post('/ofrep/v1/evaluate/flags/:key', { schema: schemas.single, onRequest: guard }, async (req, reply) => {
    const key = param(req, 'key');
    const parsed = readContext(req.body);
    if (!parsed.ok) return reply.code(400).send({ key, errorCode: 'INVALID_CONTEXT', errorDetails: parsed.details });
    const env = req.clientEnvironment!;
    const view = requireView(rt, env);
    const e = evaluateFlag(view, key, parsed.context);
    countEvaluation(rt, env, view, e);
    if (e.errorCode === 'FLAG_NOT_FOUND') return reply.code(404).send(ofrepBody(e));
    if (e.errorCode) return reply.code(400).send(ofrepBody(e));
    return reply.send(ofrepBody(e));
  });

  app.post('/ofrep/v1/evaluate/flags', { schema: schemas.bulk, onRequest: guard }, async (req, reply) => {
    const parsed = readContext(req.body);
    if (!parsed.ok) return reply.code(400).send({ errorCode: 'INVALID_CONTEXT', errorDetails: parsed.details });
    const env = req.clientEnvironment!;
    const view = requireView(rt, env);
    // The result depends only on the environment's configuration and the context: hash both into the ETag.
    const etag = `"${view.etag}.${createHash('sha1').update(canonicalJson(parsed.context)).digest('base64url').slice(0, 16)}"`;
    reply.header('etag', etag);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    const evaluations = evaluateAll(view, parsed.context);
    for (const e of evaluations) countEvaluation(rt, env, view, e);
    return reply.send({
      flags: evaluations.map(ofrepBody),
      metadata: { revision: view.revision },
      eventStreams: [
        {
          type: 'sse',
          url: `${baseUrl(rt, req)}/ofrep/v1/sse?key=${streamKeyFor(rt, req.clientToken!)}`,
          inactivityDelaySec: INACTIVITY_DELAY_SEC,
        },
      ],
    });
  });

  // With `?key=` (from the bulk response's eventStreams) or the client token in a header.
  app.get('/ofrep/v1/sse', { schema: schemas.sse }, async (req, reply) => {
    const key = (req.query as Record<string, unknown>).key;
    let env: string;
    let token: { id: string; hash: string };
    if (key !== undefined) {
      const live = typeof key === 'string' ? await tokenOfStreamKey(rt, key) : undefined;
      if (!live?.environment) {
        throw new AppError(
          'UNAUTHORIZED',
          'unknown or revoked stream key; take the URL from a bulk evaluation response',
          { path: 'key' },
        );
      }
      env = live.environment;
      token = live;
    } else {
      await guard(req, reply);
      env = req.clientEnvironment!;
      token = req.clientToken!;
    }
    requireView(rt, env);
    // Checked again synchronously before taking the reply over, so a revocation applied meanwhile is not missed.
    if (!rt.state.tokenByHash(token.hash)) throw new AppError('UNAUTHORIZED', 'unknown or revoked token');
    rt.sse.openOfrepStream(reply, env, { tokenId: token.id });
  });
}
