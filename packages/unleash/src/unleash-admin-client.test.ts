import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addonWriteFix, UnleashAdminClient, UnleashApiError, unleashErrorText } from './unleash-admin-client.js';
import { desiredBridgeAddon } from './unleash-bridge-addon.js';

const TOKEN = '*:*.sentinel-admin-token-5f0c2e9d';
const SECRET = 'sentinel-webhook-secret-93ab17';

/** Unleash 8.2.0's answer to an addon whose URL resolves to a private address (captured from a real server). */
const SSRF_REFUSAL = {
  name: 'BadDataError',
  message:
    'Request validation failed: your request body or params contain invalid data: A validation error occurred while processing your request data. Please make sure it conforms to the request data schema.',
  details: [
    {
      message:
        'A validation error occurred while processing your request data. Please make sure it conforms to the request data schema.',
    },
  ],
};

function clientAnswering(status: number, body: unknown) {
  const fetchImpl = (async () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), { status })) as typeof fetch;
  return new UnleashAdminClient('http://unleash:4242', TOKEN, fetchImpl);
}

async function rejection(promise: Promise<unknown>): Promise<UnleashApiError> {
  const error = await promise.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnleashApiError, String(error));
  return error;
}

describe('unleashErrorText', () => {
  it("reads Unleash's envelope as name: message, adding a detail only when it says more", () => {
    assert.equal(
      unleashErrorText(
        {
          name: 'BadDataError',
          message: 'Request validation failed',
          details: [{ message: '"name" must be URL friendly' }],
        },
        [],
      ),
      'BadDataError: Request validation failed ("name" must be URL friendly)',
    );
    assert.equal(unleashErrorText(SSRF_REFUSAL, []), `BadDataError: ${SSRF_REFUSAL.message}`);
    assert.equal(unleashErrorText({ message: 'only a message' }, []), 'only a message');
  });

  it('is undefined for anything else than an envelope', () => {
    for (const json of [undefined, null, 'text', 42, [], {}, { name: 7, message: {} }])
      assert.equal(unleashErrorText(json, []), undefined, JSON.stringify(json));
  });

  it('masks every secret, collapses whitespace and bounds the length', () => {
    const text = unleashErrorText(
      { name: 'BadDataError', message: `token ${TOKEN} and\n\nsecret ${SECRET} ${'x'.repeat(900)}` },
      [TOKEN, SECRET],
    );
    assert.ok(text);
    assert.ok(!text.includes(TOKEN) && !text.includes(SECRET));
    assert.match(text, /^BadDataError: token \*\*\*\*\* and secret \*\*\*\*\* x+…$/);
    assert.ok(text.length <= 501);
  });
});

describe('addonWriteFix', () => {
  it('names the allow-list variable with the host for a 400 BadDataError (Unleash 8 refusing a private address)', () => {
    const fix = addonWriteFix(400, 'BadDataError: Request validation failed', 'http://runtime-control:4400/api/x');
    assert.ok(fix);
    assert.match(fix, /UNLEASH_ALLOW_LIST_INTEGRATION=runtime-control /);
    assert.match(fix, /private, loopback or link-local/);
    assert.ok(!fix.includes('\n'), 'one line');
  });

  it('says Unleash cannot resolve the host for a 500 naming ENOTFOUND', () => {
    const fix = addonWriteFix(500, 'UnknownError: getaddrinfo ENOTFOUND rc.invalid', 'http://rc.invalid:4400/');
    assert.match(fix ?? '', /^Unleash cannot resolve rc\.invalid: give --bridge-url a host name/);
  });

  it('has nothing to say about other failures', () => {
    assert.equal(addonWriteFix(500, 'UnknownError: boom', 'http://rc:4400/'), undefined);
    assert.equal(addonWriteFix(409, 'NameExistsError: exists', 'http://rc:4400/'), undefined);
    assert.equal(addonWriteFix(400, 'BadDataError: x', undefined), undefined);
    assert.equal(addonWriteFix(400, 'BadDataError: x', 'not a url'), undefined);
  });
});

describe('UnleashAdminClient errors', () => {
  it("an addon refused by Unleash 8: Unleash's name and message, then the fix line; no token or secret", async () => {
    const client = clientAnswering(400, SSRF_REFUSAL);
    const definition = desiredBridgeAddon('http://runtime-control:4400', SECRET);
    for (const error of [
      await rejection(client.createAddon(definition)),
      await rejection(client.updateAddon(3, definition)),
    ]) {
      assert.equal(error.status, 400);
      assert.match(
        error.message,
        /^(creating the webhook addon|updating addon 3) failed \(HTTP 400\): Unleash says BadDataError: Request validation failed: /,
      );
      const lines = error.message.split('\n');
      assert.equal(lines.length, 2);
      assert.match(lines[1] ?? '', /^ {2}fix: .*UNLEASH_ALLOW_LIST_INTEGRATION=runtime-control /);
      assert.equal(error.unleash?.error?.startsWith('BadDataError: '), true);
      assert.equal(error.body, undefined);
      for (const sentinel of [TOKEN, SECRET, 'sentinel']) assert.ok(!error.message.includes(sentinel), sentinel);
    }
  });

  it("feature calls carry Unleash's message with the token masked, and no fix line for unknown cases", async () => {
    const echo = { name: 'BadDataError', message: `rejected, you sent ${TOKEN}` };
    const client = clientAnswering(400, echo);
    const create = await rejection(client.createFeature({ name: 'f', type: 'release', description: '' }));
    assert.equal(
      create.message,
      'creating feature f failed (HTTP 400): Unleash says BadDataError: rejected, you sent *****',
    );
    const strategy = await rejection(
      client.addStrategy('f', 'development', {
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'default', groupId: 'f' },
        constraints: [],
        variants: [],
      }),
    );
    assert.match(
      strategy.message,
      /^POST \/api\/admin\/projects\/default\/features\/f\/environments\/development\/strategies failed \(HTTP 400\): Unleash says BadDataError: rejected, you sent \*\*\*\*\*$/,
    );
    for (const e of [create, strategy]) assert.ok(!e.message.includes(TOKEN));
  });

  it('an answer that is not Unleash JSON still names the status', async () => {
    const error = await rejection(clientAnswering(502, '<html>bad gateway</html>').getFeature('f'));
    assert.equal(error.message, 'reading feature f failed (HTTP 502)');
  });

  it("a rejected token says so with Unleash's message, the token masked", async () => {
    const error = await rejection(
      clientAnswering(401, { name: 'AuthenticationRequired', message: `no access for ${TOKEN}` }).contextFields(),
    );
    assert.match(
      error.message,
      /^Unleash rejected the token \(401 AuthenticationRequired: no access for \*\*\*\*\*\) on GET/,
    );
    assert.match(error.message, /RC_UNLEASH_TOKEN or --token-file/);
  });
});
