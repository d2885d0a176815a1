// DevMentor's auth-service as its own process, signing with JWT_SECRET from the environment:
//   npx rctl exec --service auth-service -- node examples/devmentor/dist/auth-service-server.js
import { buildAuthService } from './auth-service.js';
import { listenPort, runService } from './service-process.js';
import { readJwtSecret } from './service-secrets.js';

runService('auth-service', async (env) => {
  const app = await buildAuthService({ jwtSecret: readJwtSecret(env, 'auth-service'), logger: { level: 'warn' } });
  const url = await app.listen({ port: listenPort(env, 4403), host: '127.0.0.1' });
  return { url, uses: ['JWT_SECRET'], close: () => app.close() };
});
