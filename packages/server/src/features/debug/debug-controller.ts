import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { EvaluationContext } from '@openfeature/core';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { type ServerMetrics, UNKNOWN_FLAG_LABEL } from '../../metrics/metrics.js';
import { evaluateAll } from '../../state/evaluation.js';
import type { ReplicaState } from '../../state/replica-state.js';
import { variantLabel } from '../ofrep/ofrep-answers.js';
import { type EvaluatedFlag, debugSchemas as schemas } from './debug-schemas.js';

/**
 * The runbook's debug view: every flag's evaluated value for one context in one environment. Values of flags
 * marked `sensitive` are withheld (their key, variant and reason still show, to debug targeting).
 */
export interface DebugRouteDeps {
  environments: readonly string[];
  state: Pick<ReplicaState, 'view'>;
  metrics: Pick<ServerMetrics, 'evaluations'>;
}

export async function debugController(scope: FastifyInstance, deps: DebugRouteDeps): Promise<void> {
  const { environments, state, metrics } = deps;
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/evaluate', { schema: schemas.evaluate }, async (req) => {
    // Shapes (environment a string, context an object with a string targetingKey) are checked by the schema.
    const env = req.body.environment;
    if (!environments.includes(env)) {
      throw new AppError('VALIDATION_FAILED', `environment must be one of ${environments.join(', ')}`, {
        path: '/environment',
      });
    }
    const context = (req.body.context ?? {}) as EvaluationContext;
    const view = state.view(env);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const flags = evaluateAll(view, context).map((e) => {
      metrics.evaluations.inc({
        environment: env,
        flag: view.flagTypes.has(e.key) ? e.key : UNKNOWN_FLAG_LABEL,
        variant: variantLabel(view, e),
        reason: e.errorCode ?? e.reason,
      });
      const sensitive = view.sensitive.has(e.key);
      const out: Static<typeof EvaluatedFlag> = { key: e.key, reason: e.reason };
      if (e.variant !== undefined) out.variant = e.variant;
      if (e.value !== undefined && !sensitive) out.value = e.value;
      if (e.errorCode) out.errorCode = e.errorCode;
      if (sensitive) out.sensitive = true;
      return out;
    });
    return { environment: env, revision: view.revision, flags };
  });
}
