import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { durationSeconds, type SecretRotatedFrameData } from '@runtime-control/core';
import {
  type BundleStatus,
  bundleId,
  bundleStatus,
  generateSecretValue,
  KubernetesAuth,
  KubernetesSecrets,
  LocalSecretBackend,
  loadSecretsKey,
  planSecrets,
  ROTATION_STEPS,
  type RotationEvent,
  RotationInProgressError,
  type RotationState,
  type RotationStep,
  Rotator,
  type SecretBackend,
  type SecretBundle,
  type SecretsBundlePlan,
  type SecretsCluster,
  SecretsError,
  secretBundles,
  VaultClient,
  VaultKvBackend,
} from '@runtime-control/secrets';
import { formatPlatformFileIssue, parsePlatformFile } from '@runtime-control/traffic';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { BusSignal, ChangeBus } from '../../bus/change-bus.js';
import { ConfigError, type ServerConfig } from '../../config/config.js';
import { AppError, type ErrorCode, type ErrorDetail } from '../../errors/app-error.js';
import type { ServerMetrics } from '../../metrics/metrics.js';
import type { Store } from '../../store/store.js';
import { StoreRotationStore } from './store-rotation-store.js';

/** The bus topic that relays `secret-rotated` to the other replicas' client streams. */
export const SECRET_ROTATED_TOPIC = 'secret-rotated';

/** What a rotation step is called in the audit log (`after.event`), by step, for a step that succeeded. */
const SUCCEEDED_EVENT = new Map<RotationStep, string>([
  ['write', 'vault-written'],
  ['force-sync', 'sync-forced'],
  ['wait-synced', 'synced'],
  ['restart', 'consumers-restarted'],
  ['wait-rollout', 'rolled-out'],
]);

/** What the feature shares with the rest of the server: the store (rotation states, audit) and the replica bus. */
export interface SecretsSharedDeps {
  store: Pick<
    Store,
    'appendSecretAudit' | 'claimSecretRotation' | 'saveSecretRotation' | 'getSecretRotation' | 'listSecretRotations'
  >;
  /** Relays `secret-rotated` to the other replicas; without it, only this replica's streams get the frame. */
  bus?: Pick<ChangeBus, 'publishSignal' | 'onSignal'>;
  replicaId: string;
}

/**
 * The secrets feature: status of every bundle the platform file's `secrets` section lists, and rotation end to end,
 * on the local encrypted backend (the default) or Vault + Kubernetes/ESO. Nothing here holds a value longer than the
 * call that writes it: responses, logs, audit records, metrics and stream frames carry names, versions and times.
 */

/** An error with a code of this feature (`ROTATION_IN_PROGRESS`, …) and its own HTTP status, in the API's body. */
export class SecretsApiError extends AppError {
  constructor(
    private readonly httpStatus: 404 | 409 | 503,
    private readonly secretsCode: string,
    message: string,
    options: { path?: string; details?: ErrorDetail[] } = {},
  ) {
    const base: ErrorCode = httpStatus === 404 ? 'NOT_FOUND' : httpStatus === 409 ? 'CANARY_CONFLICT' : 'UNAVAILABLE';
    super(base, message, options);
  }

  override get status(): number {
    return this.httpStatus;
  }

  override toJSON(): ReturnType<AppError['toJSON']> {
    const body = super.toJSON();
    return { error: { ...body.error, code: this.secretsCode as ErrorCode } };
  }
}

export type RotationPolicy = NonNullable<SecretsBundlePlan['rotation']>;

interface KnownBundle {
  bundle: SecretBundle;
  properties: { property: string; env: string }[];
  rotation: RotationPolicy | undefined;
}

interface Opened {
  backend: SecretBackend;
  cluster: SecretsCluster | undefined;
  store: StoreRotationStore;
  rotator: Rotator;
  /** Bundles defined through the API (local backend), in `<data dir>/secret-rotations.db`. */
  definitions: Database.Database;
  /** The Vault token source with RC_VAULT_AUTH=kubernetes (logins and renewals; stopped at close). */
  vaultAuth: KubernetesAuth | undefined;
}

/** A bundle defined through the API (`PUT /api/admin/secrets/{service}/{bundle}`; local backend only). */
export interface BundleDefinition {
  properties: Record<string, string>;
  path?: string;
  rotation?: { strategy: 'generated' | 'supplied'; length?: number; alphabet?: string; maxAge?: string };
}

export interface SecretsRotationView {
  id: string;
  service: string;
  bundle: string;
  kind: RotationState['kind'];
  property: string;
  actor: string;
  status: RotationState['status'];
  step: RotationStep;
  startedAt: string;
  finishedAt: string | null;
  previousVersion: number | null;
  version: number | null;
  steps: RotationStep[];
  error: NonNullable<RotationState['error']> | null;
  history: RotationState['history'];
}

const STATES = ['in-sync', 'syncing', 'stale-pods', 'missing', 'overdue', 'error'] as const;

/** Reads the bundles of a platform file's `secrets` section; a broken file stops the server at start. */
export function loadBundles(file: string | undefined): { bundles: KnownBundle[]; mount: string | undefined } {
  if (file === undefined) return { bundles: [], mount: undefined };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('RC_PLATFORM_FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const parsed = parsePlatformFile(text, file);
  if (!parsed.ok) {
    throw new ConfigError('RC_PLATFORM_FILE', parsed.issues.slice(0, 5).map(formatPlatformFileIssue).join('; '));
  }
  const plan = planSecrets(parsed.value.platform);
  if (!plan) return { bundles: [], mount: undefined };
  const bundles = secretBundles(plan);
  return {
    mount: plan.store.path,
    bundles: plan.bundles.map((p, i) => ({ bundle: bundles[i]!, properties: p.properties, rotation: p.rotation })),
  };
}

export class SecretsService {
  private readonly bundles = new Map<string, KnownBundle>();
  private readonly mount: string | undefined;
  private opened: Opened | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  /** Audit records are appended one after the other, in the order the steps happened. */
  private auditChain: Promise<void> = Promise.resolve();
  /**
   * Who resumed a rotation, by rotation id, while it runs: the steps after a resume are theirs in the audit log, and
   * the `resumed` record is written with the first of them (after the claim succeeded: a refused resume is no event).
   */
  private readonly resumedBy = new Map<string, { actor: string; announced: boolean }>();

  constructor(
    private readonly config: ServerConfig,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly notify: { sendSecretRotated(event: SecretRotatedFrameData): number },
    private readonly shared: SecretsSharedDeps,
    /** The platform file's bundles, when the caller read them already (`loadBundles`, before opening anything). */
    preloaded?: ReturnType<typeof loadBundles>,
  ) {
    const loaded = preloaded ?? loadBundles(config.secretsBundlesFile);
    this.mount = loaded.mount;
    for (const b of loaded.bundles) this.bundles.set(bundleId(b.bundle), b);
    shared.bus?.onSignal((signal) => this.onSignal(signal));
  }

  /** A rotation completed on another replica: this replica's client streams (e.g. an `rctl exec`) get the frame. */
  private onSignal(signal: BusSignal): void {
    if (signal.topic !== SECRET_ROTATED_TOPIC || signal.origin === this.shared.replicaId) return;
    const frame = parseSecretRotated(signal.payload);
    if (!frame) {
      this.logger.warn({ origin: signal.origin }, 'ignoring a malformed relayed secret-rotated signal');
      return;
    }
    const clients = this.notify.sendSecretRotated(frame);
    this.logger.debug(
      { origin: signal.origin, bundle: `${frame.service}/${frame.bundle}`, version: frame.version, clients },
      'secret-rotated relayed from another replica',
    );
  }

  get backendKind(): 'local' | 'vault' {
    return this.config.secretsBackend;
  }

  /** Kubernetes logins and renewals of the server's Vault token so far (RC_VAULT_AUTH=kubernetes; tests, status). */
  get vaultAuthCounts(): { logins: number; renewals: number } | undefined {
    const counts = this.opened?.vaultAuth?.counts;
    return counts && { ...counts };
  }

  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * Keeps `rc_secret_age_seconds` and `rc_secret_state` current without anyone asking: every `intervalMs`, the status
   * of every bundle is read again — once the backend is open (a first request) or the platform file lists bundles.
   */
  startMetricsRefresh(intervalMs = 60_000): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setInterval(() => {
      if (!this.opened && this.bundles.size === 0) return;
      this.list().catch((error: unknown) =>
        this.logger.debug(
          { code: error instanceof SecretsError ? error.code : 'UNEXPECTED' },
          'secrets metrics refresh failed',
        ),
      );
    }, intervalMs);
    this.refreshTimer.unref();
  }

  /** Waits for rotations running in the background, then closes the stores. */
  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    await this.auditChain;
    this.opened?.definitions.close();
    this.opened?.vaultAuth?.stop();
    if (this.opened?.backend instanceof LocalSecretBackend) this.opened.backend.close();
    this.opened = undefined;
  }

  async list(): Promise<{ backend: 'local' | 'vault'; bundles: ReturnType<SecretsService['view']>[] }> {
    const out: ReturnType<SecretsService['view']>[] = [];
    for (const known of this.all()) out.push(await this.statusOf(known));
    return { backend: this.backendKind, bundles: out };
  }

  async get(service: string, bundle: string): Promise<ReturnType<SecretsService['view']>> {
    return this.statusOf(this.known(service, bundle));
  }

  async rotations(service: string, bundle: string): Promise<{ rotations: SecretsRotationView[] }> {
    const known = this.known(service, bundle);
    const { store } = this.open();
    return { rotations: (await store.list(bundleId(known.bundle))).map((s) => this.rotationView(known, s)) };
  }

  async rotation(service: string, bundle: string, id: string): Promise<SecretsRotationView> {
    const known = this.known(service, bundle);
    return this.rotationView(known, await this.stateOf(known, id));
  }

  /**
   * Starts a rotation in the background and answers once it is under way (its first step started) or refused:
   * `ROTATION_IN_PROGRESS` (409) when one of the bundle runs, here or in another process sharing the store.
   */
  async rotate(
    service: string,
    bundle: string,
    input: { property?: string; value?: string; expectedVersion?: number },
    actor: string,
  ): Promise<SecretsRotationView> {
    const known = this.known(service, bundle);
    const properties = Object.keys(known.bundle.properties);
    let property = input.property;
    if (property === undefined) {
      if (properties.length !== 1) {
        throw new AppError(
          'VALIDATION_FAILED',
          `bundle ${bundleId(known.bundle)} has ${properties.length} properties (${properties.join(', ')}): name one`,
          { path: '/property' },
        );
      }
      property = properties[0]!;
    } else if (!properties.includes(property)) {
      throw new AppError(
        'VALIDATION_FAILED',
        `bundle ${bundleId(known.bundle)} has no property "${property}" (it has ${properties.join(', ')})`,
        { path: '/property' },
      );
    }
    let value = input.value;
    if (value === undefined) {
      if (known.rotation?.strategy === 'supplied') {
        throw new AppError(
          'VALIDATION_FAILED',
          `bundle ${bundleId(known.bundle)} has a supplied rotation policy: give the new value`,
          { path: '/value' },
        );
      }
      value = generateSecretValue({
        ...(known.rotation?.length === undefined ? {} : { length: known.rotation.length }),
        ...(known.rotation?.alphabet === undefined ? {} : { alphabet: known.rotation.alphabet }),
      });
    }
    const { rotator } = this.open();
    if (rotator.isRunning(known.bundle)) throw inProgress(known.bundle);
    const chosen = property;
    return this.start(known, (onProgress) =>
      rotator.rotate(known.bundle, {
        property: chosen,
        value: value!,
        actor,
        ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }),
        // The local backend gets its first value by a rotation (create only, check-and-set 0).
        create: this.backendKind === 'local',
        onProgress,
      }),
    );
  }

  async resume(
    service: string,
    bundle: string,
    id: string,
    input: { value?: string },
    actor: string,
  ): Promise<SecretsRotationView> {
    const known = this.known(service, bundle);
    const state = await this.stateOf(known, id);
    if (state.status !== 'failed') {
      throw new SecretsApiError(409, 'ROTATION_NOT_RESUMABLE', `rotation ${id} is ${state.status}, not failed`);
    }
    if (state.step === 'write' && input.value === undefined) {
      throw new AppError('VALIDATION_FAILED', 'the rotation failed at write: give the value again', { path: '/value' });
    }
    const { rotator } = this.open();
    if (rotator.isRunning(known.bundle)) throw inProgress(known.bundle);
    this.resumedBy.set(state.id, { actor, announced: false });
    return this.start(
      known,
      (onProgress) =>
        rotator.resume(known.bundle, state, {
          ...(input.value === undefined ? {} : { value: input.value }),
          onProgress,
        }),
      () => this.resumedBy.delete(state.id),
    );
  }

  async rollback(service: string, bundle: string, id: string, actor: string): Promise<SecretsRotationView> {
    const known = this.known(service, bundle);
    const state = await this.stateOf(known, id);
    if (state.status === 'running') {
      throw new SecretsApiError(409, 'ROTATION_IN_PROGRESS', `rotation ${id} is still running`);
    }
    if (state.previousVersion === undefined || state.previousVersion === 0) {
      throw new SecretsApiError(
        409,
        'NOTHING_TO_ROLL_BACK',
        `rotation ${id} wrote no version over an earlier one (nothing to roll back to)`,
      );
    }
    const { rotator } = this.open();
    if (rotator.isRunning(known.bundle)) throw inProgress(known.bundle);
    return this.start(known, (onProgress) => rotator.rollback(known.bundle, state, { actor, onProgress }));
  }

  // ---- internals ----

  /** The platform file's bundles, then those defined through the API (read each time: another process may add). */
  private all(): KnownBundle[] {
    const out = [...this.bundles.values()];
    if (this.backendKind !== 'local') return out;
    const rows = this.open()
      .definitions.prepare('SELECT id, definition FROM rc_secret_bundle_definitions ORDER BY id')
      .all() as { id: string; definition: string }[];
    for (const row of rows) {
      if (this.bundles.has(row.id)) continue;
      const [service, name] = row.id.split('/') as [string, string];
      out.push(definedBundle(service, name, JSON.parse(row.definition) as BundleDefinition));
    }
    return out;
  }

  /**
   * Defines (or replaces) a bundle through the API — the local backend's way to have bundles without a platform
   * file. 409 for a bundle of the platform file, or on the Vault backend (its bundles come from the file, with their
   * ExternalSecrets).
   */
  async define(
    service: string,
    bundle: string,
    definition: BundleDefinition,
  ): Promise<{ created: boolean; view: ReturnType<SecretsService['view']> }> {
    const id = `${service}/${bundle}`;
    if (this.backendKind !== 'local') {
      throw new SecretsApiError(
        409,
        'BUNDLES_FROM_FILE',
        'on the Vault backend bundles come from the platform file (RC_PLATFORM_FILE)',
      );
    }
    if (this.bundles.has(id)) {
      throw new SecretsApiError(
        409,
        'BUNDLE_DEFINED_IN_FILE',
        `${id} is defined in the platform file; change it there`,
      );
    }
    const problem = definitionProblem(definition);
    if (problem) throw new AppError('VALIDATION_FAILED', problem.message, { path: problem.path });
    const { definitions } = this.open();
    const clean: BundleDefinition = {
      properties: definition.properties,
      ...(definition.path === undefined ? {} : { path: definition.path }),
      ...(definition.rotation === undefined ? {} : { rotation: definition.rotation }),
    };
    const existed =
      definitions.prepare('SELECT 1 FROM rc_secret_bundle_definitions WHERE id = ?').get(id) !== undefined;
    definitions
      .prepare(
        'INSERT INTO rc_secret_bundle_definitions (id, definition) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET definition = excluded.definition',
      )
      .run(id, JSON.stringify(clean));
    this.logger.info(
      { audit: 'secret-bundle', bundle: id, action: existed ? 'update' : 'create' },
      `audit: secret bundle ${id} defined`,
    );
    return { created: !existed, view: await this.statusOf(definedBundle(service, bundle, clean)) };
  }

  /** Removes an API-defined bundle's definition (its versions stay in the store). */
  async undefine(service: string, bundle: string): Promise<void> {
    const id = `${service}/${bundle}`;
    if (this.bundles.has(id)) {
      throw new SecretsApiError(
        409,
        'BUNDLE_DEFINED_IN_FILE',
        `${id} is defined in the platform file; change it there`,
      );
    }
    const known = this.known(service, bundle);
    const { definitions } = this.open();
    definitions.prepare('DELETE FROM rc_secret_bundle_definitions WHERE id = ?').run(bundleId(known.bundle));
    this.logger.info({ audit: 'secret-bundle', bundle: id, action: 'delete' }, `audit: secret bundle ${id} removed`);
  }

  private known(service: string, bundle: string): KnownBundle {
    const known =
      this.bundles.get(`${service}/${bundle}`) ?? this.all().find((b) => bundleId(b.bundle) === `${service}/${bundle}`);
    if (!known) {
      throw new SecretsApiError(404, 'SECRET_BUNDLE_NOT_FOUND', `no secret bundle ${service}/${bundle}`, {
        path: 'bundle',
      });
    }
    return known;
  }

  private async stateOf(known: KnownBundle, id: string): Promise<RotationState> {
    const state = await this.open().store.get(id);
    if (!state || state.bundle !== bundleId(known.bundle)) {
      throw new SecretsApiError(404, 'ROTATION_NOT_FOUND', `no rotation ${id} of ${bundleId(known.bundle)}`, {
        path: 'id',
      });
    }
    return state;
  }

  /** Runs `run` in the background; resolves with the first progress state, or rejects when it is refused at once. */
  private start(
    known: KnownBundle,
    run: (onProgress: (state: RotationState) => void) => Promise<RotationState>,
    onSettled?: () => void,
  ): Promise<SecretsRotationView> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const onProgress = (state: RotationState) => {
        if (answered) return;
        answered = true;
        resolve(this.rotationView(known, state));
      };
      const task = run(onProgress).then(
        (done) => {
          this.metrics.secretRotations.inc({ outcome: 'completed' });
          this.appendAudit(done.kind, done.bundle, this.resumedBy.get(done.id)?.actor ?? done.actor, {
            at: done.finishedAt ?? new Date().toISOString(),
            rotation: done.id,
            kind: done.kind,
            event: 'completed',
            step: done.step,
            ...(done.previousVersion === undefined ? {} : { previousVersion: done.previousVersion }),
            ...(done.version === undefined ? {} : { version: done.version }),
            ...(done.startedAt === undefined ? {} : { startedAt: done.startedAt }),
          });
          if (done.version !== undefined) {
            const frame: SecretRotatedFrameData = {
              service: known.bundle.service,
              bundle: known.bundle.name,
              version: done.version,
              rotation: done.id,
              at: done.finishedAt ?? new Date().toISOString(),
            };
            // Here first (the bus may be down), then to the other replicas, which skip their own signals.
            this.notify.sendSecretRotated(frame);
            void this.shared.bus?.publishSignal({
              topic: SECRET_ROTATED_TOPIC,
              payload: { ...frame },
              origin: this.shared.replicaId,
            });
          }
          void this.statusOf(known).catch(() => undefined); // metrics follow the new version
        },
        (error: unknown) => {
          if (error instanceof RotationInProgressError) {
            this.metrics.secretRotations.inc({ outcome: 'conflict' });
            if (!answered) {
              answered = true;
              reject(inProgress(known.bundle));
            }
            return;
          }
          this.metrics.secretRotations.inc({ outcome: 'failed' });
          if (!answered) {
            answered = true;
            reject(
              error instanceof SecretsError
                ? new AppError('BAD_REQUEST', error.message, { path: 'bundle' })
                : new AppError('INTERNAL', 'rotation failed unexpectedly'),
            );
          }
        },
      );
      this.pending.add(task);
      void task.finally(() => {
        this.pending.delete(task);
        onSettled?.();
      });
    });
  }

  private open(): Opened {
    if (this.opened) return this.opened;
    if (this.closed) throw new SecretsApiError(503, 'SECRETS_UNAVAILABLE', 'the server is shutting down');
    const { config } = this;
    const logger = this.logger;
    let backend: SecretBackend;
    let cluster: SecretsCluster | undefined;
    let vaultAuth: KubernetesAuth | undefined;
    try {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      if (config.secretsBackend === 'vault') {
        if (config.vaultAuth === 'kubernetes') {
          const tokenFile = config.vaultK8sTokenFile;
          vaultAuth = new KubernetesAuth({
            client: new VaultClient({ address: config.vaultAddr!, logger }),
            role: config.vaultK8sRole!,
            mount: config.vaultK8sMount,
            // Read at every login: the kubelet rotates projected tokens in place.
            jwt: async () => (await readFile(tokenFile, 'utf8')).trim(),
            logger,
          });
          // Renews in the background too, so a quiet server still holds a live token when a rotation comes.
          vaultAuth.start();
        }
        const token = vaultAuth ?? config.vaultToken;
        const client = new VaultClient({
          address: config.vaultAddr!,
          ...(token === undefined ? {} : { token }),
          logger,
        });
        backend = new VaultKvBackend(client, { mount: config.vaultMount ?? this.mount ?? 'secret' });
        cluster = new KubernetesSecrets({
          ...(config.kubernetesApiUrl === undefined ? {} : { apiUrl: config.kubernetesApiUrl }),
          ...(config.kubernetesToken === undefined ? {} : { token: config.kubernetesToken }),
        });
      } else {
        const env = config.secretsKey === undefined ? {} : { RC_SECRETS_KEY: config.secretsKey };
        const { key, source, file } = loadSecretsKey({ dataDir: config.dataDir, env });
        if (source === 'created') logger.info({ file }, 'secrets: created the local key file (mode 0600)');
        const database = join(config.dataDir, 'secrets.db');
        backend = new LocalSecretBackend({ database, key });
        // The data is encrypted; the files are private anyway (as the key file is).
        for (const file of [database, `${database}-wal`, `${database}-shm`]) {
          if (existsSync(file)) chmodSync(file, 0o600);
        }
      }
    } catch (error) {
      const reason = error instanceof SecretsError ? error.message : 'cannot open the secrets backend';
      throw new SecretsApiError(503, 'SECRETS_UNAVAILABLE', `secrets backend ${config.secretsBackend}: ${reason}`);
    }
    const store = new StoreRotationStore(this.shared.store);
    const rotator = new Rotator({
      backend,
      store,
      ...(cluster === undefined ? {} : { cluster }),
      logger,
      audit: (event) => this.audit(event),
    });
    const definitions = new Database(join(config.dataDir, 'secret-rotations.db'));
    definitions.pragma('busy_timeout = 5000');
    definitions.exec(
      'CREATE TABLE IF NOT EXISTS rc_secret_bundle_definitions (id TEXT PRIMARY KEY, definition TEXT NOT NULL)',
    );
    this.opened = { backend, cluster, store, rotator, definitions, vaultAuth };
    return this.opened;
  }

  /**
   * Every step's start, success and failure as an audit record — in the server log and in the audit log
   * (`/api/admin/audit`, entity `secret`): versions, actor, times, reasons — never the value.
   */
  private audit(event: RotationEvent): void {
    const resumed = this.resumedBy.get(event.rotation);
    const actor = resumed?.actor ?? event.actor;
    if (resumed && !resumed.announced) {
      resumed.announced = true;
      this.appendAudit(event.kind, event.bundle, actor, {
        at: event.at,
        rotation: event.rotation,
        kind: event.kind,
        event: 'resumed',
        step: event.step,
        ...(event.previousVersion === undefined ? {} : { previousVersion: event.previousVersion }),
        ...(event.version === undefined ? {} : { version: event.version }),
        rotationActor: event.actor,
      });
    }
    const named =
      event.outcome === 'failed'
        ? 'failed'
        : event.outcome === 'started'
          ? event.step === 'write'
            ? 'started'
            : 'step-started'
          : (SUCCEEDED_EVENT.get(event.step) ?? 'step-succeeded');
    this.appendAudit(event.kind, event.bundle, actor, {
      at: event.at,
      rotation: event.rotation,
      kind: event.kind,
      event: named,
      step: event.step,
      outcome: event.outcome,
      ...(event.previousVersion === undefined ? {} : { previousVersion: event.previousVersion }),
      ...(event.version === undefined ? {} : { version: event.version }),
      ...(event.detail === undefined ? {} : { [event.outcome === 'failed' ? 'reason' : 'detail']: event.detail }),
      ...(actor === event.actor ? {} : { rotationActor: event.actor }),
    });
    this.logger.info(
      {
        audit: 'secret-rotation',
        rotation: event.rotation,
        bundle: event.bundle,
        kind: event.kind,
        actor: event.actor,
        step: event.step,
        outcome: event.outcome,
        at: event.at,
        previousVersion: event.previousVersion,
        version: event.version,
        detail: event.detail,
      },
      `audit: secret ${event.kind} ${event.bundle} ${event.step} ${event.outcome}`,
    );
  }

  /**
   * Queues one record for `/api/admin/audit`. Records keep the order of the steps; a record the store refuses (the
   * database is down) is logged with what it was about and does not stop the rotation — the server log's audit line
   * and the rotation's own history still have it.
   */
  private appendAudit(
    kind: RotationState['kind'],
    bundle: string,
    actor: string,
    details: { at: string; rotation: string; event: string; [key: string]: string | number },
  ): void {
    const { at, ...rest } = details;
    this.auditChain = this.auditChain.then(() =>
      this.shared.store
        .appendSecretAudit({
          at,
          actor: { name: actor },
          bundle,
          action: kind === 'rollback' ? 'rollback' : 'rotate',
          details: rest,
        })
        .then(
          () => undefined,
          (error: unknown) =>
            this.logger.error(
              { rotation: details.rotation, bundle, event: details.event, err: { message: (error as Error).message } },
              'secrets: could not write a rotation audit record to the audit log (it stays in the server log)',
            ),
        ),
    );
  }

  /** Resolves once every audit record queued so far is written (tests, shutdown). */
  auditWritten(): Promise<void> {
    return this.auditChain;
  }

  private async statusOf(known: KnownBundle): Promise<ReturnType<SecretsService['view']>> {
    const { backend, cluster, store } = this.open();
    const status = await bundleStatus(known.bundle, { backend, ...(cluster === undefined ? {} : { cluster }) });
    const [last] = await store.list(bundleId(known.bundle));
    this.record(known, status);
    return this.view(known, status, last);
  }

  private record(known: KnownBundle, status: BundleStatus): void {
    const labels = { service: known.bundle.service, bundle: known.bundle.name };
    if (status.vault) this.metrics.secretAge.set(labels, status.vault.ageSeconds);
    else this.metrics.secretAge.remove(labels);
    const current = status.state.startsWith('error') ? 'error' : status.state;
    for (const state of STATES) this.metrics.secretState.set({ ...labels, state }, state === current ? 1 : 0);
  }

  private view(known: KnownBundle, status: BundleStatus, last?: RotationState) {
    const b = known.bundle;
    const consumers = (b.consumers ?? []).map((c) => {
      const seen = status.consumers?.find((s) => s.namespace === c.namespace && s.deployment === c.deployment);
      return {
        namespace: c.namespace,
        deployment: c.deployment,
        runsCurrentValue: seen ? seen.rolledOut && seen.stalePods === 0 : null,
        rolledOut: seen?.rolledOut ?? null,
        pods: seen?.pods ?? null,
        stalePods: seen?.stalePods ?? null,
      };
    });
    const es = status.externalSecret;
    return {
      service: b.service,
      bundle: b.name,
      backend: this.backendKind,
      state: status.state as string,
      reasons: status.reasons,
      path: b.path,
      properties: known.properties.map((p) => ({ property: p.property, env: p.env })),
      currentVersion: status.vault?.currentVersion ?? null,
      updatedTime: status.vault?.updatedTime ?? null,
      ageSeconds: status.vault?.ageSeconds ?? null,
      maxAgeSeconds: b.maxAgeSeconds ?? null,
      overdue: status.vault !== undefined && b.maxAgeSeconds !== undefined && status.vault.ageSeconds > b.maxAgeSeconds,
      rotation: known.rotation
        ? {
            strategy: known.rotation.strategy,
            ...(known.rotation.length === undefined ? {} : { length: known.rotation.length }),
            ...(known.rotation.alphabet === undefined ? {} : { alphabet: known.rotation.alphabet }),
            ...(known.rotation.maxAge === undefined ? {} : { maxAge: known.rotation.maxAge }),
          }
        : null,
      externalSecret:
        this.backendKind === 'vault' && b.externalSecret
          ? {
              namespace: b.externalSecret.namespace,
              name: b.externalSecret.name,
              ready: es?.ready ?? null,
              reason: es?.reason ?? null,
              message: es?.message ?? null,
              refreshTime: es?.refreshTime ?? null,
              syncedResourceVersion: es?.syncedResourceVersion ?? null,
            }
          : null,
      secret: status.secret ? { exists: status.secret.exists, managedByEso: status.secret.managedByEso } : null,
      consumers,
      lastRotation: last
        ? {
            id: last.id,
            kind: last.kind,
            status: last.status,
            step: last.step,
            startedAt: last.startedAt,
            finishedAt: last.finishedAt ?? null,
          }
        : null,
    };
  }

  private rotationView(known: KnownBundle, s: RotationState): SecretsRotationView {
    const steps: RotationStep[] = this.opened?.cluster && known.bundle.externalSecret ? [...ROTATION_STEPS] : ['write'];
    return {
      id: s.id,
      service: known.bundle.service,
      bundle: known.bundle.name,
      kind: s.kind,
      property: s.property,
      actor: s.actor,
      status: s.status,
      step: s.step,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt ?? null,
      previousVersion: s.previousVersion ?? null,
      version: s.version ?? null,
      steps,
      error: s.error ? { step: s.error.step, code: s.error.code, message: s.error.message } : null,
      history: s.history.map((h) => ({
        step: h.step,
        outcome: h.outcome,
        at: h.at,
        ...(h.detail === undefined ? {} : { detail: h.detail }),
      })),
    };
  }
}

/** A relayed `secret-rotated` payload, field by field (another replica's signal is outside input too). */
function parseSecretRotated(payload: Record<string, unknown>): SecretRotatedFrameData | undefined {
  const { service, bundle, version, rotation, at } = payload;
  if (typeof service !== 'string' || typeof bundle !== 'string' || typeof rotation !== 'string') return undefined;
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) return undefined;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return undefined;
  return { service, bundle, version, rotation, at };
}

function inProgress(bundle: SecretBundle): SecretsApiError {
  return new SecretsApiError(409, 'ROTATION_IN_PROGRESS', `a rotation of ${bundleId(bundle)} is already running`, {
    path: 'bundle',
  });
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PROPERTY_NAME = /^[-._a-zA-Z0-9]{1,253}$/;
const KV_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

function definitionProblem(d: BundleDefinition): { path: string; message: string } | undefined {
  const entries = Object.entries(d.properties);
  if (entries.length === 0) return { path: '/properties', message: 'a bundle needs at least one property' };
  const envs = new Set<string>();
  for (const [property, env] of entries) {
    if (!PROPERTY_NAME.test(property)) {
      return {
        path: `/properties/${property}`,
        message: `"${property}" is not a property name (letters, digits, - . _)`,
      };
    }
    if (!ENV_NAME.test(env)) return { path: `/properties/${property}`, message: `"${env}" is not an env var name` };
    if (envs.has(env)) return { path: `/properties/${property}`, message: `env var ${env} is given twice` };
    envs.add(env);
  }
  if (d.path !== undefined && (!KV_PATH.test(d.path) || d.path.length > 512)) {
    return { path: '/path', message: 'a KV path of segments (letters, digits, . _ -) separated by single "/"' };
  }
  const r = d.rotation;
  if (r) {
    if (r.strategy === 'supplied' && (r.length !== undefined || r.alphabet !== undefined)) {
      return { path: '/rotation', message: 'length and alphabet apply to a generated rotation only' };
    }
    if (r.maxAge !== undefined && durationSeconds(r.maxAge) === undefined) {
      return { path: '/rotation/maxAge', message: `"${r.maxAge}" is not a duration such as 90d or 12h` };
    }
  }
  return undefined;
}

function definedBundle(service: string, name: string, d: BundleDefinition): KnownBundle {
  const maxAge = d.rotation?.maxAge === undefined ? undefined : durationSeconds(d.rotation.maxAge);
  return {
    bundle: {
      service,
      name,
      path: d.path ?? `${service}/${name}`,
      properties: { ...d.properties },
      ...(maxAge === undefined ? {} : { maxAgeSeconds: maxAge }),
    },
    properties: Object.entries(d.properties).map(([property, env]) => ({ property, env })),
    rotation: d.rotation
      ? {
          strategy: d.rotation.strategy,
          ...(d.rotation.length === undefined ? {} : { length: d.rotation.length }),
          ...(d.rotation.alphabet === undefined ? {} : { alphabet: d.rotation.alphabet }),
          ...(d.rotation.maxAge === undefined ? {} : { maxAge: d.rotation.maxAge }),
        }
      : undefined,
  };
}
