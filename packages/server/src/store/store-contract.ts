import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { Flag } from '@runtime-control/core';
import { AppError, type ErrorCode } from '../errors/app-error.js';
import type { Actor, AuditRecord, Store } from './store.js';

/**
 * The behaviour every `Store` must have, run against each implementation by its own test file. `open()` must return
 * a fresh, empty, migrated store for every test; the suite closes it after the test.
 */
export function runStoreContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
    });

    if (cleanup) after(cleanup);

    describe('lifecycle', () => {
      it('starts empty at revision 0', async () => {
        assert.equal(await store.currentRevision(), 0);
        assert.deepEqual(await store.listFlags(), []);
        assert.deepEqual(await store.listEvaluators(), []);
        assert.deepEqual(await store.listTokens(), []);
        assert.deepEqual(await store.queryAudit({}), []);
        assert.deepEqual(await store.changesSince(0), []);
      });

      it('answers ping', async () => {
        await store.ping();
      });

      it('treats migrate() on a migrated database as a no-op', async () => {
        await store.createFlag(sampleFlag('kept'), ALICE);
        await store.migrate();
        await store.migrate();
        assert.equal(await store.currentRevision(), 1);
        assert.deepEqual((await store.getFlag('kept'))?.flag, sampleFlag('kept'));
      });
    });

    describe('flags', () => {
      it('creates a flag at the next revision and reads it back', async () => {
        const created = await store.createFlag(sampleFlag('checkout'), ALICE);
        assert.equal(created.revision, 1);
        assert.deepEqual(created.flag, sampleFlag('checkout'));
        assertIsoTime(created.createdAt);
        assert.equal(created.updatedAt, created.createdAt);
        assert.deepEqual(await store.getFlag('checkout'), created);
        assert.deepEqual(await store.listFlags(), [created]);
        assert.equal(await store.currentRevision(), 1);
      });

      it('round-trips a flag with nested targeting, overrides, rollout and schema exactly', async () => {
        const flag = richFlag('pricing');
        await store.createFlag(flag, ALICE);
        assert.deepEqual((await store.getFlag('pricing'))?.flag, richFlag('pricing'));
        assert.deepEqual((await store.listFlags())[0]?.flag, richFlag('pricing'));
        // The store keeps its own copy: mutating the caller's object afterwards changes nothing stored.
        flag.variants.basic = { price: 0 };
        assert.deepEqual((await store.getFlag('pricing'))?.flag, richFlag('pricing'));
      });

      it('lists flags by key', async () => {
        await store.createFlag(sampleFlag('b'), ALICE);
        await store.createFlag(sampleFlag('a'), ALICE);
        assert.deepEqual(
          (await store.listFlags()).map((f) => f.flag.key),
          ['a', 'b'],
        );
      });

      it('returns undefined for a missing flag', async () => {
        assert.equal(await store.getFlag('nope'), undefined);
      });

      it('rejects a duplicate create with FLAG_EXISTS, leaving the flag, revision and audit unchanged', async () => {
        const created = await store.createFlag(sampleFlag('dup'), ALICE);
        const other = { ...sampleFlag('dup'), description: 'different' };
        await rejectsWith(store.createFlag(other, BOB), 'FLAG_EXISTS');
        assert.deepEqual(await store.getFlag('dup'), created);
        assert.equal(await store.currentRevision(), 1);
        assert.equal((await store.queryAudit({})).length, 1);
        // The failed create consumed no revision: the next write gets 2.
        assert.equal((await store.createFlag(sampleFlag('next'), ALICE)).revision, 2);
      });

      it('creates a batch of flags in one transaction: a revision and an audit record each, existing keys kept', async () => {
        const kept = await store.createFlag(sampleFlag('b'), ALICE);
        const other = { ...sampleFlag('b'), description: 'not written' };
        const result = await store.createFlags([sampleFlag('c'), other, sampleFlag('a')], BOB);
        assert.deepEqual(result.existing, ['b']);
        assert.deepEqual(
          result.created.map((s) => [s.flag.key, s.revision]),
          [
            ['c', 2],
            ['a', 3],
          ],
        );
        assert.deepEqual(await store.getFlag('b'), kept);
        assert.deepEqual((await store.getFlag('a'))?.flag, sampleFlag('a'));
        assert.equal(await store.currentRevision(), 3);
        const audit = await store.queryAudit({});
        const created = audit.filter((r) => r.actor === 'bob');
        assert.deepEqual(created.map((r) => [r.entityKey, r.action, r.revision]).sort(), [
          ['a', 'create', 3],
          ['c', 'create', 2],
        ]);
        assert.deepEqual(
          (await store.changesSince(1)).map((c) => [c.entityType, c.entityKey, c.revision]),
          [
            ['flag', 'c', 2],
            ['flag', 'a', 3],
          ],
        );
      });

      it('writes nothing of a batch that names a key twice', async () => {
        await rejectsWith(
          store.createFlags([sampleFlag('x'), sampleFlag('y'), sampleFlag('x')], ALICE),
          'VALIDATION_FAILED',
        );
        assert.equal(await store.currentRevision(), 0);
        assert.deepEqual(await store.listFlags(), []);
        assert.deepEqual(await store.queryAudit({}), []);
      });

      it('replaces a flag when ifRevision matches, keeping createdAt', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        const next = { ...sampleFlag('f'), description: 'replaced' };
        const replaced = await store.replaceFlag('f', next, BOB, { ifRevision: created.revision });
        assert.equal(replaced.revision, 2);
        assert.deepEqual(replaced.flag, next);
        assert.equal(replaced.createdAt, created.createdAt);
        assertIsoTime(replaced.updatedAt);
        assert.ok(replaced.updatedAt >= created.updatedAt);
        assert.deepEqual(await store.getFlag('f'), replaced);
        const [audit] = await store.queryAudit({ entityKey: 'f', limit: 1 });
        assert.deepEqual(pickAudit(audit), {
          revision: 2,
          actor: 'bob',
          entityType: 'flag',
          entityKey: 'f',
          action: 'update',
          before: sampleFlag('f'),
          after: next,
        });
      });

      it('records a replace made as a revert with action revert (and still checks ifRevision)', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        await store.replaceFlag('f', { ...sampleFlag('f'), owner: 'x' }, ALICE);
        await assert.rejects(
          store.replaceFlag('f', sampleFlag('f'), BOB, { ifRevision: created.revision, action: 'revert' }),
          (err: unknown) => err instanceof AppError && err.code === 'PRECONDITION_FAILED',
        );
        const reverted = await store.replaceFlag('f', sampleFlag('f'), BOB, { ifRevision: 2, action: 'revert' });
        assert.equal(reverted.revision, 3);
        const [audit] = await store.queryAudit({ entityKey: 'f', limit: 1 });
        assert.deepEqual(pickAudit(audit), {
          revision: 3,
          actor: 'bob',
          entityType: 'flag',
          entityKey: 'f',
          action: 'revert',
          before: { ...sampleFlag('f'), owner: 'x' },
          after: sampleFlag('f'),
        });
      });

      it('replaces a flag unconditionally without ifRevision', async () => {
        await store.createFlag(sampleFlag('f'), ALICE);
        await store.replaceFlag('f', { ...sampleFlag('f'), owner: 'x' }, ALICE);
        const replaced = await store.replaceFlag('f', { ...sampleFlag('f'), owner: 'y' }, ALICE);
        assert.equal(replaced.revision, 3);
        assert.equal((await store.getFlag('f'))?.flag.owner, 'y');
      });

      it('rejects a replace with a stale ifRevision and writes nothing', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        await store.replaceFlag('f', { ...sampleFlag('f'), owner: 'second' }, ALICE);
        const before = await store.getFlag('f');
        await rejectsWith(
          store.replaceFlag('f', { ...sampleFlag('f'), owner: 'stale' }, BOB, { ifRevision: created.revision }),
          'PRECONDITION_FAILED',
        );
        assert.deepEqual(await store.getFlag('f'), before);
        assert.equal(await store.currentRevision(), 2);
        assert.equal((await store.queryAudit({})).length, 2);
      });

      it('rejects a replace of a missing flag with FLAG_NOT_FOUND', async () => {
        await rejectsWith(store.replaceFlag('ghost', sampleFlag('ghost'), ALICE), 'FLAG_NOT_FOUND');
        await rejectsWith(store.replaceFlag('ghost', sampleFlag('ghost'), ALICE, { ifRevision: 1 }), 'FLAG_NOT_FOUND');
        assert.equal(await store.currentRevision(), 0);
      });

      it('rejects a replace whose body names a different key', async () => {
        await store.createFlag(sampleFlag('f'), ALICE);
        await assert.rejects(store.replaceFlag('f', sampleFlag('g'), ALICE), AppError);
        assert.equal(await store.currentRevision(), 1);
        assert.equal(await store.getFlag('g'), undefined);
      });

      it('updates a flag through a mutation callback', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        let seen: Flag | undefined;
        const updated = await store.updateFlag(
          'f',
          (current) => {
            seen = structuredClone(current);
            current.environments.production = { state: 'ENABLED' };
            return current;
          },
          BOB,
          { ifRevision: created.revision },
        );
        assert.deepEqual(seen, sampleFlag('f'));
        assert.equal(updated.revision, 2);
        assert.equal(updated.flag.environments.production?.state, 'ENABLED');
        assert.deepEqual(await store.getFlag('f'), updated);
        const [audit] = await store.queryAudit({ limit: 1 });
        assert.equal(audit?.action, 'update');
        assert.equal(audit?.actor, 'bob');
        assert.deepEqual(audit?.before, sampleFlag('f'));
        assert.deepEqual(audit?.after, updated.flag);
      });

      it('rolls back when the mutation callback throws, rethrowing its error', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        const refusal = new AppError('VALIDATION_FAILED', 'no');
        await assert.rejects(
          store.updateFlag(
            'f',
            (current) => {
              // Mutating the copy before throwing must not leak into the stored flag.
              current.description = 'half-done';
              throw refusal;
            },
            BOB,
          ),
          (error) => error === refusal,
        );
        assert.deepEqual(await store.getFlag('f'), created);
        assert.equal(await store.currentRevision(), 1);
        assert.equal((await store.queryAudit({})).length, 1);
        assert.equal((await store.createFlag(sampleFlag('g'), ALICE)).revision, 2);
      });

      it('rejects an update with a stale ifRevision without calling the callback', async () => {
        await store.createFlag(sampleFlag('f'), ALICE);
        let called = false;
        await rejectsWith(
          store.updateFlag(
            'f',
            (current) => {
              called = true;
              return current;
            },
            BOB,
            { ifRevision: 99 },
          ),
          'PRECONDITION_FAILED',
        );
        assert.equal(called, false);
        assert.equal(await store.currentRevision(), 1);
      });

      it('rejects an update of a missing flag with FLAG_NOT_FOUND', async () => {
        await rejectsWith(
          store.updateFlag('ghost', (f) => f, ALICE),
          'FLAG_NOT_FOUND',
        );
        assert.equal(await store.currentRevision(), 0);
      });

      it('deletes a flag when ifRevision matches', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        const result = await store.deleteFlag('f', BOB, { ifRevision: created.revision });
        assert.deepEqual(result, { revision: 2 });
        assert.equal(await store.getFlag('f'), undefined);
        assert.deepEqual(await store.listFlags(), []);
        const [audit] = await store.queryAudit({ limit: 1 });
        assert.deepEqual(pickAudit(audit), {
          revision: 2,
          actor: 'bob',
          entityType: 'flag',
          entityKey: 'f',
          action: 'delete',
          before: sampleFlag('f'),
          after: null,
        });
        // The key is free again.
        assert.equal((await store.createFlag(sampleFlag('f'), ALICE)).revision, 3);
      });

      it('rejects a delete with a stale ifRevision and keeps the flag', async () => {
        const created = await store.createFlag(sampleFlag('f'), ALICE);
        await rejectsWith(store.deleteFlag('f', BOB, { ifRevision: created.revision + 1 }), 'PRECONDITION_FAILED');
        assert.deepEqual(await store.getFlag('f'), created);
        assert.equal(await store.currentRevision(), 1);
      });

      it('rejects a delete of a missing flag with FLAG_NOT_FOUND', async () => {
        await rejectsWith(store.deleteFlag('ghost', ALICE), 'FLAG_NOT_FOUND');
        assert.equal(await store.currentRevision(), 0);
      });
    });

    describe('evaluators', () => {
      it('creates, reads, lists, replaces and deletes evaluators', async () => {
        const created = await store.putEvaluator('is-staff', STAFF_RULE, ALICE);
        assert.deepEqual(created, { name: 'is-staff', logic: STAFF_RULE, revision: 1 });
        assert.deepEqual(await store.getEvaluator('is-staff'), created);
        await store.putEvaluator('beta', { in: ['beta', { var: 'groups' }] }, ALICE);
        assert.deepEqual(
          (await store.listEvaluators()).map((e) => e.name),
          ['beta', 'is-staff'],
        );

        const replacement = { '==': [{ var: 'role' }, 'staff'] };
        const replaced = await store.putEvaluator('is-staff', replacement, BOB, { ifRevision: 1 });
        assert.deepEqual(replaced, { name: 'is-staff', logic: replacement, revision: 3 });
        assert.deepEqual(await store.getEvaluator('is-staff'), replaced);

        const deleted = await store.deleteEvaluator('is-staff', BOB, { ifRevision: 3 });
        assert.deepEqual(deleted, { revision: 4 });
        assert.equal(await store.getEvaluator('is-staff'), undefined);

        const audit = await store.queryAudit({ entityType: 'evaluator', entityKey: 'is-staff' });
        assert.deepEqual(
          audit.map((a) => [a.revision, a.action, a.before, a.after]),
          [
            [4, 'delete', { name: 'is-staff', logic: replacement }, null],
            [3, 'update', { name: 'is-staff', logic: STAFF_RULE }, { name: 'is-staff', logic: replacement }],
            [1, 'create', null, { name: 'is-staff', logic: STAFF_RULE }],
          ],
        );
      });

      it('replaces without ifRevision', async () => {
        await store.putEvaluator('e', STAFF_RULE, ALICE);
        const replaced = await store.putEvaluator('e', { var: 'x' }, ALICE);
        assert.deepEqual(replaced, { name: 'e', logic: { var: 'x' }, revision: 2 });
      });

      it('rejects a put or delete with a stale ifRevision and writes nothing', async () => {
        await store.putEvaluator('e', STAFF_RULE, ALICE);
        await rejectsWith(store.putEvaluator('e', { var: 'x' }, BOB, { ifRevision: 7 }), 'PRECONDITION_FAILED');
        await rejectsWith(store.deleteEvaluator('e', BOB, { ifRevision: 7 }), 'PRECONDITION_FAILED');
        // ifRevision names a version that must exist, so it cannot create.
        await rejectsWith(store.putEvaluator('new', STAFF_RULE, BOB, { ifRevision: 1 }), 'PRECONDITION_FAILED');
        assert.deepEqual(await store.getEvaluator('e'), { name: 'e', logic: STAFF_RULE, revision: 1 });
        assert.equal(await store.getEvaluator('new'), undefined);
        assert.equal(await store.currentRevision(), 1);
      });

      it('rejects deleting a missing evaluator with EVALUATOR_NOT_FOUND', async () => {
        await rejectsWith(store.deleteEvaluator('ghost', ALICE), 'EVALUATOR_NOT_FOUND');
        assert.equal(await store.currentRevision(), 0);
      });
    });

    describe('tokens', () => {
      it('creates, lists and reads tokens', async () => {
        const admin = await store.createToken(
          { id: 'tok-1', name: 'ci', kind: 'admin', environment: null, hash: `${SECRET_HASH}1` },
          ALICE,
        );
        assert.equal(admin.revokedAt, null);
        assertIsoTime(admin.createdAt);
        assert.deepEqual(admin, {
          id: 'tok-1',
          name: 'ci',
          kind: 'admin',
          environment: null,
          flagSet: null,
          hash: `${SECRET_HASH}1`,
          createdAt: admin.createdAt,
          revokedAt: null,
        });
        const client = await store.createToken(
          { id: 'tok-2', name: 'web', kind: 'client', environment: 'production', hash: `${SECRET_HASH}2` },
          ALICE,
        );
        assert.deepEqual(await store.getToken('tok-1'), admin);
        assert.deepEqual(await store.getToken('tok-2'), client);
        assert.equal(await store.getToken('tok-3'), undefined);
        assert.deepEqual((await store.listTokens()).map((t) => t.id).sort(), ['tok-1', 'tok-2']);
        assert.equal(await store.currentRevision(), 2);
      });

      it("keeps a client token's flag set (migration 4), null when none is given, and audits it", async () => {
        const limited = await store.createToken(
          {
            id: 'set-1',
            name: 'payments-web',
            kind: 'client',
            environment: 'production',
            flagSet: 'payments',
            hash: `${SECRET_HASH}s1`,
          },
          ALICE,
        );
        assert.equal(limited.flagSet, 'payments');
        assert.deepEqual(await store.getToken('set-1'), limited);
        const unlimited = await store.createToken(
          { id: 'set-2', name: 'web', kind: 'client', environment: 'production', hash: `${SECRET_HASH}s2` },
          ALICE,
        );
        assert.equal(unlimited.flagSet, null);
        assert.deepEqual(
          (await store.listTokens()).map((t) => [t.id, t.flagSet]),
          [
            ['set-1', 'payments'],
            ['set-2', null],
          ],
        );
        const revoked = await store.revokeToken('set-1', ALICE);
        assert.equal(revoked.flagSet, 'payments');
        const [create] = await store
          .queryAudit({ entityType: 'token', entityKey: 'set-1', limit: 2 })
          .then((a) => a.slice(-1));
        assert.equal((create!.after as { flagSet?: string }).flagSet, 'payments');
      });

      it('revokes a token once; revoking again is a no-op', async () => {
        await store.createToken({ id: 't', name: 'web', kind: 'client', environment: 'dev', hash: SECRET_HASH }, ALICE);
        const revoked = await store.revokeToken('t', BOB);
        assert.ok(revoked.revokedAt);
        assertIsoTime(revoked.revokedAt);
        assert.deepEqual(await store.getToken('t'), revoked);
        assert.equal(await store.currentRevision(), 2);

        const again = await store.revokeToken('t', BOB);
        assert.deepEqual(again, revoked);
        assert.equal(await store.currentRevision(), 2);
        assert.equal((await store.queryAudit({ entityType: 'token' })).length, 2);
      });

      it('rejects revoking a missing token with TOKEN_NOT_FOUND', async () => {
        await rejectsWith(store.revokeToken('ghost', ALICE), 'TOKEN_NOT_FOUND');
        assert.equal(await store.currentRevision(), 0);
      });

      it('never writes the token hash into the audit log', async () => {
        await store.createToken({ id: 't', name: 'web', kind: 'client', environment: 'dev', hash: SECRET_HASH }, ALICE);
        await store.revokeToken('t', ALICE);
        const audit = await store.queryAudit({ entityType: 'token', entityKey: 't' });
        assert.deepEqual(
          audit.map((a) => a.action),
          ['revoke', 'create'],
        );
        assert.ok(!JSON.stringify(audit).includes(SECRET_HASH), 'audit records must not contain the token hash');
        assert.equal((audit[1]!.after as { name?: string }).name, 'web');
      });
    });

    describe('revisions and audit', () => {
      it('bumps the revision by exactly one per write, each with an audit record', async () => {
        const writes: (() => Promise<unknown>)[] = [
          () => store.createFlag(sampleFlag('f'), ALICE),
          () => store.replaceFlag('f', { ...sampleFlag('f'), owner: 'o' }, ALICE),
          () => store.updateFlag('f', (x) => ({ ...x, description: 'd' }), BOB),
          () => store.putEvaluator('e', STAFF_RULE, ALICE),
          () => store.createToken({ id: 't', name: 'n', kind: 'admin', environment: null, hash: SECRET_HASH }, BOB),
          () => store.revokeToken('t', BOB),
          () => store.deleteEvaluator('e', ALICE),
          () => store.deleteFlag('f', ALICE),
        ];
        for (const [index, write] of writes.entries()) {
          await write();
          assert.equal(await store.currentRevision(), index + 1);
        }
        const audit = await store.queryAudit({});
        assert.deepEqual(
          audit.map((a) => a.revision),
          [8, 7, 6, 5, 4, 3, 2, 1],
        );
        assert.deepEqual(audit.map((a) => `${a.entityType}:${a.entityKey}:${a.action}:${a.actor}`).reverse(), [
          'flag:f:create:alice',
          'flag:f:update:alice',
          'flag:f:update:bob',
          'evaluator:e:create:alice',
          'token:t:create:bob',
          'token:t:revoke:bob',
          'evaluator:e:delete:alice',
          'flag:f:delete:alice',
        ]);
        for (const record of audit) assertIsoTime(record.at);
      });

      it('returns changes since a revision in revision order', async () => {
        await store.createFlag(sampleFlag('a'), ALICE);
        await store.putEvaluator('e', STAFF_RULE, ALICE);
        await store.createFlag(sampleFlag('b'), ALICE);
        await store.createToken({ id: 't', name: 'n', kind: 'admin', environment: null, hash: SECRET_HASH }, ALICE);
        await store.deleteFlag('a', ALICE);
        assert.deepEqual(await store.changesSince(0), [
          { revision: 1, entityType: 'flag', entityKey: 'a' },
          { revision: 2, entityType: 'evaluator', entityKey: 'e' },
          { revision: 3, entityType: 'flag', entityKey: 'b' },
          { revision: 4, entityType: 'token', entityKey: 't' },
          { revision: 5, entityType: 'flag', entityKey: 'a' },
        ]);
        assert.deepEqual(
          (await store.changesSince(3)).map((c) => c.revision),
          [4, 5],
        );
        assert.deepEqual(await store.changesSince(5), []);
      });

      it('filters audit records and returns them newest first', async () => {
        await store.createFlag(sampleFlag('a'), ALICE);
        await store.createFlag(sampleFlag('b'), BOB);
        await store.replaceFlag('a', { ...sampleFlag('a'), owner: 'x' }, BOB);
        await store.putEvaluator('a', STAFF_RULE, ALICE);
        await store.deleteFlag('b', ALICE);
        const all = await store.queryAudit({});
        assert.deepEqual(
          all.map((a) => a.revision),
          [5, 4, 3, 2, 1],
        );

        const revisions = async (query: Parameters<Store['queryAudit']>[0]) =>
          (await store.queryAudit(query)).map((a) => a.revision);
        assert.deepEqual(await revisions({ entityKey: 'a' }), [4, 3, 1]);
        assert.deepEqual(await revisions({ entityType: 'flag', entityKey: 'a' }), [3, 1]);
        assert.deepEqual(await revisions({ entityType: 'evaluator' }), [4]);
        assert.deepEqual(await revisions({ actor: 'bob' }), [3, 2]);
        assert.deepEqual(await revisions({ beforeRevision: 4 }), [3, 2, 1]);
        assert.deepEqual(await revisions({ beforeRevision: 4, limit: 2 }), [3, 2]);
        assert.deepEqual(await revisions({ limit: 1 }), [5]);
        assert.deepEqual(await revisions({ actor: 'alice', beforeRevision: 5 }), [4, 1]);

        // Time bounds are inclusive; every record's own `at` must select it.
        const third = all.find((a) => a.revision === 3)!;
        assert.ok((await revisions({ since: third.at, until: third.at })).includes(3));
        assert.deepEqual(
          await revisions({ since: all[0]!.at }),
          all.filter((a) => a.at >= all[0]!.at).map((a) => a.revision),
        );
        assert.deepEqual(
          await revisions({ until: all[4]!.at }),
          all.filter((a) => a.at <= all[4]!.at).map((a) => a.revision),
        );
        const future = new Date(Date.now() + 3_600_000).toISOString();
        const past = new Date(Date.now() - 3_600_000).toISOString();
        assert.deepEqual(await revisions({ since: future }), []);
        assert.deepEqual(await revisions({ until: past }), []);
        assert.deepEqual(await revisions({ since: past, until: future }), [5, 4, 3, 2, 1]);
      });

      it('separates time-filtered audit records written at different times', async () => {
        await store.createFlag(sampleFlag('early'), ALICE);
        await sleep(15);
        const boundary = new Date().toISOString();
        await sleep(15);
        await store.createFlag(sampleFlag('late'), ALICE);
        assert.deepEqual(
          (await store.queryAudit({ until: boundary })).map((a) => a.entityKey),
          ['early'],
        );
        assert.deepEqual(
          (await store.queryAudit({ since: boundary })).map((a) => a.entityKey),
          ['late'],
        );
      });

      it('caps the audit page at 1000 and defaults to 100', async () => {
        for (let i = 0; i < 105; i++) await store.putEvaluator('e', { var: `v${i}` }, ALICE);
        assert.equal((await store.queryAudit({})).length, 100);
        assert.equal((await store.queryAudit({ limit: 5000 })).length, 105);
        assert.equal((await store.queryAudit({ limit: 3 })).length, 3);
      });
    });

    describe('secret rotations and their audit', () => {
      const rotation = (id: string, bundle: string, status: string, startedAt: string) => ({
        id,
        bundle,
        status,
        startedAt,
        state: { id, bundle, status, startedAt, step: 'write', history: [{ step: 'write', outcome: 'started' }] },
      });

      it('appends rotation steps as secret audit records that bump the revision and are filtered like any other', async () => {
        await store.createFlag(sampleFlag('f'), ALICE);
        const at = '2026-01-02T03:04:05.678Z';
        const record = await store.appendSecretAudit({
          at,
          actor: BOB,
          bundle: 'auth-service/jwt',
          action: 'rotate',
          details: { rotation: 'r-1', event: 'vault-written', previousVersion: 3, version: 4 },
        });
        assert.deepEqual(record, {
          revision: 2,
          at,
          actor: 'bob',
          entityType: 'secret',
          entityKey: 'auth-service/jwt',
          action: 'rotate',
          before: null,
          after: { rotation: 'r-1', event: 'vault-written', previousVersion: 3, version: 4 },
        });
        await store.appendSecretAudit({
          at,
          actor: ALICE,
          bundle: 'auth-service/jwt',
          action: 'rollback',
          details: { rotation: 'r-2', event: 'failed', step: 'write', reason: 'sealed' },
        });
        assert.equal(await store.currentRevision(), 3);
        assert.deepEqual(await store.queryAudit({ entityType: 'secret' }), [
          {
            revision: 3,
            at,
            actor: 'alice',
            entityType: 'secret',
            entityKey: 'auth-service/jwt',
            action: 'rollback',
            before: null,
            after: { rotation: 'r-2', event: 'failed', step: 'write', reason: 'sealed' },
          },
          record,
        ]);
        assert.deepEqual(
          (await store.queryAudit({ entityType: 'secret', actor: 'bob' })).map((a) => a.revision),
          [2],
        );
        assert.deepEqual(
          (await store.changesSince(1)).map((c) => `${c.revision}:${c.entityType}:${c.entityKey}`),
          ['2:secret:auth-service/jwt', '3:secret:auth-service/jwt'],
        );
        await rejectsWith(
          store.appendSecretAudit({ at: 'yesterday', actor: BOB, bundle: 'a/b', action: 'rotate', details: {} }),
          'VALIDATION_FAILED',
        );
        assert.equal(await store.currentRevision(), 3, 'a refused record bumps nothing');
      });

      it('keeps rotation states, newest first, by bundle, without moving the revision', async () => {
        const now = Date.now();
        await store.saveSecretRotation(rotation('r-1', 'a/jwt', 'completed', '2026-01-01T00:00:00.000Z'), now);
        await store.saveSecretRotation(rotation('r-2', 'a/jwt', 'failed', '2026-01-02T00:00:00.000Z'), now);
        await store.saveSecretRotation(rotation('r-3', 'b/redis', 'completed', '2026-01-03T00:00:00.000Z'), now);
        assert.deepEqual(
          (await store.listSecretRotations('a/jwt')).map((r) => r.id),
          ['r-2', 'r-1'],
        );
        assert.deepEqual(
          (await store.listSecretRotations()).map((r) => r.id),
          ['r-3', 'r-2', 'r-1'],
        );
        const updated = rotation('r-2', 'a/jwt', 'completed', '2026-01-02T00:00:00.000Z');
        updated.state.step = 'wait-rollout';
        await store.saveSecretRotation(updated, now + 1);
        assert.deepEqual(await store.getSecretRotation('r-2'), updated);
        assert.equal(await store.getSecretRotation('r-none'), undefined);
        assert.equal(await store.currentRevision(), 0);
        assert.deepEqual(await store.queryAudit({}), []);
      });

      it('lets one running rotation per bundle claim it; a stale holder is taken over', async () => {
        const now = Date.now();
        const started = new Date(now).toISOString();
        assert.equal(
          await store.claimSecretRotation(rotation('r-1', 'a/jwt', 'running', started), now - 60_000, now),
          true,
        );
        assert.equal(
          await store.claimSecretRotation(rotation('r-2', 'a/jwt', 'running', started), now - 60_000, now),
          false,
          'r-1 runs',
        );
        assert.equal(await store.getSecretRotation('r-2'), undefined, 'a refused claim writes nothing');
        assert.equal(
          await store.claimSecretRotation(rotation('r-3', 'b/redis', 'running', started), now - 60_000, now),
          true,
          'another bundle is independent',
        );
        assert.equal(
          await store.claimSecretRotation(rotation('r-1', 'a/jwt', 'running', started), now - 60_000, now),
          true,
          'the holder may claim again (resume)',
        );
        assert.equal(
          await store.claimSecretRotation(rotation('r-4', 'a/jwt', 'running', started), now + 1, now + 120_000),
          true,
          'r-1 was not saved since staleBefore: taken over',
        );
        await store.saveSecretRotation(rotation('r-4', 'a/jwt', 'failed', started), now + 120_000);
        assert.equal(
          await store.claimSecretRotation(rotation('r-5', 'a/jwt', 'running', started), now - 60_000, now + 120_000),
          false,
          'r-1 still shows running and recent against this older staleBefore',
        );
        assert.equal((await store.getSecretRotation('r-4'))?.status, 'failed');
      });

      it('lets exactly one of several concurrent claims of one bundle win', async () => {
        const now = Date.now();
        const started = new Date(now).toISOString();
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            store.claimSecretRotation(rotation(`r-${i}`, 'a/jwt', 'running', started), now - 60_000, now),
          ),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.listSecretRotations('a/jwt')).length, 1);
      });
    });

    describe('replica presence', () => {
      it('keeps one report per replica, replaces it, expires it by time and deletes it', async () => {
        const now = Date.now();
        assert.deepEqual(await store.listPresence(now), []);
        await store.putPresence('replica-a', { clients: [{ app: 'api-gateway' }] }, now + 30_000);
        await store.putPresence('replica-b', { clients: [] }, now + 1_000);
        await store.putPresence('replica-a', { clients: [{ app: 'ai-gateway' }] }, now + 30_000);
        assert.deepEqual(await store.listPresence(now), [
          { replicaId: 'replica-a', report: { clients: [{ app: 'ai-gateway' }] } },
          { replicaId: 'replica-b', report: { clients: [] } },
        ]);
        assert.deepEqual(
          (await store.listPresence(now + 5_000)).map((p) => p.replicaId),
          ['replica-a'],
          'a replica that stopped reporting expires',
        );
        assert.deepEqual(
          (await store.listPresence(now)).map((p) => p.replicaId),
          ['replica-a'],
          'expired rows were deleted, not only hidden',
        );
        await store.deletePresence('replica-a');
        await store.deletePresence('replica-never-seen');
        assert.deepEqual(await store.listPresence(now), []);
      });

      it('presence writes do not move the revision or write audit records', async () => {
        const before = await store.currentRevision();
        await store.putPresence('replica-a', { clients: [] }, Date.now() + 10_000);
        assert.equal(await store.currentRevision(), before);
        assert.deepEqual(await store.queryAudit({}), []);
      });
    });

    describe('canaries', () => {
      const state = (phase: string, weight: number) => ({ service: 'ai-gateway', runId: 'run-1', phase, weight });
      const decision = (runId: string, action: string) => ({
        runId,
        at: new Date().toISOString(),
        decision: { action },
      });

      it('creates a canary at revision 1 only when none exists, and reads it back', async () => {
        assert.deepEqual(await store.listCanaries(), []);
        const created = await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-1', 'start'), null);
        assert.equal(created.revision, 1);
        assert.deepEqual(created.state, state('progressing', 5));
        assertIsoTime(created.updatedAt);
        assert.deepEqual(await store.getCanary('ai-gateway'), created);
        assert.deepEqual(await store.listCanaries(), [created]);
        assert.equal(await store.getCanary('other'), undefined);
        await rejectsWith(
          store.saveCanary('ai-gateway', state('progressing', 5), undefined, null),
          'PRECONDITION_FAILED',
        );
      });

      it('updates only at the expected revision and appends decisions atomically with the state', async () => {
        await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-1', 'start'), null);
        const next = await store.saveCanary('ai-gateway', state('progressing', 10), decision('run-1', 'advance'), 1);
        assert.equal(next.revision, 2);
        await rejectsWith(
          store.saveCanary('ai-gateway', state('rolled_back', 0), decision('run-1', 'rollback'), 1),
          'PRECONDITION_FAILED',
        );
        assert.deepEqual((await store.getCanary('ai-gateway'))?.state, state('progressing', 10));
        assert.deepEqual(await store.listCanaryDecisions('ai-gateway', 'run-1'), [
          { action: 'start' },
          { action: 'advance' },
        ]);
        // A save without a decision (e.g. "router confirmed") writes state only.
        await store.saveCanary('ai-gateway', state('progressing', 10), undefined, 2);
        assert.equal((await store.listCanaryDecisions('ai-gateway', 'run-1')).length, 2);
        // Canary writes are outside the flag revision stream.
        assert.equal(await store.currentRevision(), 0);
      });

      it('keeps decisions per run, oldest first, limited to the newest', async () => {
        await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-1', 'a'), null);
        await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-1', 'b'), 1);
        await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-2', 'c'), 2);
        await store.saveCanary('ai-gateway', state('progressing', 5), decision('run-1', 'd'), 3);
        assert.deepEqual(
          (await store.listCanaryDecisions('ai-gateway', 'run-1', 2)).map((d) => d.action),
          ['b', 'd'],
        );
        assert.deepEqual(await store.listCanaryDecisions('ai-gateway', 'run-2'), [{ action: 'c' }]);
        assert.deepEqual(await store.listCanaryDecisions('other', 'run-1'), []);
      });

      it('lets exactly one of two concurrent saves at the same revision win', async () => {
        await store.saveCanary('ai-gateway', state('progressing', 5), undefined, null);
        const results = await Promise.allSettled([
          store.saveCanary('ai-gateway', state('progressing', 10), decision('run-1', 'x'), 1),
          store.saveCanary('ai-gateway', state('paused', 5), decision('run-1', 'y'), 1),
        ]);
        assertOneWinner(results);
        assert.equal((await store.listCanaryDecisions('ai-gateway', 'run-1')).length, 1);
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of two concurrent updates with the same ifRevision win', async () => {
        const created = await store.createFlag(sampleFlag('race'), ALICE);
        const attempt = (owner: string) =>
          store.updateFlag('race', (f) => ({ ...f, owner }), ALICE, { ifRevision: created.revision });
        const results = await Promise.allSettled([attempt('one'), attempt('two')]);
        const winner = assertOneWinner(results);
        assert.equal(winner.revision, 2);
        assert.deepEqual(await store.getFlag('race'), winner);
        assert.equal(await store.currentRevision(), 2);
      });

      it('lets exactly one of two concurrent replaces with the same ifRevision win', async () => {
        const created = await store.createFlag(sampleFlag('race'), ALICE);
        const attempt = (owner: string) =>
          store.replaceFlag('race', { ...sampleFlag('race'), owner }, ALICE, { ifRevision: created.revision });
        const results = await Promise.allSettled([attempt('one'), attempt('two')]);
        const winner = assertOneWinner(results);
        assert.deepEqual(await store.getFlag('race'), winner);
        assert.equal(await store.currentRevision(), 2);
      });

      it('gives N concurrent creates N distinct consecutive revisions', async () => {
        const count = 20;
        const created = await Promise.all(
          Array.from({ length: count }, (_, i) => store.createFlag(sampleFlag(`flag-${i}`), ALICE)),
        );
        assert.deepEqual(
          created.map((c) => c.revision).sort((a, b) => a - b),
          Array.from({ length: count }, (_, i) => i + 1),
        );
        assert.equal(await store.currentRevision(), count);
        for (const c of created) assert.equal((await store.getFlag(c.flag.key))?.revision, c.revision);
        assert.deepEqual(
          (await store.changesSince(0)).map((c) => c.revision),
          Array.from({ length: count }, (_, i) => i + 1),
        );
      });

      it('lets exactly one of several concurrent creates of the same key win', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) => store.createFlag({ ...sampleFlag('same'), owner: `o${i}` }, ALICE)),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) {
          if (r.status === 'rejected') assertAppError(r.reason, 'FLAG_EXISTS');
        }
        assert.equal(await store.currentRevision(), 1);
      });
    });
  });
}

const ALICE: Actor = { name: 'alice' };
const BOB: Actor = { name: 'bob' };
/** Stands in for a token's SHA-256 so the audit log can be searched for it. */
const SECRET_HASH = 'sentinel-hash-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const STAFF_RULE = { in: [{ var: 'email' }, ['a@example.com', 'b@example.com']] };

function sampleFlag(key: string): Flag {
  return {
    key,
    type: 'boolean',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    environments: { development: { state: 'ENABLED' }, production: { state: 'DISABLED' } },
  };
}

function richFlag(key: string): Flag {
  return {
    key,
    description: 'Price tiers — with unicode ✓ and "quotes"',
    owner: 'payments',
    type: 'object',
    variants: {
      basic: { price: 9.99, features: ['a', 'b'], limits: { seats: 3, storage: null } },
      pro: { price: 29, features: [], limits: { seats: 50, storage: 1_000_000 } },
    },
    defaultVariant: 'basic',
    schema: {
      type: 'object',
      required: ['price'],
      properties: { price: { type: 'number', minimum: 0 }, features: { type: 'array', items: { type: 'string' } } },
    },
    sensitive: true,
    environments: {
      development: {
        state: 'ENABLED',
        targeting: {
          if: [{ in: [{ var: 'plan' }, ['pro', 'enterprise']] }, 'pro', { $ref: 'is-staff' }, 'pro', null],
        },
        overrides: { 'user-1': 'pro', 'user-2': 'basic' },
        rollout: { variant: 'pro', percentage: 12.5 },
      },
      production: { state: 'DISABLED', rollout: { variant: 'pro', percentage: 0 } },
    },
  };
}

function assertAppError(error: unknown, code: ErrorCode): void {
  assert.ok(error instanceof AppError, `expected AppError ${code}, got ${String(error)}`);
  assert.equal(error.code, code);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error) => {
    assertAppError(error, code);
    return true;
  });
}

function assertOneWinner<T>(results: PromiseSettledResult<T>[]): T {
  const fulfilled = results.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled');
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(fulfilled.length, 1, 'exactly one concurrent write must succeed');
  assert.equal(rejected.length, 1);
  assertAppError(rejected[0]!.reason, 'PRECONDITION_FAILED');
  return fulfilled[0]!.value;
}

function assertIsoTime(value: string): void {
  assert.equal(new Date(value).toISOString(), value, `"${value}" is not an ISO-8601 UTC timestamp`);
}

function pickAudit(record: AuditRecord | undefined): Omit<AuditRecord, 'at'> | undefined {
  if (!record) return undefined;
  assertIsoTime(record.at);
  const { at: _at, ...rest } = record;
  return rest;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
