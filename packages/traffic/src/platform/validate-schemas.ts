/**
 * Validates rendered manifests against Istio's own CRD schemas: `@kubernetes-models/istio` 3.0.1 compiles the
 * OpenAPI schemas of Istio 1.29.2's `crd-all.gen.yaml` into validators (ajv). This is the structural check the
 * Kubernetes API server applies; Istio's validating webhook and CEL rules are not run (no cluster here).
 */
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1/Gateway';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1/Sidecar';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';

/** A generated model class: constructing it with a manifest and calling `validate()` runs the CRD schema. */
type SchemaModel = new (data: never) => { validate(): void };

const MODELS: Record<string, SchemaModel> = {
  'networking.istio.io/v1/DestinationRule': DestinationRule,
  'networking.istio.io/v1/Gateway': Gateway,
  'networking.istio.io/v1/ServiceEntry': ServiceEntry,
  'networking.istio.io/v1/Sidecar': Sidecar,
  'networking.istio.io/v1/VirtualService': VirtualService,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication,
};

export const SUPPORTED_KINDS: readonly string[] = Object.keys(MODELS);

export interface SchemaIssue {
  /** `Kind namespace/name`. */
  resource: string;
  /** JSON Pointer inside the manifest, e.g. `/spec/http/0/route/0/weight`. */
  path: string;
  message: string;
}

interface AjvLikeError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function describe(manifest: unknown): string {
  const m = manifest as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  const kind = typeof m?.kind === 'string' ? m.kind : '(no kind)';
  const name = typeof m?.metadata?.name === 'string' ? m.metadata.name : '(no name)';
  const namespace = typeof m?.metadata?.namespace === 'string' ? `${m.metadata.namespace}/` : '';
  return `${kind} ${namespace}${name}`;
}

/** Checks one manifest; an empty list means it conforms to its CRD schema. */
export function validateManifest(manifest: unknown): SchemaIssue[] {
  const resource = describe(manifest);
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    return [{ resource, path: '', message: 'a manifest must be an object' }];
  }
  const { apiVersion, kind } = manifest as { apiVersion?: unknown; kind?: unknown };
  const Model = MODELS[`${String(apiVersion)}/${String(kind)}`];
  if (!Model) {
    return [
      {
        resource,
        path: '',
        message: `no Istio schema for apiVersion "${String(apiVersion)}" kind "${String(kind)}" (known: ${SUPPORTED_KINDS.join(', ')})`,
      },
    ];
  }
  try {
    new Model(manifest as never).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvLikeError[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) {
      return [{ resource, path: '', message: (error as Error).message }];
    }
    return errors.map((e) => {
      const extra = e.params && 'additionalProperty' in e.params ? ` ("${String(e.params.additionalProperty)}")` : '';
      const allowed =
        e.params && Array.isArray(e.params.allowedValues) ? ` (${e.params.allowedValues.join(', ')})` : '';
      return { resource, path: e.instancePath ?? '', message: `${e.message ?? 'is invalid'}${extra}${allowed}` };
    });
  }
}

export function validateManifests(manifests: readonly unknown[]): SchemaIssue[] {
  return manifests.flatMap((m) => validateManifest(m));
}

export function formatSchemaIssue(issue: SchemaIssue): string {
  return `${issue.resource}: ${issue.path || '/'} ${issue.message}`;
}
