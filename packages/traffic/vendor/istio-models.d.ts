// Types for the generated vendor/istio-models.js (see scripts/vendor-istio-models.sh).
/** A generated model class: constructing it with a manifest and calling `validate()` runs the CRD schema. */
export declare class IstioModel {
  constructor(data: never);
  /** Throws an error whose `errors` are Ajv errors when the manifest does not conform. */
  validate(): void;
}
export declare const DestinationRule: typeof IstioModel;
export declare const Gateway: typeof IstioModel;
export declare const ServiceEntry: typeof IstioModel;
export declare const Sidecar: typeof IstioModel;
export declare const VirtualService: typeof IstioModel;
export declare const AuthorizationPolicy: typeof IstioModel;
export declare const PeerAuthentication: typeof IstioModel;
