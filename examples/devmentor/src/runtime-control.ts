import { RuntimeControlProvider } from '@runtime-control/sdk';
import { PrometheusHook } from '@runtime-control/sdk/prometheus';
import { Registry } from 'prom-client';

export interface ServiceProvider {
  provider: RuntimeControlProvider;
  /** The service's metrics registry; the provider's PrometheusHook counts evaluations into it. */
  registry: Registry;
}

/**
 * One service's connection to Runtime Control. The PrometheusHook is handed to the provider (not to a client) so
 * that evaluations on the fast path (`provider.flags`) and through the OpenFeature client are counted alike.
 */
export function createServiceProvider(options: {
  url: string;
  token: string;
  /** The service's name in the control plane's clients view (`rctl clients`). */
  appName: string;
  cachePath?: string;
}): ServiceProvider {
  const registry = new Registry();
  const provider = new RuntimeControlProvider({ ...options, metrics: new PrometheusHook({ registry }) });
  return { provider, registry };
}
