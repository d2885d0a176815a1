#!/usr/bin/env node
// Starts a throw-away unleash-server (pinned in ./package.json; `npm run setup:unleash` installs it) for the
// UnleashProvider integration tests. Everything comes from the environment:
//   DATABASE_URL          postgres://postgres@127.0.0.1:5432/<db>   (trust auth, no SSL; migrated on first start)
//   PORT                  HTTP port (default 4242)
//   UNLEASH_ADMIN_TOKEN   an admin API token, e.g. `*:*.<hex>`
//   UNLEASH_CLIENT_TOKEN  a backend (client SDK) token, e.g. `default:development.<hex>`
//   UNLEASH_LOG_LEVEL     debug | info | warn (default) | error
// It prints `unleash-server listening on <port>` once the HTTP server accepts requests.

// unleash-server reads some defaults (version check, telemetry) from the environment when its modules load, and
// `telemetry: false` in the options is ignored (`options.telemetry || env`), so both are set here, before the
// import. Neither must call out to the internet from a test.
process.env.CHECK_VERSION = 'false';
process.env.SEND_TELEMETRY = 'false';
// Scarf (a dependency's install-time analytics) stays quiet too, should its scripts ever be allowed to run.
process.env.SCARF_ANALYTICS = 'false';

const { start, ApiTokenType, LogLevel } = await import('unleash-server');

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
console.log(`unleash-server listening on ${typeof address === 'object' && address ? address.port : port}`);
