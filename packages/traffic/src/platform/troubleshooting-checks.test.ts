import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatPlatformFileIssue, type ParsedPlatformFile, parsePlatformFile } from './platform-file.js';
import type { Platform } from './platform-model.js';
import { CHECK_CODES, checkHeaderRoutesBeforeWeighted, checkPlatformFile } from './troubleshooting-checks.js';

const FIXTURES = new URL('../../src/platform/fixtures/', import.meta.url);
const DEVMENTOR = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);

function load(url: URL, name: string): ParsedPlatformFile {
  const result = parsePlatformFile(readFileSync(url, 'utf8'), name);
  assert.ok(result.ok, result.ok ? '' : result.issues.map(formatPlatformFileIssue).join('\n'));
  return result.value;
}

/** Each failing fixture, the one code it must produce, the line it points at and words the message must carry. */
const CASES = [
  {
    fixture: 'subset-matches-no-deployment.yaml',
    code: CHECK_CODES.subsetMatchesNoDeployment,
    line: 17,
    message:
      /subset "v2" selects pods labelled version=v2, but its Deployments are .*ai-gateway-v2 \{app=ai-gateway,version=v1\}/,
  },
  {
    fixture: 'weights-not-100.yaml',
    code: CHECK_CODES.weightsNotHundred,
    line: 26,
    message: /route "ai-gateway" weights v1 90 \+ v2 5 add up to 95, not 100/,
  },
  {
    fixture: 'header-route-after-weighted.yaml',
    code: CHECK_CODES.headerRouteAfterWeighted,
    line: 29,
    message:
      /"ai-gateway-testers" comes after weighted route "ai-gateway".*Move "ai-gateway-testers" before "ai-gateway"/,
  },
  {
    fixture: 'namespace-injection-disabled.yaml',
    code: CHECK_CODES.injectionDisabled,
    line: 7,
    message: /namespace "devmentor-app" runs api-gateway but has no istio-injection label.*istio-injection=enabled/,
  },
  {
    fixture: 'egress-host-not-approved.yaml',
    code: CHECK_CODES.egressNotApproved,
    line: 29,
    message:
      /service "ai-gateway" calls api\.mistral\.ai, which is not an approved egress host \(approved: api\.openai\.com:443\)/,
  },
] as const;

describe('troubleshooting checks', () => {
  it('pass on the DevMentor platform', () => {
    assert.deepEqual(checkPlatformFile(load(DEVMENTOR, 'platform.yaml')), []);
  });

  it('have one failing fixture per check', () => {
    assert.deepEqual(new Set(CASES.map((c) => c.code)), new Set(Object.values(CHECK_CODES)));
  });

  for (const c of CASES) {
    it(`catch ${c.code} in fixtures/${c.fixture}`, () => {
      const issues = checkPlatformFile(load(new URL(c.fixture, FIXTURES), c.fixture));
      assert.equal(issues.length, 1, issues.map(formatPlatformFileIssue).join('\n'));
      const issue = issues[0]!;
      assert.equal(issue.code, c.code);
      assert.equal(issue.line, c.line, formatPlatformFileIssue(issue));
      assert.match(issue.message, c.message);
      assert.ok(formatPlatformFileIssue(issue).startsWith(`${c.fixture}:${c.line}: [${c.code}] `));
    });
  }
});

describe('header route after a weighted route', () => {
  const platform = load(DEVMENTOR, 'platform.yaml').platform;
  const withRoutes = (routes: Platform['routes']): Platform => ({ ...platform, routes });
  const weighted = platform.routes.find((r) => r.name === 'ai-gateway')!;
  const pin = platform.routes.find((r) => r.name === 'ai-gateway-testers')!;

  it('is fine when the header route is for paths the weighted route does not take', () => {
    const otherPath = { ...pin, match: [{ uri: { prefix: '/api/auth' }, headers: pin.match[0]!.headers! }] };
    assert.deepEqual(checkHeaderRoutesBeforeWeighted(withRoutes([weighted, otherPath])), []);
  });

  it('is caught behind a weighted route without a match (it takes everything)', () => {
    const catchAll = { ...weighted, match: [] };
    const issues = checkHeaderRoutesBeforeWeighted(withRoutes([catchAll, pin]));
    assert.deepEqual(
      issues.map((i) => [i.code, i.path]),
      [[CHECK_CODES.headerRouteAfterWeighted, '/routes/1']],
    );
  });

  it('is not reported behind a weighted route that requires a header the pin does not send', () => {
    const canaryOnly = {
      ...weighted,
      match: [{ uri: { prefix: '/api/ai' }, headers: { 'x-canary': { exact: '1' } } }],
    };
    assert.deepEqual(checkHeaderRoutesBeforeWeighted(withRoutes([canaryOnly, pin])), []);
  });
});
