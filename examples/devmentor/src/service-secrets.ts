import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The secrets DevMentor's services take from their environment — on a laptop from `rctl exec --service NAME -- …`
 * (which decrypts the local store and restarts the process when a bundle is rotated), in the cluster from the
 * Secret that External Secrets keeps in sync with Vault. Checked at start; an error names the variable and what to
 * run, never the value.
 */

export class MissingSecretError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
    service: string,
  ) {
    super(
      `${variable} ${reason}: start the service with its secrets as env, e.g. npx rctl exec --service ${service} -- node ${service}-server.js (after npx rctl secrets rotate for a bundle that has no value yet)`,
    );
    this.name = 'MissingSecretError';
  }
}

/** JWT_SECRET: auth-service signs with it, api-gateway verifies (one bundle, both Deployments). */
export function readJwtSecret(env: NodeJS.ProcessEnv, service: string): string {
  const secret = env.JWT_SECRET;
  if (!secret) throw new MissingSecretError('JWT_SECRET', 'is not set', service);
  // The platform's policy generates 64 characters; a short one is a placeholder, not a signing key.
  if (secret.length < 32) throw new MissingSecretError('JWT_SECRET', 'is shorter than 32 characters', service);
  return secret;
}

/** REDIS_URL: api-gateway's session and rate-limit store. */
export function readRedisUrl(env: NodeJS.ProcessEnv, service: string): URL {
  const raw = env.REDIS_URL;
  if (!raw) throw new MissingSecretError('REDIS_URL', 'is not set', service);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MissingSecretError('REDIS_URL', 'is not a URL', service);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new MissingSecretError('REDIS_URL', 'is not a redis:// or rediss:// URL', service);
  }
  return url;
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** An HS256 JWT for `sub`, valid `ttlSeconds` (auth-service's login). */
export function signJwt(sub: string, secret: string, ttlSeconds = 900, now = Date.now()): string {
  const payload = b64url(
    JSON.stringify({ sub, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + ttlSeconds }),
  );
  const signature = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** The subject of a valid, unexpired HS256 JWT signed with `secret`; undefined otherwise (wrong key, expired, malformed). */
export function verifyJwt(token: string, secret: string, now = Date.now()): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: unknown; exp?: unknown };
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
    return claims.exp * 1000 > now ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
