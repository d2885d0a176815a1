import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { booleanFlag, createTestApp, type TestApp } from '../../testing/test-app.js';

/** The value of one `rc_flag_evaluations_total` series in a /metrics text, 0 when absent. */
function evaluations(metrics: string, flag: string, variant: string, reason: string): number {
  const prefix = `rc_flag_evaluations_total{environment="production",flag="${flag}",variant="${variant}",reason="${reason}"} `;
  const line = metrics.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}

// Answers are made once per configuration and outcome (ofrep-answers.ts): through the server, every change must be
// answered from the next request on, single and bulk alike, and every answer counted once.
describe('OFREP answers through the server', () => {
  let t: TestApp;
  let client: Record<string, string>;
  before(async () => {
    t = await createTestApp();
    const flags = [
      booleanFlag('fixed'),
      booleanFlag('targeted', {
        environments: {
          development: { state: 'ENABLED' },
          production: { state: 'ENABLED', targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] } },
        },
      }),
    ];
    for (const payload of flags) {
      const res = await t.app.inject({ method: 'POST', url: '/api/admin/flags', headers: t.admin, payload });
      assert.equal(res.statusCode, 201, res.body);
    }
    client = await t.clientHeaders('production');
  });
  after(async () => t.close());

  const single = async (key: string, context: Record<string, unknown>) =>
    (
      await t.app.inject({
        method: 'POST',
        url: `/ofrep/v1/evaluate/flags/${key}`,
        headers: client,
        payload: { context },
      })
    ).json();
  const bulk = async (context: Record<string, unknown>) =>
    Object.fromEntries(
      (await t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: client, payload: { context } }))
        .json()
        .flags.map((f: { key: string }) => [f.key, f]),
    );
  const patch = async (key: string, payload: Record<string, unknown>) => {
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/flags/${key}/environments/production`,
      headers: t.admin,
      payload,
    });
    assert.equal(res.statusCode, 200, res.body);
  };

  it('answers a change from the next request on, single and bulk', async () => {
    assert.deepEqual(await single('fixed', {}), {
      key: 'fixed',
      value: false,
      variant: 'off',
      reason: 'STATIC',
      metadata: {},
    });
    assert.equal((await bulk({ plan: 'pro' })).targeted.variant, 'on');
    await patch('fixed', { state: 'DISABLED' });
    assert.deepEqual(await single('fixed', {}), { key: 'fixed', reason: 'DISABLED', metadata: {} });
    assert.deepEqual((await bulk({})).fixed, { key: 'fixed', reason: 'DISABLED', metadata: {} });
    await patch('targeted', { targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'off', 'on'] } });
    assert.equal((await single('targeted', { plan: 'pro' })).variant, 'off');
    assert.equal((await bulk({ plan: 'free' })).targeted.variant, 'on');
    assert.equal((await bulk({ plan: 'free' })).targeted.reason, 'TARGETING_MATCH');
  });

  it('counts every answer once, by its own variant and reason', async () => {
    const before = (await t.app.inject({ url: '/metrics' })).body;
    for (let i = 0; i < 3; i++) await single('targeted', { plan: 'pro' });
    for (let i = 0; i < 2; i++) await bulk({ plan: 'free' });
    await single('fixed', {});
    const now = (await t.app.inject({ url: '/metrics' })).body;
    const delta = (flag: string, variant: string, reason: string) =>
      evaluations(now, flag, variant, reason) - evaluations(before, flag, variant, reason);
    assert.equal(delta('targeted', 'off', 'TARGETING_MATCH'), 3);
    assert.equal(delta('targeted', 'on', 'TARGETING_MATCH'), 2);
    assert.equal(delta('fixed', '', 'DISABLED'), 3);
  });
});
