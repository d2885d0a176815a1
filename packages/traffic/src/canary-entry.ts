// The canary controller and what it drives, without the platform renderer and its Istio schema validators: the
// server imports this entry (`@runtime-control/traffic/canary`) so that starting it does not load them.
export * from './canary/canary-analysis.js';
export * from './canary/canary-controller.js';
export * from './canary/canary-notifier.js';
export * from './canary/canary-plan.js';
export * from './canary/canary-state.js';
export * from './canary/canary-traffic.js';
export * from './metrics/canary-queries.js';
export * from './metrics/prometheus-client.js';
export * from './routers/istio-router.js';
export * from './routers/local-router.js';
export * from './routers/traffic-router.js';
