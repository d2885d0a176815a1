import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CanaryDecisionRecord, CanaryState } from './canary-state.js';

/**
 * Webhook notifications of a canary run: a JSON POST to the plan's `notify.url` on every step, promotion, rollback
 * (and start, abort, pause, resume), signed with HMAC-SHA256 when the plan names a secret file. Sending never blocks
 * the controller: it is not awaited by the decision, it times out, and a failure is only logged.
 */

/** Decisions that are notified; holds and single failed checks are not (they are in the decision log). */
export const NOTIFIED_ACTIONS: ReadonlySet<string> = new Set([
  'start',
  'advance',
  'promote',
  'rollback',
  'abort',
  'pause',
  'gate',
  'resume',
]);

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body>` when a secret is set. */
export const SIGNATURE_HEADER = 'x-rc-signature-256';

export interface CanaryNotification {
  /** The decision: `start`, `advance`, `promote`, `rollback`, `abort`, `pause`, `gate`, `resume`. */
  event: string;
  service: string;
  runId: string;
  from: string;
  to: string;
  phase: string;
  /** The canary's weight after the decision, and before it. */
  weight: number;
  previousWeight: number;
  step: number;
  steps: number[];
  reason: string;
  actor: string;
  outcome: string | null;
  cause?: string;
  /** Failing checks with their value and bound (empty when none failed). */
  failedChecks: { name: string; value: number | null; threshold: number | null; detail: string }[];
  at: string;
}

export interface CanaryNotifierLogger {
  warn(obj: object, msg: string): void;
}

export interface CanaryNotifier {
  notify(state: CanaryState, decision: CanaryDecisionRecord): void;
  /** Resolves when every notification sent so far has finished (delivered or failed). */
  idle(): Promise<void>;
}

export function notificationBody(state: CanaryState, decision: CanaryDecisionRecord): CanaryNotification {
  const body: CanaryNotification = {
    event: decision.action,
    service: state.service,
    runId: state.runId,
    from: state.plan.stable,
    to: state.plan.canary,
    phase: state.phase,
    weight: decision.toWeight,
    previousWeight: decision.fromWeight,
    step: decision.stepIndex,
    steps: state.plan.steps,
    reason: decision.reason,
    actor: decision.actor,
    outcome: state.outcome ?? null,
    failedChecks: (decision.checks ?? [])
      .filter((c) => c.status === 'fail')
      .map((c) => ({ name: c.name, value: c.value, threshold: c.threshold, detail: c.detail })),
    at: decision.at,
  };
  if (decision.cause) body.cause = decision.cause;
  return body;
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookNotifier implements CanaryNotifier {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly logger: CanaryNotifierLogger,
    private readonly timeoutMs = 5000,
  ) {}

  notify(state: CanaryState, decision: CanaryDecisionRecord): void {
    const target = state.plan.notify;
    if (!target || !NOTIFIED_ACTIONS.has(decision.action)) return;
    const sending = this.send(target.url, target.secretFile, notificationBody(state, decision)).catch((error) => {
      this.logger.warn(
        { err: error, service: state.service, url: target.url, event: decision.action },
        `canary ${state.service}: notification to ${target.url} failed: ${(error as Error).message}`,
      );
    });
    this.pending.add(sending);
    void sending.finally(() => this.pending.delete(sending));
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async send(url: string, secretFile: string | undefined, notification: CanaryNotification): Promise<void> {
    const body = JSON.stringify(notification);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'runtime-control-canary',
      'x-rc-event': notification.event,
    };
    if (secretFile) {
      const secret = (await readFile(secretFile, 'utf8')).trim();
      if (secret === '') throw new Error(`the secret file ${secretFile} is empty`);
      headers[SIGNATURE_HEADER] = signBody(secret, body);
    }
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  }
}
