import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The built console (dist/web), next to this compiled test (dist/e2e). */
const WEB = fileURLToPath(new URL('../web/', import.meta.url));
/** First load: the page, every script and stylesheet it loads or preloads. */
const BUDGET_GZIP_BYTES = 250 * 1024;

describe('console bundle budget', () => {
  it(`the first load is at most ${BUDGET_GZIP_BYTES / 1024} KB gzipped`, () => {
    const html = readFileSync(`${WEB}index.html`, 'utf8');
    const assets = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="\/([^"]+\.(?:js|css))"/g)].map(
      (m) => m[1]!,
    );
    assert.ok(
      assets.some((a) => a.endsWith('.js')),
      `no script in index.html: ${html}`,
    );
    const sizes = Object.fromEntries(
      ['index.html', ...assets].map((a) => [a, gzipSync(readFileSync(`${WEB}${a}`)).length]),
    );
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    assert.ok(
      total <= BUDGET_GZIP_BYTES,
      `first load ${total} B gzipped > ${BUDGET_GZIP_BYTES} B: ${JSON.stringify(sizes)}`,
    );
    assert.ok(total > 10 * 1024, `implausibly small first load (${total} B): did the build run?`);
  });
});
