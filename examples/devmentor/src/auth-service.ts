import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { signJwt } from './service-secrets.js';

export interface AuthServiceOptions {
  /** JWT_SECRET (from `rctl exec --service auth-service`, or the Secret in the cluster). */
  jwtSecret: string;
  logger?: FastifyServerOptions['logger'];
}

const USER = /^[A-Za-z0-9._@-]{1,128}$/;

/**
 * DevMentor's auth-service, the part the secrets demo needs: `POST /api/login {user}` answers an HS256 JWT signed
 * with JWT_SECRET (no password check: a demo), which api-gateway verifies with the same secret.
 */
export async function buildAuthService(options: AuthServiceOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  app.post('/api/login', async (request, reply) => {
    const user = (request.body as { user?: unknown } | undefined)?.user;
    if (typeof user !== 'string' || !USER.test(user)) {
      return reply
        .code(400)
        .send({ error: { code: 'VALIDATION_FAILED', path: '/user', message: 'user: 1-128 of A-Z a-z 0-9 . _ @ -' } });
    }
    return { token: signJwt(user, options.jwtSecret), expiresIn: 900 };
  });
  app.get('/health', async () => ({ status: 'ok', secrets: { JWT_SECRET: 'set' } }));
  return app;
}
