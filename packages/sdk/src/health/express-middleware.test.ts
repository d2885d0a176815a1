import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InMemoryProvider } from '@openfeature/server-sdk';
import express from 'express';
import { RuntimeControlProvider } from '../provider/runtime-control-provider.js';
import { runtimeControlHealth } from './express-middleware.js';
import type { FlagHealth } from './flag-health.js';

async function withExpress(mount: (app: express.Express) => void, run: (url: string) => Promise<void>): Promise<void> {
  const app = express();
  mount(app);
  const listener = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => listener.once('listening', () => resolve()));
  try {
    await run(`http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
  } finally {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}

describe('runtimeControlHealth (Express)', () => {
  const memory = new InMemoryProvider({
    beta: {
      variants: { on: true, off: false },
      defaultVariant: 'off',
      disabled: false,
      contextEvaluator: (ctx) => (ctx.targetingKey === 'u-9' ? 'on' : 'off'),
    },
    color: { variants: { red: 'red' }, defaultVariant: 'red', disabled: false },
  });

  it('200 with the evaluated values, for ?user= or x-user-id', async () => {
    await withExpress(
      (app) => app.get('/health/flags', runtimeControlHealth({ provider: memory, keys: ['beta', 'color'] })),
      async (url) => {
        const byQuery = await fetch(`${url}/health/flags?user=u-9`);
        assert.equal(byQuery.status, 200);
        assert.equal(byQuery.headers.get('cache-control'), 'no-store');
        const body = (await byQuery.json()) as FlagHealth;
        assert.deepEqual(body, {
          provider: { name: 'in-memory', status: 'READY' },
          revision: null,
          flags: [
            { key: 'beta', value: true, variant: 'on', reason: 'TARGETING_MATCH' },
            { key: 'color', value: 'red', variant: 'red', reason: 'STATIC' },
          ],
        });
        const byHeader = (await (
          await fetch(`${url}/health/flags`, { headers: { 'x-user-id': 'u-9' } })
        ).json()) as FlagHealth;
        assert.equal(byHeader.flags[0]?.value, true);
        const anonymous = (await (await fetch(`${url}/health/flags`)).json()) as FlagHealth;
        assert.equal(anonymous.flags[0]?.value, false);
      },
    );
  });

  it('503 with the body while the provider is NOT_READY', async () => {
    const cold = new RuntimeControlProvider({ url: 'http://127.0.0.1:9', token: 'unused' });
    await withExpress(
      (app) => app.get('/health/flags', runtimeControlHealth({ provider: cold })),
      async (url) => {
        const res = await fetch(`${url}/health/flags`);
        assert.equal(res.status, 503);
        const body = (await res.json()) as FlagHealth;
        assert.deepEqual(body.provider, { name: 'runtime-control', status: 'NOT_READY' });
      },
    );
  });

  it('a throwing context function goes to the Express error handler', async () => {
    await withExpress(
      (app) => {
        app.get(
          '/health/flags',
          runtimeControlHealth({
            provider: memory,
            context: () => {
              throw new Error('bad request context');
            },
          }),
        );
        app.use((_err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          res.status(418).json({ handled: true });
        });
      },
      async (url) => {
        assert.equal((await fetch(`${url}/health/flags`)).status, 418);
      },
    );
  });
});
