import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FlagdCore } from '@openfeature/flagd-core';
import {
  type EvaluationContext,
  type FlagValueType,
  GeneralError,
  type Hook,
  type JsonValue,
  type Logger,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  ProviderFatalError,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
// Type-only: the SDK has no runtime dependency on core; the frames are declared there once, for server and SDK.
import type {
  ChangeFrameData,
  ClientStreamEvent,
  DeltaFrameData,
  FlagdConfigurationData,
  ReadyFrameData,
  ReconnectFrameData,
} from '@runtime-control/core';
import type { EvaluationRecorder } from '../metrics/evaluation-recorder.js';
import { backoffDelay } from './backoff.js';
import { applyDelta, deltaFit } from './delta.js';
import { readSnapshotCache, writeSnapshotCache } from './snapshot-cache.js';
import { openSseConnection, type SseConnection, type SseMessage } from './sse-connection.js';

/** The client stream's events (`/api/client/stream`, see core's stream-frames.ts). */
const SNAPSHOT = 'snapshot' satisfies ClientStreamEvent;
const CHANGE = 'change' satisfies ClientStreamEvent;
const READY = 'ready' satisfies ClientStreamEvent;
const DELTA = 'delta' satisfies ClientStreamEvent;
const RECONNECT = 'reconnect' satisfies ClientStreamEvent;

export interface RuntimeControlProviderOptions {
  /** Base URL of the Runtime Control server, e.g. http://runtime-control:4400. */
  url: string;
  /** A client token (scoped to one environment, and possibly to one flag set). */
  token: string;
  /**
   * flagd-style selector, `flagSetId=payments`: serve only the flags of that flag set (a flag's `metadata.flagSetId`,
   * or its document's). The server is asked for that set only (`?selector=`), so other sets never cross the wire. It
   * narrows what the token receives and can never widen it: with a token limited to another set, nothing matches. A
   * malformed selector throws at construction, so a typo cannot silently select nothing.
   */
  selector?: string;
  /**
   * This service's name, shown in the server's clients view (`rctl clients`); default `OTEL_SERVICE_NAME`, else
   * `npm_package_name`. The instance is shown as `<hostname>/<pid>`.
   */
  appName?: string;
  /** Keep the last snapshot on disk so a restart during an outage starts from it instead of code defaults. */
  cachePath?: string;
  /** How long a lost stream stays STALE before the provider reports ERROR (default 5 s, as flagd). */
  errorGracePeriodMs?: number;
  /**
   * When a server replica shuts down it sends `reconnect` and ends the stream: the provider reconnects at once (to
   * any replica) and stays READY for this long while it does (default 3 s); only then does a failed handover count
   * as a lost stream (STALE, then ERROR after `errorGracePeriodMs`).
   */
  handoverGraceMs?: number;
  /** First reconnect delay and its cap (defaults 250 ms and 10 s), with full jitter. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** How long `initialize` waits for the first snapshot without a disk cache (default 10 s). */
  initTimeoutMs?: number;
  /** With a disk cache, how long `initialize` waits for live data before serving the cache (default 1.5 s). */
  cacheWaitMs?: number;
  /** Silence on the stream for this long means a dead connection (default 45 s: three server heartbeats). */
  idleTimeoutMs?: number;
  /** Counts every evaluation, from the OpenFeature client and the fast path alike (e.g. a PrometheusHook). */
  metrics?: Hook & EvaluationRecorder;
  logger?: Logger;
}

type Lifecycle = 'NOT_READY' | 'READY' | 'STALE' | 'ERROR' | 'FATAL';
type Source = 'none' | 'cache' | 'live';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** `runtime-control-sdk/<version> node/<version>`: what the server's clients view shows as this SDK. */
const USER_AGENT = (() => {
  let version = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    version = pkg.version ?? version;
  } catch {
    // Bundled without its package.json: the version is only informative.
  }
  return `runtime-control-sdk/${version} node/${process.versions.node}`;
})();

/** Header values must be printable ASCII; anything else is replaced so a name never breaks the request. */
function headerValue(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}
const PROVIDER_NAME = 'runtime-control';

// flagd's selector syntax for flag sets and the set names Runtime Control accepts (core's FLAG_SET_PATTERN; the SDK
// does not depend on core at run time, so the two lines are kept here).
const SELECTOR = /^\s*flagSetId\s*=\s*([A-Za-z0-9][A-Za-z0-9._-]{0,63})\s*$/;

function parseSelector(selector: string): string {
  const match = SELECTOR.exec(selector);
  if (!match) throw new TypeError(`selector "${selector}" must be flagSetId=<set> (flagd flag-set selector)`);
  return match[1]!;
}

/**
 * The document with only the flags of `flagSet`: a flag's set is its `metadata.flagSetId` over the document's
 * `metadata.flagSetId`, as flagd-core merges them. Keys are copied with `Object.fromEntries` (own properties only).
 */
function selectFlagSet(configJson: string, flagSet: string): string {
  const config = JSON.parse(configJson) as {
    flags?: Record<string, { metadata?: Record<string, unknown> }>;
    metadata?: Record<string, unknown>;
  };
  const documentSet =
    config.metadata && Object.hasOwn(config.metadata, 'flagSetId') ? config.metadata.flagSetId : undefined;
  const inSet = (flag: { metadata?: Record<string, unknown> }) =>
    (flag.metadata && Object.hasOwn(flag.metadata, 'flagSetId') ? flag.metadata.flagSetId : documentSet) === flagSet;
  config.flags = Object.fromEntries(Object.entries(config.flags ?? {}).filter(([, flag]) => inSet(flag)));
  return JSON.stringify(config);
}

/**
 * OpenFeature provider for Runtime Control: loads the environment's flag definitions once, follows the server's
 * change stream, and evaluates in-process with flagd-core — so an evaluation is a function call, and a change
 * reaches the service as soon as the server pushes it. Through an outage it keeps serving the last known values
 * (reason STALE; CACHED when they came from disk) and never throws into application code.
 */
export class RuntimeControlProvider implements Provider {
  readonly metadata = { name: PROVIDER_NAME } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly hooks: Hook[];
  /** Synchronous typed accessors over the same state, for hot paths (no OpenFeature pipeline). */
  readonly flags: FlagAccessor;

  private readonly options: Required<
    Pick<
      RuntimeControlProviderOptions,
      | 'errorGracePeriodMs'
      | 'handoverGraceMs'
      | 'reconnectInitialMs'
      | 'reconnectMaxMs'
      | 'initTimeoutMs'
      | 'cacheWaitMs'
      | 'idleTimeoutMs'
    >
  >;
  private readonly engine: FlagdCore;
  private readonly logger: Logger;
  private source: Source = 'none';
  private connected = false;
  private lifecycle: Lifecycle = 'NOT_READY';
  private revision: number | undefined;
  /** The server's document as last received (snapshot, or cache) with every delta since applied. */
  private document: FlagdConfigurationData | undefined;
  /** Whether the server narrows to the selector's set itself (older servers answer 400 to the parameter). */
  private serverSelects = true;
  /** A delta showed a missed change: the next connection asks for a snapshot (no Last-Event-ID). */
  private snapshotNeeded = false;
  private configJson: string | undefined;
  private connection: SseConnection | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** Set while a handover (the server's `reconnect`) is in progress: until then, losing the stream is expected. */
  private handoverUntil: number | undefined;
  private handoverTimer: NodeJS.Timeout | undefined;
  private handoverRequested = false;
  private closed = false;
  private liveWaiters: (() => void)[] = [];
  private cacheWrite: Promise<void> = Promise.resolve();
  /** The flag set `selector` names, if any. */
  private readonly flagSet: string | undefined;

  constructor(private readonly config: RuntimeControlProviderOptions) {
    this.flagSet = config.selector === undefined ? undefined : parseSelector(config.selector);
    this.options = {
      errorGracePeriodMs: config.errorGracePeriodMs ?? 5000,
      handoverGraceMs: config.handoverGraceMs ?? 3000,
      reconnectInitialMs: config.reconnectInitialMs ?? 250,
      reconnectMaxMs: config.reconnectMaxMs ?? 10_000,
      initTimeoutMs: config.initTimeoutMs ?? 10_000,
      cacheWaitMs: config.cacheWaitMs ?? 1500,
      idleTimeoutMs: config.idleTimeoutMs ?? 45_000,
    };
    this.logger = config.logger ?? silent;
    this.engine = new FlagdCore(undefined, silent);
    this.hooks = config.metrics ? [config.metrics] : [];
    this.flags = new FlagAccessor(this, config.metrics);
  }

  /** The provider's own view of its state (the OpenFeature client's `providerStatus` mirrors it). */
  get state(): Lifecycle {
    return this.lifecycle;
  }

  /** The server revision the provider's values reflect, if any. */
  get currentRevision(): number | undefined {
    return this.revision;
  }

  /** Keys of every flag the provider currently holds, sorted (for health views and typed config). */
  /** The flagd document this provider evaluates (JSON; with a selector, that set's flags only), for diagnostics. */
  configurationJson(): string | undefined {
    return this.configJson;
  }

  flagKeys(): string[] {
    return [...this.engine.getFlags().keys()].sort();
  }

  /** The value type of a flag, from its variants; undefined for an unknown flag. */
  flagType(key: string): FlagValueType | undefined {
    const flag = this.engine.getFlag(key);
    if (!flag) return undefined;
    const first = flag.variants.values().next().value;
    if (typeof first === 'boolean') return 'boolean';
    if (typeof first === 'string') return 'string';
    if (typeof first === 'number') return 'number';
    return 'object';
  }

  async initialize(): Promise<void> {
    this.closed = false;
    if (this.config.cachePath) {
      const cached = await readSnapshotCache(this.config.cachePath);
      if (cached) {
        this.adopt(cached.config);
        this.source = 'cache';
        this.revision = cached.revision;
        this.logger.info(
          `runtime-control: loaded cached flags (revision ${cached.revision}) from ${this.config.cachePath}`,
        );
      }
    }
    this.connect();
    const live = await this.waitForLive(
      this.source === 'cache' ? this.options.cacheWaitMs : this.options.initTimeoutMs,
    );
    if (this.lifecycle === 'FATAL') {
      throw new ProviderFatalError('the Runtime Control server rejected the token; create a client token and restart');
    }
    if (live) {
      this.lifecycle = 'READY';
      return;
    }
    if (this.source === 'cache') {
      // Serve the cached values; the OpenFeature SDK marks us READY when this resolves, so report STALE right after.
      this.lifecycle = 'READY';
      setImmediate(() => this.markDisconnected('server unreachable at start-up; serving the cached snapshot'));
      return;
    }
    this.lifecycle = 'ERROR';
    throw new GeneralError(
      `no flags from ${this.config.url} within ${this.options.initTimeoutMs} ms; evaluations return code defaults until it answers (retrying)`,
    );
  }

  async onClose(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.graceTimer);
    clearTimeout(this.handoverTimer);
    this.connection?.close();
    this.connection = undefined;
    await this.cacheWrite;
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean, context: EvaluationContext) {
    return Promise.resolve(this.evaluate('boolean', key, defaultValue, context));
  }

  resolveStringEvaluation(key: string, defaultValue: string, context: EvaluationContext) {
    return Promise.resolve(this.evaluate('string', key, defaultValue, context));
  }

  resolveNumberEvaluation(key: string, defaultValue: number, context: EvaluationContext) {
    return Promise.resolve(this.evaluate('number', key, defaultValue, context));
  }

  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T, context: EvaluationContext) {
    return Promise.resolve(this.evaluate('object', key, defaultValue, context));
  }

  /**
   * The one evaluation routine behind both the OpenFeature methods and the fast path. Synchronous, and it never
   * throws: every failure becomes the caller's default with an error code.
   */
  evaluate<T extends JsonValue>(
    type: FlagValueType,
    key: string,
    defaultValue: T,
    context: EvaluationContext,
  ): ResolutionDetails<T> {
    try {
      if (this.source === 'none') {
        return {
          value: defaultValue,
          reason: 'ERROR',
          errorCode: 'PROVIDER_NOT_READY' as never,
          errorMessage: 'no flags loaded yet',
        };
      }
      const details = this.engine.resolve(type, key, defaultValue, context) as ResolutionDetails<T>;
      if (details.errorCode || details.reason === 'DISABLED') return details;
      if (this.source === 'cache') details.reason = 'CACHED';
      else if (!this.connected) details.reason = 'STALE';
      return details;
    } catch (err) {
      return {
        value: defaultValue,
        reason: 'ERROR',
        errorCode: 'GENERAL' as never,
        errorMessage: (err as Error).message,
      };
    }
  }

  /** Takes `configJson` as the whole server document (snapshot, full change, cache) and applies it. */
  private adopt(configJson: string): string[] {
    this.document = JSON.parse(configJson) as FlagdConfigurationData;
    return this.apply(configJson);
  }

  private apply(configJson: string): string[] {
    const selected = this.flagSet === undefined ? configJson : selectFlagSet(configJson, this.flagSet);
    const changed = this.engine.setConfigurations(selected);
    this.configJson = selected;
    return changed;
  }

  private connect(): void {
    if (this.closed) return;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.token}`,
      'user-agent': USER_AGENT,
      'x-rc-instance': headerValue(`${hostname()}/${process.pid}`),
    };
    const app = this.config.appName ?? process.env.OTEL_SERVICE_NAME ?? process.env.npm_package_name;
    if (app) headers['x-rc-app'] = headerValue(app);
    if (this.revision !== undefined && !this.snapshotNeeded) headers['last-event-id'] = String(this.revision);
    this.snapshotNeeded = false;
    // Deltas: each change carries only what changed, so its size follows the change and not the flag count.
    let url = `${this.config.url.replace(/\/$/, '')}/api/client/stream?format=delta`;
    // With a selector the server sends that set only (and its changes only); the set is still selected here too.
    const selecting = this.flagSet !== undefined && this.serverSelects;
    if (selecting) url += `&selector=${encodeURIComponent(`flagSetId=${this.flagSet}`)}`;
    let opened = false;
    this.connection = openSseConnection(
      url,
      headers,
      {
        onOpen: () => {
          opened = true;
        },
        onMessage: (m) => this.onMessage(m),
        onClose: (reason, status) => {
          this.connection = undefined;
          if (this.closed) return;
          if (status === 400 && selecting) {
            // A server from before `?selector=` refuses the parameter: take its whole document from a snapshot and
            // select the set here, as the provider did before the server could.
            this.serverSelects = false;
            this.snapshotNeeded = true;
            this.logger.warn('runtime-control: the server does not take ?selector=; selecting the flag set locally');
            this.connect();
            return;
          }
          if (status === 401 || status === 403) {
            this.lifecycle = 'FATAL';
            this.logger.error(`runtime-control: the server rejected the token (${status}); not retrying`);
            this.events.emit(ProviderEvents.Error, {
              message: `token rejected (${status})`,
              errorCode: 'PROVIDER_FATAL' as never,
            });
            for (const w of this.liveWaiters.splice(0)) w();
            return;
          }
          if (opened) this.attempt = 0;
          if (this.handoverRequested) {
            // The server ended this stream on purpose (`reconnect`): connect again now, without reporting STALE.
            this.handoverRequested = false;
            this.startHandover();
            return;
          }
          if (this.handoverUntil !== undefined && Date.now() < this.handoverUntil) {
            // A reconnect during the handover failed (e.g. the draining replica refused it): retry, still READY.
            this.connected = false;
            this.scheduleReconnect();
            return;
          }
          this.logger.warn(`runtime-control: stream lost (${reason}); reconnecting`);
          this.markDisconnected(reason);
          this.scheduleReconnect();
        },
      },
      this.options.idleTimeoutMs,
    );
  }

  private startHandover(): void {
    this.connected = false;
    this.attempt = 0;
    this.handoverUntil = Date.now() + this.options.handoverGraceMs;
    clearTimeout(this.handoverTimer);
    this.handoverTimer = setTimeout(() => {
      this.handoverUntil = undefined;
      if (!this.connected && !this.closed)
        this.markDisconnected('the server handed the stream over; no replica took it');
    }, this.options.handoverGraceMs);
    this.handoverTimer.unref();
    this.connect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    const delay = backoffDelay(this.attempt++, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private onMessage(m: SseMessage): void {
    try {
      let changed: string[] = [];
      if (m.event === SNAPSHOT) {
        changed = this.adopt(m.data);
      } else if (m.event === CHANGE) {
        const payload = JSON.parse(m.data) as ChangeFrameData<unknown>;
        changed = this.adopt(JSON.stringify(payload.config));
      } else if (m.event === DELTA) {
        const delta = JSON.parse(m.data) as DeltaFrameData;
        const fit = this.document === undefined ? 'gap' : deltaFit(this.revision, delta);
        if (fit === 'skip') return;
        if (fit === 'gap') {
          // Holding an older document than the delta starts from: a change was missed. Take a snapshot now.
          this.logger.warn(
            `runtime-control: missed a change (holding revision ${this.revision ?? 'none'}, delta from ${delta.base}); taking a snapshot`,
          );
          this.snapshotNeeded = true;
          this.handoverRequested = true;
          this.connection?.close();
          return;
        }
        applyDelta(this.document!, delta);
        changed = this.apply(JSON.stringify(this.document));
      } else if (m.event === RECONNECT) {
        const reason = (JSON.parse(m.data) as Partial<ReconnectFrameData>).reason ?? 'no reason given';
        this.logger.info(`runtime-control: the server asked to reconnect (${reason}); reconnecting now`);
        this.handoverRequested = true;
        this.connection?.close();
        return;
      } else if (m.event !== READY) {
        return;
      }
      if (m.id !== undefined && /^\d+$/.test(m.id)) this.revision = Number(m.id);
      else if (m.event === READY)
        this.revision = (JSON.parse(m.data) as Partial<ReadyFrameData>).revision ?? this.revision;
      const wasLive = this.source === 'live' && this.connected;
      this.source = 'live';
      this.markConnected(wasLive);
      if (changed.length > 0 && this.lifecycle !== 'NOT_READY') {
        this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
      }
      if (m.event !== READY) this.persist();
    } catch (err) {
      this.logger.error(`runtime-control: ignoring an unreadable ${m.event} event: ${(err as Error).message}`);
    }
  }

  private markConnected(wasLive: boolean): void {
    this.connected = true;
    this.handoverUntil = undefined;
    clearTimeout(this.handoverTimer);
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    for (const w of this.liveWaiters.splice(0)) w();
    if (!wasLive && (this.lifecycle === 'STALE' || this.lifecycle === 'ERROR')) {
      this.lifecycle = 'READY';
      this.events.emit(ProviderEvents.Ready, { message: 'stream restored' });
    }
  }

  private markDisconnected(reason: string): void {
    const wasConnected = this.connected || this.lifecycle === 'READY';
    this.connected = false;
    if (this.lifecycle === 'NOT_READY' || this.lifecycle === 'FATAL' || this.closed) return;
    if (wasConnected && this.lifecycle === 'READY') {
      this.lifecycle = 'STALE';
      this.events.emit(ProviderEvents.Stale, { message: `serving the last known flags: ${reason}` });
    }
    if (!this.graceTimer && this.lifecycle === 'STALE') {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = undefined;
        if (this.connected || this.closed) return;
        this.lifecycle = 'ERROR';
        this.events.emit(ProviderEvents.Error, {
          message: `no connection to ${this.config.url} for ${this.options.errorGracePeriodMs} ms; still serving the last known flags`,
        });
      }, this.options.errorGracePeriodMs);
      this.graceTimer.unref();
    }
  }

  private waitForLive(timeoutMs: number): Promise<boolean> {
    if (this.source === 'live' && this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.liveWaiters = this.liveWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(this.source === 'live' && this.connected);
      };
      this.liveWaiters.push(done);
    });
  }

  private persist(): void {
    const path = this.config.cachePath;
    if (!path || this.configJson === undefined || this.revision === undefined) return;
    const snapshot = { revision: this.revision, savedAt: new Date().toISOString(), config: this.configJson };
    this.cacheWrite = this.cacheWrite
      .then(() => writeSnapshotCache(path, snapshot))
      .catch((err: Error) => this.logger.warn(`runtime-control: could not write the snapshot cache: ${err.message}`));
  }
}

/**
 * Synchronous typed evaluation over the provider's state: the same values, reasons and metrics as the OpenFeature
 * client, without its per-call async hook pipeline — for request hot paths.
 */
export class FlagAccessor {
  constructor(
    private readonly provider: RuntimeControlProvider,
    private readonly recorder: EvaluationRecorder | undefined,
  ) {}

  boolean(key: string, fallback: boolean, context: EvaluationContext = {}): boolean {
    return this.details('boolean', key, fallback, context).value;
  }

  string(key: string, fallback: string, context: EvaluationContext = {}): string {
    return this.details('string', key, fallback, context).value;
  }

  number(key: string, fallback: number, context: EvaluationContext = {}): number {
    return this.details('number', key, fallback, context).value;
  }

  object<T extends JsonValue>(key: string, fallback: T, context: EvaluationContext = {}): T {
    return this.details('object', key, fallback, context).value;
  }

  details<T extends JsonValue>(
    type: FlagValueType,
    key: string,
    fallback: T,
    context: EvaluationContext = {},
  ): ResolutionDetails<T> {
    const d = this.provider.evaluate(type, key, fallback, context);
    if (d.errorCode) d.value = fallback;
    this.recorder?.record({
      flagKey: key,
      providerName: PROVIDER_NAME,
      variant: d.variant,
      reason: d.reason,
      errorCode: d.errorCode,
    });
    return d;
  }
}
