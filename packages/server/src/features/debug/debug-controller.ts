import type { EvaluationContext } from '@openfeature/core';
import { isPlainObject } from '@runtime-control/core';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { UNKNOWN_FLAG_LABEL } from '../../metrics/metrics.js';
import type { Runtime } from '../../runtime.js';
import { evaluateAll } from '../../state/evaluation.js';
import { variantLabel } from '../ofrep/ofrep-controller.js';
import { debugSchemas as schemas } from './debug-schemas.js';

/**
 * The runbook's debug view: every flag's evaluated value for one context in one environment. Values of flags
 * marked `sensitive` are withheld (their key, variant and reason still show, to debug targeting).
 */
export async function debugController(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.post('/evaluate', { schema: schemas.evaluate }, async (req) => {
    const body = req.body;
    if (!isPlainObject(body))
      throw new AppError('VALIDATION_FAILED', 'body must be {"environment", "context"}', { path: '' });
    const env = body.environment;
    if (typeof env !== 'string' || !rt.config.environments.includes(env)) {
      throw new AppError('VALIDATION_FAILED', `environment must be one of ${rt.config.environments.join(', ')}`, {
        path: '/environment',
      });
    }
    if (body.context !== undefined && !isPlainObject(body.context)) {
      throw new AppError('VALIDATION_FAILED', 'context must be an object', { path: '/context' });
    }
    const context = (body.context ?? {}) as EvaluationContext;
    if (context.targetingKey !== undefined && typeof context.targetingKey !== 'string') {
      throw new AppError('VALIDATION_FAILED', 'context.targetingKey must be a string', {
        path: '/context/targetingKey',
      });
    }
    const view = rt.state.view(env);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    const flags = evaluateAll(view, context).map((e) => {
      rt.metrics.evaluations.inc({
        environment: env,
        flag: view.flagTypes.has(e.key) ? e.key : UNKNOWN_FLAG_LABEL,
        variant: variantLabel(view, e),
        reason: e.errorCode ?? e.reason,
      });
      const sensitive = view.sensitive.has(e.key);
      const out: Record<string, unknown> = { key: e.key, reason: e.reason };
      if (e.variant !== undefined) out.variant = e.variant;
      if (e.value !== undefined && !sensitive) out.value = e.value;
      if (e.errorCode) out.errorCode = e.errorCode;
      if (sensitive) out.sensitive = true;
      return out;
    });
    return { environment: env, revision: view.revision, flags };
  });
}
