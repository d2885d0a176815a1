import type { UnleashConstraint, UnleashStrategy, UnleashVariant } from './unleash-model.js';

/** An answer from Unleash that the seed cannot use; `status` 0 means Unleash could not be reached. */
export class UnleashApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: string,
    /** Unleash's own error (`name`: `message`, secrets masked) and a one-line fix for known cases. */
    readonly unleash?: { error: string | undefined; fix: string | undefined },
  ) {
    super(message);
    this.name = 'UnleashApiError';
  }
}

/** Longest excerpt of Unleash's error message put into ours (its messages are a sentence or two). */
const MAX_UNLEASH_MESSAGE = 500;

/**
 * Unleash's error envelope (`{"name":"BadDataError","message":"…","details":[{"message":"…"}]}`) as one line:
 * `BadDataError: <message>` plus the first detail when it says more. `secrets` (the token, an addon's authorization)
 * are masked wherever they appear: Unleash's validation messages quote the values they reject.
 */
export function unleashErrorText(json: unknown, secrets: readonly string[]): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const envelope = json as Record<string, unknown>;
  const name = typeof envelope.name === 'string' ? envelope.name : undefined;
  const message = typeof envelope.message === 'string' ? envelope.message : undefined;
  const details = Array.isArray(envelope.details) ? envelope.details : [];
  const first = details[0] as Record<string, unknown> | undefined;
  const detail =
    typeof first === 'object' && first !== null && typeof first.message === 'string' ? first.message : undefined;
  if (!name && !message && !detail) return undefined;
  let text = [name, message].filter(Boolean).join(': ');
  if (detail && !(message ?? '').includes(detail)) text += ` (${detail})`;
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('*****');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_UNLEASH_MESSAGE ? `${text.slice(0, MAX_UNLEASH_MESSAGE)}…` : text;
}

/**
 * A one-line fix for an addon write Unleash refused, in the cases we know. Unleash 8 checks an addon's URL before
 * storing it (and again before each call): a host that resolves to a private, loopback or link-local address — an
 * in-cluster Service does — is refused with a 400 `BadDataError` whose message does not say why, unless the host is
 * in `UNLEASH_ALLOW_LIST_INTEGRATION` (or `UNLEASH_ALLOW_PRIVATE_URL_IN_INTEGRATION=true`). A host Unleash cannot
 * resolve at all fails with a 500 naming `ENOTFOUND`.
 */
export function addonWriteFix(
  status: number,
  unleashText: string | undefined,
  url: string | undefined,
): string | undefined {
  let host: string | undefined;
  try {
    host = url === undefined ? undefined : new URL(url).hostname;
  } catch {
    host = undefined;
  }
  if (host === undefined) return undefined;
  if (status === 400 && (unleashText === undefined || unleashText.startsWith('BadDataError')))
    return (
      `Unleash 8 refuses webhook URLs whose host resolves to a private, loopback or link-local address (an ` +
      `in-cluster Service does): set UNLEASH_ALLOW_LIST_INTEGRATION=${host} on the Unleash server (comma-separated ` +
      `host names; \`rctl render unleash --bridge-url\` sets it), restart Unleash, and run the seed again`
    );
  if (status >= 500 && unleashText !== undefined && /ENOTFOUND|EAI_AGAIN/.test(unleashText))
    return `Unleash cannot resolve ${host}: give --bridge-url a host name Unleash's own network resolves (e.g. the Runtime Control Service's name)`;
  return undefined;
}

export interface UnleashFeatureState {
  name: string;
  type: string;
  description: string;
  environments: { name: string; enabled: boolean; strategies: (UnleashStrategy & { id: string })[] }[];
}

const PROJECT = 'default';

/** An addon as written to Unleash (`POST`/`PUT /api/admin/addons`). */
export interface UnleashAddonDefinition {
  provider: string;
  enabled: boolean;
  description: string;
  parameters: Record<string, string>;
  events: string[];
  projects: string[];
  environments: string[];
}

/** An addon as Unleash lists it: sensitive parameters (a webhook's `url` and `authorization`) come back as "*****". */
export interface UnleashAddonState extends Partial<Omit<UnleashAddonDefinition, 'provider'>> {
  id: number;
  provider: string;
}

/**
 * The few admin API calls flags-as-code needs (Unleash 7.x and 8.x OSS). Unleash takes the token as the raw
 * `Authorization` value, without "Bearer".
 */
export class UnleashAdminClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    // Accept the server root or its /api URL.
    this.base = url.replace(/\/+$/, '').replace(/\/api$/, '');
  }

  /**
   * `sensitive`: the request or response may carry a secret (addon calls: Unleash echoes a webhook's authorization in
   * clear text), so no error raised here keeps the response body.
   */
  private async call(
    method: string,
    path: string,
    body?: unknown,
    sensitive = false,
  ): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: { authorization: this.token, 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new UnleashApiError(0, `cannot reach Unleash at ${this.base}: ${cause}. Check --unleash-url.`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 401 || res.status === 403) {
      // A rejected token is the whole story; on an addon call the answer is not read at all (it may echo the body).
      const said = sensitive ? undefined : unleashErrorText(json, [this.token]);
      throw new UnleashApiError(
        res.status,
        `Unleash rejected the token (${res.status}${said ? ` ${said}` : ''}) on ${method} ${path}. Use an admin token or personal access token (RC_UNLEASH_TOKEN or --token-file).`,
        sensitive ? undefined : text,
        { error: said, fix: undefined },
      );
    }
    return { status: res.status, json };
  }

  private async expect(method: string, path: string, ok: number[], body?: unknown): Promise<unknown> {
    const r = await this.call(method, path, body);
    if (!ok.includes(r.status)) throw this.failure(`${method} ${path} failed`, r);
    return r.json;
  }

  /**
   * The error for an unexpected answer: `<what> (HTTP <status>): <Unleash's name: message>`, then `fix: …` on a line
   * of its own when one is known. `secrets` are masked in what Unleash said (the token always is); `body` is kept
   * only when nothing sensitive was sent.
   */
  private failure(
    what: string,
    r: { status: number; json: unknown },
    options: { secrets?: readonly string[]; fix?: (said: string | undefined) => string | undefined } = {},
  ): UnleashApiError {
    const sensitive = options.secrets !== undefined;
    const said = unleashErrorText(r.json, [this.token, ...(options.secrets ?? [])]);
    const fix = options.fix?.(said);
    return new UnleashApiError(
      r.status,
      `${what} (HTTP ${r.status})${said ? `: Unleash says ${said}` : ''}${fix ? `\n  fix: ${fix}` : ''}`,
      sensitive ? undefined : JSON.stringify(r.json),
      { error: said, fix },
    );
  }

  /** What an addon write must never show: its parameters other than the URL (authorization, headers), bare too. */
  private static addonSecrets(definition: UnleashAddonDefinition): string[] {
    return Object.entries(definition.parameters)
      .filter(([key]) => key !== 'url')
      .flatMap(([, value]) => [value, value.replace(/^Bearer\s+/i, '')]);
  }

  async getFeature(name: string): Promise<UnleashFeatureState | undefined> {
    const r = await this.call('GET', `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(name)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.failure(`reading feature ${name} failed`, r);
    return r.json as UnleashFeatureState;
  }

  /** 201 → true (created); 409 → false (exists, left as it is). */
  async createFeature(feature: { name: string; type: string; description: string }): Promise<boolean> {
    const r = await this.call('POST', `/api/admin/projects/${PROJECT}/features`, feature);
    if (r.status === 201 || r.status === 200) return true;
    if (r.status === 409) return false;
    throw this.failure(`creating feature ${feature.name} failed`, r);
  }

  async updateDescription(name: string, description: string): Promise<void> {
    await this.expect(
      'PATCH',
      `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(name)}`,
      [200, 202],
      [{ op: 'replace', path: '/description', value: description }],
    );
  }

  async addStrategy(feature: string, env: string, strategy: UnleashStrategy): Promise<void> {
    await this.expect(
      'POST',
      `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(feature)}/environments/${env}/strategies`,
      [200, 201],
      strategy,
    );
  }

  async deleteStrategy(feature: string, env: string, id: string): Promise<void> {
    await this.expect(
      'DELETE',
      `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(feature)}/environments/${env}/strategies/${id}`,
      [200, 202, 204],
    );
  }

  async setEnabled(feature: string, env: string, enabled: boolean): Promise<void> {
    await this.expect(
      'POST',
      `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(feature)}/environments/${env}/${enabled ? 'on' : 'off'}`,
      [200, 202],
    );
  }

  /** Every addon (any provider); sensitive parameters are masked by Unleash. */
  async listAddons(): Promise<UnleashAddonState[]> {
    const r = await this.call('GET', '/api/admin/addons', undefined, true);
    // Listed addons carry masked parameters only, but an error answer is not trusted to: nothing of it is kept.
    if (r.status !== 200) throw this.failure('listing Unleash addons failed', r, { secrets: [] });
    const addons = (r.json as { addons?: unknown } | undefined)?.addons;
    if (!Array.isArray(addons))
      throw new UnleashApiError(r.status, 'listing Unleash addons failed: the answer has no addons list');
    return addons as UnleashAddonState[];
  }

  /**
   * Creates an addon and returns its id. An error carries Unleash's error name and message with the definition's
   * secrets masked, never the definition or the raw answer.
   */
  async createAddon(definition: UnleashAddonDefinition): Promise<number> {
    const r = await this.call('POST', '/api/admin/addons', definition, true);
    if (r.status !== 200 && r.status !== 201)
      throw this.failure(`creating the ${definition.provider} addon failed`, r, {
        secrets: UnleashAdminClient.addonSecrets(definition),
        fix: (said) => addonWriteFix(r.status, said, definition.parameters.url),
      });
    const id = (r.json as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'number')
      throw new UnleashApiError(r.status, `creating the ${definition.provider} addon: the answer carries no id`);
    return id;
  }

  /** Replaces addon `id` with `definition`; errors as for createAddon. */
  async updateAddon(id: number, definition: UnleashAddonDefinition): Promise<void> {
    const r = await this.call('PUT', `/api/admin/addons/${id}`, definition, true);
    if (r.status !== 200 && r.status !== 202)
      throw this.failure(`updating addon ${id} failed`, r, {
        secrets: UnleashAdminClient.addonSecrets(definition),
        fix: (said) => addonWriteFix(r.status, said, definition.parameters.url),
      });
  }

  async contextFields(): Promise<string[]> {
    const json = (await this.expect('GET', '/api/admin/context', [200])) as { name: string }[];
    return json.map((c) => c.name);
  }

  async createContextField(name: string): Promise<void> {
    await this.expect('POST', '/api/admin/context', [200, 201, 409], {
      name,
      description: 'Created by rctl seed (Runtime Control flags as code)',
      stickiness: false,
    });
  }
}

/** A strategy as Unleash returns it, reduced to what the flags file controls (for drift comparison). */
export function normalizeStrategy(s: Partial<UnleashStrategy>): UnleashStrategy {
  const params = (s.parameters ?? {}) as Partial<UnleashStrategy['parameters']>;
  return {
    name: 'flexibleRollout',
    parameters: {
      rollout: String(params.rollout ?? '100'),
      stickiness: String(params.stickiness ?? 'default'),
      groupId: String(params.groupId ?? ''),
    },
    constraints: (s.constraints ?? []).map((c: Partial<UnleashConstraint>) => {
      const out: UnleashConstraint = {
        contextName: String(c.contextName),
        operator: String(c.operator),
        values: [...(c.values ?? [])].map(String).sort(),
        inverted: Boolean(c.inverted),
        caseInsensitive: Boolean(c.caseInsensitive),
      };
      if (c.value !== undefined && c.value !== null && c.value !== '') out.value = String(c.value);
      return out;
    }),
    variants: (s.variants ?? []).map((v: Partial<UnleashVariant>) => {
      const out: UnleashVariant = {
        name: String(v.name),
        weight: Number(v.weight),
        weightType: v.weightType === 'fix' ? 'fix' : 'variable',
        stickiness: String(v.stickiness ?? 'default'),
      };
      if (v.payload)
        out.payload = { type: v.payload.type, value: String(v.payload.value) } as UnleashVariant['payload'];
      return out;
    }),
  };
}
