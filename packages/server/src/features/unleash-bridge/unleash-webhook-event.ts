import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { UnleashRefreshHint } from './unleash-event-watch.js';

/**
 * The parts of an Unleash event (as its webhook addon posts it without a body template: the event-log JSON, e.g.
 * `{"id":12,"type":"feature-environment-enabled","featureName":"x","environment":"production","project":"default",
 * "createdBy":"admin","createdAt":"…","data":{…}}`) that the bridge uses.
 */
export interface UnleashWebhookEvent {
  /** Unleash's event id (absent when the addon's body template leaves it out). */
  id: number | null;
  type: string;
  featureName: string | null;
  environment: string | null;
  project: string | null;
  createdAt: string | null;
}

/** Feature events (`feature-updated`, `feature-strategy-update`, …) and bulk ones (`features-imported`). */
const FEATURE_EVENT_TYPE = /^features?(-|$)/;

export function isFeatureEvent(event: Pick<UnleashWebhookEvent, 'type'>): boolean {
  return FEATURE_EVENT_TYPE.test(event.type);
}

/**
 * Events that change what SDKs evaluate: feature events, and `segment-updated` (a segment's constraints apply to
 * every flag using it). Unleash's webhook addon does not offer segment events; the event watch reads them from the
 * log. A segment hint names no flag, so providers fetch everything.
 */
export function changesEvaluation(event: Pick<UnleashWebhookEvent, 'type'>): boolean {
  return isFeatureEvent(event) || event.type === 'segment-updated';
}

/** Validates the body: 400 with a JSON Pointer per problem; unknown fields are ignored (Unleash adds some). */
export function parseUnleashWebhookEvent(body: unknown): UnleashWebhookEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('VALIDATION_FAILED', 'the body must be an Unleash event (a JSON object)', {
      details: [{ path: '', code: 'TYPE', message: 'expected an object' }],
    });
  }
  const record = body as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const optionalString = (field: string, maxLength = 500): string | null => {
    const value = record[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' || value.length > maxLength) {
      details.push({ path: `/${field}`, code: 'TYPE', message: `must be a string of at most ${maxLength} characters` });
      return null;
    }
    return value;
  };
  const type = record.type;
  if (typeof type !== 'string' || type.length === 0 || type.length > 100) {
    details.push({
      path: '/type',
      code: 'REQUIRED',
      message: 'must be the Unleash event type, e.g. "feature-updated"',
    });
  }
  const id = record.id;
  if (id !== undefined && id !== null && (!Number.isSafeInteger(id) || (id as number) < 0)) {
    details.push({ path: '/id', code: 'TYPE', message: 'must be a non-negative integer (the Unleash event id)' });
  }
  const event: UnleashWebhookEvent = {
    id: Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : null,
    type: typeof type === 'string' ? type : '',
    featureName: optionalString('featureName'),
    environment: optionalString('environment', 100),
    project: optionalString('project', 100),
    createdAt: optionalString('createdAt', 100),
  };
  if (details.length > 0) {
    throw new AppError('VALIDATION_FAILED', `invalid Unleash event: ${details[0]!.path} ${details[0]!.message}`, {
      details,
    });
  }
  return event;
}

/**
 * The hint an evaluation-changing event becomes, whichever way it arrived. A segment edit names no flag (every flag
 * using the segment changed), so providers fetch everything.
 */
export function refreshHintOf(
  event: Pick<UnleashWebhookEvent, 'id' | 'type' | 'featureName' | 'environment'>,
  source: UnleashRefreshHint['source'],
): UnleashRefreshHint {
  return {
    feature: event.type.startsWith('segment-') ? null : event.featureName,
    type: event.type,
    environment: event.environment,
    eventId: event.id,
    source,
  };
}
