export type { EvaluationRecord, EvaluationRecorder } from './metrics/evaluation-recorder.js';
export {
  FlagAccessor,
  RuntimeControlProvider,
  type RuntimeControlProviderOptions,
} from './provider/runtime-control-provider.js';
