import * as Dialog from '@radix-ui/react-dialog';
import * as Switch from '@radix-ui/react-switch';
import * as Tabs from '@radix-ui/react-tabs';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { ApiError, api, type EvaluationResult, type Flag, type FlagEnvironment, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { TypeBadge } from '../components/TypeBadge.js';
import { useChanged, useEnvironments, useFlag } from '../queries.js';
import { FlagHistory } from './FlagHistory.js';
import { isKnob, KnobEditor } from './KnobEditor.js';

type EnvPatch = {
  state?: 'ENABLED' | 'DISABLED';
  targeting?: Record<string, unknown> | null;
  rollout?: { variant: string; percentage: number } | null;
};
interface PatchVars {
  env: string;
  patch: EnvPatch;
  etag: string | undefined;
}

export function FlagPage() {
  const { key = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const environments = useEnvironments();
  const flag = useFlag(key);
  const queryClient = useQueryClient();
  const [stale, setStale] = useState<PatchVars | null>(null);
  const envs = environments.data ?? [];
  const env = params.get('env') && envs.includes(params.get('env')!) ? params.get('env')! : envs[0];
  const envList = flag.data ? [flag.data.flag] : undefined;
  const changed = useChanged(envList, (f) => f.key);

  // Every environment write carries If-Match with the ETag the page was showing: a write made elsewhere in between
  // gets the API's 412, and the person is offered to reload and reapply theirs.
  const patch = useMutation({
    mutationFn: async ({ env: e, patch: body, etag }: PatchVars) =>
      unwrap(
        api.PATCH('/api/admin/flags/{key}/environments/{env}', {
          params: { path: { key, env: e } },
          body,
          headers: etag ? { 'if-match': etag } : {},
        }),
      ),
    onError: (err, vars) => {
      if (err instanceof ApiError && err.status === 412) setStale(vars);
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['flag', key] }),
  });
  const write = (e: string, body: EnvPatch) => patch.mutate({ env: e, patch: body, etag: flag.data?.etag });

  async function reapply() {
    if (!stale) return;
    const fresh = await flag.refetch();
    setStale(null);
    patch.mutate({ ...stale, etag: fresh.data?.etag });
  }

  if (flag.error instanceof ApiError && flag.error.status === 404) {
    return (
      <section>
        <h1>{key}</h1>
        <p role="alert">
          No flag <code>{key}</code>. <Link to="/flags">All flags</Link>
        </p>
      </section>
    );
  }
  const f = flag.data?.flag;
  return (
    <section>
      <p>
        <Link to={`/flags${env ? `?env=${encodeURIComponent(env)}` : ''}`}>← All flags</Link>
      </p>
      <div className={`page-head${changed.has(key) ? ' changed' : ''}`}>
        <h1>{key}</h1>
        {f && <TypeBadge type={f.type} />}
        {f?.sensitive && <span className="badge badge-sensitive">sensitive</span>}
      </div>
      <ErrorMessage error={flag.error ?? environments.error} />
      {f && (
        <>
          {f.description && <p>{f.description}</p>}
          {f.owner && <p className="muted">Owner: {f.owner}</p>}
          <Variants flag={f} />
          {isKnob(f) && !f.sensitive && <KnobEditor flag={f} etag={flag.data?.etag} />}
          {env && (
            <Tabs.Root
              value={env}
              onValueChange={(v) => setParams((p) => ({ ...Object.fromEntries(p), env: v }), { replace: true })}
            >
              <h2>Environments</h2>
              <Tabs.List aria-label="Environment" className="tabs">
                {envs.map((e) => (
                  <Tabs.Trigger key={e} value={e}>
                    {e}
                  </Tabs.Trigger>
                ))}
              </Tabs.List>
              {envs.map((e) => (
                <Tabs.Content key={e} value={e}>
                  <EnvironmentPanel
                    flag={f}
                    env={e}
                    settings={f.environments[e] ?? { state: 'DISABLED' }}
                    write={(body) => write(e, body)}
                    writing={patch.isPending}
                    error={
                      patch.variables?.env === e && !(patch.error instanceof ApiError && patch.error.status === 412)
                        ? patch.error
                        : null
                    }
                  />
                </Tabs.Content>
              ))}
            </Tabs.Root>
          )}
          <EvaluatePanel flag={f} envs={envs} />
          <FlagHistory flag={f} etag={flag.data?.etag} />
        </>
      )}
      <Dialog.Root open={stale !== null} onOpenChange={(open) => !open && setStale(null)}>
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>This flag changed since you loaded it</Dialog.Title>
            <Dialog.Description>
              Someone (the CLI, another tab or another replica) wrote <code>{key}</code> after this page read it, so the
              server refused your change (412). Reload the flag and apply your change on top of it, or drop your change.
            </Dialog.Description>
            <div className="actions">
              <button type="button" onClick={reapply}>
                Reload and reapply
              </button>
              <Dialog.Close asChild>
                <button type="button" className="secondary">
                  Drop my change
                </button>
              </Dialog.Close>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </section>
  );
}

function Variants({ flag }: { flag: Flag }) {
  return (
    <>
      <h2>Variants</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(flag.variants).map(([name, value]) => (
            <tr key={name}>
              <td>
                <code>{name}</code> {name === flag.defaultVariant && <span className="badge">default</span>}
              </td>
              <td>
                <code className="value">{flag.sensitive ? '(sensitive)' : JSON.stringify(value)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function EnvironmentPanel(props: {
  flag: Flag;
  env: string;
  settings: FlagEnvironment;
  write: (body: EnvPatch) => void;
  writing: boolean;
  error: unknown;
}) {
  const { flag, env, settings, write, writing, error } = props;
  return (
    <div className="panel">
      <div className="row">
        <Switch.Root
          id={`state-${env}`}
          className="switch"
          checked={settings.state === 'ENABLED'}
          disabled={writing}
          onCheckedChange={(on) => write({ state: on ? 'ENABLED' : 'DISABLED' })}
        >
          <Switch.Thumb className="switch-thumb" />
        </Switch.Root>
        <label htmlFor={`state-${env}`}>
          Enabled in {env} <span className="muted">({settings.state})</span>
        </label>
      </div>
      <ErrorMessage error={error} />
      <Overrides flag={flag} env={env} overrides={settings.overrides ?? {}} />
      <Rollout flag={flag} env={env} rollout={settings.rollout} write={write} writing={writing} />
      <Targeting env={env} targeting={settings.targeting} write={write} writing={writing} error={error} />
    </div>
  );
}

function Overrides({ flag, env, overrides }: { flag: Flag; env: string; overrides: Record<string, string> }) {
  const queryClient = useQueryClient();
  const variants = Object.keys(flag.variants);
  const [user, setUser] = useState('');
  const [variant, setVariant] = useState(variants[0] ?? '');
  const id = useId();
  const done = () => queryClient.invalidateQueries({ queryKey: ['flag', flag.key] });
  const add = useMutation({
    mutationFn: async ({ targetingKey, variant: v }: { targetingKey: string; variant: string }) =>
      unwrap(
        api.PUT('/api/admin/flags/{key}/environments/{env}/overrides/{targetingKey}', {
          params: { path: { key: flag.key, env, targetingKey } },
          body: { variant: v },
        }),
      ),
    onSuccess: () => {
      setUser('');
      return done();
    },
  });
  const remove = useMutation({
    mutationFn: async (targetingKey: string) =>
      unwrap(
        api.DELETE('/api/admin/flags/{key}/environments/{env}/overrides/{targetingKey}', {
          params: { path: { key: flag.key, env, targetingKey } },
        }),
      ),
    onSuccess: done,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (user.trim()) add.mutate({ targetingKey: user.trim(), variant });
  };
  const entries = Object.entries(overrides);
  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Per-user overrides</h3>
      <p className="muted small">
        A targeting key here always gets its variant in {env}, before targeting and rollout.
      </p>
      {entries.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Targeting key</th>
              <th scope="col">Variant</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k} data-override={k}>
                <td>
                  <code>{k}</code>
                </td>
                <td>
                  <code>{v}</code>
                </td>
                <td>
                  <button
                    type="button"
                    className="secondary small"
                    aria-label={`Remove override for ${k}`}
                    disabled={remove.isPending}
                    onClick={() => remove.mutate(k)}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">No overrides in {env}.</p>
      )}
      <form className="inline" onSubmit={submit}>
        <label htmlFor={`${id}-user`}>Targeting key</label>
        <input
          id={`${id}-user`}
          value={user}
          maxLength={256}
          placeholder="u-123"
          onChange={(e) => setUser(e.target.value)}
        />
        <label htmlFor={`${id}-variant`}>Variant</label>
        <select id={`${id}-variant`} value={variant} onChange={(e) => setVariant(e.target.value)}>
          {variants.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        <button type="submit" disabled={add.isPending || !user.trim()}>
          Add override
        </button>
      </form>
      <ErrorMessage error={add.error ?? remove.error} />
    </section>
  );
}

function Rollout(props: {
  flag: Flag;
  env: string;
  rollout: FlagEnvironment['rollout'];
  write: (body: EnvPatch) => void;
  writing: boolean;
}) {
  const { flag, env, rollout, write, writing } = props;
  const variants = Object.keys(flag.variants);
  const [variant, setVariant] = useState(rollout?.variant ?? variants[0] ?? '');
  const [percentage, setPercentage] = useState(String(rollout?.percentage ?? 0));
  const id = useId();
  useEffect(() => {
    setVariant(rollout?.variant ?? variants[0] ?? '');
    setPercentage(String(rollout?.percentage ?? 0));
  }, [rollout?.variant, rollout?.percentage, variants[0]]);
  const n = Number(percentage);
  const invalid = percentage.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100;
  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Percentage rollout</h3>
      <p className="muted small">
        {rollout
          ? `${rollout.percentage}% of targeting keys get ${rollout.variant} in ${env}.`
          : `No rollout in ${env}.`}
      </p>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!invalid) write({ rollout: { variant, percentage: n } });
        }}
      >
        <label htmlFor={`${id}-variant`}>Variant</label>
        <select id={`${id}-variant`} value={variant} onChange={(e) => setVariant(e.target.value)}>
          {variants.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-pct`}>Percentage</label>
        <input
          id={`${id}-pct`}
          type="number"
          min={0}
          max={100}
          step={0.01}
          value={percentage}
          aria-invalid={invalid}
          onChange={(e) => setPercentage(e.target.value)}
        />
        <button type="submit" disabled={writing || invalid}>
          Save rollout
        </button>
        {rollout && (
          <button type="button" className="secondary" disabled={writing} onClick={() => write({ rollout: null })}>
            Clear rollout
          </button>
        )}
      </form>
    </section>
  );
}

function Targeting(props: {
  env: string;
  targeting: FlagEnvironment['targeting'];
  write: (body: EnvPatch) => void;
  writing: boolean;
  error: unknown;
}) {
  const { env, targeting, write, writing, error } = props;
  const shown = targeting ? JSON.stringify(targeting, null, 2) : '';
  const [text, setText] = useState(shown);
  const [dirty, setDirty] = useState(false);
  const [parseError, setParseError] = useState<string | null>(null);
  const id = useId();
  useEffect(() => {
    if (!dirty) setText(shown);
  }, [shown, dirty]);
  const apiError = error instanceof ApiError && error.status === 400 ? error : null;
  const save = (e: FormEvent) => {
    e.preventDefault();
    setParseError(null);
    if (text.trim() === '') {
      write({ targeting: null });
      setDirty(false);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      setParseError(`Not JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      setParseError('Targeting is a JsonLogic object, e.g. {"if": [...]}.');
      return;
    }
    write({ targeting: parsed as Record<string, unknown> });
    setDirty(false);
  };
  return (
    <section aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Targeting</h3>
      <form onSubmit={save}>
        <label htmlFor={`${id}-json`}>JsonLogic targeting in {env} (empty clears it)</label>
        <textarea
          id={`${id}-json`}
          className="code"
          rows={8}
          spellCheck={false}
          value={text}
          aria-invalid={parseError !== null || apiError !== null}
          aria-describedby={`${id}-err`}
          onChange={(e) => {
            setText(e.target.value);
            setDirty(true);
          }}
        />
        <div id={`${id}-err`}>
          {parseError && (
            <p role="alert" className="error">
              {parseError}
            </p>
          )}
        </div>
        <div className="actions">
          <button type="submit" disabled={writing}>
            Save targeting
          </button>
          {dirty && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setText(shown);
                setDirty(false);
                setParseError(null);
              }}
            >
              Discard edit
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

function EvaluatePanel({ flag, envs }: { flag: Flag; envs: string[] }) {
  const [env, setEnv] = useState(envs[0] ?? '');
  const [context, setContext] = useState('{\n  "targetingKey": "u-123"\n}');
  const [parseError, setParseError] = useState<string | null>(null);
  const id = useId();
  const evaluate = useMutation({
    mutationFn: async (vars: { environment: string; context: Record<string, unknown> }) =>
      (await unwrap(api.POST('/api/admin/evaluate', { body: vars as never }))).data as EvaluationResult,
  });
  const result = evaluate.data?.flags.find((x) => x.key === flag.key);
  return (
    <section aria-labelledby={`${id}-h`} className="panel">
      <h2 id={`${id}-h`}>Evaluate as</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setParseError(null);
          let ctx: unknown;
          try {
            ctx = JSON.parse(context);
          } catch (err) {
            setParseError(`Not JSON: ${err instanceof Error ? err.message : String(err)}`);
            return;
          }
          if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) {
            setParseError('The context is a JSON object, e.g. {"targetingKey": "u-123"}.');
            return;
          }
          evaluate.mutate({ environment: env, context: ctx as Record<string, unknown> });
        }}
      >
        <label htmlFor={`${id}-env`}>Environment</label>
        <select id={`${id}-env`} value={env} onChange={(e) => setEnv(e.target.value)}>
          {envs.map((e) => (
            <option key={e} value={e}>
              {e}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-ctx`}>Evaluation context (JSON)</label>
        <textarea
          id={`${id}-ctx`}
          className="code"
          rows={4}
          spellCheck={false}
          value={context}
          onChange={(e) => setContext(e.target.value)}
        />
        {parseError && (
          <p role="alert" className="error">
            {parseError}
          </p>
        )}
        <button type="submit" disabled={evaluate.isPending}>
          Evaluate
        </button>
      </form>
      <ErrorMessage error={evaluate.error} />
      {result && (
        <dl className="result" aria-live="polite" data-testid="evaluation">
          <dt>Variant</dt>
          <dd>
            <code>{result.variant ?? '(code default)'}</code>
          </dd>
          <dt>Value</dt>
          <dd>
            <code>{result.sensitive ? '(sensitive)' : JSON.stringify(result.value)}</code>
          </dd>
          <dt>Reason</dt>
          <dd>
            <code>{result.reason}</code>
            {result.errorCode && <code> {result.errorCode}</code>}
          </dd>
        </dl>
      )}
    </section>
  );
}
