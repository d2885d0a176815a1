import { collectRefs, validateEvaluators } from '@runtime-control/core';
import { AppError } from '../../errors/app-error.js';
import type { ChangeSync } from '../../state/change-sync.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Actor, Store, StoredEvaluator, WriteOptions } from '../../store/store.js';

/** Shared JsonLogic rules (flagd `$evaluators`), referenced from targeting as `{"$ref": name}`. */
export class EvaluatorService {
  constructor(
    private readonly store: Store,
    private readonly state: ReplicaState,
    private readonly sync: ChangeSync,
  ) {}

  list(): Promise<StoredEvaluator[]> {
    return this.store.listEvaluators();
  }

  async get(name: string): Promise<StoredEvaluator> {
    const e = await this.store.getEvaluator(name);
    if (!e) throw new AppError('EVALUATOR_NOT_FOUND', `evaluator "${name}" not found`);
    return e;
  }

  async put(name: string, logic: unknown, actor: Actor, options: WriteOptions): Promise<StoredEvaluator> {
    const result = validateEvaluators({ [name]: logic });
    if (!result.ok) {
      throw new AppError('VALIDATION_FAILED', result.issues[0]!.message, {
        details: result.issues.map((i) => ({ ...i, path: '' })),
      });
    }
    const stored = await this.store.putEvaluator(name, result.value[name]!, actor, options);
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  async delete(name: string, actor: Actor, options: WriteOptions): Promise<void> {
    const users = this.state
      .allFlags()
      .filter((s) => Object.values(s.flag.environments).some((e) => e.targeting && collectRefs(e.targeting).has(name)))
      .map((s) => s.flag.key);
    if (users.length > 0) {
      throw new AppError('EVALUATOR_IN_USE', `evaluator "${name}" is used by ${users.join(', ')}; change those first`);
    }
    const { revision } = await this.store.deleteEvaluator(name, actor, options);
    await this.sync.afterWrite(revision);
  }
}
