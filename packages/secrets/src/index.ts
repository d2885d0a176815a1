// @runtime-control/secrets: where secrets live (Vault KV v2, the local encrypted store) behind one interface, and
// everything status and rotation need from them — never a value in a log, an error or a status.
export * from './backend.js';
export * from './bundle.js';
export * from './diagnose.js';
export * from './errors.js';
export * from './kubernetes-auth.js';
export * from './kubernetes-secrets.js';
export * from './local-backend.js';
export * from './logger.js';
export * from './paths.js';
export * from './redact.js';
export * from './render/index.js';
export * from './rotation.js';
export * from './rotation-store.js';
export * from './rotation-write.js';
export * from './secrets-key.js';
export * from './vault-client.js';
export * from './vault-kv-backend.js';
