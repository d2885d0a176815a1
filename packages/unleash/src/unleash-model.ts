/** The parts of Unleash's admin API model that flags-as-code writes (Unleash 7.x OSS). */

export interface UnleashConstraint {
  contextName: string;
  operator: string;
  /** List operators (IN, NOT_IN, STR_*) use `values`; single-value operators (SEMVER_*, NUM_*) use `value`. */
  values: string[];
  value?: string;
  inverted: boolean;
  caseInsensitive: boolean;
}

export interface UnleashPayload {
  type: 'string' | 'number' | 'json';
  value: string;
}

export interface UnleashVariant {
  name: string;
  /** 0–1000; variants of one strategy add up to 1000. */
  weight: number;
  weightType: 'variable' | 'fix';
  stickiness: string;
  payload?: UnleashPayload;
}

export interface UnleashStrategy {
  name: 'flexibleRollout';
  parameters: { rollout: string; stickiness: string; groupId: string };
  constraints: UnleashConstraint[];
  variants: UnleashVariant[];
}

export interface UnleashEnvironmentPlan {
  enabled: boolean;
  /** In evaluation order: Unleash ORs strategies and the first that matches decides the value and the variant. */
  strategies: UnleashStrategy[];
}

export interface UnleashFeaturePlan {
  name: string;
  type: 'release' | 'operational';
  description: string;
  environments: Record<string, UnleashEnvironmentPlan>;
  /** Custom context fields the constraints use (they must exist in Unleash before strategies reference them). */
  contextFields: string[];
}

/** Context fields Unleash knows without being told. */
export const BUILT_IN_CONTEXT_FIELDS = new Set([
  'userId',
  'sessionId',
  'remoteAddress',
  'environment',
  'appName',
  'currentTime',
]);
