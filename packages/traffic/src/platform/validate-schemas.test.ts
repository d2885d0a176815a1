import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SUPPORTED_KINDS, validateManifest } from './validate-schemas.js';

const VIRTUAL_SERVICE = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'routes', namespace: 'devmentor-app' },
  spec: {
    hosts: ['devmentor.local'],
    gateways: ['devmentor-gateway'],
    http: [
      {
        name: 'ai-gateway',
        match: [{ uri: { prefix: '/api/ai' } }],
        route: [
          { destination: { host: 'ai-gateway', subset: 'v1' }, weight: 90 },
          { destination: { host: 'ai-gateway', subset: 'v2' }, weight: 10 },
        ],
      },
    ],
  },
};

describe('validateManifest (Istio CRD schemas)', () => {
  it('covers every kind rctl render writes, in the v1 API versions', () => {
    for (const kind of ['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'Sidecar']) {
      assert.ok(SUPPORTED_KINDS.includes(`networking.istio.io/v1/${kind}`), kind);
    }
    assert.ok(SUPPORTED_KINDS.includes('security.istio.io/v1/PeerAuthentication'));
  });

  it('accepts a valid VirtualService', () => {
    assert.deepEqual(validateManifest(VIRTUAL_SERVICE), []);
  });

  it('rejects a weight written as a string', () => {
    const broken = structuredClone(VIRTUAL_SERVICE);
    (broken.spec.http[0]!.route[1] as { weight: unknown }).weight = '10';
    assert.deepEqual(validateManifest(broken), [
      {
        resource: 'VirtualService devmentor-app/routes',
        path: '/spec/http/0/route/1/weight',
        message: 'must be integer',
      },
    ]);
  });

  it('rejects an mTLS mode Istio does not know, naming the allowed ones', () => {
    const issues = validateManifest({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'devmentor-app' },
      spec: { mtls: { mode: 'STRICTER' } },
    });
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.path, '/spec/mtls/mode');
    assert.match(issues[0]!.message, /PERMISSIVE, STRICT/);
  });

  it('rejects a DestinationRule without host and a ServiceEntry without hosts', () => {
    const dr = validateManifest({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'x', namespace: 'n' },
      spec: { subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    });
    assert.match(dr[0]?.message ?? '', /required property host/);
    const se = validateManifest({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'x', namespace: 'n' },
      spec: { ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }] },
    });
    assert.match(se[0]?.message ?? '', /required property hosts/);
  });

  it('does not run CEL rules (x-kubernetes-validations): a port of 70000 passes here, the API server would refuse it', () => {
    // Documents the limit of a schema-only check; the platform file parser bounds ports to 1–65535 itself.
    const se = validateManifest({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'x', namespace: 'n' },
      spec: { hosts: ['api.example.com'], ports: [{ number: 70000, name: 'https', protocol: 'HTTPS' }] },
    });
    assert.deepEqual(se, []);
  });

  it('refuses kinds and API versions it has no schema for', () => {
    const issues = validateManifest({ ...VIRTUAL_SERVICE, apiVersion: 'networking.istio.io/v1beta1' });
    assert.match(issues[0]!.message, /no schema for apiVersion "networking.istio.io\/v1beta1"/);
    assert.match(validateManifest('nope')[0]!.message, /must be an object/);
  });
});
