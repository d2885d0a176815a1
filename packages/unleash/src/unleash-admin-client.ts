import type { UnleashConstraint, UnleashStrategy, UnleashVariant } from './unleash-model.js';

/** An answer from Unleash that the seed cannot use; `status` 0 means Unleash could not be reached. */
export class UnleashApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: string,
  ) {
    super(message);
    this.name = 'UnleashApiError';
  }
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
 * The few admin API calls flags-as-code needs (Unleash 7.x OSS). Unleash takes the token as the raw
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
      throw new UnleashApiError(
        res.status,
        `Unleash rejected the token (${res.status}) on ${method} ${path}. Use an admin token or personal access token (RC_UNLEASH_TOKEN or --token-file).`,
        sensitive ? undefined : text,
      );
    }
    return { status: res.status, json };
  }

  private async expect(method: string, path: string, ok: number[], body?: unknown): Promise<unknown> {
    const r = await this.call(method, path, body);
    if (!ok.includes(r.status)) {
      const message =
        (r.json as { message?: string; details?: { message?: string }[] } | undefined)?.details?.[0]?.message ??
        (r.json as { message?: string } | undefined)?.message ??
        `HTTP ${r.status}`;
      throw new UnleashApiError(r.status, `${method} ${path} failed: ${message}`, JSON.stringify(r.json));
    }
    return r.json;
  }

  async getFeature(name: string): Promise<UnleashFeatureState | undefined> {
    const r = await this.call('GET', `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(name)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new UnleashApiError(r.status, `reading feature ${name} failed (HTTP ${r.status})`);
    return r.json as UnleashFeatureState;
  }

  /** 201 → true (created); 409 → false (exists, left as it is). */
  async createFeature(feature: { name: string; type: string; description: string }): Promise<boolean> {
    const r = await this.call('POST', `/api/admin/projects/${PROJECT}/features`, feature);
    if (r.status === 201 || r.status === 200) return true;
    if (r.status === 409) return false;
    throw new UnleashApiError(
      r.status,
      `creating feature ${feature.name} failed (HTTP ${r.status})`,
      JSON.stringify(r.json),
    );
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
    if (r.status !== 200) throw new UnleashApiError(r.status, `listing Unleash addons failed (HTTP ${r.status})`);
    const addons = (r.json as { addons?: unknown } | undefined)?.addons;
    if (!Array.isArray(addons))
      throw new UnleashApiError(r.status, 'listing Unleash addons failed: the answer has no addons list');
    return addons as UnleashAddonState[];
  }

  /** Creates an addon and returns its id. Neither the definition nor Unleash's answer goes into an error. */
  async createAddon(definition: UnleashAddonDefinition): Promise<number> {
    const r = await this.call('POST', '/api/admin/addons', definition, true);
    if (r.status !== 200 && r.status !== 201)
      throw new UnleashApiError(r.status, `creating the ${definition.provider} addon failed (HTTP ${r.status})`);
    const id = (r.json as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'number')
      throw new UnleashApiError(r.status, `creating the ${definition.provider} addon: the answer carries no id`);
    return id;
  }

  /** Replaces addon `id` with `definition`. Neither the definition nor Unleash's answer goes into an error. */
  async updateAddon(id: number, definition: UnleashAddonDefinition): Promise<void> {
    const r = await this.call('PUT', `/api/admin/addons/${id}`, definition, true);
    if (r.status !== 200 && r.status !== 202)
      throw new UnleashApiError(r.status, `updating addon ${id} failed (HTTP ${r.status})`);
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
