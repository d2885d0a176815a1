// The root entry: the RuntimeControlProvider and what needs only @openfeature/server-sdk. Anything that needs an
// optional peer lives at a subpath, so importing the root loads neither `unleash-client` nor `prom-client`:
// `@runtime-control/sdk/unleash` (unleash-client), `/prometheus` and `/typed-config` (prom-client), `/health`.
export {
  isSensitive,
  LoggingHook,
  type LoggingHookOptions,
  SENSITIVE_PLACEHOLDER,
  type StructuredLogger,
} from './hooks/logging-hook.js';
export type { EvaluationRecord, EvaluationRecorder } from './metrics/evaluation-recorder.js';
export {
  FlagAccessor,
  RuntimeControlProvider,
  type RuntimeControlProviderOptions,
} from './provider/runtime-control-provider.js';
