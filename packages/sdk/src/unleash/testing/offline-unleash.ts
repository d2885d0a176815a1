import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ClientFeaturesResponse, InMemStorageProvider, Unleash } from 'unleash-client';

/**
 * An `unleash-client` that never touches the network: it is bootstrapped from `state` (an Unleash client-features
 * response), `refreshInterval: 0` turns polling off (the fetcher returns before any request), metrics are disabled
 * and the backup store is in memory. It is not started: `UnleashProvider.initialize` starts it, and the bootstrap
 * then counts as its first synchronization.
 */
export function offlineUnleash(state: Pick<ClientFeaturesResponse, 'features' | 'segments'>): Unleash {
  return new Unleash({
    appName: 'rc-offline-test',
    // Required by the constructor; never requested while refreshInterval is 0 and metrics are disabled.
    url: 'http://127.0.0.1:9/api',
    refreshInterval: 0,
    disableMetrics: true,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: { data: state.features, segments: state.segments },
  });
}

export interface LocalDeltaUnleash {
  unleash: Unleash;
  close(): Promise<void>;
}

/**
 * An `unleash-client` in delta-polling mode fed by a loopback HTTP server that answers `GET /api/client/delta` with
 * `body` (`{ events: [...] }`): for state that only exists as delta events, which bootstrap cannot take. It polls
 * once on start (the refresh interval is an hour) and never sends metrics.
 */
export async function localDeltaUnleash(body: unknown): Promise<LocalDeltaUnleash> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/api/client/delta')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  const unleash = new Unleash({
    appName: 'rc-delta-test',
    url: `http://127.0.0.1:${address.port}/api`,
    refreshInterval: 3_600_000,
    disableMetrics: true,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    experimentalMode: { type: 'polling', format: 'delta' },
  });
  return {
    unleash,
    close: () =>
      new Promise<void>((resolve) => {
        unleash.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
