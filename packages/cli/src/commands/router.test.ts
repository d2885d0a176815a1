import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { main } from '../index.js';

function backend(name: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

describe('rctl router', () => {
  it('starts the local router on free ports, proxies by weight, answers its admin API and stops on abort', async () => {
    const v1 = await backend('v1');
    const v2 = await backend('v2');
    const controller = new AbortController();
    let stdout = '';
    let stderr = '';
    try {
      const exit = main(
        ['router', '--service', 'ai-gateway', '--v1', v1.url, '--v2', v2.url, '--port', '0', '--admin-port', '0'],
        {
          stdout: (s) => {
            stdout += s;
          },
          stderr: (s) => {
            stderr += s;
          },
          env: {},
          cwd: process.cwd(),
        },
        { signal: controller.signal },
      );
      let proxy: string | undefined;
      let admin: string | undefined;
      for (let i = 0; i < 200 && !(proxy && admin); i++) {
        proxy = /proxy: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
        admin = /admin: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
        if (!(proxy && admin)) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(proxy && admin, `no URLs in: ${stdout}${stderr}`);
      assert.match(stderr, new RegExp(`RC_LOCAL_ROUTER_URL=${admin}`));

      // All traffic to v1 by default.
      assert.equal(await (await fetch(`${proxy}/anything`)).text(), 'v1');
      const { routes } = (await (await fetch(`${admin}/routes`)).json()) as {
        routes: { service: string; weights: Record<string, number> }[];
      };
      assert.equal(routes[0]?.service, 'ai-gateway');
      assert.deepEqual(routes[0]?.weights, { v1: 100, v2: 0 });

      // The admin API moves the split, as the server's canary controller does.
      const put = await fetch(`${admin}/routes/ai-gateway`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ weights: { v1: 0, v2: 100 } }),
      });
      assert.ok(put.ok, await put.text());
      assert.equal(await (await fetch(`${proxy}/x`)).text(), 'v2');
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      assert.match(metrics, /istio_requests_total\{[^}]*destination_version="v2"[^}]*response_code="200"[^}]*\} 1/);

      controller.abort();
      assert.equal(await exit, 0);
      await assert.rejects(fetch(`${proxy}/x`), 'the router stopped listening');
    } finally {
      controller.abort();
      await v1.close();
      await v2.close();
    }
  });

  it('refuses missing or malformed upstreams and weights as usage errors (exit 2)', async () => {
    const run = async (argv: string[]) => {
      let stderr = '';
      const code = await main(['router', ...argv], {
        stdout: () => {},
        stderr: (s) => {
          stderr += s;
        },
        env: {},
        cwd: process.cwd(),
      });
      return { code, stderr };
    };
    assert.deepEqual(await run(['--service', 'a', '--v2', 'http://127.0.0.1:1']), {
      code: 2,
      stderr: 'rctl: missing --v1\nRun "rctl router --help" for usage.\n',
    });
    assert.equal((await run(['--service', 'a', '--v1', 'nope', '--v2', 'http://127.0.0.1:1'])).code, 2);
    const weight = await run(['--service', 'a', '--v1', 'http://h:1', '--v2', 'http://h:2', '--canary-weight', '101']);
    assert.equal(weight.code, 2);
    assert.match(weight.stderr, /--canary-weight/);
    const help = await main(['router', '--help'], { stdout: () => {}, stderr: () => {}, env: {}, cwd: process.cwd() });
    assert.equal(help, 0);
  });
});
