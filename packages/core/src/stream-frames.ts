/**
 * The server-sent-event frames of Runtime Control's streams, declared once: the server writes them with the
 * builders below, the SDK reads them by these types, and tests check them with the same types.
 *
 * - Client stream `GET /api/client/stream` (RuntimeControlProvider):
 *   - `snapshot` (`id:` the revision): the environment's whole flagd configuration, on connect without a usable
 *     `Last-Event-ID`;
 *   - `change` (`id:` the revision): {@link ChangeFrameData}, after every change and on resume when changes were
 *     missed — the whole new configuration;
 *   - `delta` (`id:` the revision) instead of `change` for clients that ask for `?format=delta` (the SDK does):
 *     {@link DeltaFrameData}, only what changed, so its size follows the change and not the flag count;
 *   - `ready`: {@link ReadyFrameData}, on resume when nothing was missed.
 * - OFREP `GET /ofrep/v1/sse` (OFREP ADR-0008): unnamed events (`message`) carrying {@link OfrepRefetchFrameData}.
 * - Unleash bridge `GET /api/integrations/unleash/stream` (UnleashProvider): `ready` (`{}`) after each connect and
 *   `unleash-refresh` hints ({@link UnleashRefreshFrameData}).
 *
 * Every stream starts with `retry: 1000` and carries `: heartbeat` comments. Every `data:` is one line of JSON.
 * When a replica shuts down, every stream's last frame is `reconnect` ({@link ReconnectFrameData}): the replica
 * ends the stream on purpose, and a client reconnects at once (another replica answers) instead of treating it as
 * a lost connection. OFREP providers ignore it (a named event they do not listen to) and reconnect as usual.
 */

/** A flagd configuration (`{"flags": {...}, "$evaluators"?: {...}}`), as the client stream carries it. */
export interface FlagdConfigurationData {
  flags: Record<string, unknown>;
  $evaluators?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * `delta` on the client stream (`?format=delta`): what changed in the document since `base`. A client holding a
 * revision from `base` (inclusive) to `revision` (exclusive) holds the document the delta applies to — the view did
 * not change in between — and applies it: sets each of `flags`, deletes each of `removed`, replaces each top-level
 * entry of `top` (null: delete it). A client holding an older revision missed a change and must take a snapshot
 * (reconnect without `Last-Event-ID`); one holding `revision` or newer ignores it.
 */
export interface DeltaFrameData {
  revision: number;
  base: number;
  /** The whole document's content hash after the delta (the snapshot's ETag, without quotes). */
  etag: string;
  /** Changed or added flags, in flagd form. */
  flags: Record<string, unknown>;
  /** Keys no longer in the document. */
  removed: string[];
  /** Changed top-level entries other than `flags` (`$evaluators`, `metadata`); null: gone. */
  top: Record<string, unknown>;
}

/** `change` on the client stream: the revision, the flag keys it touched and the whole new configuration. */
export interface ChangeFrameData<Config = FlagdConfigurationData> {
  revision: number;
  changed: string[];
  config: Config;
}

/** `ready` on the client stream: the revision the client is up to date with. */
export interface ReadyFrameData {
  revision: number;
}

/** The OFREP stream's only message (ADR-0008): the bulk evaluation changed; refetch it. */
export interface OfrepRefetchFrameData {
  type: 'refetchEvaluation';
  /** The environment's configuration ETag (not the bulk response's ETag, which also covers the context). */
  etag: string;
}

/**
 * `unleash-refresh` on the bridge stream: fetch this flag now (`feature` null: fetch everything). Carries no flag
 * data; Unleash stays the source of truth.
 */
export interface UnleashRefreshFrameData {
  feature: string | null;
  /** Unleash's event type, e.g. `feature-updated`. */
  type: string;
  environment: string | null;
  /** Unleash's event id, when known (hints are de-duplicated by it). */
  eventId: number | null;
}

/** `ready` on the bridge stream: connected; a provider refreshes once, covering hints missed while away. */
export type UnleashReadyFrameData = Record<string, never>;

/** `reconnect`, the last frame a draining replica sends on every stream before it ends the stream. */
export interface ReconnectFrameData {
  /** Why, for logs: e.g. "replica shutting down". */
  reason: string;
}

/**
 * `secret-rotated` on the client stream: a bundle got a new version (after its rotation completed). It carries names
 * and versions, never a value: `rctl exec` restarts its child, which reads the new value again.
 */
export interface SecretRotatedFrameData {
  service: string;
  bundle: string;
  version: number;
  /** The rotation's (or rollback's) id on the server. */
  rotation: string;
  at: string;
}

/**
 * `change` on the admin stream (`/api/admin/stream`, the console's live view): which entities a revision touched,
 * by key or id — never a flag body, value or secret; the console re-reads what it shows.
 */
export interface AdminChangeFrameData {
  revision: number;
  flags: string[];
  evaluators: string[];
  tokens: string[];
}

/** Each stream's events: event name → what `data:` carries. */
export interface ClientStreamFrames<Config = FlagdConfigurationData> {
  snapshot: Config;
  change: ChangeFrameData<Config>;
  delta: DeltaFrameData;
  ready: ReadyFrameData;
  reconnect: ReconnectFrameData;
  'secret-rotated': SecretRotatedFrameData;
}
export interface OfrepStreamFrames {
  message: OfrepRefetchFrameData;
}
export interface AdminStreamFrames {
  ready: ReadyFrameData;
  change: AdminChangeFrameData;
  reconnect: ReconnectFrameData;
}
export interface UnleashBridgeFrames {
  ready: UnleashReadyFrameData;
  'unleash-refresh': UnleashRefreshFrameData;
  reconnect: ReconnectFrameData;
}

export type ClientStreamEvent = keyof ClientStreamFrames;
export type OfrepStreamEvent = keyof OfrepStreamFrames;
export type UnleashBridgeEvent = keyof UnleashBridgeFrames;
export type AdminStreamEvent = keyof AdminStreamFrames;

export const UNLEASH_REFRESH_EVENT = 'unleash-refresh' satisfies UnleashBridgeEvent;
export const RECONNECT_EVENT = 'reconnect' satisfies ClientStreamEvent & UnleashBridgeEvent;
export const SECRET_ROTATED_EVENT = 'secret-rotated' satisfies ClientStreamEvent;

/** One SSE frame. `data` must be one line (JSON.stringify output always is). */
export function sseFrame(event: string, data: string, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`;
}

/** `snapshot`, from the configuration's JSON as the server already holds it. */
export function snapshotFrame(configJson: string, revision: number): string {
  return sseFrame('snapshot' satisfies ClientStreamEvent, configJson, revision);
}

/** `change`, from the configuration's JSON as the server already holds it (spliced in, not parsed again). */
export function changeFrame(revision: number, changed: readonly string[], configJson: string): string {
  return sseFrame(
    'change' satisfies ClientStreamEvent,
    `{"revision":${revision},"changed":${JSON.stringify(changed)},"config":${configJson}}`,
    revision,
  );
}

/** `delta` (see {@link DeltaFrameData}). */
export function deltaFrame(data: DeltaFrameData): string {
  const body: DeltaFrameData = {
    revision: data.revision,
    base: data.base,
    etag: data.etag,
    flags: data.flags,
    removed: data.removed,
    top: data.top,
  };
  return sseFrame('delta' satisfies ClientStreamEvent, JSON.stringify(body), data.revision);
}

export function readyFrame(data: ReadyFrameData): string {
  return sseFrame('ready' satisfies ClientStreamEvent, JSON.stringify({ revision: data.revision }));
}

/** The admin stream's `change` (id = revision, so a reconnect could resume; the console re-reads on `ready`). */
export function adminChangeFrame(data: AdminChangeFrameData): string {
  const body: AdminChangeFrameData = {
    revision: data.revision,
    flags: data.flags,
    evaluators: data.evaluators,
    tokens: data.tokens,
  };
  return sseFrame('change' satisfies AdminStreamEvent, JSON.stringify(body), data.revision);
}

export function ofrepRefetchFrame(etag: string): string {
  const data: OfrepRefetchFrameData = { type: 'refetchEvaluation', etag };
  return sseFrame('message' satisfies OfrepStreamEvent, JSON.stringify(data));
}

export function unleashReadyFrame(): string {
  return sseFrame('ready' satisfies UnleashBridgeEvent, '{}');
}

export function unleashRefreshFrame(hint: UnleashRefreshFrameData): string {
  const data: UnleashRefreshFrameData = {
    feature: hint.feature,
    type: hint.type,
    environment: hint.environment,
    eventId: hint.eventId,
  };
  return sseFrame(UNLEASH_REFRESH_EVENT, JSON.stringify(data));
}

/** `reconnect`: this replica is going away; connect again now (to any replica). */
export function reconnectFrame(reason: string): string {
  const data: ReconnectFrameData = { reason };
  return sseFrame(RECONNECT_EVENT, JSON.stringify(data));
}

/** `secret-rotated`: names and versions only (the fields are copied one by one, so nothing else can ride along). */
export function secretRotatedFrame(data: SecretRotatedFrameData): string {
  const frame: SecretRotatedFrameData = {
    service: data.service,
    bundle: data.bundle,
    version: data.version,
    rotation: data.rotation,
    at: data.at,
  };
  return sseFrame(SECRET_ROTATED_EVENT, JSON.stringify(frame));
}
