import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, AnyJson, COMMON_ERRORS, errors, StringEnum } from '../../schemas/common.js';

const q = (description: string) => Type.Optional(Type.String({ description }));

/** All strings: the handler parses them and names the parameter in its errors (unknown ones too). */
export const AuditQuery = Type.Object({
  flag: q('Records of this flag'),
  type: q('flag, evaluator, token or secret (secret rotation steps; key: service/bundle)'),
  key: q('Entity key'),
  actor: q('Who made the change'),
  since: q('ISO-8601 time (years 1–9999)'),
  until: q('ISO-8601 time (years 1–9999)'),
  before: q('Records before this revision (paging)'),
  limit: q('1–1000'),
});

export const AuditRecord = Type.Object(
  {
    revision: Type.Integer(),
    at: Type.String(),
    actor: Type.String(),
    entityType: StringEnum(['flag', 'evaluator', 'token', 'secret']),
    entityKey: Type.String(),
    action: StringEnum(['create', 'update', 'delete', 'revoke', 'revert', 'rotate', 'rollback'], {
      description:
        'revert: a flag replaced by one of its earlier versions (POST /api/admin/flags/{key}/revert); rotate / rollback: one step of a secret rotation or rollback (entityType secret)',
    }),
    before: AnyJson('The entity before the change (null when absent)'),
    after: AnyJson(
      'The entity after the change (null when absent); for a secret: the rotation step (rotation, event, step, outcome, versions, reason), never a value',
    ),
  },
  { $id: 'AuditRecord' },
);

export const auditSchemas = {
  query: {
    summary: 'Audit records, newest first',
    security: ADMIN_SECURITY,
    querystring: AuditQuery,
    response: { 200: Type.Object({ records: Type.Array(Type.Ref(AuditRecord)) }), ...errors(...COMMON_ERRORS) },
  },
};
