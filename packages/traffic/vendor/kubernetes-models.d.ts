// Types for the generated vendor/kubernetes-models.js (see scripts/vendor-kubernetes-models.sh).
/** A generated model class: constructing it with a manifest and calling `validate()` runs the API's schema. */
export declare class KubernetesModel {
  constructor(data: never);
  /** Throws an error whose `errors` are Ajv errors when the manifest does not conform. */
  validate(): void;
}
export declare const Deployment: typeof KubernetesModel;
export declare const Service: typeof KubernetesModel;
export declare const ServiceAccount: typeof KubernetesModel;
export declare const PodDisruptionBudget: typeof KubernetesModel;
export declare const NetworkPolicy: typeof KubernetesModel;
