// Types for the generated vendor/prometheus-operator-models.js (see scripts/vendor-prometheus-operator-models.sh).
/** A generated model class: constructing it with a manifest and calling `validate()` runs the CRD schema. */
export declare class PrometheusOperatorModel {
  constructor(data: never);
  /** Throws an error whose `errors` are Ajv errors when the manifest does not conform. */
  validate(): void;
}
export declare const PodMonitor: typeof PrometheusOperatorModel;
export declare const PrometheusRule: typeof PrometheusOperatorModel;
export declare const ServiceMonitor: typeof PrometheusOperatorModel;
