/**
 * The rule for the Unleash bridge's webhook secret (`RC_UNLEASH_WEBHOOK_SECRET`). One rule for the server, which
 * checks the secret it accepts, and for `rctl seed --bridge-url`, which writes it into Unleash's webhook addon: a
 * secret the seed let through but the server refused would leave a webhook that is always rejected.
 */
export const WEBHOOK_SECRET_MIN_LENGTH = 16;

/** Why `secret` cannot be the webhook secret, or undefined when it can. Never includes the secret. */
export function webhookSecretProblem(secret: string): string | undefined {
  if (secret.length < WEBHOOK_SECRET_MIN_LENGTH || /\s/.test(secret)) {
    return `must be at least ${WEBHOOK_SECRET_MIN_LENGTH} characters without whitespace`;
  }
  return undefined;
}

/**
 * How the bridge's webhook addon is recognised in Unleash (Unleash masks its url and authorization when it lists
 * addons): written by `rctl seed --bridge-url`, looked for by the server's status route.
 */
export const UNLEASH_BRIDGE_ADDON_DESCRIPTION = 'Runtime Control bridge (managed by rctl seed)';
