import { flagsFileJsonSchema, platformFileJsonSchema } from '@runtime-control/core';
import type { FastifyInstance } from 'fastify';
import { schemaFileSchemas as schemas } from './schema-file-schemas.js';

/**
 * The JSON Schemas of the files Runtime Control reads, for editors and tools: public metadata, no token. The flags
 * file's is built from the same flag schema the API uses; the platform file's (read by `rctl render`) is core's
 * PlatformFileSchema.
 */
export async function schemaFileController(app: FastifyInstance): Promise<void> {
  const flagsFile = flagsFileJsonSchema();
  app.get('/api/schemas/flags-file.json', { schema: schemas.flagsFile }, async () => flagsFile);
  const platformFile = platformFileJsonSchema();
  app.get('/api/schemas/platform-file.json', { schema: schemas.platformFile }, async () => platformFile);
}
