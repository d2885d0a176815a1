import { isPlainObject, pointer, readYamlSource, type SourcePosition } from '@runtime-control/core';
import {
  type ApprovedEgressHost,
  defaultServiceHost,
  EGRESS_PROTOCOLS,
  type EgressRequest,
  type GatewayTls,
  type Labels,
  MTLS_MODES,
  OUTBOUND_POLICIES,
  type Platform,
  type PlatformDeployment,
  type PlatformEgress,
  type PlatformGateway,
  type PlatformNamespace,
  type PlatformRoute,
  type PlatformService,
  type RouteDestination,
  type RouteMatch,
  STRING_MATCH_KINDS,
  type StringMatch,
} from './platform-model.js';

/** A problem found at a place in a platform file: a parse error or a troubleshooting check. */
export interface PlatformFileIssue {
  file: string;
  line: number;
  column: number;
  /** JSON Pointer into the file, e.g. `/routes/1/destinations/0/weight`. */
  path: string;
  code: string;
  message: string;
}

export type { SourcePosition };

/** A valid platform file and a way back from a JSON Pointer to the line it came from. */
export interface ParsedPlatformFile {
  file: string;
  platform: Platform;
  locate(path: string): SourcePosition;
}

export type PlatformFileResult = { ok: true; value: ParsedPlatformFile } | { ok: false; issues: PlatformFileIssue[] };

/** Kubernetes object names (RFC 1123 label): what namespaces, services, subsets and routes are called. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS name, optionally starting with `*.` (gateway hosts may be wildcards). */
const HOST_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS name without wildcard: service hosts and egress hosts (DNS resolution needs a concrete name). */
const EXACT_HOST_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes label key: optional DNS prefix and `/`, then a name of up to 63 characters. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** HTTP header names as Istio accepts them in a match: lowercase. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Collects issues by JSON Pointer while the file's plain data is read into the model. */
class Reader {
  readonly issues: { path: string; code: string; message: string }[] = [];

  report(path: string, code: string, message: string): void {
    this.issues.push({ path, code, message });
  }

  /** A mapping with only `known` keys; unknown keys are reported (a typo must not be silently ignored). */
  object(value: unknown, path: string, what: string, known: readonly string[]): Record<string, unknown> | undefined {
    if (!isPlainObject(value)) {
      this.report(path, 'INVALID_TYPE', `${what} must be a mapping`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        this.report(`${path}/${pointer(key).slice(1)}`, 'UNKNOWN_PROPERTY', `unknown property "${key}" in ${what}`);
      }
    }
    return value;
  }

  list(value: unknown, path: string, what: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.report(path, value === undefined ? 'REQUIRED' : 'INVALID_TYPE', `${what} must be a list`);
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: string, what: string, pattern?: RegExp, hint?: string): string | undefined {
    if (typeof value !== 'string' || value === '') {
      this.report(path, value === undefined ? 'REQUIRED' : 'INVALID_TYPE', `${what} must be a non-empty string`);
      return undefined;
    }
    if (pattern && !pattern.test(value)) {
      this.report(path, 'INVALID_VALUE', `${what} "${value}" is not valid${hint ? `: ${hint}` : ''}`);
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: string, what: string, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.report(
        path,
        value === undefined ? 'REQUIRED' : 'INVALID_TYPE',
        `${what} must be an integer from ${min} to ${max}${typeof value === 'string' ? ' (not a quoted string)' : ''}`,
      );
      return undefined;
    }
    if (value < min || value > max) {
      this.report(path, 'INVALID_VALUE', `${what} must be from ${min} to ${max}, not ${value}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, what: string, allowed: readonly T[]): T | undefined {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.report(
        path,
        value === undefined ? 'REQUIRED' : 'INVALID_VALUE',
        `${what} must be one of ${allowed.join(', ')}${value === undefined ? '' : `, not ${JSON.stringify(value)}`}`,
      );
      return undefined;
    }
    return value as T;
  }

  boolean(value: unknown, path: string, what: string): boolean | undefined {
    if (typeof value !== 'boolean') {
      this.report(path, value === undefined ? 'REQUIRED' : 'INVALID_TYPE', `${what} must be true or false`);
      return undefined;
    }
    return value;
  }

  /** Label map: string keys and string values (YAML `version: 1` is a number and must be quoted). */
  labels(value: unknown, path: string, what: string, allowEmpty = true): Labels | undefined {
    if (!isPlainObject(value)) {
      this.report(path, value === undefined ? 'REQUIRED' : 'INVALID_TYPE', `${what} must be a mapping of labels`);
      return undefined;
    }
    const labels: Labels = {};
    let ok = true;
    for (const [key, raw] of Object.entries(value)) {
      const at = `${path}/${pointer(key).slice(1)}`;
      if (!LABEL_KEY.test(key)) {
        this.report(at, 'INVALID_VALUE', `${what}: "${key}" is not a valid Kubernetes label key`);
        ok = false;
      } else if (typeof raw !== 'string' || !LABEL_VALUE.test(raw)) {
        this.report(
          at,
          typeof raw === 'string' ? 'INVALID_VALUE' : 'INVALID_TYPE',
          `${what}: the value of "${key}" must be a label value string` +
            (typeof raw === 'number' || typeof raw === 'boolean' ? ` (quote it: "${String(raw)}")` : ''),
        );
        ok = false;
      } else {
        labels[key] = raw;
      }
    }
    if (!allowEmpty && Object.keys(value).length === 0) {
      this.report(path, 'REQUIRED', `${what} must have at least one label`);
      return undefined;
    }
    return ok ? labels : undefined;
  }

  hosts(value: unknown, path: string, what: string): string[] | undefined {
    const list = this.list(value, path, what);
    if (!list) return undefined;
    if (list.length === 0) {
      this.report(path, 'REQUIRED', `${what} must name at least one host`);
      return undefined;
    }
    const hosts = list.map((h, i) => this.string(h, `${path}/${i}`, `${what}[${i}]`, HOST_NAME, 'use a DNS name'));
    return hosts.every((h) => h !== undefined) ? (hosts as string[]) : undefined;
  }

  stringMatch(value: unknown, path: string, what: string): StringMatch | undefined {
    const obj = this.object(value, path, what, STRING_MATCH_KINDS);
    if (!obj) return undefined;
    const kinds = STRING_MATCH_KINDS.filter((k) => obj[k] !== undefined);
    if (kinds.length !== 1) {
      this.report(path, 'INVALID_VALUE', `${what} needs exactly one of exact, prefix, regex`);
      return undefined;
    }
    const kind = kinds[0]!;
    const text = obj[kind];
    if (typeof text !== 'string' || (kind !== 'exact' && text === '')) {
      this.report(`${path}/${kind}`, 'INVALID_TYPE', `${what}.${kind} must be a string`);
      return undefined;
    }
    if (kind === 'regex') {
      try {
        new RegExp(text);
      } catch (error) {
        this.report(`${path}/${kind}`, 'INVALID_VALUE', `${what}.regex is not a valid regular expression: ${error}`);
        return undefined;
      }
    }
    return { [kind]: text } as StringMatch;
  }
}

const TOP_LEVEL = ['platform', 'namespaces', 'gateway', 'services', 'routes', 'egress'] as const;

/**
 * Parses and validates a platform file (YAML or JSON). Every problem is reported with file, line and JSON Pointer;
 * the model is returned only when there are none. Troubleshooting checks (`troubleshooting-checks.ts`) run on the
 * model afterwards.
 */
export function parsePlatformFile(text: string, file: string): PlatformFileResult {
  const source = readYamlSource(text);
  if (!source.ok) {
    return {
      ok: false,
      issues: source.errors.map((e) => ({
        file,
        line: e.line,
        column: e.column,
        path: '',
        code: 'SYNTAX_ERROR',
        message: e.message,
      })),
    };
  }
  const { locate } = source;
  const reader = new Reader();
  const platform = readPlatform(source.data, reader);
  if (reader.issues.length > 0 || !platform) {
    return { ok: false, issues: reader.issues.map((i) => ({ file, ...locate(i.path), ...i })) };
  }
  return { ok: true, value: { file, platform, locate } };
}

/** `file:line: [CODE] message` — the format of parse errors and check failures alike. */
export function formatPlatformFileIssue(issue: PlatformFileIssue): string {
  return `${issue.file}:${issue.line}: [${issue.code}] ${issue.message}`;
}

function readPlatform(data: unknown, r: Reader): Platform | undefined {
  const top = r.object(data, '', 'a platform file', TOP_LEVEL);
  if (!top) return undefined;
  const name = r.string(
    top.platform,
    '/platform',
    '"platform" (the platform name)',
    DNS_LABEL,
    'lowercase letters, digits and "-"',
  );

  const namespaces = readNamespaces(top.namespaces, r);
  // References are checked against every name declared, valid or not, so one broken entry is reported once and
  // not again by everything that refers to it.
  const namespaceNames = declaredNames(top.namespaces);
  const defaultNamespace = [...namespaceNames][0];
  /** A namespace field: defaults to the first declared namespace, and must be a declared one. */
  const namespaceRef = (value: unknown, path: string, what: string): string | undefined => {
    if (value === undefined) return defaultNamespace;
    const ns = r.string(value, path, what, DNS_LABEL);
    if (ns !== undefined && !namespaceNames.has(ns)) {
      r.report(path, 'UNKNOWN_NAMESPACE', `${what} "${ns}" is not declared under "namespaces"`);
      return undefined;
    }
    return ns;
  };

  const gateway = readGateway(top.gateway, r, namespaceRef);
  const services = readServices(top.services, r, namespaceRef);
  const serviceNames = declaredNames(top.services);
  const routes = readRoutes(top.routes, r, services, serviceNames);
  const egress = readEgress(top.egress, r, namespaceRef, serviceNames);
  if (!name || !gateway || !services || !routes || !egress || r.issues.length > 0) return undefined;
  return { name, namespaces, gateway, services, routes, egress };
}

/** The `name` of every entry of a list that has one. */
function declaredNames(list: unknown): Set<string> {
  if (!Array.isArray(list)) return new Set();
  return new Set(list.flatMap((e) => (isPlainObject(e) && typeof e.name === 'string' ? [e.name] : [])));
}

function readNamespaces(value: unknown, r: Reader): PlatformNamespace[] {
  const list = r.list(value, '/namespaces', '"namespaces"');
  if (!list) return [];
  if (list.length === 0) r.report('/namespaces', 'REQUIRED', '"namespaces" must declare at least one namespace');
  const result: PlatformNamespace[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const path = `/namespaces/${i}`;
    const obj = r.object(raw, path, `namespaces[${i}]`, ['name', 'labels', 'mtls']);
    if (!obj) return;
    const name = r.string(obj.name, `${path}/name`, `namespaces[${i}].name`, DNS_LABEL);
    const labels = obj.labels === undefined ? {} : r.labels(obj.labels, `${path}/labels`, `namespace "${name}" labels`);
    const mtls = r.oneOf(obj.mtls, `${path}/mtls`, `namespace "${name}" mtls`, MTLS_MODES);
    if (name && seen.has(name)) r.report(`${path}/name`, 'DUPLICATE_NAME', `namespace "${name}" is declared twice`);
    if (!name || !labels || !mtls || seen.has(name)) return;
    seen.add(name);
    result.push({ name, labels, mtls });
  });
  return result;
}

type NamespaceRef = (value: unknown, path: string, what: string) => string | undefined;

function readGateway(value: unknown, r: Reader, namespaceRef: NamespaceRef): PlatformGateway | undefined {
  const path = '/gateway';
  if (value === undefined) {
    r.report(path, 'REQUIRED', '"gateway" is required');
    return undefined;
  }
  const obj = r.object(value, path, '"gateway"', [
    'name',
    'namespace',
    'selector',
    'hosts',
    'port',
    'tls',
    'virtualService',
  ]);
  if (!obj) return undefined;
  const name = r.string(obj.name, `${path}/name`, 'gateway name', DNS_LABEL);
  const namespace = namespaceRef(obj.namespace, `${path}/namespace`, 'gateway namespace');
  const selector =
    obj.selector === undefined
      ? { istio: 'ingressgateway' }
      : r.labels(obj.selector, `${path}/selector`, 'gateway selector', false);
  const hosts = r.hosts(obj.hosts, `${path}/hosts`, 'gateway hosts');
  const port = obj.port === undefined ? 80 : r.integer(obj.port, `${path}/port`, 'gateway port', 1, 65535);
  let tls: GatewayTls | undefined;
  let tlsOk = true;
  if (obj.tls !== undefined) {
    const t = r.object(obj.tls, `${path}/tls`, 'gateway tls', ['credentialName', 'port']);
    const credentialName = t && r.string(t.credentialName, `${path}/tls/credentialName`, 'gateway tls credentialName');
    const tlsPort =
      t && (t.port === undefined ? 443 : r.integer(t.port, `${path}/tls/port`, 'gateway tls port', 1, 65535));
    if (credentialName && tlsPort !== undefined) {
      if (tlsPort === port)
        r.report(`${path}/tls/port`, 'INVALID_VALUE', 'gateway tls port must differ from its HTTP port');
      tls = { credentialName, port: tlsPort };
    } else {
      tlsOk = false;
    }
  }
  const virtualService =
    obj.virtualService === undefined
      ? name && `${name}-routes`
      : r.string(obj.virtualService, `${path}/virtualService`, 'gateway virtualService', DNS_LABEL);
  if (!name || !namespace || !selector || !hosts || port === undefined || !tlsOk || !virtualService) return undefined;
  return { name, namespace, selector, hosts, port, ...(tls ? { tls } : {}), virtualService };
}

function readServices(value: unknown, r: Reader, namespaceRef: NamespaceRef): PlatformService[] | undefined {
  const list = r.list(value, '/services', '"services"');
  if (!list) return undefined;
  const services: PlatformService[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const path = `/services/${i}`;
    const obj = r.object(raw, path, `services[${i}]`, ['name', 'namespace', 'host', 'port', 'versions', 'deployments']);
    if (!obj) return;
    const name = r.string(obj.name, `${path}/name`, `services[${i}].name`, DNS_LABEL);
    const what = `service "${name ?? i}"`;
    const namespace = namespaceRef(obj.namespace, `${path}/namespace`, `${what} namespace`);
    const host =
      obj.host === undefined
        ? name && namespace && defaultServiceHost(name, namespace)
        : r.string(obj.host, `${path}/host`, `${what} host`, EXACT_HOST_NAME, 'use a DNS name');
    const port = r.integer(obj.port, `${path}/port`, `${what} port`, 1, 65535);
    const versions = readVersions(obj.versions, `${path}/versions`, what, r);
    const deployments = readDeployments(obj.deployments, `${path}/deployments`, what, r);
    if (name && seen.has(name)) r.report(`${path}/name`, 'DUPLICATE_NAME', `service "${name}" is declared twice`);
    if (!name || !namespace || !host || port === undefined || !versions || !deployments || seen.has(name)) return;
    seen.add(name);
    services.push({ name, namespace, host, port, versions, deployments });
  });
  return services;
}

function readVersions(value: unknown, path: string, what: string, r: Reader): Record<string, Labels> | undefined {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    r.report(
      path,
      'INVALID_TYPE',
      `${what} versions must map a version name to its pod labels, e.g. v1: {version: v1}`,
    );
    return undefined;
  }
  const versions: Record<string, Labels> = {};
  let ok = true;
  for (const [version, labels] of Object.entries(value)) {
    const at = `${path}/${pointer(version).slice(1)}`;
    if (!DNS_LABEL.test(version)) {
      r.report(at, 'INVALID_VALUE', `${what}: version name "${version}" must be lowercase letters, digits and "-"`);
      ok = false;
      continue;
    }
    const parsed = r.labels(labels, at, `${what} version "${version}" labels`, false);
    if (parsed) versions[version] = parsed;
    else ok = false;
  }
  return ok ? versions : undefined;
}

function readDeployments(value: unknown, path: string, what: string, r: Reader): PlatformDeployment[] | undefined {
  if (value === undefined) return [];
  const list = r.list(value, path, `${what} deployments`);
  if (!list) return undefined;
  const deployments: PlatformDeployment[] = [];
  let ok = true;
  list.forEach((raw, i) => {
    const at = `${path}/${i}`;
    const obj = r.object(raw, at, `${what} deployments[${i}]`, ['name', 'labels']);
    const name = obj && r.string(obj.name, `${at}/name`, `${what} deployments[${i}].name`, DNS_LABEL);
    const labels = obj && r.labels(obj.labels, `${at}/labels`, `deployment "${name}" labels`);
    if (name && labels) deployments.push({ name, labels });
    else ok = false;
  });
  return ok ? deployments : undefined;
}

function readRoutes(
  value: unknown,
  r: Reader,
  services: PlatformService[] | undefined,
  serviceNames: Set<string>,
): PlatformRoute[] | undefined {
  const list = r.list(value, '/routes', '"routes"');
  if (!list) return undefined;
  const routes: PlatformRoute[] = [];
  const seen = new Set<string>();
  let ok = true;
  list.forEach((raw, i) => {
    const path = `/routes/${i}`;
    const obj = r.object(raw, path, `routes[${i}]`, ['name', 'match', 'destinations']);
    if (!obj) {
      ok = false;
      return;
    }
    const name = r.string(obj.name, `${path}/name`, `routes[${i}].name`, DNS_LABEL);
    const what = `route "${name ?? i}"`;
    const match = readMatches(obj.match, `${path}/match`, what, r);
    const destinations = readDestinations(obj.destinations, `${path}/destinations`, what, r, services, serviceNames);
    if (name && seen.has(name)) r.report(`${path}/name`, 'DUPLICATE_NAME', `route "${name}" is declared twice`);
    if (!name || !match || !destinations || seen.has(name)) {
      ok = false;
      return;
    }
    seen.add(name);
    routes.push({ name, match, destinations });
  });
  return ok ? routes : undefined;
}

function readMatches(value: unknown, path: string, what: string, r: Reader): RouteMatch[] | undefined {
  if (value === undefined) return [];
  // One block may be written without the list around it.
  const blocks = Array.isArray(value) ? value : [value];
  const atBlock = (i: number) => (Array.isArray(value) ? `${path}/${i}` : path);
  const matches: RouteMatch[] = [];
  let ok = true;
  blocks.forEach((raw, i) => {
    const at = atBlock(i);
    const obj = r.object(raw, at, `${what} match`, ['uri', 'headers']);
    if (!obj) {
      ok = false;
      return;
    }
    const match: RouteMatch = {};
    if (obj.uri !== undefined) {
      const uri = r.stringMatch(obj.uri, `${at}/uri`, `${what} match uri`);
      if (uri) match.uri = uri;
      else ok = false;
    }
    if (obj.headers !== undefined) {
      if (!isPlainObject(obj.headers)) {
        r.report(`${at}/headers`, 'INVALID_TYPE', `${what} match headers must map a header name to a condition`);
        ok = false;
      } else {
        const headers: Record<string, StringMatch> = {};
        for (const [header, condition] of Object.entries(obj.headers)) {
          const hp = `${at}/headers/${pointer(header).slice(1)}`;
          if (!HEADER_NAME.test(header)) {
            r.report(
              hp,
              'INVALID_VALUE',
              `${what}: header name "${header}" must be lowercase (Istio matches lowercase names)`,
            );
            ok = false;
            continue;
          }
          const m = r.stringMatch(condition, hp, `${what} header "${header}"`);
          if (m) headers[header] = m;
          else ok = false;
        }
        match.headers = headers;
      }
    }
    matches.push(match);
  });
  return ok ? matches : undefined;
}

function readDestinations(
  value: unknown,
  path: string,
  what: string,
  r: Reader,
  services: PlatformService[] | undefined,
  serviceNames: Set<string>,
): RouteDestination[] | undefined {
  const list = r.list(value, path, `${what} destinations`);
  if (!list) return undefined;
  if (list.length === 0) {
    r.report(path, 'REQUIRED', `${what} needs at least one destination`);
    return undefined;
  }
  const destinations: RouteDestination[] = [];
  let ok = true;
  list.forEach((raw, i) => {
    const at = `${path}/${i}`;
    const obj = r.object(raw, at, `${what} destinations[${i}]`, ['service', 'subset', 'weight']);
    if (!obj) {
      ok = false;
      return;
    }
    const serviceName = r.string(obj.service, `${at}/service`, `${what} destinations[${i}].service`);
    const subset =
      obj.subset === undefined ? undefined : r.string(obj.subset, `${at}/subset`, `${what} subset`, DNS_LABEL);
    const weight =
      obj.weight === undefined ? undefined : r.integer(obj.weight, `${at}/weight`, `${what} weight`, 0, 100);
    if (!serviceName || (obj.subset !== undefined && !subset) || (obj.weight !== undefined && weight === undefined)) {
      ok = false;
      return;
    }
    if (!serviceNames.has(serviceName)) {
      r.report(
        `${at}/service`,
        'UNKNOWN_SERVICE',
        `${what}: service "${serviceName}" is not declared under "services"`,
      );
      ok = false;
      return;
    }
    const service = services?.find((s) => s.name === serviceName);
    if (!service) {
      // Declared but invalid: already reported where it is declared.
      ok = false;
      return;
    }
    if (subset !== undefined && service.versions[subset] === undefined) {
      const known = Object.keys(service.versions);
      r.report(
        `${at}/subset`,
        'UNKNOWN_SUBSET',
        `${what}: service "${serviceName}" has no version "${subset}" (versions: ${known.join(', ') || 'none'})`,
      );
      ok = false;
      return;
    }
    destinations.push({
      service: serviceName,
      ...(subset !== undefined ? { subset } : {}),
      ...(weight !== undefined ? { weight } : {}),
    });
  });
  return ok ? destinations : undefined;
}

function readEgress(
  value: unknown,
  r: Reader,
  namespaceRef: NamespaceRef,
  serviceNames: Set<string>,
): PlatformEgress | undefined {
  const path = '/egress';
  const obj =
    value === undefined
      ? {}
      : r.object(value, path, '"egress"', ['namespace', 'outboundPolicy', 'approved', 'requests']);
  if (!obj) return undefined;
  const namespace = namespaceRef(obj.namespace, `${path}/namespace`, 'egress namespace');
  const outboundPolicy =
    obj.outboundPolicy === undefined
      ? 'REGISTRY_ONLY'
      : r.oneOf(obj.outboundPolicy, `${path}/outboundPolicy`, 'egress outboundPolicy', OUTBOUND_POLICIES);
  const approved: ApprovedEgressHost[] = [];
  const approvedList = obj.approved === undefined ? [] : r.list(obj.approved, `${path}/approved`, 'egress approved');
  const seen = new Set<string>();
  let ok = approvedList !== undefined;
  (approvedList ?? []).forEach((raw, i) => {
    const at = `${path}/approved/${i}`;
    const e = r.object(raw, at, `egress approved[${i}]`, ['host', 'port', 'protocol', 'tlsOrigination', 'httpPort']);
    if (!e) {
      ok = false;
      return;
    }
    const host = r.string(
      e.host,
      `${at}/host`,
      `egress approved[${i}].host`,
      EXACT_HOST_NAME,
      'use a DNS name without wildcards',
    );
    const what = `egress host "${host ?? i}"`;
    const port = r.integer(e.port, `${at}/port`, `${what} port`, 1, 65535);
    const protocol = r.oneOf(e.protocol, `${at}/protocol`, `${what} protocol`, EGRESS_PROTOCOLS);
    const tlsOrigination =
      e.tlsOrigination === undefined
        ? false
        : r.boolean(e.tlsOrigination, `${at}/tlsOrigination`, `${what} tlsOrigination`);
    const httpPort =
      e.httpPort === undefined ? 80 : r.integer(e.httpPort, `${at}/httpPort`, `${what} httpPort`, 1, 65535);
    if (!host || port === undefined || !protocol || tlsOrigination === undefined || httpPort === undefined) {
      ok = false;
      return;
    }
    if (tlsOrigination && protocol !== 'HTTPS') {
      r.report(`${at}/protocol`, 'INVALID_VALUE', `${what}: TLS origination needs protocol HTTPS on port ${port}`);
      ok = false;
      return;
    }
    if (tlsOrigination && httpPort === port) {
      r.report(`${at}/httpPort`, 'INVALID_VALUE', `${what}: httpPort must differ from port ${port}`);
      ok = false;
      return;
    }
    if (seen.has(host)) {
      r.report(`${at}/host`, 'DUPLICATE_NAME', `${what} is approved twice`);
      ok = false;
      return;
    }
    seen.add(host);
    approved.push({ host, port, protocol, tlsOrigination, httpPort });
  });
  const requests: EgressRequest[] = [];
  const requestList = obj.requests === undefined ? [] : r.list(obj.requests, `${path}/requests`, 'egress requests');
  if (!requestList) ok = false;
  (requestList ?? []).forEach((raw, i) => {
    const at = `${path}/requests/${i}`;
    const e = r.object(raw, at, `egress requests[${i}]`, ['from', 'host', 'port']);
    if (!e) {
      ok = false;
      return;
    }
    const from = r.string(e.from, `${at}/from`, `egress requests[${i}].from`);
    const host = r.string(e.host, `${at}/host`, `egress requests[${i}].host`, EXACT_HOST_NAME, 'use a DNS name');
    const port =
      e.port === undefined ? undefined : r.integer(e.port, `${at}/port`, `egress requests[${i}].port`, 1, 65535);
    if (!from || !host || (e.port !== undefined && port === undefined)) {
      ok = false;
      return;
    }
    if (!serviceNames.has(from)) {
      r.report(
        `${at}/from`,
        'UNKNOWN_SERVICE',
        `egress requests[${i}]: service "${from}" is not declared under "services"`,
      );
      ok = false;
      return;
    }
    requests.push({ from, host, ...(port !== undefined ? { port } : {}) });
  });
  if (!namespace || !outboundPolicy || !ok) return undefined;
  return { namespace, outboundPolicy, approved, requests };
}
