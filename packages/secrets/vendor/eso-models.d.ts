// Types for the generated vendor/eso-models.js (see scripts/vendor-eso-models.sh).
/** A generated model class: constructing it with a manifest and calling `validate()` runs the CRD schema. */
export declare class EsoModel {
  constructor(data: never);
  /** Throws an error whose `errors` are Ajv errors when the manifest does not conform. */
  validate(): void;
}
export declare const ClusterSecretStore: typeof EsoModel;
export declare const ExternalSecret: typeof EsoModel;
