/**
 * PII redaction for prompts (the `ai-safety-pii` feature): e-mail addresses become `[email]`, phone numbers
 * `[phone]`. Phone detection is deliberately format-based — an international prefix (`+`/`00`), a North American
 * grouping, or a national trunk `0` with grouping — because a bare run of digits is as likely an order id, an amount
 * or a timestamp, and redacting those would break the prompt.
 */

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

const PHONE = new RegExp(
  [
    // International: +44 20 7946 0958, +1 (415) 555-2671, +8613800138000, 0049 30 901820.
    String.raw`(?:\+|\b00)\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,7}`,
    // North American: (415) 555-2671, 415-555-2671, 415.555.2671.
    String.raw`(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}`,
    // National with a trunk prefix: 020 7946 0958, 030 901820.
    String.raw`\b0\d{1,4}[ .-]\d{3,4}[ .-]?\d{3,4}`,
  ]
    .map((alternative) => `(?<![\\w+])(?:${alternative})(?![\\w])`)
    .join('|'),
  'g',
);

// Fewer digits than this after a + or 00 is not a dialable international number (E.164 numbers have 8–15).
const MIN_INTERNATIONAL_DIGITS = 8;

function countDigits(text: string): number {
  let n = 0;
  for (const ch of text) if (ch >= '0' && ch <= '9') n++;
  return n;
}

export function redactEmails(text: string): string {
  return text.replace(EMAIL, '[email]');
}

export function redactPhoneNumbers(text: string): string {
  return text.replace(PHONE, (match) => {
    const international = match.startsWith('+') || match.startsWith('00');
    return international && countDigits(match) < MIN_INTERNATIONAL_DIGITS ? match : '[phone]';
  });
}

/** E-mails first, so that digits inside an address are not taken for a phone number. */
export function redactPii(text: string): string {
  return redactPhoneNumbers(redactEmails(text));
}
