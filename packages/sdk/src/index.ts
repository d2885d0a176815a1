export { type RuntimeControlHealthOptions, runtimeControlHealth } from './health/express-middleware.js';
export { type RuntimeControlHealthPluginOptions, runtimeControlHealthPlugin } from './health/fastify-plugin.js';
export {
  type FlagHealth,
  type FlagHealthEntry,
  type FlagHealthOptions,
  flagHealth,
  flagHealthStatusCode,
} from './health/flag-health.js';
export {
  isSensitive,
  LoggingHook,
  type LoggingHookOptions,
  SENSITIVE_PLACEHOLDER,
  type StructuredLogger,
} from './hooks/logging-hook.js';
export { OTHER_FLAG_KEY, PrometheusHook, type PrometheusHookOptions } from './hooks/prometheus-hook.js';
export type { EvaluationRecord, EvaluationRecorder } from './metrics/evaluation-recorder.js';
export {
  FlagAccessor,
  RuntimeControlProvider,
  type RuntimeControlProviderOptions,
} from './provider/runtime-control-provider.js';
export {
  type BooleanKnobSpec,
  defineKnobs,
  type KnobFallbackReason,
  type KnobSource,
  type KnobSpec,
  type Knobs,
  type KnobsOptions,
  type KnobValue,
  type KnobValues,
  type NumberKnobSpec,
  type ObjectKnobSpec,
  type OnChangeOptions,
  type StringKnobSpec,
} from './typed-config/typed-config.js';
export type { UnleashBridgeOptions } from './unleash/unleash-bridge-client.js';
export { toUnleashContext } from './unleash/unleash-context.js';
export {
  UnleashProvider,
  type UnleashProviderClientOptions,
  type UnleashProviderConnectionOptions,
  type UnleashProviderOptions,
  type UnleashProviderState,
} from './unleash/unleash-provider.js';
