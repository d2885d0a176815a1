import { collectRefs, pointer, validateEvaluators } from '@runtime-control/core';
import { AppError, type ErrorDetail } from '../../errors/app-error.js';
import type { ChangeSync } from '../../state/change-sync.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Actor, Store, StoredEvaluator, WriteOptions } from '../../store/store.js';
import { validateServable } from '../flags/flag-service.js';

/** Shared JsonLogic rules (flagd `$evaluators`), referenced from targeting as `{"$ref": name}`. */
export class EvaluatorService {
  constructor(
    private readonly store: Store,
    private readonly state: ReplicaState,
    private readonly sync: ChangeSync,
    private readonly environments: readonly string[],
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
      const prefix = pointer(name);
      throw new AppError('VALIDATION_FAILED', result.issues[0]!.message, {
        details: result.issues.map((i) => ({
          ...i,
          path: i.path.startsWith(prefix) ? i.path.slice(prefix.length) : '',
        })),
      });
    }
    this.checkUsers(name, result.value[name]!);
    const stored = await this.store.putEvaluator(name, result.value[name]!, actor, options);
    await this.sync.afterWrite(stored.revision);
    return stored;
  }

  /** Every flag that uses the evaluator must still load and serve with its new logic, or nothing is written. */
  private checkUsers(name: string, logic: StoredEvaluator['logic']): void {
    const evaluators = { ...this.state.evaluatorMap(), [name]: logic };
    const problems: ErrorDetail[] = [];
    for (const stored of this.state.allFlags()) {
      const uses = Object.values(stored.flag.environments).some(
        (e) => e.targeting && collectRefs(e.targeting).has(name),
      );
      if (!uses) continue;
      try {
        validateServable(stored.flag, this.environments, evaluators);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        for (const d of err.details.length > 0 ? err.details : [{ path: '', code: err.code, message: err.message }]) {
          problems.push({
            path: `/flags${pointer(stored.flag.key)}${d.path}`,
            code: d.code,
            message: `flag "${stored.flag.key}" would break: ${d.message}`,
          });
        }
      }
    }
    if (problems.length > 0) {
      throw new AppError('INVALID_TARGETING', `evaluator "${name}" cannot change: ${problems[0]!.message}`, {
        details: problems,
        path: '',
      });
    }
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
