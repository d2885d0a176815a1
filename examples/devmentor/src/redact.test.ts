import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactEmails, redactPhoneNumbers, redactPii } from './redact.js';

describe('redactPii', () => {
  it('redacts e-mail addresses', () => {
    assert.equal(redactEmails('write to jane.doe+work@example.co.uk today'), 'write to [email] today');
    assert.equal(redactEmails('a@b.io, X_Y-1@sub.domain.org.'), '[email], [email].');
    assert.equal(redactEmails('user42@mail123.com'), '[email]');
  });

  it('redacts international and national phone numbers', () => {
    for (const phone of [
      '+44 20 7946 0958',
      '+1 (415) 555-2671',
      '+1-415-555-2671',
      '+49 30 901820',
      '0049 30 901820',
      '+33 1 23 45 67 89',
      '+91-98765-43210',
      '+8613800138000',
      '+61 2 9374 4000',
      '(415) 555-2671',
      '415-555-2671',
      '415.555.2671',
      '020 7946 0958',
      '030 901820',
    ]) {
      assert.equal(redactPhoneNumbers(`call ${phone} now`), 'call [phone] now', phone);
    }
    assert.equal(redactPhoneNumbers('+44 20 7946 0958, or +1 415 555 2671.'), '[phone], or [phone].');
  });

  it('leaves plain numbers alone: order ids, amounts, dates, versions', () => {
    for (const text of [
      'order 4821 shipped',
      'order 12345 and order 987654',
      'ids 1234 5678 9012',
      'we sold 120000 units in 2024',
      'invoice 2024-000123',
      'on 2024-01-15 at 10:30',
      'version 1.2.3 and build 20240115',
      'price 1,299.00 EUR',
      'codes 0123 4567',
      'room +12',
      'score 3-1',
    ]) {
      assert.equal(redactPii(text), text, text);
    }
  });

  it('redacts both in one prompt, e-mails first', () => {
    assert.equal(
      redactPii('I am jane@example.com, +44 20 7946 0958; order 12345 is late.'),
      'I am [email], [phone]; order 12345 is late.',
    );
    assert.equal(redactPii('reach 4155552671@sms.example.net'), 'reach [email]');
  });
});
