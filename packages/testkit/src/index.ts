// Test support shared by the workspace packages. Imports no other @runtime-control package.
export * from './child-process.js';
export * from './fakes/fake-eso.js';
export * from './fakes/fake-kubernetes.js';
export * from './fakes/fake-vault.js';
export * from './private-postgres.js';
export * from './resources.js';
export * from './sse-client.js';
export * from './test-services.js';
export * from './unleash-harness.js';
export * from './wait.js';
