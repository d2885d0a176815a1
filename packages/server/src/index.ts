export { buildApp } from './app.js';
export { InProcessBus } from './bus/in-process-bus.js';
export { RedisBus } from './bus/redis-bus.js';
export { ConfigError, loadConfig, type ServerConfig } from './config/config.js';
export { createRuntime, type RuntimeOptions } from './create-runtime.js';
export { AppError, ERROR_STATUS, type ErrorCode } from './errors/app-error.js';
export type { Runtime } from './runtime.js';
export { type RunningServer, type SeedSummary, type StartServerOptions, seedFromFile, startServer } from './server.js';
export type { Store } from './store/store.js';
