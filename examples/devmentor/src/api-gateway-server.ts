// DevMentor's api-gateway as its own process, with its secrets from the environment:
//   RC_CLIENT_TOKEN=<client token> npx rctl exec --service api-gateway -- node examples/devmentor/dist/api-gateway-server.js
// rctl exec gives it JWT_SECRET (auth-service/jwt) and REDIS_URL (api-gateway/redis) and restarts it on a rotation.
import { OpenFeature } from '@openfeature/server-sdk';
import { buildApiGateway } from './api-gateway.js';
import { createServiceProvider } from './runtime-control.js';
import { listenPort, runService } from './service-process.js';
import { readJwtSecret, readRedisUrl } from './service-secrets.js';

runService('api-gateway', async (env) => {
  const secrets = { jwtSecret: readJwtSecret(env, 'api-gateway'), redisUrl: readRedisUrl(env, 'api-gateway') };
  const token = env.RC_CLIENT_TOKEN;
  if (!token) {
    throw new Error(
      'RC_CLIENT_TOKEN is not set: create one (npx rctl tokens create --kind client --env development) and pass it, e.g. RC_CLIENT_TOKEN=… npx rctl exec --service api-gateway -- …',
    );
  }
  const app = await buildApiGateway({
    ...createServiceProvider({ url: env.RC_URL ?? 'http://127.0.0.1:4400', token, appName: 'api-gateway' }),
    secrets,
    logger: { level: 'warn' },
  });
  const url = await app.listen({ port: listenPort(env, 4401), host: '127.0.0.1' });
  return {
    url,
    uses: ['JWT_SECRET', 'REDIS_URL'],
    close: async () => {
      await app.close();
      await OpenFeature.close();
    },
  };
});
