// `@runtime-control/sdk/unleash`: the UnleashProvider (needs the optional peer `unleash-client`).
export type { UnleashBridgeOptions } from './unleash/unleash-bridge-client.js';
export { toUnleashContext } from './unleash/unleash-context.js';
export {
  UnleashProvider,
  type UnleashProviderClientOptions,
  type UnleashProviderConnectionOptions,
  type UnleashProviderOptions,
  type UnleashProviderState,
} from './unleash/unleash-provider.js';
