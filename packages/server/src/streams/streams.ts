import {
  adminChangeFrame,
  changeFrame,
  deltaFrame,
  ofrepRefetchFrame,
  readyFrame,
  reconnectFrame,
  type SecretRotatedFrameData,
  secretRotatedFrame,
  snapshotFrame,
  type UnleashRefreshFrameData,
  unleashReadyFrame,
  unleashRefreshFrame,
} from '@runtime-control/core';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../errors/app-error.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { EnvironmentChange, ReplicaState } from '../state/replica-state.js';
import { deltaOf, resumeDeltaOf } from './deltas.js';
import {
  ALL_ENVIRONMENTS,
  SseHub,
  type SseHubOptions,
  type StreamConnection,
  type StreamKind,
  type StreamOwner,
} from './sse-hub.js';

export type { FlagStreamKind, SseHubOptions, StreamConnection, StreamKind, StreamOwner } from './sse-hub.js';
export { bindStreamOwner } from './sse-hub.js';

/** Where the Unleash bridge sends its refresh hints (this replica's bridge streams). */
export interface UnleashHintSink {
  /** Sends the hint to every connected bridge stream; returns how many got it. */
  sendUnleashHint(hint: UnleashRefreshFrameData): number;
}

/**
 * This replica's server-sent-event streams: the one owner of change → frames → hub for the three kinds.
 *
 * - Client stream (`/api/client/stream`): a `snapshot`, `change` or `ready` on connect, then a `change` per change
 *   of its environment.
 * - OFREP stream (`/ofrep/v1/sse`): a `refetchEvaluation` message per change of its environment (ADR-0008).
 * - Unleash bridge stream: `ready` on connect, then the hints the bridge sends (`sendUnleashHint`).
 *
 * It follows the replica's state by itself: every environment change is serialized once per stream kind and
 * written to that environment's streams, and a revoked token's streams are closed. Controllers check access and
 * then hand the reply over with `open…`; the frames themselves are declared in `@runtime-control/core`.
 */
export class Streams implements UnleashHintSink {
  private readonly hub: SseHub;

  constructor(
    private readonly state: ReplicaState,
    metrics: ServerMetrics,
    logger: Logger,
    options: SseHubOptions,
  ) {
    this.hub = new SseHub(metrics, options);
    // Revocation is immediate on every replica: each applies it from the store and closes the token's streams here.
    state.onTokenRevoked((token) => {
      const closed = this.hub.closeToken(token.id);
      if (closed > 0) logger.info({ tokenId: token.id, closed }, 'closed the streams of a revoked token');
    });
    state.onEnvironmentChange((change) => this.publish(change));
    // The console's live view: what each applied revision touched, on every replica (each applies every change).
    state.onApplied((applied) => this.hub.broadcast('admin', adminChangeFrame(applied)));
  }

  /** Open streams, all kinds. */
  get size(): number {
    return this.hub.size;
  }

  /** Every open stream, with who is at the other end. */
  connections(): StreamConnection[] {
    return this.hub.connections();
  }

  /** Open streams of one kind. */
  count(kind: StreamKind): number {
    return this.hub.count(kind);
  }

  /**
   * Client stream. Resumes from `lastEventId` (the `Last-Event-ID` header, a revision) when this replica still knows
   * what changed since; otherwise starts with a snapshot. Throws 429 RATE_LIMITED before taking the reply over when
   * the token holds its most streams.
   */
  openClientStream(
    reply: FastifyReply,
    environment: string,
    owner: StreamOwner,
    lastEventId: number,
    flagSet: string | null = null,
    deltas = false,
  ): void {
    const view = this.state.view(environment, flagSet);
    if (!view) throw new AppError('UNAVAILABLE', 'environment not loaded yet; retry');
    this.hub.assertCapacity(owner);
    reply.hijack();
    const client = this.hub.open(reply.raw, environment, 'sdk', owner, flagSet);
    client.deltas = deltas;
    const resumeKeys =
      Number.isInteger(lastEventId) && lastEventId >= 0
        ? this.state.changedSince(environment, lastEventId, flagSet)
        : undefined;
    if (resumeKeys === undefined) {
      this.hub.send(client, snapshotFrame(view.configJson, this.state.revision));
      client.lastRevision = view.revision;
    } else if (resumeKeys.length > 0) {
      this.hub.send(
        client,
        deltas
          ? deltaFrame(resumeDeltaOf(lastEventId, view, resumeKeys))
          : changeFrame(view.revision, resumeKeys, view.configJson),
      );
      client.lastRevision = view.revision;
    } else {
      // Up to date: confirm where the client stands so it knows the stream is live.
      this.hub.send(client, readyFrame({ revision: Math.max(lastEventId, view.revision) }));
      client.lastRevision = Math.max(lastEventId, view.revision);
    }
  }

  /** OFREP stream (ADR-0008). Throws 429 RATE_LIMITED before taking the reply over, as `openClientStream`. */
  openOfrepStream(reply: FastifyReply, environment: string, owner: StreamOwner, flagSet: string | null = null): void {
    this.hub.assertCapacity(owner);
    reply.hijack();
    const client = this.hub.open(reply.raw, environment, 'ofrep', owner, flagSet);
    // An OFREP client fetched the bulk evaluation it follows just before; what it holds is the current revision.
    client.lastRevision = this.state.view(environment, flagSet)?.revision;
  }

  /**
   * Unleash bridge stream, owned by the token the client guard saw (beyond its limit the hub answers 429 itself).
   * `ready` tells the provider the stream is live; it refreshes once then, covering hints missed while disconnected.
   */
  openUnleashStream(reply: FastifyReply, environment: string): void {
    this.hub.assertCapacity(undefined);
    reply.hijack();
    const client = this.hub.open(reply.raw, environment, 'unleash');
    this.hub.send(client, unleashReadyFrame());
  }

  /**
   * Admin change stream (the console): `ready` with the revision this replica is at, then a `change` per applied
   * revision naming what it touched. Owned by the admin API token that opened it (revoking it closes the stream);
   * the root token's streams have no owner.
   */
  openAdminStream(reply: FastifyReply, owner: StreamOwner | undefined): void {
    this.hub.assertCapacity(owner);
    reply.hijack();
    const client = this.hub.open(reply.raw, ALL_ENVIRONMENTS, 'admin', owner);
    this.hub.send(client, readyFrame({ revision: this.state.revision }));
  }

  sendUnleashHint(hint: UnleashRefreshFrameData): number {
    return this.hub.broadcast('unleash', unleashRefreshFrame(hint));
  }

  /** `secret-rotated` to every client stream of this replica (every environment): names and versions, no value. */
  sendSecretRotated(event: SecretRotatedFrameData): number {
    return this.hub.broadcast('sdk', secretRotatedFrame(event));
  }

  /**
   * The replica is going away: every stream gets a final `reconnect` frame and ends, so its client connects again at
   * once (to another replica) rather than waiting out a lost connection; new streams are refused with 503.
   */
  drain(reason: string): number {
    return this.hub.drain(reconnectFrame(reason));
  }

  close(): void {
    this.hub.close();
  }

  private publish(change: EnvironmentChange): void {
    this.hub.publish(
      change.environment,
      change.flagSet,
      {
        sdk: changeFrame(change.revision, change.changedKeys, change.view.configJson),
        sdkDelta: deltaFrame(deltaOf(change.previous, change.view, change.changedKeys)),
        ofrep: ofrepRefetchFrame(change.view.etag),
      },
      change.revision,
    );
  }
}
