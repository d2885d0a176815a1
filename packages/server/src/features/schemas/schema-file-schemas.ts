import { JsonObject, NO_SECURITY } from '../../schemas/common.js';

export const schemaFileSchemas = {
  flagsFile: {
    summary: 'JSON Schema of the flags file (draft-07; public, also under docs/schemas/flags-file.json)',
    security: NO_SECURITY,
    response: { 200: JsonObject('The flags file JSON Schema') },
  },
  platformFile: {
    summary:
      'JSON Schema of the platform file read by rctl render (draft-07; public, also under docs/schemas/platform-file.json)',
    security: NO_SECURITY,
    response: { 200: JsonObject('The platform file JSON Schema') },
  },
};
