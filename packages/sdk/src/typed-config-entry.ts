// `@runtime-control/sdk/typed-config`: typed knobs over flags (needs the optional peer `prom-client` for its counter).
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
