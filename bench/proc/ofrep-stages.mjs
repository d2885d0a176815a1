// Where an OFREP request's microseconds go: the server's own stage functions, timed one by one in this process on
// the same inputs as the load run (same seed file, same token kind, same rotating contexts). Runs the real server
// in-process (`startServer`, SQLite in a temp dir, seeded) so every stage uses the runtime's own objects: the client
// guard, the JSON body parser, the params validator, flagd evaluation on the environment's view, the metrics
// recorders, the response serializers (fast-json-stringify from the route schemas, as Fastify compiles them).
// msg: { dataDir, seedFile, adminToken, flagKey, bodies: string[], minMs }
import { clientTokenCheck } from '../../packages/server/dist/auth/auth-hooks.js';
import { digestOf, hashToken } from '../../packages/server/dist/auth/tokens.js';
import { OfrepAnswers } from '../../packages/server/dist/features/ofrep/ofrep-answers.js';
import { canonicalContext } from '../../packages/server/dist/features/ofrep/ofrep-controller.js';
import { ofrepSchemas } from '../../packages/server/dist/features/ofrep/ofrep-schemas.js';
import { parseJsonBody, requestParametersProblem } from '../../packages/server/dist/http/json-input.js';
import { compileValidator } from '../../packages/server/dist/schemas/validation.js';
import { startServer } from '../../packages/server/dist/server.js';
import { evaluateFlag } from '../../packages/server/dist/state/evaluation.js';
import { serve } from '../lib.mjs';

/** ns per call of `fn(i)`: warm-up, then repeated batches until `minMs`; the median of 5 such measurements. */
async function time(fn, minMs) {
  const run = async (n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = fn(i);
      if (r instanceof Promise) await r;
    }
    return Number(process.hrtime.bigint() - t0);
  };
  await run(20_000);
  const samples = [];
  for (let k = 0; k < 5; k++) {
    let n = 2000;
    let ns = await run(n);
    while (ns < (minMs * 1e6) / 5) {
      n *= 2;
      ns = await run(n);
    }
    samples.push(ns / n);
  }
  return samples.sort((a, b) => a - b)[2];
}

serve({
  async run(msg) {
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: msg.dataDir,
      seedFile: msg.seedFile,
      env: { ...process.env, RC_ADMIN_TOKEN: msg.adminToken, RC_LOG_LEVEL: 'warn' },
      print: () => {},
    });
    try {
      const rt = server.runtime;
      const created = await server.app.inject({
        method: 'POST',
        url: '/api/admin/tokens',
        headers: { authorization: `Bearer ${msg.adminToken}` },
        payload: { kind: 'client', environment: 'production', name: 'bench-stages' },
      });
      const token = created.json().token;
      const env = 'production';
      const view = rt.state.view(env);
      const bodies = msg.bodies;
      const parsed = bodies.map((b) => parseJsonBody(b));
      const contexts = parsed.map((p) => p.context);
      const n = bodies.length;

      // Auth: the evaluation routes' token check (their onRequest hook), with the client token as the load run sends it.
      const check = clientTokenCheck(rt, { streams: false });
      const headers = { authorization: `Bearer ${token}` };
      const auth = await time(() => check({ headers, raw: {} }), msg.minMs);
      // Parse: the JSON content-type parser (input limits included).
      const parse = await time((i) => parseJsonBody(bodies[i % n]), msg.minMs);
      // Validate: the route's params schema (Ajv) and the parameter check every route makes.
      const validateParams = compileValidator({ schema: ofrepSchemas.single.params });
      const params = { key: msg.flagKey };
      const validate = await time(() => {
        validateParams(params);
        return requestParametersProblem({}, params);
      }, msg.minMs);
      // Evaluate: flagd on the environment's compiled view.
      const evaluate = await time((i) => evaluateFlag(view, msg.flagKey, contexts[i % n]), msg.minMs);
      const evaluations = contexts.map((c) => evaluateFlag(view, msg.flagKey, c));
      // Answer: the JSON and evaluation-counter cell of the evaluation's outcome (made once per outcome of the view,
      // features/ofrep/ofrep-answers.ts), counted; against the anchor's JSON.stringify of the same body.
      const answers = new OfrepAnswers(rt.metrics.evaluationCounts);
      for (const e of evaluations) {
        const { json } = answers.answerFor(view, e);
        if (json !== JSON.stringify(JSON.parse(json))) throw new Error('answer JSON mismatch');
      }
      const answer = await time((i) => {
        answers.answerFor(view, evaluations[i % n]).cell.pending++;
      }, msg.minMs);
      const serializeAnchor = await time((i) => JSON.stringify(evaluations[i % n]), msg.minMs);
      // Metrics: the request-duration histogram, once per request.
      const metrics = await time(
        (i) => rt.metrics.httpDuration.record('POST', '/ofrep/v1/evaluate/flags/:key', '200', 0.0001 + (i & 7) * 1e-4),
        msg.minMs,
      );
      // Clients view: the polling-caller record each evaluation makes (same caller every time, as a provider polls).
      const tokenId = rt.state.tokenByHash(hashToken(token))?.id;
      if (tokenId === undefined) throw new Error('bench token not found');
      const callerHeaders = { ...headers, 'user-agent': 'loadgen/1' };
      const presence = await time(() => rt.pollingCallers.seen(tokenId, view, callerHeaders), msg.minMs);

      // Bulk 200: the body from the view's prepared answers (flags without targeting answered once per configuration,
      // the others evaluated for each context; every flag counted), plus the ETag and the duration histogram.
      const flags = view.flagTypes.size;
      const evaluated = answers.of(view).fixed.filter((a) => a === undefined).length;
      const tail = {
        metadata: { revision: view.revision },
        eventStreams: [
          { type: 'sse', url: `http://127.0.0.1:1/ofrep/v1/sse?key=${'k'.repeat(80)}`, inactivityDelaySec: 120 },
        ],
      };
      const bulkAnswer = await time((i) => answers.bulkBody(view, contexts[i % n], tail), msg.minMs);
      const bulkMetrics = await time(
        (i) => rt.metrics.httpDuration.record('POST', '/ofrep/v1/evaluate/flags', '200', 0.0001 + (i & 7) * 1e-4),
        msg.minMs,
      );
      const etag = await time(
        (i) => `"${view.etag}.${digestOf('sha1', canonicalContext(contexts[i % n]), 'base64url').slice(0, 16)}"`,
        msg.minMs,
      );
      // What the anchor does instead: JSON.stringify of the same body.
      const bulkBody = JSON.parse(answers.bulkBody(view, contexts[1], tail));
      const bulkSerializeAnchor = await time(() => JSON.stringify(bulkBody), msg.minMs);
      return {
        single: { auth, parse, validate, evaluate, answer, metrics, presence, serializeAnchor },
        bulk: {
          auth,
          parse,
          flags,
          evaluated,
          answer: bulkAnswer,
          metrics: bulkMetrics,
          presence,
          etag,
          serializeAnchor: bulkSerializeAnchor,
        },
      };
    } finally {
      await server.close();
    }
  },
});
