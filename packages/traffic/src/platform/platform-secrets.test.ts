import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { formatPlatformFileIssue, type PlatformFileIssue, parsePlatformFile } from './platform-file.js';

const DEVMENTOR = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);

/** A valid platform with a `secrets` section; tests replace one line to break it (the consumers of auth/jwt are on line 39, of web/redis on 48). */
const BASE = `platform: shop
namespaces:
  - { name: shop, labels: { istio-injection: enabled }, mtls: STRICT }
  - { name: other, labels: { istio-injection: enabled }, mtls: STRICT }
gateway: { name: shop-gateway, hosts: [shop.local] }
services:
  - name: web
    port: 8080
    deployments:
      - { name: web, labels: { app: web } }
      - { name: web-v2, labels: { app: web }, container: app }
  - name: auth
    port: 8080
    deployments:
      - { name: auth, labels: { app: auth } }
  - name: batch
    namespace: other
    port: 8080
    deployments:
      - { name: batch, labels: { app: batch } }
routes:
  - { name: web, destinations: [{ service: web }] }
secrets:
  store:
    name: vault
    server: https://vault.example.com:8200
    path: secret
    auth:
      kubernetes:
        role: shop
        serviceAccountRef: { name: eso, namespace: shop, audiences: [vault] }
  services:
    - name: auth
      needs: [JWT_SECRET]
      bundles:
        - name: jwt
          path: shop/auth/jwt
          properties: { JWT_SECRET: JWT_SECRET }
          consumers: [auth, web]
          rotation: { strategy: generated, length: 48, alphabet: base64url, maxAge: 90d }
    - name: web
      needs: [JWT_SECRET, REDIS_URL]
      bundles:
        - name: redis
          path: shop/web
          properties: { REDIS_URL: REDIS_URL, redis-password: REDIS_PASSWORD }
          refreshInterval: 30m
          consumers: [web, web-v2]
`;

function issuesOf(text: string): PlatformFileIssue[] {
  const result = parsePlatformFile(text, 'p.yaml');
  assert.equal(result.ok, false, 'expected the file to be rejected');
  return result.ok ? [] : result.issues;
}

function only(issues: PlatformFileIssue[]): PlatformFileIssue {
  assert.equal(issues.length, 1, issues.map(formatPlatformFileIssue).join('\n'));
  return issues[0]!;
}

function replaced(from: string, to: string): string {
  assert.ok(BASE.includes(from), `BASE contains ${from}`);
  return BASE.replace(from, to);
}

describe('platform file: the secrets section', () => {
  it('accepts the base file and keeps the section (as written) and the container in the model', () => {
    const result = parsePlatformFile(BASE, 'p.yaml');
    assert.ok(result.ok, result.ok ? '' : result.issues.map(formatPlatformFileIssue).join('\n'));
    const { platform } = result.value;
    assert.equal(platform.secrets?.store.name, 'vault');
    assert.deepEqual(
      platform.services[0]!.deployments.map((d) => d.container),
      ['web', 'app'],
    );
  });

  it('reads the DevMentor secrets: four bundles for the runbook services', () => {
    const result = parsePlatformFile(readFileSync(DEVMENTOR, 'utf8'), 'platform.yaml');
    assert.ok(result.ok, result.ok ? '' : result.issues.map(formatPlatformFileIssue).join('\n'));
    const secrets = result.value.platform.secrets!;
    assert.equal(secrets.store.version, 'v2');
    assert.equal(secrets.store.path, 'secret');
    assert.deepEqual(
      (secrets.services ?? []).map((s) => [s.name, (s.bundles ?? []).map((b) => b.name)]),
      [
        ['auth-service', ['jwt']],
        ['api-gateway', ['redis']],
        ['ai-gateway', ['providers']],
        ['project-service', ['database']],
      ],
    );
  });

  it('reports a consumer that is not a declared Deployment, with its line', () => {
    const issue = only(issuesOf(replaced('consumers: [auth, web]', 'consumers: [auth, webb]')));
    assert.equal(issue.code, 'UNKNOWN_DEPLOYMENT');
    assert.equal(issue.line, 39);
    assert.equal(issue.path, '/secrets/services/0/bundles/0/consumers/1');
    assert.match(
      formatPlatformFileIssue(issue),
      /^p\.yaml:39: \[UNKNOWN_DEPLOYMENT\] secrets: bundle "auth\/jwt": consumer "webb" is not a Deployment under services\[\]\.deployments \(declared: web, web-v2, auth, batch\)$/,
    );
  });

  it('reports a consumer in another namespace than the Secret', () => {
    const issue = only(issuesOf(replaced('consumers: [web, web-v2]', 'consumers: [web, batch]')));
    assert.equal(issue.code, 'NAMESPACE_MISMATCH');
    assert.equal(issue.line, 48);
    assert.match(issue.message, /consumer "batch" runs in namespace "other" but the Secret is written to "shop"/);
  });

  it('reports two bundles of one name in a service, and two Secrets of one name in a namespace', () => {
    const twice = `${BASE}        - name: redis\n          path: shop/web2\n          properties: { X: X_VAR }\n          consumers: [web]\n`;
    const issues = issuesOf(twice);
    assert.deepEqual(
      issues.map((i) => `${i.line} [${i.code}]`),
      ['49 [DUPLICATE_NAME]', '49 [DUPLICATE_NAME]'],
    );
    assert.match(issues[0]!.message, /service "web" has two bundles named "redis"/);
    assert.match(
      issues[1]!.message,
      /Secret "web-redis" in namespace "shop" is already written by bundle "web\/redis"/,
    );
    const secretName = replaced(
      '          path: shop/web\n',
      '          path: shop/web\n          secretName: auth-jwt\n',
    );
    const clash = only(issuesOf(secretName));
    assert.equal(clash.code, 'DUPLICATE_NAME');
    assert.equal(clash.path, '/secrets/services/1/bundles/0/secretName');
  });

  it('reports an env var given twice to one consumer, and twice in one bundle', () => {
    const twice = replaced(
      '{ REDIS_URL: REDIS_URL, redis-password: REDIS_PASSWORD }',
      '{ REDIS_URL: REDIS_URL, jwt: JWT_SECRET }',
    );
    const issue = only(issuesOf(twice));
    assert.equal(issue.code, 'ENV_PROVIDED_TWICE');
    assert.equal(issue.line, 48);
    assert.equal(issue.path, '/secrets/services/1/bundles/0/consumers/0');
    assert.match(issue.message, /Deployment "web" already gets env var JWT_SECRET from bundle "auth\/jwt"/);
    const same = only(issuesOf(replaced('redis-password: REDIS_PASSWORD', 'redis-password: REDIS_URL')));
    assert.equal(same.code, 'DUPLICATE_ENV');
    assert.equal(same.path, '/secrets/services/1/bundles/0/properties/redis-password');
    assert.match(same.message, /properties "REDIS_URL" and "redis-password" are both given as env var REDIS_URL/);
  });

  it('reports invalid env var names and properties through the schema, at their line', () => {
    const env = only(issuesOf(replaced('REDIS_URL: REDIS_URL,', 'REDIS_URL: 1REDIS,')));
    assert.equal(
      `${env.line} [${env.code}] ${env.path}`,
      '46 [INVALID_VALUE] /secrets/services/1/bundles/0/properties/REDIS_URL',
    );
    assert.match(env.message, /env var "REDIS_URL" must be an environment variable name/);
    const need = only(issuesOf(replaced('needs: [JWT_SECRET, REDIS_URL]', 'needs: [JWT_SECRET, redis-url]')));
    assert.equal(need.path, '/secrets/services/1/needs/1');
    assert.match(need.message, /must be an environment variable name/);
    const property = only(issuesOf(replaced('redis-password:', '"redis password":')));
    assert.equal(property.code, 'INVALID_VALUE');
    assert.match(property.message, /properties: property must be letters, digits/);
  });

  it('reports an unknown service, a service listed twice, and generator options on a supplied rotation', () => {
    const unknown = only(issuesOf(replaced('    - name: auth\n      needs', '    - name: authh\n      needs')));
    assert.equal(unknown.code, 'UNKNOWN_SERVICE');
    assert.equal(unknown.path, '/secrets/services/0/name');
    const twice = only(issuesOf(replaced('    - name: web\n      needs', '    - name: auth\n      needs')));
    assert.equal(twice.code, 'DUPLICATE_NAME');
    assert.match(twice.message, /secrets: service "auth" is listed twice/);
    const options = only(
      issuesOf(replaced('strategy: generated, length: 48, alphabet: base64url', 'strategy: supplied, length: 48')),
    );
    assert.equal(options.code, 'INVALID_VALUE');
    assert.equal(options.path, '/secrets/services/0/bundles/0/rotation/length');
    assert.match(options.message, /rotation length applies to strategy generated only/);
  });

  it('checks the shape: durations, versions, a bare refreshInterval number other than 0, unknown fields', () => {
    const interval = only(issuesOf(replaced('refreshInterval: 30m', 'refreshInterval: 30 minutes')));
    assert.match(interval.message, /refreshInterval must be a Go duration, e.g. 1h/);
    assert.ok(parsePlatformFile(replaced('refreshInterval: 30m', 'refreshInterval: 0'), 'p.yaml').ok, '0 is a shape');
    const five = only(issuesOf(replaced('refreshInterval: 30m', 'refreshInterval: 5')));
    assert.match(five.message, /a bare number may only be 0/);
    const version = only(issuesOf(replaced('    path: secret\n', '    path: secret\n    version: v3\n')));
    assert.match(version.message, /version must be one of v1, v2$/);
    const maxAge = only(issuesOf(replaced('maxAge: 90d', 'maxAge: 3 months')));
    assert.equal(maxAge.line, 40);
    const extra = only(issuesOf(replaced('        role: shop\n', '        role: shop\n        token: abc\n')));
    assert.equal(extra.code, 'UNKNOWN_PROPERTY');
    const noConsumers = only(issuesOf(replaced('consumers: [web, web-v2]', 'consumers: []')));
    assert.equal(noConsumers.code, 'REQUIRED');
  });

  it('never echoes a value pasted into the section (only names and paths belong there)', () => {
    const value = 'sk-live-9f8e7d6c5b4a3210';
    for (const [from, to] of [
      ['REDIS_URL: REDIS_URL,', `REDIS_URL: ${value},`],
      ['redis-password:', `"${value} x":`],
      ['path: shop/web\n', `path: "/${value}"\n`],
      ['refreshInterval: 30m', `refreshInterval: ${value}`],
      ['strategy: generated,', `strategy: ${value},`],
      ['maxAge: 90d', `maxAge: ${value}`],
      ['    server: https://vault.example.com:8200', `    server: ${value}`],
      ['      needs: [JWT_SECRET]', '      needs: [JWT_SECRET, 12345678]'],
    ] as const) {
      const issues = issuesOf(replaced(from, to));
      assert.ok(issues.length > 0);
      for (const issue of issues) {
        assert.doesNotMatch(formatPlatformFileIssue(issue), /sk-live|12345678/, formatPlatformFileIssue(issue));
      }
    }
  });

  it('never throws on damaged secrets sections, and reports each problem at a line of the file', () => {
    const base = parse(BASE) as { secrets: unknown };
    const DAMAGE: unknown[] = [null, 0, -1, '', 'x', 'kv/data', '0s', true, [], [null], {}, { a: 1 }, [[[]]]];
    const paths = (value: unknown, at: string): string[] =>
      Array.isArray(value)
        ? [at, ...value.flatMap((v, i) => paths(v, `${at}/${i}`))]
        : value !== null && typeof value === 'object'
          ? [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, `${at}/${k}`))]
          : [at];
    const all = paths(base.secrets, '/secrets');
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let rejected = 0;
    for (let round = 0; round < 300; round++) {
      const data = structuredClone(base) as Record<string, unknown>;
      const segments = all[random(all.length)]!.split('/').slice(1);
      let parent = data as Record<string, unknown>;
      for (const s of segments.slice(0, -1)) parent = parent[s] as Record<string, unknown>;
      parent[segments.at(-1)!] = DAMAGE[random(DAMAGE.length)];
      const text = stringify(data);
      const result = parsePlatformFile(text, 'p.yaml');
      if (result.ok) continue;
      rejected++;
      for (const issue of result.issues) {
        const line = formatPlatformFileIssue(issue);
        assert.match(line, /^p\.yaml:\d+: \[[A-Z_]+\] \S/, `${line}\n${text}`);
        assert.ok(issue.line >= 1 && issue.line <= text.split('\n').length, `${line}\n${text}`);
        assert.doesNotMatch(issue.message, /undefined|\[object Object\]/, `${line}\n${text}`);
      }
    }
    assert.ok(rejected > 150, `most damaged files are refused (${rejected})`);
  });
});
