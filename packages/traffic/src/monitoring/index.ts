export * from './dashboards.js';
export * from './monitoring-queries.js';
export * from './render-monitoring.js';
export * from './validate-monitoring.js';
