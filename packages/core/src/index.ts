export * from './flag-diff.js';
export * from './flag-model.js';
export * from './flag-validation.js';
export * from './flagd-compile.js';
export * from './flags-file.js';
export * from './webhook-secret.js';
export * from './yaml-source.js';
