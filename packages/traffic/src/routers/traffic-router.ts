/**
 * What the canary controller needs from whatever splits traffic: set the weights of a service's versions, with
 * optional header pins sent to one version before the weighted split. Implementations: `LocalRouterClient` /
 * `LocalRouter` (the embedded router) and `IstioRouter` (a VirtualService through the Kubernetes API).
 */

/** Version name → weight in percent. Weights are integers and sum to 100 (Istio no longer requires it; we keep it). */
export type VersionWeights = Record<string, number>;

/** Requests whose `header` equals one of `values` go to `version`, whatever the weights. */
export interface PinRoute {
  header: string;
  values: string[];
  version: string;
}

/** Which route to change: the service, and for Istio the VirtualService and namespace holding its route. */
export interface RouteRef {
  service: string;
  namespace?: string;
  virtualService?: string;
}

export interface TrafficRouter {
  readonly kind: string;
  /** Applies the split; idempotent. `pins` undefined removes any pin route this router manages for the service. */
  setWeights(route: RouteRef, weights: VersionWeights, pins?: PinRoute): Promise<void>;
}

/** A router refused or failed a change; the controller keeps the decision and retries on the next tick. */
export class RouterError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'UNAVAILABLE' | 'REJECTED',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RouterError';
  }
}

/** Checks a weight map: integers 0–100 that sum to 100, at least one version. */
export function weightsIssue(weights: VersionWeights): string | undefined {
  const entries = Object.entries(weights);
  if (entries.length === 0) return 'at least one version needs a weight';
  for (const [version, weight] of entries) {
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
      return `weight of "${version}" must be an integer from 0 to 100`;
    }
  }
  const sum = entries.reduce((s, [, w]) => s + w, 0);
  return sum === 100 ? undefined : `weights must sum to 100, not ${sum}`;
}
