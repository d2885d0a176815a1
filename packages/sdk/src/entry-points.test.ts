import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

/**
 * Imports one compiled entry in a fresh Node process and lists which of the optional peers ended up in the
 * CommonJS module cache (both are CommonJS packages, so an ESM import of them lands there too).
 */
function optionalPeersLoadedBy(entry: string): string[] {
  const href = new URL(entry, import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(href)});
    const cached = Object.keys(createRequire(import.meta.url).cache);
    const loaded = ['prom-client', 'unleash-client'].filter((p) => cached.some((f) => f.includes('/node_modules/' + p + '/')));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

describe('sdk entry points: optional peers stay unloaded', () => {
  it('importing @runtime-control/sdk (the root) loads neither unleash-client nor prom-client', () => {
    assert.deepEqual(optionalPeersLoadedBy('./index.js'), []);
  });

  it('the /health entry loads neither', () => {
    assert.deepEqual(optionalPeersLoadedBy('./health-entry.js'), []);
  });

  it('the check sees them: /prometheus and /typed-config load prom-client, /unleash loads unleash-client', () => {
    assert.deepEqual(optionalPeersLoadedBy('./prometheus-entry.js'), ['prom-client']);
    assert.deepEqual(optionalPeersLoadedBy('./typed-config-entry.js'), ['prom-client']);
    assert.deepEqual(optionalPeersLoadedBy('./unleash-entry.js'), ['unleash-client']);
  });
});
