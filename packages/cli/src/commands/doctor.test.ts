import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { canaryCheck, renderChecks, splitFix } from './doctor.js';

describe('rctl doctor output', () => {
  it('splits a check message into what is wrong and the fix (last sentence, else the clause after "; ")', () => {
    assert.deepEqual(
      splitFix(
        'header route "a" comes after "b"; Istio uses the first match, so it never applies. Move "a" before "b".',
      ),
      {
        what: 'header route "a" comes after "b"; Istio uses the first match, so it never applies.',
        fix: 'Move "a" before "b".',
      },
    );
    assert.deepEqual(splitFix('weights add up to 95, not 100; give each destination a weight, e.g. 90/10.'), {
      what: 'weights add up to 95, not 100',
      fix: 'give each destination a weight, e.g. 90/10.',
    });
    assert.deepEqual(splitFix('plain'), { what: 'plain', fix: 'plain' });
  });

  it('prints sections, a fix under each failure or warning only, and the count', () => {
    const text = renderChecks([
      { section: 'flags', name: 'server reachable', status: 'pass', evidence: 'yes', fix: 'never shown' },
      { section: 'flags', name: 'clients connected', status: 'warn', evidence: 'none', fix: 'start one' },
      {
        section: 'sidecars',
        name: 'NAMESPACE_INJECTION_DISABLED',
        status: 'fail',
        evidence: 'f:3: no label',
        fix: 'label it',
      },
    ]);
    assert.equal(
      text,
      [
        'Flags not toggling',
        '  ok    server reachable: yes',
        '  warn  clients connected: none',
        '        fix: start one',
        '',
        'Sidecars missing',
        '  FAIL  NAMESPACE_INJECTION_DISABLED: f:3: no label',
        '        fix: label it',
        '',
        '1 of 3 checks failed',
      ].join('\n'),
    );
  });
});

describe('rctl doctor: a canary in progress', () => {
  /** A server answering GET /api/admin/canaries with `status` and `body`. */
  async function withCanaries(status: number, body: unknown, run: (url: string) => Promise<void>) {
    const server = createServer((req, res) => {
      assert.equal(req.headers.authorization, 'Bearer admin-token-for-doctor-test');
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    } finally {
      server.close();
    }
  }
  const io = (url: string) => ({
    env: { RC_URL: url, RC_TOKEN: 'admin-token-for-doctor-test' },
    cwd: process.cwd(),
    stdout: () => {},
    stderr: () => {},
  });

  it('warns with the run, its weight and how to follow or stop it', async () => {
    const run = {
      service: 'ai-gateway',
      phase: 'paused',
      canaryWeight: 25,
      stepIndex: 2,
      plan: { steps: [5, 10, 25, 50, 100] },
    };
    const done = { ...run, service: 'api-gateway', phase: 'promoted' };
    await withCanaries(200, { canaries: [run, done] }, async (url) => {
      const check = await canaryCheck({}, io(url));
      assert.equal(check?.status, 'warn');
      assert.equal(check?.evidence, 'ai-gateway: paused at 25 % (step 3 of 5)');
      assert.match(check?.fix ?? '', /rctl canary status ai-gateway --watch.*rctl canary abort ai-gateway/);
    });
  });

  it('passes when none runs, and says when canaries are off', async () => {
    await withCanaries(200, { canaries: [] }, async (url) => {
      assert.deepEqual(await canaryCheck({}, io(url)), {
        section: 'traffic',
        name: 'canary in progress',
        status: 'pass',
        evidence: 'none',
      });
    });
    await withCanaries(503, { error: { code: 'CANARIES_DISABLED', message: 'off' } }, async (url) => {
      assert.equal((await canaryCheck({}, io(url)))?.evidence, 'canaries are off on this server');
    });
  });
});
