import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { platformFileJsonSchema } from '@runtime-control/core';
import { parse, stringify } from 'yaml';
import { formatPlatformFileIssue, type PlatformFileIssue, parsePlatformFile } from './platform-file.js';
import { canaryRouteFor } from './platform-model.js';

const DEVMENTOR = new URL('../../../../examples/devmentor/platform.yaml', import.meta.url);

/** A valid small platform; tests replace one line to break it. */
const BASE = `platform: shop
namespaces:
  - name: shop
    labels: { istio-injection: enabled }
    mtls: STRICT
gateway:
  name: shop-gateway
  hosts: [shop.local]
services:
  - name: web
    port: 8080
    versions:
      v1: { version: v1 }
      v2: { version: v2 }
    deployments:
      - { name: web, labels: { app: web, version: v1 } }
      - { name: web-v2, labels: { app: web, version: v2 } }
routes:
  - name: web
    match: { uri: { prefix: / } }
    destinations:
      - { service: web, subset: v1, weight: 90 }
      - { service: web, subset: v2, weight: 10 }
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

describe('parsePlatformFile', () => {
  it('reads the DevMentor platform', () => {
    const result = parsePlatformFile(readFileSync(DEVMENTOR, 'utf8'), 'platform.yaml');
    assert.ok(result.ok, result.ok ? '' : result.issues.map(formatPlatformFileIssue).join('\n'));
    const { platform } = result.value;
    assert.equal(platform.name, 'devmentor');
    assert.deepEqual(
      platform.services.map((s) => s.name),
      ['api-gateway', 'auth-service', 'ai-gateway', 'project-service'],
    );
    assert.deepEqual(platform.namespaces, [
      { name: 'devmentor-app', labels: { 'istio-injection': 'enabled' }, mtls: 'PERMISSIVE' },
    ]);
    assert.equal(platform.gateway.namespace, 'devmentor-app', 'defaults to the first namespace');
    assert.deepEqual(platform.gateway.selector, { istio: 'ingressgateway' });
    const ai = platform.services.find((s) => s.name === 'ai-gateway')!;
    assert.equal(ai.host, 'ai-gateway.devmentor-app.svc.cluster.local');
    assert.deepEqual(ai.versions, { v1: { version: 'v1' }, v2: { version: 'v2' } });
    assert.deepEqual(
      platform.egress.approved.map((a) => [a.host, a.port, a.protocol, a.tlsOrigination, a.httpPort]),
      [
        ['api.openai.com', 443, 'HTTPS', true, 80],
        ['api.anthropic.com', 443, 'HTTPS', true, 80],
      ],
    );
    assert.equal(platform.egress.outboundPolicy, 'REGISTRY_ONLY');
  });

  it('gives the canary controller the weighted route of a service', () => {
    const result = parsePlatformFile(readFileSync(DEVMENTOR, 'utf8'), 'platform.yaml');
    assert.ok(result.ok);
    assert.deepEqual(canaryRouteFor(result.value.platform, 'ai-gateway'), {
      service: 'ai-gateway',
      namespace: 'devmentor-app',
      virtualService: 'devmentor-routes',
      virtualServiceNamespace: 'devmentor-app',
      routeName: 'ai-gateway',
      routeIndex: 1,
      versions: { v1: { version: 'v1' }, v2: { version: 'v2' } },
      weights: { v1: 100, v2: 0 },
      pinRoutes: [{ name: 'ai-gateway-testers', index: 0, version: 'v2' }],
    });
    assert.equal(canaryRouteFor(result.value.platform, 'auth-service')?.routeName, 'auth-service');
    assert.equal(canaryRouteFor(result.value.platform, 'nope'), undefined);
  });

  it('accepts the base test platform', () => {
    assert.ok(parsePlatformFile(BASE, 'p.yaml').ok);
  });

  it('reports a quoted weight with its line', () => {
    const issue = only(issuesOf(BASE.replace('weight: 10 }', 'weight: "10" }')));
    assert.equal(issue.code, 'INVALID_TYPE');
    assert.equal(issue.line, 23);
    assert.equal(issue.path, '/routes/0/destinations/1/weight');
    assert.match(formatPlatformFileIssue(issue), /^p\.yaml:23: \[INVALID_TYPE\] route "web" weight must be an integer/);
  });

  it('reports a subset the service does not declare', () => {
    const issue = only(issuesOf(BASE.replace('subset: v2, weight: 10', 'subset: v3, weight: 10')));
    assert.equal(issue.code, 'UNKNOWN_SUBSET');
    assert.equal(issue.line, 23);
    assert.match(issue.message, /service "web" has no version "v3" \(versions: v1, v2\)/);
  });

  it('reports an unknown service, property and namespace', () => {
    assert.equal(
      only(issuesOf(BASE.replace('{ service: web, subset: v1', '{ service: webb, subset: v1'))).code,
      'UNKNOWN_SERVICE',
    );
    const unknown = only(issuesOf(BASE.replace('    port: 8080', '    port: 8080\n    prot: 1')));
    assert.equal(unknown.code, 'UNKNOWN_PROPERTY');
    assert.equal(unknown.line, 12);
    const ns = only(issuesOf(BASE.replace('  name: shop-gateway', '  name: shop-gateway\n  namespace: other')));
    assert.equal(ns.code, 'UNKNOWN_NAMESPACE');
    assert.equal(ns.line, 8);
  });

  it('reports a number as a label value, with how to fix it', () => {
    const issue = only(issuesOf(BASE.replace('v2: { version: v2 }', 'v2: { version: 2 }')));
    assert.equal(issue.line, 14);
    assert.match(issue.message, /quote it: "2"/);
  });

  it('requires lowercase header names, an mTLS mode and unique route names', () => {
    const header = BASE.replace(
      'match: { uri: { prefix: / } }',
      'match: { uri: { prefix: / }, headers: { X-User: { exact: a } } }',
    );
    assert.match(only(issuesOf(header)).message, /header name "X-User" must be lowercase/);
    const mtls = only(issuesOf(BASE.replace('    mtls: STRICT\n', '')));
    assert.equal(mtls.code, 'REQUIRED');
    assert.match(mtls.message, /mtls must be one of PERMISSIVE, STRICT/);
    const twice = `${BASE}  - name: web\n    destinations: [{ service: web }]\n`;
    assert.equal(only(issuesOf(twice)).code, 'DUPLICATE_NAME');
  });

  it('rejects TLS origination on a non-HTTPS port and a string match with two kinds', () => {
    const egress = `${BASE}egress:\n  approved:\n    - { host: api.example.com, port: 443, protocol: TLS, tlsOrigination: true }\n`;
    const issue = only(issuesOf(egress));
    assert.match(issue.message, /TLS origination needs protocol HTTPS/);
    assert.equal(issue.line, 26);
    const both = BASE.replace('{ prefix: / }', '{ prefix: /, exact: /x }');
    assert.match(only(issuesOf(both)).message, /exactly one of exact, prefix, regex/);
  });

  it('reports YAML syntax errors with their line', () => {
    const issue = issuesOf('platform: shop\nnamespaces:\n  - name: [unclosed\n')[0]!;
    assert.equal(issue.code, 'SYNTAX_ERROR');
    assert.ok(issue.line >= 3);
  });

  it('rejects a file that is not a mapping, and reports every missing section', () => {
    assert.equal(only(issuesOf('- a\n- b\n')).code, 'INVALID_TYPE');
    const codes = issuesOf('platform: shop\n').map((i) => `${i.path} ${i.code}`);
    assert.deepEqual(codes, ['/namespaces REQUIRED', '/gateway REQUIRED', '/services REQUIRED', '/routes REQUIRED']);
  });
});

describe('parsePlatformFile: shape from the JSON Schema', () => {
  /** `line [CODE] path` of the only issue, and its formatted line. */
  function shape(text: string): { at: string; formatted: string } {
    const issue = only(issuesOf(text));
    return { at: `${issue.line} [${issue.code}] ${issue.path}`, formatted: formatPlatformFileIssue(issue) };
  }

  it('reports an unknown field where it is written, naming it and its owner', () => {
    const gateway = shape(BASE.replace('  hosts: [shop.local]', '  hosts: [shop.local]\n  tsl: {}'));
    assert.equal(gateway.at, '9 [UNKNOWN_PROPERTY] /gateway/tsl');
    assert.equal(gateway.formatted, 'p.yaml:9: [UNKNOWN_PROPERTY] unknown property "tsl" in gateway');
    const top = shape(`${BASE}secret: 1\n`);
    assert.equal(top.at, '24 [UNKNOWN_PROPERTY] /secret');
    assert.match(top.formatted, /unknown top-level property "secret"$/);
    const destination = shape(BASE.replace('subset: v1, weight: 90', 'subset: v1, wieght: 90'));
    assert.equal(destination.at, '22 [UNKNOWN_PROPERTY] /routes/0/destinations/0/wieght');
  });

  it('reports a wrong type with what is expected', () => {
    const port = shape(BASE.replace('port: 8080', 'port: "8080"'));
    assert.equal(port.at, '11 [INVALID_TYPE] /services/0/port');
    assert.match(port.formatted, /service "web" port must be an integer from 1 to 65535 \(not a quoted string\)$/);
    const hosts = shape(BASE.replace('hosts: [shop.local]', 'hosts: shop.local'));
    assert.equal(hosts.at, '8 [INVALID_TYPE] /gateway/hosts');
    assert.match(hosts.formatted, /gateway hosts must be a list$/);
    const match = shape(BASE.replace('match: { uri: { prefix: / } }', 'match: 3'));
    assert.equal(match.at, '20 [INVALID_TYPE] /routes/0/match');
    assert.match(match.formatted, /route "web" match must be a mapping or a list$/);
    assert.equal(shape('').at, '1 [INVALID_TYPE] ', 'an empty file is not a mapping');
  });

  it('reports a missing required field at the entry that lacks it', () => {
    const port = shape(BASE.replace('    port: 8080\n', ''));
    assert.equal(port.at, '10 [REQUIRED] /services/0/port');
    assert.match(port.formatted, /service "web" port is required$/);
    const hosts = shape(BASE.replace('  hosts: [shop.local]\n', ''));
    assert.equal(hosts.at, '7 [REQUIRED] /gateway/hosts');
    const destinations = shape(BASE.replace(/ {4}destinations:\n( {6}- .*\n)+/, '    destinations: []\n'));
    assert.equal(destinations.at, '21 [REQUIRED] /routes/0/destinations');
  });

  it('reports values outside the schema: ranges, enums, patterns, names', () => {
    assert.equal(shape(BASE.replace('port: 8080', 'port: 80800')).at, '11 [INVALID_VALUE] /services/0/port');
    const mtls = shape(BASE.replace('mtls: STRICT', 'mtls: strict'));
    assert.match(
      mtls.formatted,
      /^p\.yaml:5: \[INVALID_VALUE\] namespace "shop" mtls must be one of PERMISSIVE, STRICT, not "strict"$/,
    );
    const host = shape(BASE.replace('hosts: [shop.local]', 'hosts: [Shop_local]'));
    assert.equal(host.at, '8 [INVALID_VALUE] /gateway/hosts/0');
    assert.match(host.formatted, /gateway hosts\[0\] "Shop_local" must be a DNS name/);
    const version = shape(BASE.replace('v2: { version: v2 }', 'V2: { version: v2 }'));
    assert.equal(version.at, '14 [INVALID_VALUE] /services/0/versions/V2');
    assert.match(version.formatted, /service "web" versions: version name "V2" must be a Kubernetes name/);
    const long = shape(BASE.replace('hosts: [shop.local]', `hosts: [${'A'.repeat(5000)}]`));
    assert.match(long.formatted, /gateway hosts\[0\] "A{56}…" must be a DNS name/, 'a long value is shortened');
    const empty = shape(BASE.replace('v2: { version: v2 }', 'v2: {}'));
    assert.match(empty.formatted, /:14: \[REQUIRED\] service "web" version "v2" must have at least one label$/);
  });

  it('refuses YAML values JSON cannot hold (a set, an ordered map, bytes, a date) where they are written', () => {
    for (const tagged of ['!!set { a }', '!!omap [ { a: 1 } ]', '!!binary aGVsbG8=', '!!timestamp 2001-12-14']) {
      const issue = shape(`${BASE}egress: ${tagged}\n`);
      assert.equal(issue.at, '24 [INVALID_TYPE] /egress', tagged);
      assert.match(issue.formatted, /"egress" must be plain data: YAML tags such as !!set/);
    }
  });

  it('runs the rules across fields only on a file of the right shape', () => {
    // The unknown service would be reported too if the cross-field rules ran on a misshapen file.
    const issues = issuesOf(
      BASE.replace('port: 8080', 'port: "8080"').replace('{ service: web, subset: v1', '{ service: webb, subset: v1'),
    );
    assert.deepEqual(
      issues.map((i) => i.code),
      ['INVALID_TYPE'],
    );
    const regex = only(issuesOf(BASE.replace('{ prefix: / }', '{ regex: "(" }')));
    assert.equal(`${regex.line} [${regex.code}] ${regex.path}`, '20 [INVALID_VALUE] /routes/0/match/uri/regex');
    const tls = BASE.replace('  hosts: [shop.local]', '  hosts: [shop.local]\n  tls: { credentialName: c, port: 80 }');
    assert.match(only(issuesOf(tls)).message, /gateway tls port must differ from its HTTP port/);
  });

  it('every platform file in the repository names the published schema for editors, by a path that exists', () => {
    // Compiled tests run from dist/; the fixtures are read from src/ as the troubleshooting suite does.
    const dir = new URL('../../src/platform/fixtures/', import.meta.url);
    const files = [DEVMENTOR, ...readdirSync(dir).map((f) => new URL(f, dir))];
    assert.ok(files.length >= 6);
    for (const url of files) {
      const first = readFileSync(url, 'utf8').split('\n')[0] ?? '';
      const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      assert.ok(match, `${url.pathname} starts with the schema line`);
      const target = new URL(match[1]!, url);
      assert.ok(target.pathname.endsWith('/docs/schemas/platform-file.json'), url.pathname);
      assert.deepEqual(JSON.parse(readFileSync(target, 'utf8')), platformFileJsonSchema());
    }
  });

  it('validates against the published schema, which declares every section and the model enumerations', () => {
    const schema = platformFileJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    assert.deepEqual(Object.keys(schema.properties), [
      'platform',
      'namespaces',
      'gateway',
      'services',
      'routes',
      'egress',
      'secrets',
    ]);
    assert.deepEqual(schema.required, ['platform', 'namespaces', 'gateway', 'services', 'routes']);
  });
});

describe('parsePlatformFile on damaged files (property)', () => {
  /** Values a careless edit leaves behind: wrong types, empty, out of range, odd names, nesting. */
  const DAMAGE: unknown[] = [
    null,
    0,
    -1,
    1.5,
    70000,
    '',
    'x',
    'Not A Name',
    '*.',
    true,
    [],
    [null],
    {},
    { a: 1 },
    { exact: 'a', prefix: 'b' },
    { regex: '(' },
    { '': '' },
    { 'X-Up': { exact: 'a' } },
    [[[[[]]]]],
  ];

  /** Every JSON Pointer into a value (objects' keys and arrays' indices). */
  function paths(value: unknown, base = ''): string[] {
    if (Array.isArray(value)) return [base, ...value.flatMap((v, i) => paths(v, `${base}/${i}`))];
    if (value !== null && typeof value === 'object') {
      return [base, ...Object.entries(value).flatMap(([k, v]) => paths(v, `${base}/${k}`))];
    }
    return [base];
  }

  /** `data` with the value at `path` replaced (or, with `drop`, removed). */
  function damage(data: unknown, path: string, value: unknown, drop: boolean): unknown {
    const copy = structuredClone(data);
    const segments = path.split('/').slice(1);
    if (segments.length === 0) return value;
    let parent = copy as Record<string, unknown>;
    for (const s of segments.slice(0, -1)) parent = parent[s] as Record<string, unknown>;
    const last = segments.at(-1)!;
    if (drop && !Array.isArray(parent)) delete parent[last];
    else parent[last] = value;
    return copy;
  }

  it('never throws, and reports every problem as file:line: [CODE] message at a line of the file', () => {
    const base = parse(BASE) as unknown;
    const all = paths(base);
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let rejected = 0;
    for (let round = 0; round < 400; round++) {
      let data = base;
      for (let edits = 1 + random(2); edits > 0; edits--) {
        data = damage(data, all[random(all.length)]!, DAMAGE[random(DAMAGE.length)], random(4) === 0);
      }
      const text = stringify(data);
      const lines = text.split('\n').length;
      const result = parsePlatformFile(text, 'p.yaml');
      if (result.ok) continue;
      rejected++;
      assert.ok(result.issues.length > 0);
      for (const issue of result.issues) {
        const line = formatPlatformFileIssue(issue);
        assert.match(line, /^p\.yaml:\d+: \[[A-Z_]+\] \S/, `${line}\n${text}`);
        assert.ok(issue.line >= 1 && issue.line <= lines, `${line}\n${text}`);
        assert.doesNotMatch(issue.message, /undefined|\[object Object\]/, `${line}\n${text}`);
      }
    }
    assert.ok(rejected > 200, `most damaged files are refused (${rejected})`);
  });
});
