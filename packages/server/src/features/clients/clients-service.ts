import type { JsonObject } from '@runtime-control/core';
import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { compileValidator } from '../../schemas/validation.js';
import type { ReplicaState } from '../../state/replica-state.js';
import type { Store } from '../../store/store.js';
import type { StreamConnection, Streams } from '../../streams/streams.js';
import { ConnectedClient, type ReplicaReport } from './clients-schemas.js';
import type { PollingCaller, PollingCallers } from './polling-callers.js';

type Client = Static<typeof ConnectedClient>;
type Replica = Static<typeof ReplicaReport>;

/** Connections one replica puts in its report; the rest are counted as `truncated` (bounds the row and the answer). */
export const MAX_REPORTED_CONNECTIONS = 5000;

export interface ClientsServiceOptions {
  replicaId: string;
  /** How often this replica writes its report for the others (RC_PRESENCE_INTERVAL_MS). */
  reportIntervalMs: number;
}

export interface ClientFilter {
  environment?: string;
  app?: string;
}

/** A report row as written by `report()`; rows from the store are checked against this shape before use. */
interface StoredReport {
  reportedAt: number;
  truncated: number;
  clients: Client[];
}

// Reports of other replicas are read from the store, so they are checked against the same schemas the API answers
// with (compiled once); a malformed entry is skipped, never shown broken.
const { $id: _clientId, ...clientShape } = ConnectedClient;
const isClient = compileValidator({ schema: clientShape });
const isReportEnvelope = compileValidator({
  schema: Type.Object({
    reportedAt: Type.Number(),
    truncated: Type.Integer({ minimum: 0 }),
    clients: Type.Array(Type.Unknown()),
  }),
});

function readReport(report: JsonObject): StoredReport | undefined {
  if (!isReportEnvelope(report)) return undefined;
  const r = report as unknown as StoredReport;
  // A replica of an earlier version reports streams only, without `transport` and `lastSeen` (a rolling upgrade).
  const clients = r.clients.map((c) =>
    isPlainRecord(c) && !Object.hasOwn(c, 'transport') ? Object.assign({ transport: 'stream', lastSeen: null }, c) : c,
  );
  return { reportedAt: r.reportedAt, truncated: r.truncated, clients: clients.filter((c) => isClient(c)) };
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Who is connected, on every replica: each replica lists its own streams live and writes a report of them to the
 * store every `reportIntervalMs` (expiring after three intervals, so a stopped replica drops out); a list merges
 * this replica's live view with the other replicas' latest reports. The first answer to "flags not toggling": is
 * the service connected at all, to which environment, with which token, and on the latest revision?
 */
export class ClientsService {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The report being written, so closing can wait for it before removing the row. */
  private publishing: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Store, 'putPresence' | 'listPresence' | 'deletePresence' | 'listTokens'>,
    private readonly streams: Pick<Streams, 'connections'>,
    private readonly pollers: Pick<PollingCallers, 'list'>,
    private readonly state: Pick<ReplicaState, 'view'>,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly options: ClientsServiceOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.publishOnce(), this.options.reportIntervalMs);
    this.timer.unref();
    this.publishOnce();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    // A report written after the delete would list this replica's clients for three more intervals.
    await this.publishing;
    try {
      await this.store.deletePresence(this.options.replicaId);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not remove this replica from the clients view');
    }
  }

  /** Every client on every replica, newest connection first, optionally filtered. */
  async list(filter: ClientFilter = {}): Promise<{ clients: Client[]; replicas: Replica[] }> {
    const now = Date.now();
    const own = await this.report(now);
    const replicas: Replica[] = [
      {
        id: this.options.replicaId,
        self: true,
        reportedAt: new Date(now).toISOString(),
        connections: own.clients.length + own.truncated,
        truncated: own.truncated,
      },
    ];
    const clients = [...own.clients];
    for (const row of await this.store.listPresence(now)) {
      if (row.replicaId === this.options.replicaId) continue;
      const report = readReport(row.report);
      if (!report) {
        this.logger.warn({ replica: row.replicaId }, 'skipping an unreadable presence report');
        continue;
      }
      replicas.push({
        id: row.replicaId,
        self: false,
        reportedAt: new Date(report.reportedAt).toISOString(),
        connections: report.clients.length + report.truncated,
        truncated: report.truncated,
      });
      clients.push(...report.clients);
    }
    const selected = clients.filter(
      (c) =>
        (filter.environment === undefined || c.environment === filter.environment) &&
        (filter.app === undefined || c.app === filter.app),
    );
    selected.sort((a, b) => b.connectedSince.localeCompare(a.connectedSince));
    return { clients: selected, replicas };
  }

  /**
   * This replica's streams and polling OFREP callers as clients, at most MAX_REPORTED_CONNECTIONS of each (newest
   * first); the rest, and callers the polling tracker could not hold, are counted as truncated.
   */
  private async report(now: number): Promise<StoredReport> {
    const connections = this.streams.connections().sort((a, b) => b.connectedAt - a.connectedAt);
    const kept = connections.slice(0, MAX_REPORTED_CONNECTIONS);
    const polling = this.pollers.list();
    const callers = polling.callers.sort((a, b) => b.firstSeen - a.firstSeen);
    const keptCallers = callers.slice(0, MAX_REPORTED_CONNECTIONS);
    const names = await this.tokenNames(keptCallers.length > 0 || kept.some((c) => c.tokenId !== undefined));
    return {
      reportedAt: now,
      truncated: connections.length - kept.length + callers.length - keptCallers.length + polling.overflow,
      clients: [...kept.map((c) => this.toClient(c, names)), ...keptCallers.map((c) => this.pollerToClient(c, names))],
    };
  }

  /** Token names by id, read only when some client has a token (the store is not asked for an empty view). */
  private async tokenNames(needed: boolean): Promise<Map<string, string>> {
    if (!needed) return new Map();
    return new Map((await this.store.listTokens()).map((t) => [t.id, t.name]));
  }

  private revisions(
    environment: string,
    flagSet: string | null,
    lastRevision: number,
  ): Pick<Client, 'environmentRevision' | 'upToDate'> {
    const environmentRevision = this.state.view(environment, flagSet)?.revision ?? null;
    return {
      environmentRevision,
      upToDate: environmentRevision === null ? null : lastRevision >= environmentRevision,
    };
  }

  private pollerToClient(c: PollingCaller, names: ReadonlyMap<string, string>): Client {
    return {
      replica: this.options.replicaId,
      kind: 'ofrep',
      transport: 'polling',
      app: c.app ?? null,
      instance: c.instance ?? null,
      agent: c.agent ?? null,
      environment: c.environment,
      token: { id: c.tokenId, name: names.get(c.tokenId) || null },
      connectedSince: new Date(c.firstSeen).toISOString(),
      lastSeen: new Date(c.lastSeen).toISOString(),
      lastRevision: c.lastRevision,
      ...this.revisions(c.environment, c.flagSet, c.lastRevision),
    };
  }

  private toClient(c: StreamConnection, names: ReadonlyMap<string, string>): Client {
    const flagStream = c.kind !== 'unleash';
    const environmentRevision = flagStream ? (this.state.view(c.environment, c.flagSet)?.revision ?? null) : null;
    const lastRevision = flagStream ? (c.lastRevision ?? null) : null;
    return {
      replica: this.options.replicaId,
      kind: c.kind,
      transport: 'stream',
      app: c.app ?? null,
      instance: c.instance ?? null,
      agent: c.agent ?? null,
      environment: c.environment,
      token: { id: c.tokenId ?? null, name: (c.tokenId !== undefined && names.get(c.tokenId)) || null },
      connectedSince: new Date(c.connectedAt).toISOString(),
      lastSeen: null,
      lastRevision,
      environmentRevision,
      upToDate: lastRevision === null || environmentRevision === null ? null : lastRevision >= environmentRevision,
    };
  }

  private publishOnce(): void {
    if (this.closed || this.publishing) return;
    this.publishing = this.publish().finally(() => {
      this.publishing = undefined;
    });
  }

  private async publish(): Promise<void> {
    try {
      const now = Date.now();
      const report = await this.report(now);
      await this.store.putPresence(
        this.options.replicaId,
        report as unknown as JsonObject,
        now + 3 * this.options.reportIntervalMs,
      );
    } catch (err) {
      // The view degrades to this replica's own clients; nothing else depends on it.
      this.logger.warn({ err: (err as Error).message }, "could not write this replica's clients report");
    }
  }
}
