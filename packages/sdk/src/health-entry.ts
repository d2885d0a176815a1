// `@runtime-control/sdk/health`: flag health, the Express middleware and the Fastify plugin (express and fastify are
// optional peers, imported here as types only).
export { type RuntimeControlHealthOptions, runtimeControlHealth } from './health/express-middleware.js';
export { type RuntimeControlHealthPluginOptions, runtimeControlHealthPlugin } from './health/fastify-plugin.js';
export {
  type FlagHealth,
  type FlagHealthEntry,
  type FlagHealthOptions,
  flagHealth,
  flagHealthStatusCode,
} from './health/flag-health.js';
