// `@runtime-control/sdk/prometheus`: the Prometheus hook (needs the optional peer `prom-client`).
export { OTHER_FLAG_KEY, PrometheusHook, type PrometheusHookOptions } from './hooks/prometheus-hook.js';
