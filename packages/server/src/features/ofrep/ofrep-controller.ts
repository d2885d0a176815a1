import { createHash, createHmac } from 'node:crypto';
import type { EvaluationContext } from '@openfeature/core';
import { canonicalJson, isPlainObject } from '@runtime-control/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { UNKNOWN_FLAG_LABEL } from '../../metrics/metrics.js';
import type { Runtime } from '../../runtime.js';
import { type Evaluation, evaluateAll, evaluateFlag } from '../../state/evaluation.js';
import type { EnvironmentView } from '../../state/replica-state.js';
import { sseFrame } from '../client-stream/sse-hub.js';
import { param } from '../http-util.js';

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

function countEvaluation(rt: Runtime, env: string, view: EnvironmentView, e: Evaluation): void {
  rt.metrics.evaluations.inc({
    environment: env,
    flag: view.flagTypes.has(e.key) ? e.key : UNKNOWN_FLAG_LABEL,
    variant: e.variant ?? '',
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

/** An opaque key that lets an EventSource (which cannot send headers) subscribe to one environment's notifications. */
export function streamKeyFor(rt: Runtime, env: string): string {
  const mac = createHmac('sha256', rt.adminToken).update(`ofrep-sse:${env}`).digest('base64url').slice(0, 32);
  return `${Buffer.from(env).toString('base64url')}.${mac}`;
}

function environmentOfStreamKey(rt: Runtime, key: string): string | undefined {
  const [encoded] = key.split('.');
  if (!encoded) return undefined;
  const env = Buffer.from(encoded, 'base64url').toString();
  return rt.config.environments.includes(env) && streamKeyFor(rt, env) === key ? env : undefined;
}

function baseUrl(rt: Runtime, req: FastifyRequest): string {
  return rt.config.publicUrl ?? `${req.protocol}://${req.headers.host ?? `127.0.0.1:${rt.config.port}`}`;
}

export async function ofrepController(
  app: FastifyInstance,
  rt: Runtime,
  guard: (r: FastifyRequest, p: FastifyReply) => Promise<void>,
): Promise<void> {
  app.post('/ofrep/v1/evaluate/flags/:key', { preHandler: guard }, async (req, reply) => {
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

  app.post('/ofrep/v1/evaluate/flags', { preHandler: guard }, async (req, reply) => {
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
          url: `${baseUrl(rt, req)}/ofrep/v1/sse?key=${streamKeyFor(rt, env)}`,
          inactivityDelaySec: INACTIVITY_DELAY_SEC,
        },
      ],
    });
  });

  app.get('/ofrep/v1/sse', async (req, reply) => {
    const key = (req.query as Record<string, string | undefined>).key;
    let env: string | undefined;
    if (key !== undefined) {
      env = environmentOfStreamKey(rt, key);
      if (!env)
        throw new AppError('UNAUTHORIZED', 'unknown stream key; take the URL from the bulk evaluation response');
    } else {
      await guard(req, reply);
      env = req.clientEnvironment!;
    }
    requireView(rt, env);
    reply.hijack();
    rt.sse.open(reply.raw, env, 'ofrep', typeof req.headers.origin === 'string' ? req.headers.origin : undefined);
  });
}

/** ADR-0008 notification: tells static-context providers to refetch the bulk evaluation. */
export function ofrepRefetchFrame(view: EnvironmentView): string {
  return sseFrame('message', JSON.stringify({ type: 'refetchEvaluation', etag: view.etag }));
}
