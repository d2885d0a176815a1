import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';

/**
 * Serves the web console (packages/console, a Vite-built single-page app) at `/`.
 *
 * A small reader rather than @fastify/static: the built console is a handful of files known when the server starts,
 * so they are listed once (no path from a request ever reaches the file system: a request either names a listed
 * file or gets index.html or a 404), gzipped once, and served from memory. Paths under /api, /ofrep, /health and
 * /metrics never fall back to the page: they keep the API's JSON 404.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);
/** Prefixes that belong to the API and operations: never answered with the page. */
const API_PREFIXES = ['/api', '/ofrep', '/health', '/metrics'];
/** Hashed file names (Vite's `assets/name-HASH.ext`) never change: cached for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page itself is revalidated on every load, so a new build is picked up at once. */
const REVALIDATE = 'no-cache';
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface StaticFile {
  type: string;
  body: Buffer;
  gzip?: Buffer;
  cacheControl: string;
  etag: string;
}

export interface ConsoleFiles {
  dir: string;
  files: Map<string, StaticFile>;
}

/**
 * Where the built console is: `RC_CONSOLE_DIR`, else the `dist/web` folder of the `@runtime-control/console`
 * workspace package. Undefined when neither can be found (a server installed without the console).
 */
export function resolveConsoleDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.RC_CONSOLE_DIR) return env.RC_CONSOLE_DIR;
  try {
    const pkg = fileURLToPath(import.meta.resolve('@runtime-control/console/package.json'));
    return join(dirname(pkg), 'dist', 'web');
  } catch {
    return undefined;
  }
}

/** Lists and reads the built files; undefined when the folder has no index.html (the console was not built). */
export function loadConsoleFiles(dir: string | undefined): ConsoleFiles | undefined {
  if (!dir) return undefined;
  try {
    if (!statSync(join(dir, 'index.html')).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const files = new Map<string, StaticFile>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) {
        walk(p);
        continue;
      }
      const ext = extname(name).toLowerCase();
      const type = TYPES[ext];
      if (!type) continue; // source maps and anything unexpected are not served
      const urlPath = `/${relative(dir, p).split(sep).join('/')}`;
      const body = readFileSync(p);
      files.set(urlPath, {
        type,
        body,
        gzip: COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body) : undefined,
        cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
        etag: `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`,
      });
    }
  };
  walk(dir);
  return { dir, files };
}

const NOT_BUILT_MESSAGE =
  'The web console is not built. Run `npm run build` (or `npm run build -w @runtime-control/console`) and restart, or set RC_CONSOLE_DIR to a built console; the API is at /api.';

const consoleRouteSchema = {
  hide: true,
  summary: 'The web console (HTML, JavaScript, CSS); not part of the API',
  response: { 200: Type.String({ description: 'a file of the built console' }) },
};
const consoleFileRouteSchema = {
  ...consoleRouteSchema,
  params: Type.Object({ '*': Type.String({ maxLength: 512 }) }),
};

function isApiPath(path: string): boolean {
  return API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
}

function send(req: FastifyRequest, reply: FastifyReply, file: StaticFile, cacheControl = file.cacheControl) {
  reply.header('content-type', file.type).header('cache-control', cacheControl).header('etag', file.etag);
  if (file.type.startsWith('text/html')) reply.headers(SECURITY_HEADERS);
  reply.header('vary', 'Accept-Encoding');
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const acceptsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  if (file.gzip && acceptsGzip) return reply.header('content-encoding', 'gzip').send(file.gzip);
  return reply.send(file.body);
}

/**
 * Registers `GET /` (the page) and `GET /*` (built files, and the page again for the console's own routes such as
 * /flags/new-ui-enabled). Both routes are hidden from the OpenAPI document: they are not API.
 */
export async function consolePlugin(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const built = loadConsoleFiles(options.dir ?? resolveConsoleDir());
  const notBuilt = (req: FastifyRequest, reply: FastifyReply) => {
    const wantsHtml = String(req.headers.accept ?? '').includes('text/html');
    if (wantsHtml) {
      return reply
        .code(503)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .headers(SECURITY_HEADERS)
        .send(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Runtime Control</title></head><body><h1>Runtime Control</h1><p>${NOT_BUILT_MESSAGE.replace(/`/g, '')}</p></body></html>`,
        );
    }
    throw new AppError('UNAVAILABLE', NOT_BUILT_MESSAGE);
  };
  const page = (req: FastifyRequest, reply: FastifyReply) => {
    const index = built?.files.get('/index.html');
    if (!index) return notBuilt(req, reply);
    return send(req, reply, index, REVALIDATE);
  };

  app.get('/', { schema: consoleRouteSchema }, async (req, reply) => page(req, reply));
  app.get('/*', { schema: consoleFileRouteSchema }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (isApiPath(path)) throw new AppError('NOT_FOUND', `no route for ${req.method} ${path}`);
    const file = built?.files.get(path);
    if (file) return send(req, reply, file);
    // A missing file (anything with an extension, or under /assets) is a 404, not the page: a stale bundle must not
    // get HTML where it asked for JavaScript.
    if (path.startsWith('/assets/') || extname(path) !== '') {
      throw new AppError('NOT_FOUND', `no console file ${path}`);
    }
    return page(req, reply);
  });
}
