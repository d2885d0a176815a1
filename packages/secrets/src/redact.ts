/**
 * Keeping values out of text. A value can leak in its raw form or in an encoding a transport or a library applied on
 * the way (GitHub Actions masks the raw value and base64, yet values leaked as hex or URL-encoded). `encodedForms`
 * lists the forms that tests and `redact` look for; `redact` replaces each of them in a string.
 */

const MIN_REDACTED_LENGTH = 4;

/** The raw value and its base64, base64url, hex (both cases), URL-encoded and JSON-escaped forms. */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>([
    value,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%20/g, '+'),
    JSON.stringify(value).slice(1, -1),
  ]);
  return [...forms].filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

/**
 * Replaces every encoded form of every value in `text` with `[REDACTED]`. Values shorter than 4 characters are not
 * searched for (they would match by chance and say nothing).
 */
export function redact(text: string, values: Iterable<string>): string {
  let out = text;
  const forms = [...values].flatMap((v) => encodedForms(v)).sort((a, b) => b.length - a.length);
  for (const form of forms) out = out.split(form).join('[REDACTED]');
  return out;
}

/** Every string leaf of a JSON-like value (what a write sends), for `redact`. */
export function stringLeaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'boolean') out.push(String(value));
  else if (Array.isArray(value)) for (const v of value) stringLeaves(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) stringLeaves(v, out);
  return out;
}
