export * from './manifest-checks.js';
export * from './render-secrets.js';
export * from './secrets-checks.js';
export * from './secrets-plan.js';
export * from './validate-eso.js';
