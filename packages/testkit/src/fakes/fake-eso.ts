import { createHash } from 'node:crypto';
import type { FakeKubernetes, KubeObject } from './fake-kubernetes.js';
import { kubeTime } from './fake-kubernetes.js';
import type { FakeVault } from './fake-vault.js';

/**
 * A SIMULATED External Secrets Operator controller for tests — ESO cannot run here. It reconciles the
 * `external-secrets.io/v1` ExternalSecrets stored in a `FakeKubernetes` the way ESO's controller does
 * (pkg/controllers/externalsecret), reading from a `FakeVault` over HTTP as ESO's Vault provider does:
 *
 * - the store is the ClusterSecretStore named by `spec.secretStoreRef` (`kind: ClusterSecretStore`); its
 *   `provider.vault` gives `server`, `path` (the mount), `version` (v2 by default: reads `<path>/data/<key>`, so a
 *   `path: kv/data` reads `kv/data/data/<key>` and fails, as with ESO) and `auth.kubernetes` {`mountPath`, `role`,
 *   `serviceAccountRef` {`name`, `namespace`, `audiences`}}: it logs in with a JWT for that service account
 *   (issued by the fake Vault, standing in for the TokenRequest API; default audience
 *   `https://kubernetes.default.svc`);
 * - `data[]` (`secretKey`, `remoteRef` {`key`, `property`, `version`}) and `dataFrom[].extract.key`;
 * - when to refresh (ESO's shouldRefresh): never synced; `syncedResourceVersion` differs from
 *   `"<generation>-<hash of labels and annotations>"` (so any label/annotation change, e.g. `force-sync`, refreshes),
 *   except that `refreshInterval: 0` and `refreshPolicy: CreatedOnce` never refresh after the first sync and
 *   `OnChange` refreshes only on such a change; or (Periodic) `refreshTime` + `refreshInterval` has passed; or the
 *   target Secret is gone;
 * - on success the target Secret (`creationPolicy` Owner/Orphan create or update it, Merge needs it to exist, None
 *   writes nothing) carries label `reconcile.external-secrets.io/managed=true`, annotation
 *   `reconcile.external-secrets.io/data-hash`, an owner reference (Owner); the status gets `Ready=True`
 *   `SecretSynced` "secret synced", `refreshTime`, `syncedResourceVersion`, `binding`;
 * - on failure `Ready=False` `SecretSyncedError` "could not get secret data from provider" (or "could not update
 *   Secret"), with `refreshTime` and `syncedResourceVersion` left as they were;
 * - ClusterSecretStores get `Ready` `Valid` "store validated" / `ValidationFailed` "unable to validate store".
 *
 * It reacts to every change of an ExternalSecret or store (the stand-in for a watch) and checks every
 * ExternalSecret every `tickMs` (the requeue). Not simulated: templates, generators, PushSecret, sync windows,
 * SecretStore (namespaced), deletion policies, the hash's exact bytes (sha3-224 of JSON, not of Go's `%v`).
 */

export interface FakeEsoOptions {
  kubernetes: FakeKubernetes;
  vault: FakeVault;
  now?: () => number;
}

export interface FakeEsoSync {
  namespace: string;
  name: string;
  outcome: 'synced' | 'failed';
  time: string;
  /** Why it failed (for the test's eyes; never a value). */
  reason?: string;
}

const MANAGED_LABEL = 'reconcile.external-secrets.io/managed';
const DATA_HASH = 'reconcile.external-secrets.io/data-hash';
const ERR_GET_SECRET_DATA = 'could not get secret data from provider';
const ERR_UPDATE_SECRET = 'could not update Secret';
const DEFAULT_REFRESH = '1h';

export class FakeEsoController {
  private readonly kubernetes: FakeKubernetes;
  private readonly vault: FakeVault;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly passes = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private readonly queue = new Map<string, Promise<unknown>>();
  private readonly seen = new Map<string, string>();
  /** Every sync attempted (a refresh that ran), in order. */
  readonly syncs: FakeEsoSync[] = [];

  constructor(options: FakeEsoOptions) {
    this.kubernetes = options.kubernetes;
    this.vault = options.vault;
    this.now = options.now ?? Date.now;
  }

  start(tickMs = 100): void {
    if (this.timer) return;
    this.unsubscribe = this.kubernetes.onChange((change) => {
      if (change.object.kind === 'ExternalSecret' && change.type !== 'DELETED') {
        // Like a generation/annotation-changed predicate: status writes (ours included) do not requeue.
        const key = `${change.object.metadata.namespace}/${change.object.metadata.name}`;
        const version = esoResourceVersion(change.object);
        if (this.seen.get(key) === version) return;
        this.seen.set(key, version);
        void this.enqueue(change.object.metadata.namespace!, change.object.metadata.name);
      }
      if (change.object.kind === 'ClusterSecretStore' && change.type !== 'DELETED') {
        const store = change.object;
        if (JSON.stringify(store.spec) !== JSON.stringify(store.status?.observedSpec)) void this.validateStore(store);
      }
    });
    this.timer = setInterval(() => {
      if (this.passes.size > 0) return; // the previous requeue pass is still running
      const pass = this.reconcileAll().finally(() => this.passes.delete(pass));
      this.passes.add(pass);
    }, tickMs);
    this.timer.unref();
  }

  /** Stops reacting and requeueing; resolves once nothing it started is still running. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.allSettled([...this.passes]);
    await Promise.allSettled([...this.queue.values()]);
    this.stopping = false;
  }

  /** One requeue pass: every store is validated again, every ExternalSecret reconciled (failed ones retried). */
  async reconcileAll(): Promise<void> {
    await Promise.all(this.kubernetes.list('ClusterSecretStore').map((store) => this.validateStore(store)));
    if (this.stopping) return;
    await Promise.all(
      this.kubernetes.list('ExternalSecret').map((es) => this.enqueue(es.metadata.namespace!, es.metadata.name)),
    );
  }

  /** Reconciles one ExternalSecret (serialised per object, as a controller's work queue is). */
  enqueue(namespace: string, name: string): Promise<unknown> {
    const key = `${namespace}/${name}`;
    const next = (this.queue.get(key) ?? Promise.resolve())
      .then(() => this.reconcile(namespace, name))
      .catch(() => undefined);
    this.queue.set(key, next);
    void next.finally(() => {
      if (this.queue.get(key) === next) this.queue.delete(key);
    });
    return next;
  }

  private async reconcile(namespace: string, name: string): Promise<void> {
    if (this.stopping) return; // stopped while queued
    const es = this.kubernetes.get('ExternalSecret', namespace, name);
    if (!es) return;
    const spec = (es.spec ?? {}) as EsSpec;
    const status = (es.status ?? {}) as EsStatus;
    const targetName = spec.target?.name || name;
    const target = this.kubernetes.get('Secret', namespace, targetName);
    if (!this.shouldRefresh(es, spec, status) && (target || spec.target?.creationPolicy === 'None')) return;

    const started = this.now();
    let data: Record<string, string>;
    try {
      data = await this.fetchData(es, spec);
    } catch (error) {
      return this.fail(es, ERR_GET_SECRET_DATA, error instanceof Error ? error.message : 'error');
    }
    const policy = spec.target?.creationPolicy ?? 'Owner';
    if (policy !== 'None') {
      if (policy === 'Merge' && !target) {
        return this.fail(es, ERR_UPDATE_SECRET, `the desired secret ${targetName} was not found`);
      }
      if (policy === 'Owner' && target && !ownedBy(target, es)) {
        return this.fail(
          es,
          ERR_UPDATE_SECRET,
          `secret ${targetName} exists and is not managed by this ExternalSecret`,
        );
      }
      const encoded: Record<string, string> = {};
      for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v).toString('base64');
      const hash = createHash('sha3-224').update(JSON.stringify(encoded)).digest('hex');
      this.kubernetes.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        ...(target ?? {}),
        metadata: {
          ...(target?.metadata ?? {}),
          name: targetName,
          namespace,
          labels: { ...(target?.metadata.labels ?? {}), [MANAGED_LABEL]: 'true' },
          annotations: { ...(target?.metadata.annotations ?? {}), [DATA_HASH]: hash },
          ...(policy === 'Owner'
            ? {
                ownerReferences: [
                  {
                    apiVersion: 'external-secrets.io/v1',
                    kind: 'ExternalSecret',
                    name,
                    uid: es.metadata.uid,
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              }
            : {}),
        },
        type: target?.type ?? 'Opaque',
        data: policy === 'Merge' ? { ...(target?.data ?? {}), ...encoded } : encoded,
      });
    }
    const current = this.kubernetes.get('ExternalSecret', namespace, name);
    if (!current) return;
    this.kubernetes.writeStatus('ExternalSecret', namespace, name, {
      ...(current.status ?? {}),
      refreshTime: kubeTime(started),
      syncedResourceVersion: esoResourceVersion(current),
      binding: { name: targetName },
      conditions: readyCondition(current, 'True', 'SecretSynced', 'secret synced', this.now()),
    });
    this.syncs.push({ namespace, name, outcome: 'synced', time: kubeTime(started) });
  }

  private shouldRefresh(es: KubeObject, spec: EsSpec, status: EsStatus): boolean {
    const synced = status.syncedResourceVersion;
    if (!synced) return true;
    const policy = spec.refreshPolicy ?? 'Periodic';
    if (policy === 'CreatedOnce') return false;
    const changed = synced !== esoResourceVersion(es);
    if (policy === 'OnChange') return changed;
    const interval = parseGoDuration(spec.refreshInterval ?? DEFAULT_REFRESH);
    if (interval === 0) return false;
    if (changed) return true;
    const last = status.refreshTime ? Date.parse(status.refreshTime) : 0;
    return this.now() >= last + interval;
  }

  private fail(es: KubeObject, message: string, reason: string): void {
    const current = this.kubernetes.get('ExternalSecret', es.metadata.namespace, es.metadata.name);
    if (!current) return;
    this.kubernetes.writeStatus('ExternalSecret', es.metadata.namespace, es.metadata.name, {
      ...(current.status ?? {}),
      conditions: readyCondition(current, 'False', 'SecretSyncedError', message, this.now()),
    });
    this.syncs.push({
      namespace: es.metadata.namespace!,
      name: es.metadata.name,
      outcome: 'failed',
      time: kubeTime(this.now()),
      reason,
    });
  }

  private async validateStore(store: KubeObject): Promise<void> {
    let ok = true;
    try {
      await this.login(store);
    } catch {
      ok = false;
    }
    const current = this.kubernetes.get('ClusterSecretStore', undefined, store.metadata.name);
    if (!current || this.stopping) return;
    const previous = ((current.status?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready');
    const unchanged =
      previous?.status === (ok ? 'True' : 'False') &&
      JSON.stringify(current.status?.observedSpec) === JSON.stringify(current.spec);
    if (unchanged) return;
    this.kubernetes.writeStatus('ClusterSecretStore', undefined, store.metadata.name, {
      observedSpec: current.spec,
      capabilities: 'ReadWrite',
      conditions: readyCondition(
        current,
        ok ? 'True' : 'False',
        ok ? 'Valid' : 'ValidationFailed',
        ok ? 'store validated' : 'unable to validate store',
        this.now(),
      ),
    });
  }

  private storeOf(es: KubeObject, spec: EsSpec): KubeObject {
    const ref = spec.secretStoreRef;
    if (!ref?.name) throw new Error('spec.secretStoreRef.name is required');
    if ((ref.kind ?? 'SecretStore') !== 'ClusterSecretStore') {
      throw new Error(
        `the ESO simulation serves ClusterSecretStores only (${es.metadata.name} refers to a SecretStore)`,
      );
    }
    const store = this.kubernetes.get('ClusterSecretStore', undefined, ref.name);
    if (!store) throw new Error(`could not get ClusterSecretStore "${ref.name}"`);
    return store;
  }

  private async login(store: KubeObject): Promise<{ server: string; token: string; vault: VaultProvider }> {
    const vault = ((store.spec ?? {}) as { provider?: { vault?: VaultProvider } }).provider?.vault;
    if (!vault?.server) throw new Error('store has no provider.vault.server');
    const k8s = vault.auth?.kubernetes;
    if (!k8s?.role || !k8s.serviceAccountRef?.name)
      throw new Error('store has no auth.kubernetes role/serviceAccountRef');
    const jwt = this.vault.issueServiceAccountJwt({
      namespace: k8s.serviceAccountRef.namespace ?? 'external-secrets',
      serviceAccount: k8s.serviceAccountRef.name,
      audiences: k8s.serviceAccountRef.audiences ?? ['https://kubernetes.default.svc'],
    });
    const server = vault.server.replace(/\/+$/, '');
    const res = await fetch(`${server}/v1/auth/${k8s.mountPath ?? 'kubernetes'}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: k8s.role, jwt }),
    });
    const body = (await res.json().catch(() => ({}))) as { auth?: { client_token?: string }; errors?: string[] };
    if (!res.ok || !body.auth?.client_token)
      throw new Error(`vault login: ${res.status} ${(body.errors ?? []).join('; ')}`);
    return { server, token: body.auth.client_token, vault };
  }

  private async fetchData(es: KubeObject, spec: EsSpec): Promise<Record<string, string>> {
    const { server, token, vault } = await this.login(this.storeOf(es, spec));
    const mount = (vault.path ?? 'secret').replace(/^\/+|\/+$/g, '');
    const v2 = (vault.version ?? 'v2') === 'v2';
    const read = async (key: string, version?: string): Promise<Record<string, unknown>> => {
      const url = `${server}/v1/${mount}/${v2 ? 'data/' : ''}${key}${version && v2 ? `?version=${encodeURIComponent(version)}` : ''}`;
      const res = await fetch(url, { headers: { 'x-vault-token': token } });
      const body = (await res.json().catch(() => ({}))) as {
        data?: { data?: Record<string, unknown> } & Record<string, unknown>;
      };
      if (!res.ok) throw new Error(`vault read ${key}: ${res.status}`);
      const data = v2 ? body.data?.data : body.data;
      if (!data) throw new Error(`vault read ${key}: no data`);
      return data as Record<string, unknown>;
    };
    const out: Record<string, string> = {};
    for (const item of spec.data ?? []) {
      const data = await read(item.remoteRef.key, item.remoteRef.version);
      if (item.remoteRef.property === undefined) {
        out[item.secretKey] = JSON.stringify(data);
      } else {
        const value = data[item.remoteRef.property];
        if (value === undefined)
          throw new Error(`key ${item.remoteRef.key} has no property ${item.remoteRef.property}`);
        out[item.secretKey] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    for (const from of spec.dataFrom ?? []) {
      if (!from.extract?.key) continue;
      for (const [k, v] of Object.entries(await read(from.extract.key, from.extract.version))) {
        out[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
    }
    return out;
  }
}

interface EsSpec {
  refreshInterval?: string;
  refreshPolicy?: 'CreatedOnce' | 'Periodic' | 'OnChange';
  secretStoreRef?: { name?: string; kind?: string };
  target?: { name?: string; creationPolicy?: 'Owner' | 'Orphan' | 'Merge' | 'None' };
  data?: { secretKey: string; remoteRef: { key: string; property?: string; version?: string } }[];
  dataFrom?: { extract?: { key: string; version?: string } }[];
}

interface EsStatus {
  refreshTime?: string;
  syncedResourceVersion?: string;
  conditions?: Condition[];
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

interface VaultProvider {
  server?: string;
  path?: string;
  version?: 'v1' | 'v2';
  auth?: {
    kubernetes?: {
      mountPath?: string;
      role?: string;
      serviceAccountRef?: { name?: string; namespace?: string; audiences?: string[] };
    };
  };
}

/** ESO's `GetResourceVersion`: `<generation>-<hash of labels and annotations>`. */
export function esoResourceVersion(object: KubeObject): string {
  const hash = createHash('sha3-224')
    .update(JSON.stringify([object.metadata.labels ?? {}, object.metadata.annotations ?? {}]))
    .digest('hex');
  return `${object.metadata.generation}-${hash}`;
}

function readyCondition(
  object: KubeObject,
  status: 'True' | 'False',
  reason: string,
  message: string,
  now: number,
): Condition[] {
  const previous = ((object.status?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready');
  return [
    {
      type: 'Ready',
      status,
      reason,
      message,
      lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : kubeTime(now),
    },
  ];
}

function ownedBy(secret: KubeObject, es: KubeObject): boolean {
  return (
    secret.metadata.labels?.[MANAGED_LABEL] === 'true' &&
    (secret.metadata.ownerReferences ?? []).some((o) => o.uid === es.metadata.uid)
  );
}

/** Go durations as ESO's `refreshInterval` takes them: `1h`, `15m`, `30s`, `1h0m0s`, `500ms`, `0`. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = '';
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
    consumed += m[0];
  }
  if (consumed !== text) throw new Error(`invalid duration "${text}"`);
  return total;
}
