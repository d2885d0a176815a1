#!/usr/bin/env node
// Starts a throw-away unleash-server for the Unleash integration tests. Everything comes from the environment:
//   UNLEASH_SERVER_DIR    the install to run (default: this directory, unleash-server 7.5.1; tools/unleash-server-8
//                         holds 8.x). Each pins its version in its package.json; `npm run setup:unleash` installs both.
//   DATABASE_URL          postgres://postgres@127.0.0.1:5432/<db>   (trust auth, no SSL; migrated on first start)
//   PORT                  HTTP port (default 4242)
//   UNLEASH_ADMIN_TOKEN   an admin API token, e.g. `*:*.<hex>`
//   UNLEASH_CLIENT_TOKEN  a backend (client SDK) token, e.g. `default:development.<hex>`
//   UNLEASH_LOG_LEVEL     debug | info | warn (default) | error
//   UNLEASH_ALLOW_LIST_INTEGRATION  (8.x) hosts whose private addresses addons may call, comma-separated; read by
//                         unleash-server itself, passed through as set
// It prints `unleash-server <version> listening on <port>` once the HTTP server accepts requests.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// unleash-server reads some defaults (version check, telemetry) from the environment when its modules load, and
// `telemetry: false` in the options is ignored (`options.telemetry || env`), so both are set here, before the
// import. Neither must call out to the internet from a test.
process.env.CHECK_VERSION = 'false';
process.env.SEND_TELEMETRY = 'false';
// Scarf (a dependency's install-time analytics) stays quiet too, should its scripts ever be allowed to run.
process.env.SCARF_ANALYTICS = 'false';

// Resolved from the chosen install rather than from this file, so one script starts either pinned version.
const serverDir = process.env.UNLEASH_SERVER_DIR || dirname(fileURLToPath(import.meta.url));
const entry = createRequire(join(serverDir, 'package.json')).resolve('unleash-server');
const { start, ApiTokenType, LogLevel } = await import(pathToFileURL(entry).href);
const { version } = JSON.parse(readFileSync(join(serverDir, 'node_modules', 'unleash-server', 'package.json'), 'utf8'));

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`start.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
}

/** `<project>:<environment>.<secret>` is the format unleash validates; the scope is read back from the secret. */
function initToken(secret, type) {
  const [projectPart, rest = ''] = secret.split(':');
  const environment = rest.split('.')[0] || '*';
  return { secret, type, environment, projects: [projectPart || '*'], tokenName: `rc-test-${type}` };
}

const databaseUrl = required('DATABASE_URL');
const port = Number(process.env.PORT || 4242);
const adminToken = required('UNLEASH_ADMIN_TOKEN');
const clientToken = required('UNLEASH_CLIENT_TOKEN');
const logLevel = LogLevel[process.env.UNLEASH_LOG_LEVEL ?? 'warn'] ?? LogLevel.warn;

const unleash = await start({
  databaseUrl,
  // The URL form carries no SSL setting; unleash would otherwise default to `{ rejectUnauthorized: false }`,
  // which makes pg ask for TLS that a local test PostgreSQL does not offer.
  db: { ssl: false, pool: { min: 0, max: 4 } },
  server: { port, host: '127.0.0.1', gracefulShutdownEnable: true, gracefulShutdownTimeout: 500 },
  authentication: {
    type: 'open-source',
    enableApiToken: true,
    createAdminUser: false,
    initApiTokens: [initToken(adminToken, ApiTokenType.ADMIN), initToken(clientToken, ApiTokenType.BACKEND)],
  },
  logLevel,
  versionCheck: { enable: false },
  telemetry: false,
  enableOAS: false,
  // Tests poll every few hundred milliseconds and expect to see admin changes at once: no response memoization.
  clientFeatureCaching: { enabled: false },
});

const address = unleash.server?.address?.();
console.log(`unleash-server ${version} listening on ${typeof address === 'object' && address ? address.port : port}`);
