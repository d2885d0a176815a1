import { type EvaluationContext, OpenFeature } from '@openfeature/server-sdk';
import { LoggingHook, type RuntimeControlProvider } from '@runtime-control/sdk';
import { runtimeControlHealthPlugin } from '@runtime-control/sdk/health';
import { defineKnobs } from '@runtime-control/sdk/typed-config';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { redactPii } from './redact.js';

export interface AiGatewayOptions {
  provider: RuntimeControlProvider;
  /** Served on /metrics; give the registry of the provider's PrometheusHook (see createServiceProvider). */
  registry: Registry;
  /** Fastify's logger option (default off). */
  logger?: FastifyServerOptions['logger'];
}

export const AI_GATEWAY_DOMAIN = 'ai-gateway';

interface CompleteBody {
  prompt: string;
  user?: string;
}

export interface CompleteResponse {
  provider: 'openai' | 'anthropic';
  prompt: string;
  timeoutMs: number;
  piiRedaction: boolean;
}

/**
 * DevMentor's ai-gateway (without a real upstream call): redacts PII from the prompt when `ai-safety-pii` is on,
 * picks the upstream from `ai-provider-openai-enabled`, and reports the upstream timeout from a typed knob.
 */
export async function buildAiGateway(options: AiGatewayOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  const { provider, registry } = options;
  await OpenFeature.setProviderAndWait(AI_GATEWAY_DOMAIN, provider).catch((err: Error) => {
    app.log.warn({ err: err.message }, 'runtime-control provider not ready; serving code defaults');
  });
  const flags = OpenFeature.getClient(AI_GATEWAY_DOMAIN);
  flags.addHooks(new LoggingHook({ logger: app.log }));
  const knobs = defineKnobs(
    provider,
    {
      requestTimeoutMs: {
        key: 'ai-gateway.request-timeout-ms',
        type: 'number',
        min: 100,
        max: 60000,
        integer: true,
        default: 15000,
      },
    },
    { logger: app.log, registry },
  );

  app.post<{ Body: CompleteBody }>(
    '/api/ai/complete',
    {
      schema: {
        body: {
          type: 'object',
          required: ['prompt'],
          properties: { prompt: { type: 'string', maxLength: 100_000 }, user: { type: 'string' } },
        },
      },
    },
    async (request): Promise<CompleteResponse> => {
      const { prompt, user } = request.body;
      const context: EvaluationContext = user ? { targetingKey: user } : {};
      // Hot path, once per request and before anything else: the synchronous accessor (no async hook pipeline).
      // The code default is `true`: if the flag is missing, disabled or the control plane is unreachable, redact.
      const piiRedaction = provider.flags.boolean('ai-safety-pii', true, context);
      const openai = await flags.getBooleanValue('ai-provider-openai-enabled', false, context);
      return {
        provider: openai ? 'openai' : 'anthropic',
        prompt: piiRedaction ? redactPii(prompt) : prompt,
        timeoutMs: knobs.get('requestTimeoutMs', context),
        piiRedaction,
      };
    },
  );

  await app.register(runtimeControlHealthPlugin, { provider });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
