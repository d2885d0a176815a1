import { Type } from '@sinclair/typebox';
import {
  ADMIN_SECURITY,
  COMMON_ERRORS,
  Empty,
  errors,
  IfMatchHeader,
  JsonObject,
  MapOf,
  validatedByCore,
} from '../../schemas/common.js';

const JsonLogic = JsonObject('Shared JsonLogic, referenced from targeting as {"$ref": "name"}');
const NameParams = Type.Object({ name: Type.String({ description: 'Evaluator name' }) });
const WriteHeaders = validatedByCore(IfMatchHeader);

export const evaluatorSchemas = {
  list: {
    summary: 'Shared evaluators (flagd $evaluators)',
    security: ADMIN_SECURITY,
    response: { 200: Type.Object({ evaluators: MapOf(JsonLogic) }), ...errors(401, 403) },
  },
  get: {
    summary: 'An evaluator (ETag: its revision)',
    security: ADMIN_SECURITY,
    params: NameParams,
    response: { 200: JsonLogic, ...errors(...COMMON_ERRORS, 404) },
  },
  put: {
    summary: 'Create or replace an evaluator; every flag that uses it is re-checked',
    security: ADMIN_SECURITY,
    params: NameParams,
    headers: WriteHeaders,
    body: validatedByCore(JsonLogic),
    response: { 200: JsonLogic, ...errors(...COMMON_ERRORS, 412, 413, 415) },
  },
  delete: {
    summary: 'Delete an evaluator (409 EVALUATOR_IN_USE while a flag references it)',
    security: ADMIN_SECURITY,
    params: NameParams,
    headers: WriteHeaders,
    response: { 204: Empty('Deleted'), ...errors(...COMMON_ERRORS, 404, 409, 412) },
  },
};
