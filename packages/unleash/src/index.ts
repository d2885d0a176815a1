export * from './translate.js';
export * from './unleash-model.js';
