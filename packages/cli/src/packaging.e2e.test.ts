import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The packages as published: `npm pack` every publishable workspace package, install the tarballs into a scratch
 * project outside the workspace (only their declared dependencies, from the registry), then run the packed `rctl up`,
 * the packed `rctl flags list` against it, and the packed SDK's RuntimeControlProvider through
 * @openfeature/server-sdk. Never skipped; it needs the npm registry.
 */
const PUBLISHABLE = ['core', 'server', 'sdk', 'cli', 'unleash', 'traffic', 'secrets'];
const ADMIN_TOKEN = 'packaging-admin-token-0123456789';
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The parent's npm_* variables (set by `npm test`) would point a child npm at the workspace; drop them. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`packed rctl up exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`packed rctl up did not serve /health within 30 s:\n${output()}`);
}

describe('PACKAGING: the packages work as published (npm pack → install outside the workspace → run)', () => {
  let scratch = '';
  let app = '';
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let url = '';
  const packed: { name: string; filename: string; files: string[] }[] = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'rc-packaging-'));
    app = join(scratch, 'app');
    mkdirSync(app);
    const started = Date.now();
    const pack = await run(
      'npm',
      ['pack', '--json', '--pack-destination', scratch, ...PUBLISHABLE.flatMap((p) => ['-w', `packages/${p}`])],
      repoRoot,
    );
    assert.equal(pack.code, 0, pack.stderr);
    packed.push(
      ...(JSON.parse(pack.stdout) as { name: string; filename: string; files: { path: string }[] }[]).map((p) => ({
        name: p.name,
        filename: p.filename,
        files: p.files.map((f) => f.path),
      })),
    );
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'rc-packaging-scratch', private: true, type: 'module' }, null, 2)}\n`,
    );
    // --ignore-scripts: better-sqlite3's native build takes minutes here; the workspace's build of the same
    // version is copied in below instead (everything else is exactly what `npm install` of the tarballs gives).
    const install = await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        ...packed.map((p) => join(scratch, p.filename)),
        '@openfeature/server-sdk@^1.23.0',
      ],
      app,
    );
    assert.equal(install.code, 0, `npm install of the tarballs failed:\n${install.stderr}`);
    const native = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    if (!existsSync(join(app, native))) {
      const version = (dir: string) =>
        (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string })
          .version;
      if (existsSync(join(repoRoot, native)) && version(repoRoot) === version(app)) {
        mkdirSync(join(app, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
        copyFileSync(join(repoRoot, native), join(app, native));
      } else {
        const rebuild = await run('npm', ['rebuild', 'better-sqlite3'], app);
        assert.equal(rebuild.code, 0, rebuild.stderr);
      }
    }
    console.log(`# PACKAGING: packed and installed ${packed.length} packages in ${Date.now() - started} ms (${app})`);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(
      join(app, 'node_modules/.bin/rctl'),
      [
        'up',
        '--port',
        String(port),
        '--data-dir',
        join(scratch, 'data'),
        '--seed',
        join(repoRoot, 'examples/devmentor/flags.yaml'),
      ],
      { cwd: app, env: cleanEnv({ RC_ADMIN_TOKEN: ADMIN_TOKEN, RC_LOG_LEVEL: 'silent' }), stdio: 'pipe' },
    );
    server.stdout?.on('data', (c: Buffer) => {
      serverOutput += c.toString();
    });
    server.stderr?.on('data', (c: Buffer) => {
      serverOutput += c.toString();
    });
    await waitForHealth(url, server, () => serverOutput);
  });

  after(() => {
    server?.kill('SIGTERM');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs core, server, sdk, cli, unleash, traffic and secrets with compiled JavaScript and without tests or test support', () => {
    assert.deepEqual(packed.map((p) => p.name).sort(), PUBLISHABLE.map((p) => `@runtime-control/${p}`).sort());
    for (const p of packed) {
      assert.ok(p.files.includes('dist/index.js'), `${p.name} has no dist/index.js`);
      assert.ok(p.files.includes('dist/index.d.ts'), `${p.name} has no dist/index.d.ts`);
      const leaked = p.files.filter((f) => /\.test\.|(^|\/)testing\/|(^|\/)src\//.test(f));
      assert.deepEqual(leaked, [], `${p.name} publishes tests, test support or sources`);
    }
    const sdk = packed.find((p) => p.name === '@runtime-control/sdk');
    for (const entry of ['unleash', 'prometheus', 'health', 'typed-config']) {
      assert.ok(sdk?.files.includes(`dist/${entry}-entry.js`), `sdk subpath ${entry} is not packed`);
    }
  });

  it('the packed rctl answers --version and lists the flags of the packed server', async () => {
    const rctl = join(app, 'node_modules/.bin/rctl');
    const version = await run(rctl, ['--version'], app);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /0\.1\.0/);
    const list = await run(rctl, ['flags', 'list', '--url', url], app, cleanEnv({ RC_TOKEN: ADMIN_TOKEN }));
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /new-ui-enabled/);
  });

  it("the packed SDK's RuntimeControlProvider evaluates a flag of the packed server through @openfeature/server-sdk", async () => {
    const rctl = join(app, 'node_modules/.bin/rctl');
    const created = await run(
      rctl,
      ['tokens', 'create', '--kind', 'client', '--env', 'production', '--name', 'packaging', '--url', url],
      app,
      cleanEnv({ RC_TOKEN: ADMIN_TOKEN }),
    );
    assert.equal(created.code, 0, created.stderr);
    const script = join(app, 'sdk-check.mjs');
    writeFileSync(
      script,
      `import { OpenFeature } from '@openfeature/server-sdk';
import { RuntimeControlProvider } from '@runtime-control/sdk';
const provider = new RuntimeControlProvider({ url: process.env.RC_URL, token: process.env.RC_CLIENT_TOKEN });
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient('packaging');
const tester = await client.getBooleanDetails('new-ui-enabled', false, { targetingKey: 'u-alice' });
const other = await client.getBooleanDetails('new-ui-enabled', true, { targetingKey: 'u-nobody' });
process.stdout.write(JSON.stringify({ tester: [tester.value, tester.variant], other: [other.value, other.variant] }));
await OpenFeature.close();
process.exit(0);
`,
    );
    const checked = await run(
      process.execPath,
      [script],
      app,
      cleanEnv({ RC_URL: url, RC_CLIENT_TOKEN: created.stdout.trim() }),
    );
    assert.equal(checked.code, 0, checked.stderr);
    assert.deepEqual(JSON.parse(checked.stdout), { tester: [true, 'on'], other: [false, 'off'] });
  });
});
