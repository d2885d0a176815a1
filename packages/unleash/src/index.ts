export * from './render-manifests.js';
export * from './translate.js';
export * from './unleash-admin-client.js';
export * from './unleash-bridge-addon.js';
export * from './unleash-model.js';
export * from './unleash-seed.js';
