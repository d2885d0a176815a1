import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TrafficRouter } from '../routers/traffic-router.js';
import type { MetricsReading, VersionSample } from './canary-analysis.js';
import { CanaryController } from './canary-controller.js';
import { type CanaryNotification, SIGNATURE_HEADER, signBody } from './canary-notifier.js';
import { type CanaryPlanError, parseCanaryPlan } from './canary-plan.js';
import { InMemoryCanaryStateStore } from './canary-state.js';

const healthy: VersionSample = { requests: 500, errors: 0, fiveXx: 0, p95Ms: 50 };
const spiking: VersionSample = { requests: 500, errors: 50, fiveXx: 50, p95Ms: 50 };

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: CanaryNotification;
}

/** A local webhook receiver: records every POST; answers `status` (500 to simulate a failing receiver). */
class Receiver {
  received: Received[] = [];
  status = 204;
  private server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => {
      this.received.push({ headers: req.headers, raw, body: JSON.parse(raw) as CanaryNotification });
      res.writeHead(this.status);
      res.end();
    });
  });
  url = '';
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/canary`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function setup(notify: Record<string, string>, reading: () => MetricsReading) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const router: TrafficRouter = { kind: 'fake', setWeights: async () => {} };
  const warnings: string[] = [];
  const controller = new CanaryController({
    store: new InMemoryCanaryStateStore(),
    router,
    metrics: { read: async () => reading() },
    now: () => now,
    logger: {
      info() {},
      warn: (_obj, msg) => {
        warnings.push(msg);
      },
      error() {},
    },
  });
  // Pinned users make v2's share a lower bound only, so one fixed reading passes every step.
  const plan = parseCanaryPlan({ canary: 'v2', interval: '10s', steps: [10, 50], notify, pins: { values: ['t'] } });
  return {
    controller,
    plan,
    warnings,
    async advance(ms: number) {
      now += ms;
      await controller.tick();
      await controller.notifier.idle();
    },
  };
}

describe('canary notifications', () => {
  const receiver = new Receiver();
  let dir: string;
  before(async () => {
    await receiver.listen();
    dir = await mkdtemp(join(tmpdir(), 'rc-notify-'));
  });
  after(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('POSTs a signed JSON body on start, every step and the promotion', async () => {
    receiver.received = [];
    receiver.status = 204;
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, 's3cret\n');
    const t = setup({ url: receiver.url, secretFile }, () => ({ ok: true, stable: healthy, canary: healthy }));
    await t.controller.start('ai-gateway', t.plan, 'alice');
    await t.controller.notifier.idle();
    await t.advance(10_000); // 10 → 50
    await t.advance(10_000); // 50 → 100: promoted
    assert.deepEqual(
      receiver.received.map((r) => [r.body.event, r.body.previousWeight, r.body.weight, r.body.phase]),
      [
        ['start', 0, 10, 'progressing'],
        ['advance', 10, 50, 'progressing'],
        ['promote', 50, 100, 'promoted'],
      ],
    );
    const promote = receiver.received.at(-1)!;
    assert.equal(promote.body.service, 'ai-gateway');
    assert.equal(promote.body.from, 'v1');
    assert.equal(promote.body.to, 'v2');
    assert.equal(promote.body.outcome, 'promoted');
    assert.equal(promote.headers['content-type'], 'application/json');
    assert.equal(promote.headers['x-rc-event'], 'promote');
    // The signature is HMAC-SHA256 of the raw body with the file's secret (trailing newline trimmed).
    assert.equal(promote.headers[SIGNATURE_HEADER], signBody('s3cret', promote.raw));
    assert.match(String(promote.headers[SIGNATURE_HEADER]), /^sha256=[0-9a-f]{64}$/);
    assert.deepEqual(t.warnings, []);
  });

  it('notifies reaching a manual gate, and its opening by promote; holds at the gate are not notified', async () => {
    receiver.received = [];
    receiver.status = 204;
    const t = setup({ url: receiver.url }, () => ({ ok: true, stable: healthy, canary: healthy }));
    const plan = { ...t.plan, pauseAt: [10] };
    await t.controller.start('ai-gateway', plan, 'alice');
    await t.advance(10_000); // 10% passes: the gate
    await t.advance(10_000); // a hold at the gate
    await t.controller.promote('ai-gateway', 'bob');
    await t.controller.notifier.idle();
    assert.deepEqual(
      receiver.received.map((r) => [r.body.event, r.body.weight, r.body.phase, r.body.actor]),
      [
        ['start', 10, 'progressing', 'alice'],
        ['gate', 10, 'paused', 'controller'],
        ['advance', 50, 'progressing', 'bob'],
      ],
    );
    assert.equal(receiver.received[1]!.headers['x-rc-event'], 'gate');
    assert.match(receiver.received[1]!.body.reason, /paused at the gate/);
  });

  it('notifies a rollback with its cause and failing checks, unsigned without a secret', async () => {
    receiver.received = [];
    receiver.status = 200;
    const t = setup({ url: receiver.url }, () => ({ ok: true, stable: healthy, canary: spiking }));
    await t.controller.start('ai-gateway', t.plan, 'alice');
    await t.advance(10_000);
    const rollback = receiver.received.at(-1)!;
    assert.equal(rollback.body.event, 'rollback');
    assert.equal(rollback.body.weight, 0);
    assert.equal(rollback.body.cause, 'spike');
    assert.equal(rollback.body.outcome, 'rolled back: 5xx spike');
    assert.ok(rollback.body.failedChecks.some((c) => c.name === 'error-rate' && c.value === 0.1));
    assert.equal(rollback.headers[SIGNATURE_HEADER], undefined);
  });

  it('a failing or unreachable receiver, or a missing secret file, is logged and never blocks the canary', async () => {
    receiver.received = [];
    receiver.status = 500;
    const failing = setup({ url: receiver.url }, () => ({ ok: true, stable: healthy, canary: healthy }));
    await failing.controller.start('ai-gateway', failing.plan, 'alice');
    await failing.advance(10_000);
    await failing.advance(10_000);
    assert.equal((await failing.controller.status('ai-gateway')).state.phase, 'promoted');
    assert.equal(receiver.received.length, 3);
    assert.equal(failing.warnings.length, 3);
    assert.match(failing.warnings[0]!, /notification to .* failed: HTTP 500/);

    const unreachable = setup({ url: 'http://127.0.0.1:1/x', secretFile: join(dir, 'missing') }, () => ({
      ok: true,
      stable: healthy,
      canary: healthy,
    }));
    await unreachable.controller.start('ai-gateway', unreachable.plan, 'alice');
    await unreachable.advance(10_000);
    await unreachable.advance(10_000);
    assert.equal((await unreachable.controller.status('ai-gateway')).state.phase, 'promoted');
    assert.equal(unreachable.warnings.length, 3);
    assert.match(unreachable.warnings[0]!, /ENOENT/);
  });

  it('validates the plan field', () => {
    assert.deepEqual(parseCanaryPlan({ canary: 'v2', notify: { url: 'https://h/x' } }).notify, { url: 'https://h/x' });
    assert.throws(
      () => parseCanaryPlan({ canary: 'v2', notify: { url: 'ftp://h', secretFile: '', colour: 1 } }),
      (error: CanaryPlanError) => {
        assert.deepEqual(
          error.issues.map((i) => i.path),
          ['/notify/url', '/notify/secretFile', '/notify/colour'],
        );
        return true;
      },
    );
  });
});
