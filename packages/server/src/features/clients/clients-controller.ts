import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { clientsSchemas as schemas } from './clients-schemas.js';
import type { ClientsService } from './clients-service.js';

/** `GET /api/admin/clients` (admin scope): who is connected, on every replica. */
export async function clientsController(scope: FastifyInstance, { clients }: { clients: ClientsService }) {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/clients', { schema: schemas.list }, async (req) => clients.list(req.query));
}
