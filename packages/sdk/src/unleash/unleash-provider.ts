import {
  ErrorCode,
  type EvaluationContext,
  type FlagMetadata,
  GeneralError,
  type JsonValue,
  type Logger,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  ProviderFatalError,
  type ResolutionDetails,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import { Unleash, type UnleashConfig } from 'unleash-client';
import { UnleashBridgeClient, type UnleashBridgeOptions } from './unleash-bridge-client.js';
import { toUnleashContext } from './unleash-context.js';
import { bindUnleashFeatureUpdates, bindUnleashRefresh, CoalescingRefresher } from './unleash-refresh.js';

/** Options shared by both ways of building the provider. */
interface UnleashProviderCommonOptions {
  /** How long `initialize` waits for the first successful fetch before it rejects (default 10 s). */
  initTimeoutMs?: number;
  /**
   * What a boolean evaluation returns for a flag that is switched off in the client's environment:
   * `'default'` (the default) returns the caller's default with reason DISABLED, as flagd and the
   * RuntimeControlProvider do; `'false'` returns `false` with reason DISABLED, as `unleash.isEnabled` does.
   */
  disabledBooleanValue?: 'default' | 'false';
  logger?: Logger;
  /**
   * The Runtime Control server's Unleash bridge (its URL and a client token). When set, the provider follows the
   * bridge's stream and makes the Unleash client fetch as soon as Unleash's webhook addon reports a feature change,
   * instead of waiting for the next poll. Polling continues unchanged: without the bridge, or while it is
   * unreachable, changes arrive as they would without it.
   */
  bridge?: UnleashBridgeOptions;
}

/** Build a client that talks to an Unleash server (or Edge) with a backend token. */
export interface UnleashProviderConnectionOptions extends UnleashProviderCommonOptions {
  /** The Unleash API URL, e.g. `https://unleash.example.com/api`. */
  url: string;
  appName: string;
  /** A backend (client) token, sent as the raw `Authorization` header. */
  apiToken: string;
  instanceId?: string;
  /** Polling interval (default 15 s, unleash-client's default). */
  refreshIntervalMs?: number;
  /** The static `environment` of the Unleash context (default "default"); tokens pick the server environment. */
  environment?: string;
  projectName?: string;
  disableMetrics?: boolean;
  /** Anything else for `new Unleash(...)` (e.g. `storageProvider`, `backupPath`, `httpOptions`); wins over the above. */
  unleashConfig?: Partial<UnleashConfig>;
}

/** Wrap a client the application built; the provider starts it if needed but never destroys it. */
export interface UnleashProviderClientOptions extends UnleashProviderCommonOptions {
  client: Unleash;
}

export type UnleashProviderOptions = UnleashProviderConnectionOptions | UnleashProviderClientOptions;

/** NOT_READY until the first sync; ERROR while fetches fail; FATAL once the server rejected the token. */
export type UnleashProviderState = 'NOT_READY' | 'READY' | 'ERROR' | 'FATAL';

type VariantFlagType = 'string' | 'number' | 'object';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * OpenFeature server provider backed by `unleash-client`. Evaluation stays Unleash's own (strategies, constraints,
 * stickiness, variants); this class maps the context, types variant payloads and turns the client's events into
 * provider events. Resolve methods never throw.
 *
 * Semantics (the choices the Unleash SDK leaves open):
 * - boolean: `isEnabled`, reason TARGETING_MATCH (for true and false alike: strategies decided). A flag switched
 *   off in the environment gives reason DISABLED with the caller's default (see `disabledBooleanValue`).
 * - string/number/object: `getVariant`; the value comes from the variant's payload, reason SPLIT, `variant` = the
 *   Unleash variant name. Flag switched off → default, DISABLED. Flag on but off for this context, or on without a
 *   variant → default, DEFAULT. A payload that does not fit the requested type (or no payload) → TYPE_MISMATCH;
 *   string accepts `string` and `csv` payloads, number accepts `number`, object accepts `json` holding an object or
 *   an array (invalid JSON → PARSE_ERROR).
 * - Unknown flag → FLAG_NOT_FOUND with the default.
 * - Events: the SDK (1.23) emits READY/ERROR for `initialize` itself, so the provider does not repeat them. Later, a
 *   failed fetch emits PROVIDER_ERROR once, the next successful fetch PROVIDER_READY, a change
 *   PROVIDER_CONFIGURATION_CHANGED with the keys whose definitions changed, and a 401/403 PROVIDER_ERROR with code
 *   PROVIDER_FATAL (the client stops polling then). Metrics-upload errors are only logged: they do not affect
 *   evaluation.
 */
export class UnleashProvider implements Provider {
  readonly metadata = { name: 'unleash' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  /** The wrapped `unleash-client` instance (its own, or the one it was given). */
  readonly client: Unleash;

  private readonly ownsClient: boolean;
  private readonly initTimeoutMs: number;
  private readonly disabledBooleanValue: 'default' | 'false';
  private readonly logger: Logger;
  private readonly description: string;
  private lifecycle: UnleashProviderState = 'NOT_READY';
  /** Serialized definition of every flag at the last sync, to tell which keys a `changed` event touched. */
  private definitions = new Map<string, string>();
  private lastError: Error | undefined;
  private initWaiter: { resolve(): void; reject(err: Error): void } | undefined;
  private readonly detach: (() => void)[] = [];
  private readonly bridgeOptions: UnleashBridgeOptions | undefined;
  private bridge: UnleashBridgeClient | undefined;
  private refresher: CoalescingRefresher | undefined;
  /** Fetches that brought changed flags (the bridge retries a fetch that did not). */
  private changedFetches = 0;

  constructor(options: UnleashProviderOptions) {
    this.initTimeoutMs = options.initTimeoutMs ?? 10_000;
    this.disabledBooleanValue = options.disabledBooleanValue ?? 'default';
    this.logger = options.logger ?? silent;
    this.bridgeOptions = options.bridge;
    if ('client' in options) {
      this.client = options.client;
      this.ownsClient = false;
      this.description = 'the given Unleash client';
    } else {
      this.client = new Unleash({
        url: options.url,
        appName: options.appName,
        instanceId: options.instanceId,
        refreshInterval: options.refreshIntervalMs,
        environment: options.environment,
        projectName: options.projectName,
        disableMetrics: options.disableMetrics,
        customHeaders: { Authorization: options.apiToken },
        // Started by `initialize`, so that building a provider has no side effects.
        disableAutoStart: true,
        ...options.unleashConfig,
      });
      this.ownsClient = true;
      this.description = `Unleash at ${options.url}`;
    }
    this.listen('changed', () => {
      this.changedFetches++;
      this.onFetched(true);
    });
    this.listen('unchanged', () => this.onFetched(false));
    this.listen('error', (err: unknown) => this.onClientError(err));
    this.listen('warn', (message: unknown) => this.onClientWarning(message));
  }

  /** The provider's own view of its state (the OpenFeature client's `providerStatus` follows its events). */
  get state(): UnleashProviderState {
    return this.lifecycle;
  }

  async initialize(): Promise<void> {
    if (this.lifecycle === 'READY') return;
    const synchronized = new Promise<void>((resolve, reject) => {
      this.initWaiter = { resolve, reject };
    });
    this.client.start().catch((err: unknown) => this.onClientError(err));
    if (this.client.isSynchronized()) this.finishInitialization();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.lastError ? ` (last error: ${this.lastError.message})` : '';
        reject(
          new GeneralError(
            `${this.description} did not deliver flags within ${this.initTimeoutMs} ms${cause}; evaluations return code defaults until it does (still retrying)`,
          ),
        );
      }, this.initTimeoutMs);
    });
    this.startBridge();
    try {
      await Promise.race([synchronized, timeout]);
      this.lifecycle = 'READY';
    } catch (err) {
      // The SDK emits PROVIDER_ERROR for a rejected initialize; a later successful fetch emits READY (onFetched).
      if (this.lifecycle === 'NOT_READY') this.lifecycle = err instanceof ProviderFatalError ? 'FATAL' : 'ERROR';
      throw err;
    } finally {
      clearTimeout(timer);
      this.initWaiter = undefined;
    }
  }

  /** Fetches made because the bridge asked (0 without a bridge). */
  get bridgeRefreshes(): number {
    return this.refresher?.fetches ?? 0;
  }

  /** Of those, the fetches of named flags one by one (the rest fetched the full list). */
  get bridgeFeatureFetches(): number {
    return this.refresher?.featureFetches ?? 0;
  }

  /** Whether the bridge stream is connected right now. */
  get bridgeConnected(): boolean {
    return this.bridge?.connected ?? false;
  }

  private startBridge(): void {
    if (!this.bridgeOptions || this.bridge) return;
    const fetchNow = bindUnleashRefresh(this.client);
    if (!fetchNow) {
      this.logger.warn('unleash: this unleash-client cannot be asked to fetch now; the bridge is off, polling only');
      return;
    }
    // Named flags are fetched one by one from Unleash's database-backed single-flag endpoint (no revision cache).
    const updater = bindUnleashFeatureUpdates(this.client);
    const fetchFeatures = updater
      ? async (names: readonly string[]) => (await updater.update(names)) === 'applied'
      : undefined;
    const fetchAll = async () => {
      const before = this.changedFetches;
      await fetchNow();
      return this.changedFetches > before;
    };
    // 10 ms gathers the events of one change (Unleash records several within milliseconds).
    this.refresher = new CoalescingRefresher(fetchAll, fetchFeatures, 10, (err) =>
      this.logger.warn(`unleash: bridge-triggered fetch failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    const refresher = this.refresher;
    this.bridge = new UnleashBridgeClient(
      this.bridgeOptions,
      (hint) =>
        hint.kind === 'ready'
          ? // Catches up on hints missed while disconnected; nothing is known to have changed, so no retries.
            refresher.request(undefined, { retryUnchanged: false })
          : refresher.request(hint.feature === undefined ? undefined : [hint.feature]),
      this.logger,
    );
    this.bridge.start();
  }

  async onClose(): Promise<void> {
    this.bridge?.close();
    this.refresher?.close();
    for (const off of this.detach.splice(0)) off();
    this.initWaiter?.reject(new GeneralError('the provider was closed before it was ready'));
    // A client the application handed in stays the application's to destroy.
    if (!this.ownsClient) return;
    this.client.destroy();
    // destroy() removes the repository's listeners, yet a fetch already in flight still emits its failure there;
    // with no listener left that 'error' event would be thrown as an uncaught exception and end the process.
    const repository = (this.client as unknown as { repository?: { on(event: 'error', f: () => void): void } })
      .repository;
    repository?.on('error', () => {});
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(
      this.guard(flagKey, defaultValue, () => this.evaluateBoolean(flagKey, defaultValue, context)),
    );
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(
      this.guard(flagKey, defaultValue, () => this.evaluateVariant('string', flagKey, defaultValue, context)),
    );
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<number>> {
    return Promise.resolve(
      this.guard(flagKey, defaultValue, () => this.evaluateVariant('number', flagKey, defaultValue, context)),
    );
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(
      this.guard(flagKey, defaultValue, () => this.evaluateVariant('object', flagKey, defaultValue, context)),
    );
  }

  /** Any exception becomes the caller's default with reason ERROR and code GENERAL: nothing reaches app code. */
  private guard<T>(flagKey: string, defaultValue: T, evaluate: () => ResolutionDetails<T>): ResolutionDetails<T> {
    try {
      return evaluate();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.logger.error(`unleash: evaluating "${flagKey}" failed: ${message}`);
      return failure(defaultValue, ErrorCode.GENERAL, `evaluating "${flagKey}" failed: ${message}`);
    }
  }

  private evaluateBoolean(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): ResolutionDetails<boolean> {
    const definition = this.client.getFeatureToggleDefinition(flagKey);
    if (!definition) return notFound(flagKey, defaultValue);
    if (!definition.enabled) {
      return {
        value: this.disabledBooleanValue === 'false' ? false : defaultValue,
        reason: StandardResolutionReasons.DISABLED,
        flagMetadata: { featureEnabled: false },
      };
    }
    const value = this.client.isEnabled(flagKey, toUnleashContext(context), defaultValue);
    return { value, reason: StandardResolutionReasons.TARGETING_MATCH, flagMetadata: { featureEnabled: value } };
  }

  private evaluateVariant<T>(
    type: VariantFlagType,
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): ResolutionDetails<T> {
    const definition = this.client.getFeatureToggleDefinition(flagKey);
    if (!definition) return notFound(flagKey, defaultValue);
    if (!definition.enabled) {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.DISABLED,
        flagMetadata: { featureEnabled: false },
      };
    }
    const variant = this.client.getVariant(flagKey, toUnleashContext(context));
    const featureEnabled = variant.feature_enabled ?? variant.featureEnabled ?? false;
    if (!featureEnabled || !variant.enabled) {
      // Off for this context (no strategy matched), or on without variants: the code default applies.
      return { value: defaultValue, reason: StandardResolutionReasons.DEFAULT, flagMetadata: { featureEnabled } };
    }
    const payload = variant.payload;
    const flagMetadata: FlagMetadata = { featureEnabled, payloadType: payload?.type ?? 'none' };
    const mismatch = (why: string): ResolutionDetails<T> => ({
      ...failure(defaultValue, ErrorCode.TYPE_MISMATCH, `flag "${flagKey}" variant "${variant.name}" ${why}`),
      variant: variant.name,
      flagMetadata,
    });
    if (!payload) return mismatch(`has no payload; a ${type} evaluation needs one`);
    const payloadType: string = payload.type;
    let value: unknown;
    if (type === 'string') {
      if (payloadType !== 'string' && payloadType !== 'csv')
        return mismatch(`has a ${payloadType} payload, not a string`);
      value = payload.value;
    } else if (type === 'number') {
      if (payloadType !== 'number') return mismatch(`has a ${payloadType} payload, not a number`);
      value = payload.value.trim() === '' ? Number.NaN : Number(payload.value);
      if (Number.isNaN(value))
        return mismatch(`has a number payload that is not a number: ${JSON.stringify(payload.value)}`);
    } else {
      if (payloadType !== 'json') return mismatch(`has a ${payloadType} payload, not json`);
      try {
        value = JSON.parse(payload.value);
      } catch (err) {
        return {
          ...failure(
            defaultValue,
            ErrorCode.PARSE_ERROR,
            `flag "${flagKey}" variant "${variant.name}" has invalid JSON: ${(err as Error).message}`,
          ),
          variant: variant.name,
          flagMetadata,
        };
      }
      if (typeof value !== 'object' || value === null) return mismatch('has a json payload that is not an object');
    }
    return { value: value as T, variant: variant.name, reason: StandardResolutionReasons.SPLIT, flagMetadata };
  }

  private listen(event: string, handler: (...args: unknown[]) => void): void {
    this.client.on(event, handler);
    this.detach.push(() => this.client.off(event, handler));
  }

  /** A successful fetch: `changed` (200 with data, or bootstrap) or `unchanged` (304). */
  private onFetched(dataArrived: boolean): void {
    const changedKeys = dataArrived ? this.takeSnapshot() : [];
    if (this.lifecycle === 'NOT_READY') {
      if (this.client.isSynchronized() || dataArrived) this.finishInitialization();
      return;
    }
    if (this.lifecycle === 'FATAL') return;
    if (this.lifecycle === 'ERROR') {
      this.lifecycle = 'READY';
      this.lastError = undefined;
      this.logger.info(`unleash: ${this.description} answers again`);
      this.events.emit(ProviderEvents.Ready, { message: `${this.description} answers again` });
    }
    if (changedKeys.length > 0) {
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changedKeys });
    }
  }

  private finishInitialization(): void {
    this.takeSnapshot();
    this.lastError = undefined;
    // unleash-client flags itself ready in a process.nextTick after the data lands (until then isEnabled answers
    // the fallback); setImmediate runs after that tick queue has drained.
    const waiter = this.initWaiter;
    setImmediate(() => waiter?.resolve());
  }

  /** Records every flag's definition and returns the keys added, removed or changed since the last snapshot. */
  private takeSnapshot(): string[] {
    const next = new Map<string, string>();
    // With full segments, so that a segment edit counts as a change of the flags using it.
    for (const definition of this.client.getFeatureToggleDefinitions(true)) {
      next.set(definition.name, stableJson(definition));
    }
    const changed: string[] = [];
    for (const [key, json] of next) if (this.definitions.get(key) !== json) changed.push(key);
    for (const key of this.definitions.keys()) if (!next.has(key)) changed.push(key);
    this.definitions = next;
    return changed.sort();
  }

  private onClientError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // The Unleash class prefixes fetch failures with "Unleash Repository error"; metrics-upload failures and the
    // instance-count warning do not stop evaluation, so they are only logged.
    if (!error.message.startsWith('Unleash Repository error')) {
      this.logger.warn(`unleash: ${error.message}`);
      return;
    }
    this.markFetchFailed(error, /responded 40[13]\b/.test(error.message));
  }

  /** unleash-client reports 404/429/5xx answers as warnings and backs off; a 5xx still means no fresh flags. */
  private onClientWarning(message: unknown): void {
    const text = String(message);
    if (/responded 5\d\d\b/.test(text)) this.markFetchFailed(new Error(text), false);
    else this.logger.debug(`unleash: ${text}`);
  }

  private markFetchFailed(error: Error, fatal: boolean): void {
    this.lastError = error;
    this.logger.warn(`unleash: ${error.message}`);
    if (this.lifecycle === 'NOT_READY') {
      // Keep waiting (the client retries) unless the token was rejected: then polling has stopped for good.
      if (fatal)
        this.initWaiter?.reject(new ProviderFatalError(`${this.description} rejected the token: ${error.message}`));
      return;
    }
    if (this.lifecycle === 'FATAL') return;
    if (fatal) {
      this.lifecycle = 'FATAL';
      this.events.emit(ProviderEvents.Error, { message: error.message, errorCode: ErrorCode.PROVIDER_FATAL });
      return;
    }
    if (this.lifecycle === 'ERROR') return;
    this.lifecycle = 'ERROR';
    this.events.emit(ProviderEvents.Error, { message: error.message });
  }
}

function notFound<T>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
  return failure(defaultValue, ErrorCode.FLAG_NOT_FOUND, `flag "${flagKey}" is not defined in Unleash`);
}

function failure<T>(value: T, errorCode: ErrorCode, errorMessage: string): ResolutionDetails<T> {
  return { value, reason: StandardResolutionReasons.ERROR, errorCode, errorMessage };
}

/** JSON with object keys sorted, so that two fetches of the same definition compare equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
