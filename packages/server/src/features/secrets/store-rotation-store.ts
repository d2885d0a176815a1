import type { JsonObject } from '@runtime-control/core';
import { RotationInProgressError, type RotationState, type RotationStore } from '@runtime-control/secrets';
import type { Store, StoredSecretRotation } from '../../store/store.js';

/**
 * The Rotator's `RotationStore` on the server's own store (SQLite or PostgreSQL, table `secret_rotations`): every
 * replica sharing the database sees the same rotations, and `claim` is the store's atomic check-and-mark, so one
 * rotation per bundle holds across replicas (the Rotator's in-process set only covers one process).
 */
export class StoreRotationStore implements RotationStore {
  constructor(
    private readonly store: Pick<
      Store,
      'claimSecretRotation' | 'saveSecretRotation' | 'getSecretRotation' | 'listSecretRotations'
    >,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(state: RotationState, staleAfterMs: number): Promise<void> {
    const now = this.now();
    const claimed = await this.store.claimSecretRotation(stored(state), now - staleAfterMs, now);
    if (!claimed) throw new RotationInProgressError(state.bundle);
  }

  async save(state: RotationState): Promise<void> {
    await this.store.saveSecretRotation(stored(state), this.now());
  }

  async get(id: string): Promise<RotationState | undefined> {
    const row = await this.store.getSecretRotation(id);
    return row && (row.state as unknown as RotationState);
  }

  async list(bundle?: string): Promise<RotationState[]> {
    return (await this.store.listSecretRotations(bundle)).map((r) => r.state as unknown as RotationState);
  }
}

function stored(state: RotationState): StoredSecretRotation {
  // A state is plain JSON (strings, numbers, arrays of records); the round trip drops `undefined` fields as the
  // stores' JSON columns would.
  return {
    id: state.id,
    bundle: state.bundle,
    status: state.status,
    startedAt: state.startedAt,
    state: JSON.parse(JSON.stringify(state)) as JsonObject,
  };
}
