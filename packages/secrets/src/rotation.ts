import { randomUUID } from 'node:crypto';
import type { SecretBackend } from './backend.js';
import { bundleId, type SecretBundle } from './bundle.js';
import { BackendRequestError, SecretsError } from './errors.js';
import type { SecretsCluster } from './kubernetes-secrets.js';
import { type SecretsLogger, silentLogger } from './logger.js';
import { restoreVersion, writeRotatedValue } from './rotation-write.js';

/**
 * Rotation end to end, one step after the other:
 *
 *  1. `write`        the new value with check-and-set on the current Vault version (the previous one is kept);
 *  2. `force-sync`   annotate the ExternalSecret (`force-sync=<ms>`), after checking ESO will honour it
 *                    (`refreshInterval: 0` and `CreatedOnce` ignore it);
 *  3. `wait-synced`  until it is Ready/SecretSynced with a new `syncedResourceVersion` and a `refreshTime` not before
 *                    the write (a transition to SecretSyncedError after the annotation fails the step with ESO's
 *                    message; an error it already showed is waited out until the timeout);
 *  4. `restart`      every consumer Deployment (`kubectl.kubernetes.io/restartedAt`, as `kubectl rollout restart`);
 *  5. `wait-rollout` until each has observed its new generation with every replica updated and available
 *                    (`ProgressDeadlineExceeded` fails the step).
 *
 * On the local backend (no cluster, no ExternalSecret) only `write` runs. One rotation per bundle at a time
 * (`RotationInProgressError`, code CONFLICT). A failure stops at its step with the reason in the state; `resume`
 * continues from that step (a failed `wait-synced` from a new `force-sync`), `rollback` writes the previous version back and syncs and restarts again. The state, the
 * progress callbacks and the audit events carry versions, actor, times and reasons — never the value, which is not
 * kept anywhere after the write.
 */

export type RotationStep = 'write' | 'force-sync' | 'wait-synced' | 'restart' | 'wait-rollout';
export const ROTATION_STEPS: RotationStep[] = ['write', 'force-sync', 'wait-synced', 'restart', 'wait-rollout'];

export interface RotationState {
  id: string;
  bundle: string;
  property: string;
  actor: string;
  kind: 'rotation' | 'rollback';
  startedAt: string;
  finishedAt?: string;
  status: 'running' | 'failed' | 'completed';
  /** The step running, or the one that failed. */
  step: RotationStep;
  previousVersion?: number;
  version?: number;
  writtenAt?: string;
  forceSyncValue?: string;
  syncedBefore?: string;
  /** The ExternalSecret's Ready condition when force-sync was set: a failure counts only as a new transition. */
  readyBefore?: { status: string; lastTransitionTime?: string };
  restartedAt?: string;
  error?: { step: RotationStep; code: string; message: string };
  history: { step: RotationStep; outcome: 'started' | 'succeeded' | 'failed'; at: string; detail?: string }[];
}

export interface RotationEvent {
  rotation: string;
  bundle: string;
  kind: RotationState['kind'];
  actor: string;
  step: RotationStep;
  outcome: 'started' | 'succeeded' | 'failed';
  at: string;
  previousVersion?: number;
  version?: number;
  detail?: string;
}

export class RotationInProgressError extends BackendRequestError {
  constructor(bundle: string) {
    super('CONFLICT', `a rotation of ${bundle} is already running`, {
      operation: 'rotate',
      path: bundle,
      backend: 'local',
    });
  }
}

export class RotationStepError extends SecretsError {
  readonly step: RotationStep;
  readonly state: RotationState;

  constructor(state: RotationState, step: RotationStep, reason: string) {
    super('BAD_REQUEST', `rotation ${state.bundle} stopped at ${step}: ${reason}`, {
      operation: 'rotate',
      path: state.bundle,
      backend: 'kubernetes',
    });
    this.step = step;
    this.state = state;
  }
}

/**
 * Where rotation states are kept so that a rotation can be shown, resumed or rolled back after a restart, and so that
 * one rotation per bundle holds across processes sharing the store. A state carries no value.
 */
export interface RotationStore {
  /**
   * Marks the rotation running for its bundle; `RotationInProgressError` when another rotation of the bundle is
   * running (a running one not saved for `staleAfterMs` is taken over: its process is gone).
   */
  claim(state: RotationState, staleAfterMs: number): Promise<void>;
  save(state: RotationState): Promise<void>;
  get(id: string): Promise<RotationState | undefined>;
  /** Newest first. */
  list(bundle?: string): Promise<RotationState[]>;
}

export interface RotatorOptions {
  backend: SecretBackend;
  /** Keeps states across restarts and processes; without it, states live in the caller's hands only. */
  store?: RotationStore;
  /** A running rotation not saved for this long is considered abandoned; 30 minutes when omitted. */
  staleAfterMs?: number;
  cluster?: SecretsCluster;
  /** Audit sink: every step's start, success and failure. */
  audit?: (event: RotationEvent) => void;
  logger?: SecretsLogger;
  pollMs?: number;
  syncTimeoutMs?: number;
  rolloutTimeoutMs?: number;
  now?: () => number;
}

export class Rotator {
  private readonly running = new Set<string>();
  private readonly pollMs: number;
  private readonly syncTimeoutMs: number;
  private readonly rolloutTimeoutMs: number;
  private readonly now: () => number;
  private readonly logger: SecretsLogger;

  constructor(private readonly options: RotatorOptions) {
    this.pollMs = options.pollMs ?? 1000;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 120_000;
    this.rolloutTimeoutMs = options.rolloutTimeoutMs ?? 600_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  /** Whether a rotation of the bundle is running in this process. */
  isRunning(bundle: SecretBundle): boolean {
    return this.running.has(bundleId(bundle));
  }

  /**
   * Rotates `property` of the bundle to `value` (the caller generates it for a `generated` policy). Resolves with the
   * completed state; rejects with `RotationStepError` (whose `state` can be resumed or rolled back).
   */
  rotate(
    bundle: SecretBundle,
    input: {
      property: string;
      value: string;
      actor: string;
      expectedVersion?: number;
      /** Create the secret when none exists at the bundle's path (see `writeRotatedValue`). */
      create?: boolean;
      onProgress?: (state: RotationState) => void;
    },
  ): Promise<RotationState> {
    if (!(input.property in bundle.properties)) {
      return Promise.reject(
        new BackendRequestError('BAD_REQUEST', `bundle ${bundleId(bundle)} has no property ${input.property}`, {
          operation: 'rotate',
          path: bundleId(bundle),
          backend: this.options.backend.kind,
        }),
      );
    }
    const state: RotationState = {
      id: randomUUID(),
      bundle: bundleId(bundle),
      property: input.property,
      actor: input.actor,
      kind: 'rotation',
      startedAt: this.iso(),
      status: 'running',
      step: 'write',
      history: [],
    };
    let value: string | undefined = input.value;
    return this.exclusive(bundle, () =>
      this.run(bundle, state, input.onProgress, async () => {
        const written = await writeRotatedValue(this.options.backend, {
          path: bundle.path,
          property: input.property,
          value: value!,
          ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }),
          ...(input.create ? { create: true } : {}),
          logger: this.logger,
        });
        value = undefined;
        return written;
      }),
    );
  }

  /** Continues a failed rotation from the step that failed (a failed `write` needs the value again). */
  resume(
    bundle: SecretBundle,
    failed: RotationState,
    input: { value?: string; onProgress?: (state: RotationState) => void } = {},
  ): Promise<RotationState> {
    const state: RotationState = structuredClone(failed);
    state.status = 'running';
    // A failed sync is retried from a new force-sync (ESO may still show the old failure until it retries).
    if (state.step === 'wait-synced') state.step = 'force-sync';
    delete state.error;
    delete state.finishedAt;
    let value = input.value;
    return this.exclusive(bundle, () =>
      this.run(bundle, state, input.onProgress, async () => {
        if (value === undefined)
          throw new BackendRequestError('BAD_REQUEST', 'resuming at write needs the value again', {
            operation: 'rotate',
            path: state.bundle,
            backend: this.options.backend.kind,
          });
        const written = await writeRotatedValue(this.options.backend, {
          path: bundle.path,
          property: state.property,
          value,
          logger: this.logger,
        });
        value = undefined;
        return written;
      }),
    );
  }

  /** Writes the version before the rotation back as a new version, then syncs and restarts as a rotation does. */
  rollback(
    bundle: SecretBundle,
    rotation: RotationState,
    input: { actor: string; onProgress?: (state: RotationState) => void },
  ): Promise<RotationState> {
    if (rotation.previousVersion === undefined || rotation.previousVersion === 0) {
      return Promise.reject(
        new BackendRequestError(
          'BAD_REQUEST',
          'nothing to roll back: the rotation wrote no version or created the secret',
          {
            operation: 'rollback',
            path: rotation.bundle,
            backend: this.options.backend.kind,
          },
        ),
      );
    }
    const previous = rotation.previousVersion;
    const state: RotationState = {
      id: randomUUID(),
      bundle: rotation.bundle,
      property: rotation.property,
      actor: input.actor,
      kind: 'rollback',
      startedAt: this.iso(),
      status: 'running',
      step: 'write',
      history: [],
    };
    return this.exclusive(bundle, () =>
      this.run(bundle, state, input.onProgress, async () => {
        const metadata = await this.options.backend.readMetadata(bundle.path);
        const restored = await restoreVersion(this.options.backend, {
          path: bundle.path,
          version: previous,
          expectedCurrentVersion: metadata.currentVersion,
          logger: this.logger,
        });
        return { previousVersion: metadata.currentVersion, version: restored.version };
      }),
    );
  }

  private async exclusive<T>(bundle: SecretBundle, fn: () => Promise<T>): Promise<T> {
    const id = bundleId(bundle);
    if (this.running.has(id)) throw new RotationInProgressError(id);
    this.running.add(id);
    try {
      return await fn();
    } finally {
      this.running.delete(id);
    }
  }

  private async run(
    bundle: SecretBundle,
    state: RotationState,
    onProgress: ((state: RotationState) => void) | undefined,
    write: () => Promise<{ previousVersion: number; version: number }>,
  ): Promise<RotationState> {
    const cluster = this.options.cluster;
    const steps: RotationStep[] = cluster && bundle.externalSecret ? ROTATION_STEPS : ['write'];
    await this.options.store?.claim(structuredClone(state), this.options.staleAfterMs ?? 30 * 60_000);
    for (const step of steps.slice(Math.max(0, steps.indexOf(state.step)))) {
      state.step = step;
      this.record(state, step, 'started', onProgress);
      await this.persist(state);
      try {
        const detail = await this.runStep(bundle, state, step, write);
        this.record(state, step, 'succeeded', onProgress, detail);
        await this.persist(state);
      } catch (error) {
        const reason = error instanceof SecretsError ? error.message : 'unexpected error';
        const code = error instanceof SecretsError ? error.code : 'UNEXPECTED';
        state.status = 'failed';
        state.error = { step, code, message: reason };
        state.finishedAt = this.iso();
        this.record(state, step, 'failed', onProgress, reason);
        await this.persist(state);
        throw new RotationStepError(structuredClone(state), step, reason);
      }
    }
    state.status = 'completed';
    state.finishedAt = this.iso();
    await this.persist(state);
    onProgress?.(structuredClone(state));
    return structuredClone(state);
  }

  private async persist(state: RotationState): Promise<void> {
    await this.options.store?.save(structuredClone(state));
  }

  private async runStep(
    bundle: SecretBundle,
    state: RotationState,
    step: RotationStep,
    write: () => Promise<{ previousVersion: number; version: number }>,
  ): Promise<string> {
    const cluster = this.options.cluster!;
    const es = bundle.externalSecret!;
    switch (step) {
      case 'write': {
        const written = await write();
        state.previousVersion = written.previousVersion;
        state.version = written.version;
        state.writtenAt = this.iso();
        return `version ${written.previousVersion} → ${written.version}`;
      }
      case 'force-sync': {
        const current = await cluster.getExternalSecret(es.namespace, es.name);
        if (current.refreshPolicy === 'CreatedOnce')
          throw stepError(state, step, 'refreshPolicy CreatedOnce never refreshes: force-sync is ignored');
        if (current.refreshInterval !== undefined && isZeroDuration(current.refreshInterval)) {
          throw stepError(
            state,
            step,
            `refreshInterval ${current.refreshInterval}: ESO ignores force-sync after the first sync`,
          );
        }
        state.syncedBefore = current.syncedResourceVersion ?? '';
        state.readyBefore = current.ready
          ? {
              status: current.ready.status,
              ...(current.ready.lastTransitionTime ? { lastTransitionTime: current.ready.lastTransitionTime } : {}),
            }
          : { status: 'Unknown' };
        state.forceSyncValue = String(this.now());
        await cluster.forceSync(es.namespace, es.name, state.forceSyncValue);
        return `annotated force-sync=${state.forceSyncValue}`;
      }
      case 'wait-synced': {
        const since = Math.floor(Date.parse(state.writtenAt ?? state.startedAt) / 1000) * 1000;
        const synced = await this.poll(
          this.syncTimeoutMs,
          async () => {
            const current = await cluster.getExternalSecret(es.namespace, es.name);
            const ready = current.ready;
            if (
              ready?.status === 'True' &&
              ready.reason === 'SecretSynced' &&
              current.syncedResourceVersion !== state.syncedBefore &&
              current.refreshTime !== undefined &&
              Date.parse(current.refreshTime) >= since
            ) {
              return { done: true, detail: `synced at ${current.refreshTime}` };
            }
            const before = state.readyBefore;
            const newFailure =
              ready?.status === 'False' &&
              !(before?.status === 'False' && before.lastTransitionTime === ready.lastTransitionTime);
            if (newFailure) {
              throw stepError(
                state,
                step,
                `ExternalSecret ${es.namespace}/${es.name}: ${ready.reason}: ${ready.message ?? ''}`.trim(),
              );
            }
            return { done: false, detail: `Ready=${ready?.status ?? 'unknown'} ${ready?.reason ?? ''}`.trim() };
          },
          state,
        );
        if (!synced.done)
          throw stepError(state, step, `not synced within ${this.syncTimeoutMs} ms (last: ${synced.detail})`);
        return synced.detail;
      }
      case 'restart': {
        state.restartedAt = new Date(this.now()).toISOString();
        for (const consumer of bundle.consumers ?? []) {
          await cluster.restartDeployment(consumer.namespace, consumer.deployment, state.restartedAt);
        }
        return `restarted ${(bundle.consumers ?? []).map((c) => `${c.namespace}/${c.deployment}`).join(', ') || 'no consumer'}`;
      }
      case 'wait-rollout': {
        const result = await this.poll(
          this.rolloutTimeoutMs,
          async () => {
            const pending: string[] = [];
            for (const consumer of bundle.consumers ?? []) {
              const d = await cluster.getDeployment(consumer.namespace, consumer.deployment);
              if (d.stalled)
                throw stepError(state, step, `${consumer.namespace}/${consumer.deployment}: ProgressDeadlineExceeded`);
              if (!d.rolledOut || d.restartedAt !== state.restartedAt)
                pending.push(`${consumer.namespace}/${consumer.deployment}`);
            }
            return pending.length === 0
              ? { done: true, detail: 'all consumers rolled out' }
              : { done: false, detail: `waiting for ${pending.join(', ')}` };
          },
          state,
        );
        if (!result.done)
          throw stepError(state, step, `rollout not complete within ${this.rolloutTimeoutMs} ms (${result.detail})`);
        return result.detail;
      }
    }
  }

  private async poll(
    timeoutMs: number,
    check: () => Promise<{ done: boolean; detail: string }>,
    state?: RotationState,
  ) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await check();
      if (result.done || Date.now() >= deadline) return result;
      if (state) await this.persist(state); // heartbeat: a long wait is not an abandoned rotation
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  private record(
    state: RotationState,
    step: RotationStep,
    outcome: 'started' | 'succeeded' | 'failed',
    onProgress: ((state: RotationState) => void) | undefined,
    detail?: string,
  ): void {
    const at = this.iso();
    state.history.push({ step, outcome, at, ...(detail === undefined ? {} : { detail }) });
    this.options.audit?.({
      rotation: state.id,
      bundle: state.bundle,
      kind: state.kind,
      actor: state.actor,
      step,
      outcome,
      at,
      ...(state.previousVersion === undefined ? {} : { previousVersion: state.previousVersion }),
      ...(state.version === undefined ? {} : { version: state.version }),
      ...(detail === undefined ? {} : { detail }),
    });
    this.logger.debug(
      { rotation: state.id, bundle: state.bundle, step, outcome, version: state.version },
      'secret rotation step',
    );
    onProgress?.(structuredClone(state));
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

function stepError(state: RotationState, step: RotationStep, reason: string): SecretsError {
  return new BackendRequestError('BAD_REQUEST', reason, { operation: step, path: state.bundle, backend: 'kubernetes' });
}

/** A Go duration that is zero (`0`, `0s`, `0h0m0s`): ESO then fetches once and ignores force-sync. */
export function isZeroDuration(text: string): boolean {
  return /^0$|^(?:0+(?:\.0+)?(?:h|m|s|ms|us|µs|ns))+$/.test(text.trim());
}
