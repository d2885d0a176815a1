import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { AuditQuery, EntityType, Store } from '../../store/store.js';
import { auditSchemas as schemas } from './audit-schemas.js';

const ENTITY_TYPES = new Set(['flag', 'evaluator', 'token', 'secret']);
const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const QUERY_FIELDS = new Set(['flag', 'type', 'key', 'actor', 'since', 'until', 'before', 'limit']);

function parseAuditQuery(q: Record<string, string | undefined>): AuditQuery {
  const issues: ErrorDetail[] = [];
  const query: AuditQuery = {};
  for (const k of Object.keys(q)) {
    if (!QUERY_FIELDS.has(k)) issues.push({ path: k, code: 'UNKNOWN_PARAMETER', message: `unknown parameter "${k}"` });
  }
  if (q.flag) {
    query.entityType = 'flag';
    query.entityKey = q.flag;
  }
  if (q.type) {
    if (!ENTITY_TYPES.has(q.type)) {
      issues.push({ path: 'type', code: 'INVALID_VALUE', message: 'type must be flag, evaluator, token or secret' });
    } else query.entityType = q.type as EntityType;
  }
  if (q.key) query.entityKey = q.key;
  if (q.actor) query.actor = q.actor;
  for (const field of ['since', 'until'] as const) {
    const v = q[field];
    if (v === undefined) continue;
    const time = Date.parse(v);
    // Both stores compare these as timestamps; outside years 1–9999 PostgreSQL cannot represent them.
    if (Number.isNaN(time) || time < EARLIEST || time > LATEST) {
      issues.push({ path: field, code: 'INVALID_VALUE', message: `${field} must be an ISO-8601 time in years 1–9999` });
    } else query[field] = new Date(v).toISOString();
  }
  if (q.before !== undefined) {
    const n = Number(q.before);
    if (!Number.isSafeInteger(n) || n < 0) {
      issues.push({ path: 'before', code: 'INVALID_VALUE', message: 'before must be a revision (a whole number ≥ 0)' });
    } else query.beforeRevision = n;
  }
  if (q.limit !== undefined) {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      issues.push({ path: 'limit', code: 'INVALID_VALUE', message: 'limit must be an integer from 1 to 1000' });
    } else query.limit = n;
  }
  if (issues.length > 0) throw new AppError('VALIDATION_FAILED', issues[0]!.message, { details: issues });
  return query;
}

/** What the audit routes use: the store's audit query, nothing else. */
export interface AuditRouteDeps {
  store: Pick<Store, 'queryAudit'>;
}

export async function auditController(scope: FastifyInstance, deps: AuditRouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/audit', { schema: schemas.query }, async (req) => ({
    records: await deps.store.queryAudit(parseAuditQuery(req.query as Record<string, string | undefined>)),
  }));
}
