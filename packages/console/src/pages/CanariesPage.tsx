import * as Dialog from '@radix-ui/react-dialog';
import type { paths } from '@runtime-control/core/http-api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, api, unwrap } from '../api/client.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { LIVE_INTERVAL_MS } from '../queries.js';

type Canary = paths['/api/admin/canaries']['get']['responses'][200]['content']['application/json']['canaries'][number];
type Action = 'promote' | 'promote-full' | 'pause' | 'resume' | 'abort';

const ACTIVE = new Set(['progressing', 'paused']);

function Disabled({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'CANARIES_DISABLED') {
    return (
      <p role="status">
        Canaries are off on this server: start it with <code>RC_CANARY_ROUTER=local</code> or <code>istio</code> and{' '}
        <code>RC_PROMETHEUS_URL</code> (see docs/canary.md).
      </p>
    );
  }
  return <ErrorMessage error={error} />;
}

export function CanariesPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: ['canaries'],
    queryFn: async () => (await unwrap(api.GET('/api/admin/canaries'))).data.canaries,
    refetchInterval: LIVE_INTERVAL_MS,
  });
  const [service, setService] = useState('');
  const [to, setTo] = useState('v2');
  const [from, setFrom] = useState('v1');
  const [steps, setSteps] = useState('5, 10, 25, 50, 100');
  const [pauseAt, setPauseAt] = useState('');
  const [localError, setLocalError] = useState<string | null>(null);
  const start = useMutation({
    mutationFn: async (body: { service: string; to: string; from: string; steps: number[]; pauseAt?: number[] }) =>
      unwrap(api.POST('/api/admin/canaries', { body })),
    onSuccess: async (_res, body) => {
      await queryClient.invalidateQueries({ queryKey: ['canaries'] });
      navigate(`/canaries/${encodeURIComponent(body.service)}`);
    },
  });
  const numbers = (text: string) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setLocalError(null);
    const s = numbers(steps);
    const p = numbers(pauseAt);
    if (s.length === 0 || s.some((n) => !Number.isFinite(n))) {
      setLocalError('Steps are canary weights in percent, e.g. 5, 10, 25, 50, 100.');
      return;
    }
    if (p.some((n) => !Number.isFinite(n))) {
      setLocalError('Pause at: weights in percent, e.g. 50.');
      return;
    }
    start.mutate({
      service: service.trim(),
      to: to.trim(),
      from: from.trim(),
      steps: s,
      ...(p.length ? { pauseAt: p } : {}),
    });
  };
  return (
    <section>
      <h1>Canaries</h1>
      <Disabled error={list.error} />
      {list.data && list.data.length === 0 && <p className="muted">No canary has run yet.</p>}
      {list.data && list.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Phase</th>
              <th scope="col">Canary weight</th>
              <th scope="col">Versions</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((c) => (
              <tr key={c.service} data-canary={c.service}>
                <td>
                  <Link to={`/canaries/${encodeURIComponent(c.service)}`}>{c.service}</Link>
                </td>
                <td>
                  <span className={`badge phase-${c.phase}`}>{c.phase}</span>
                </td>
                <td>{c.canaryWeight}%</td>
                <td>
                  {c.plan.stable} → {c.plan.canary}
                </td>
                <td>
                  <time dateTime={c.startedAt}>{new Date(c.startedAt).toLocaleString()}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!(list.error instanceof ApiError && list.error.code === 'CANARIES_DISABLED') && (
        <>
          <h2>Start a canary</h2>
          <form className="stack" onSubmit={submit}>
            <label htmlFor="canary-service">Service</label>
            <input id="canary-service" value={service} maxLength={63} onChange={(e) => setService(e.target.value)} />
            <label htmlFor="canary-from">Stable version</label>
            <input id="canary-from" value={from} maxLength={63} onChange={(e) => setFrom(e.target.value)} />
            <label htmlFor="canary-to">Canary version</label>
            <input id="canary-to" value={to} maxLength={63} onChange={(e) => setTo(e.target.value)} />
            <label htmlFor="canary-steps">Steps (canary weight %, comma-separated)</label>
            <input id="canary-steps" value={steps} onChange={(e) => setSteps(e.target.value)} />
            <label htmlFor="canary-pause">Pause at (weights that wait for a promote; optional)</label>
            <input id="canary-pause" value={pauseAt} onChange={(e) => setPauseAt(e.target.value)} />
            {localError && (
              <p role="alert" className="error">
                {localError}
              </p>
            )}
            <ErrorMessage error={start.error} />
            <div className="actions">
              <button type="submit" disabled={start.isPending || !service.trim()}>
                Start canary
              </button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}

/** The weight timeline as a step chart (SVG), with the same data as a table for assistive technology. */
function WeightChart({ canary }: { canary: Canary }) {
  const points = canary.history;
  if (points.length === 0) return null;
  const w = 600;
  const h = 160;
  const x = (i: number) => 30 + (i * (w - 40)) / Math.max(points.length, 1);
  const y = (weight: number) => h - 20 - (weight * (h - 30)) / 100;
  const path = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i)},${y(p.weight)} L${x(i + 1)},${y(p.weight)}`)
    .join(' ');
  const summary = `Canary weight over time: ${points.map((p) => `${p.weight}% (${p.outcome})`).join(', ')}`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={summary} preserveAspectRatio="none">
        {[0, 50, 100].map((g) => (
          <g key={g}>
            <line x1={30} x2={w - 10} y1={y(g)} y2={y(g)} className="grid" />
            <text x={2} y={y(g) + 4} className="axis">
              {g}%
            </text>
          </g>
        ))}
        <path d={path} className="line" />
        {points.map((p, i) => (
          <circle
            key={`${p.decidedAt}-${p.stepIndex}-${p.outcome}`}
            cx={x(i)}
            cy={y(p.weight)}
            r={4}
            className={`dot dot-${p.outcome}`}
          />
        ))}
      </svg>
      <figcaption className="muted small">Weight timeline, oldest first</figcaption>
    </figure>
  );
}

export function CanaryPage() {
  const { service = '' } = useParams();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState<Action | null>(null);
  const canary = useQuery({
    queryKey: ['canary', service],
    queryFn: async () =>
      (await unwrap(api.GET('/api/admin/canaries/{service}', { params: { path: { service } } }))).data as Canary,
    refetchInterval: LIVE_INTERVAL_MS,
  });
  const act = useMutation({
    mutationFn: async (action: Action) => {
      const path = { params: { path: { service } } };
      if (action === 'promote') return unwrap(api.POST('/api/admin/canaries/{service}/promote', path));
      if (action === 'promote-full')
        return unwrap(
          api.POST('/api/admin/canaries/{service}/promote', {
            params: { path: { service }, query: { full: 'true' } },
          } as never),
        );
      if (action === 'pause') return unwrap(api.POST('/api/admin/canaries/{service}/pause', path));
      if (action === 'resume') return unwrap(api.POST('/api/admin/canaries/{service}/resume', path));
      return unwrap(api.POST('/api/admin/canaries/{service}/abort', path));
    },
    onSuccess: async () => {
      setConfirm(null);
      await queryClient.invalidateQueries({ queryKey: ['canary', service] });
    },
  });
  const c = canary.data;
  const labels: Record<Action, string> = {
    promote: 'Promote one step',
    'promote-full': 'Promote to 100%',
    pause: 'Pause',
    resume: 'Resume',
    abort: 'Abort (back to stable)',
  };
  const allowed: Action[] = !c
    ? []
    : c.phase === 'paused'
      ? ['promote', 'promote-full', 'resume', 'abort']
      : c.phase === 'progressing'
        ? ['promote-full', 'pause', 'abort']
        : [];
  return (
    <section>
      <p>
        <Link to="/canaries">← All canaries</Link>
      </p>
      <div className="page-head">
        <h1>{service}</h1>
        {c && <span className={`badge phase-${c.phase}`}>{c.phase}</span>}
      </div>
      <Disabled error={canary.error} />
      {c && (
        <>
          <p>
            {c.plan.stable} → {c.plan.canary}: canary at <strong data-testid="canary-weight">{c.canaryWeight}%</strong>
            {c.gate ? ` (waiting at the ${c.gate.weight}% gate for a promote)` : ''}
            {c.outcome ? ` — ${c.outcome}` : ''}
          </p>
          {ACTIVE.has(c.phase) && (
            <div className="actions">
              {allowed.map((a) => (
                <button
                  key={a}
                  type="button"
                  className={a === 'abort' ? 'danger' : 'secondary'}
                  onClick={() => setConfirm(a)}
                >
                  {labels[a]}
                </button>
              ))}
            </div>
          )}
          <ErrorMessage error={act.error} />
          <h2>Weight timeline</h2>
          <WeightChart canary={c} />
          <h2>Last analysis</h2>
          {c.lastAnalysis ? (
            <>
              <p>
                Outcome <code>{c.lastAnalysis.outcome}</code> at{' '}
                <time dateTime={c.lastAnalysis.at}>{new Date(c.lastAnalysis.at).toLocaleString()}</time>
              </p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Check</th>
                    <th scope="col">Status</th>
                    <th scope="col">Value</th>
                    <th scope="col">Threshold</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {c.lastAnalysis.checks.map((k) => (
                    <tr key={k.name}>
                      <td>{k.name}</td>
                      <td>
                        <span className={`badge check-${k.status}`}>{k.status}</span>
                      </td>
                      <td>{k.value ?? '—'}</td>
                      <td>{k.threshold ?? '—'}</td>
                      <td className="small">{k.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : (
            <p className="muted">No analysis yet.</p>
          )}
          <h2>Steps</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Weight</th>
                <th scope="col">Outcome</th>
                <th scope="col">Decided</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {c.history.map((h) => (
                <tr key={`${h.decidedAt}-${h.stepIndex}-${h.outcome}`}>
                  <td>{h.weight}%</td>
                  <td>{h.outcome}</td>
                  <td>
                    <time dateTime={h.decidedAt}>{new Date(h.decidedAt).toLocaleTimeString()}</time>
                  </td>
                  <td className="small">{h.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <Dialog.Root
        open={confirm !== null}
        onOpenChange={(open) => {
          if (!open) {
            setConfirm(null);
            act.reset();
          }
        }}
      >
        <Dialog.Portal>
          <Dialog.Overlay className="overlay" />
          <Dialog.Content className="dialog">
            <Dialog.Title>
              {confirm ? labels[confirm] : ''}: {service}?
            </Dialog.Title>
            <Dialog.Description>
              {confirm === 'abort'
                ? 'All traffic goes back to the stable version now.'
                : confirm === 'promote-full'
                  ? 'All traffic goes to the canary version now.'
                  : 'The router follows at once.'}
            </Dialog.Description>
            <ErrorMessage error={act.error} />
            <div className="actions">
              <button
                type="button"
                className={confirm === 'abort' ? 'danger' : undefined}
                disabled={act.isPending}
                onClick={() => confirm && act.mutate(confirm)}
              >
                Confirm
              </button>
              <Dialog.Close asChild>
                <button type="button" className="secondary">
                  Cancel
                </button>
              </Dialog.Close>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </section>
  );
}
