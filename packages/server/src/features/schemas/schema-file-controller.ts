import { flagsFileJsonSchema } from '@runtime-control/core';
import type { FastifyInstance } from 'fastify';
import { schemaFileSchemas as schemas } from './schema-file-schemas.js';

/**
 * The JSON Schemas of the files Runtime Control reads, for editors and tools: public metadata, no token. The flags
 * file's is built from the same flag schema the API uses.
 */
export async function schemaFileController(app: FastifyInstance): Promise<void> {
  const flagsFile = flagsFileJsonSchema();
  app.get('/api/schemas/flags-file.json', { schema: schemas.flagsFile }, async () => flagsFile);
}
