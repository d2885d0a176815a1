import { BackendRequestError } from './errors.js';

/**
 * Secret paths are configuration (`devmentor/api-gateway`), relative to a KV mount. Empty segments, `.`, `..` and a
 * leading or trailing slash are refused, so a path can neither walk to another mount or endpoint nor name two
 * secrets.
 */
export function checkPath(path: string, backend: 'vault' | 'local', operation = 'path'): string {
  const segments = path.split('/');
  if (path === '' || path.length > 1024 || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new BackendRequestError('BAD_REQUEST', 'invalid secret path (empty segment, "." or "..")', {
      operation,
      path,
      backend,
    });
  }
  return path;
}
