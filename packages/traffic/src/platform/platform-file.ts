import {
  decodePointer,
  type FileShapeError,
  fileShapeErrors,
  isPlainObject,
  type PlatformFileData,
  platformFileJsonSchema,
  pointer,
  readYamlSource,
  type SourcePosition,
} from '@runtime-control/core';
import { defaultServiceHost, type Platform, type RouteMatch, type StringMatch } from './platform-model.js';

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

type Problem = Pick<PlatformFileIssue, 'path' | 'code' | 'message'>;

/** The published schema (core's `PlatformFileSchema`), compiled once by core's `fileShapeErrors`. */
const SCHEMA = platformFileJsonSchema();

/**
 * Parses and validates a platform file (YAML or JSON): its shape against the platform file's JSON Schema, then —
 * when the shape is right — the rules across fields (declared namespaces, services and versions, unique names,
 * ports that must differ). Every problem is reported with file, line and JSON Pointer; the model, defaults
 * applied, is returned only when there are none. Troubleshooting checks (`troubleshooting-checks.ts`) run on the
 * model afterwards.
 */
export function parsePlatformFile(text: string, file: string): PlatformFileResult {
  const source = readYamlSource(text);
  if (!source.ok) {
    const issues = source.errors.map((e) => ({ file, ...e, path: '', code: 'SYNTAX_ERROR' }));
    return { ok: false, issues };
  }
  const fail = (problems: Problem[]): PlatformFileResult => ({
    ok: false,
    issues: problems.map((p) => ({ file, ...source.locate(p.path), ...p })),
  });
  const shape = fileShapeErrors(SCHEMA, source.data);
  if (shape.length > 0) {
    return fail(shape.map((e) => ({ path: e.path, code: e.code, message: shapeMessage(e, source.data) })));
  }
  const data = source.data as PlatformFileData;
  const problems = crossFieldProblems(data);
  if (problems.length > 0) return fail(problems);
  return { ok: true, value: { file, platform: toPlatform(data), locate: source.locate } };
}

/** `file:line: [CODE] message` — the format of parse errors and check failures alike. */
export function formatPlatformFileIssue(issue: PlatformFileIssue): string {
  return `${issue.file}:${issue.line}: [${issue.code}] ${issue.message}`;
}

// ---- Shape problems, worded by what they are about: `route "web" weight must be an integer from 0 to 100` ----

/** Lists whose entries are named in messages by one of their fields. */
const ENTRIES: Record<string, [kind: string, key: string]> = {
  namespaces: ['namespace', 'name'],
  services: ['service', 'name'],
  deployments: ['deployment', 'name'],
  routes: ['route', 'name'],
  approved: ['egress host', 'host'],
  requests: ['egress request', 'host'],
  bundles: ['bundle', 'name'],
};

/**
 * What a JSON Pointer designates, in words: `route "web" weight`, `gateway tls port`, `service "web" deployments[1]
 * name`, `"namespaces"`. An entry is named by its name when that is a string and not what is at fault.
 */
function describe(data: unknown, segments: string[], title?: unknown): string {
  let subject = '';
  let rest = 0;
  let value = data;
  segments.forEach((segment, i) => {
    const entry = i > 0 && Array.isArray(value) ? ENTRIES[segments[i - 1]!] : undefined;
    const next: unknown = isPlainObject(value) || Array.isArray(value) ? (value as never)[segment] : undefined;
    if (entry) {
      const name = isPlainObject(next) && segments[i + 1] !== entry[1] ? next[entry[1]] : undefined;
      subject =
        typeof name === 'string'
          ? `${entry[0]} ${shown(name)}`
          : [subject, `${segments[i - 1]}[${segment}]`].filter(Boolean).join(' ');
      rest = i + 1;
    } else if (i === 0 && segments.length > 1 && !(segment in ENTRIES)) {
      subject = segment;
      rest = 1;
    }
    value = next;
  });
  const field = segments.slice(rest);
  const last = field.at(-1);
  const parent = field.at(-2);
  let name = '';
  if (last !== undefined) {
    if (typeof title === 'string') name = `${title} "${last}"`;
    else if (/^\d+$/.test(last) && parent !== undefined) name = `${parent}[${last}]`;
    else if (parent !== undefined && !/^\d+$/.test(parent)) name = `${parent} ${last}`;
    else name = subject ? last : `"${last}"`;
  }
  return [subject, name].filter(Boolean).join(' ') || 'the platform file';
}

function expected(schema: Record<string, unknown>): string {
  const { minimum, maximum } = schema;
  const range = typeof minimum === 'number' && typeof maximum === 'number' ? ` from ${minimum} to ${maximum}` : '';
  switch (schema.type) {
    case 'integer':
      return `an integer${range}`;
    case 'number':
      return `a number${range}`;
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return 'of another type';
  }
}

/** A value as quoted in a message: JSON, at most 60 characters. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 56 ? `${value.slice(0, 56)}…` : value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function shapeMessage(e: FileShapeError, data: unknown): string {
  const segments = decodePointer(e.path);
  const { schema } = e;
  // The secrets section holds names and paths only; a value pasted there by mistake must not be echoed back.
  const echo = (value: unknown, after = ' ') => (segments[0] === 'secrets' ? '' : `${shown(value)}${after}`);
  const titled = schema.title;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = segments.at(-1);
      const parent = segments.slice(0, -1);
      return parent.length === 0
        ? `unknown top-level property "${name}"`
        : `unknown property "${name}" in ${describe(data, parent).replace(/^"(.*)"$/, '$1')}`;
    }
    case 'propertyNames':
      return `${describe(data, segments.slice(0, -1))}: ${titled ?? 'name'} ${echo(e.data)}${schema.patternErrorMessage ?? 'is not valid'}`;
    case 'required':
      return Array.isArray(schema.enum)
        ? `${describe(data, segments)} must be one of ${schema.enum.join(', ')}`
        : `${describe(data, segments)} is required`;
  }
  const what = describe(data, segments, titled);
  switch (e.keyword) {
    case 'type': {
      const quote = schema.type === 'string' && ['number', 'boolean'].includes(typeof e.data);
      const quoted = (schema.type === 'integer' || schema.type === 'number') && typeof e.data === 'string';
      const hint = quote
        ? echo(e.data)
          ? ` (quote it: "${String(e.data)}")`
          : ' (quote it)'
        : quoted
          ? ' (not a quoted string)'
          : '';
      return `${what} must be ${expected(schema)}${hint}`;
    }
    case 'anyOf': {
      const branches = Array.isArray(schema.anyOf) ? (schema.anyOf as Record<string, unknown>[]) : [];
      return `${what} must be ${branches.map(expected).join(' or ')}`;
    }
    case 'enum':
      return `${what} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}${echo(e.data, '') ? `, not ${shown(e.data)}` : ''}`;
    case 'pattern':
      return `${what} ${echo(e.data)}${schema.patternErrorMessage ?? `must match ${schema.pattern}`}`;
    case 'minimum':
    case 'maximum': {
      const { minimum, maximum } = schema;
      const range = minimum !== undefined && maximum !== undefined ? `be from ${minimum} to ${maximum}` : e.message;
      return `${what} must ${range.replace(/^must /, '')}, not ${e.data}`;
    }
    case 'minLength':
      return `${what} must not be empty`;
    case 'minItems':
      return `${what} must have at least one entry`;
  }
  return `${what} ${typeof schema.errorMessage === 'string' ? schema.errorMessage : e.message}`;
}

// ---- Rules across fields, on a file whose shape is right ----

function crossFieldProblems(p: PlatformFileData): Problem[] {
  const problems: Problem[] = [];
  const report = (path: string, code: string, message: string) => problems.push({ path, code, message });
  const duplicates = (names: string[], path: (i: number) => string, message: (name: string) => string) =>
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) report(path(i), 'DUPLICATE_NAME', message(name));
    });

  const namespaces = new Set(p.namespaces.map((n) => n.name));
  duplicates(
    [...p.namespaces.map((n) => n.name)],
    (i) => `/namespaces/${i}/name`,
    (n) => `namespace "${n}" is declared twice`,
  );
  const namespaceRef = (ns: string | undefined, path: string, what: string) => {
    if (ns !== undefined && !namespaces.has(ns)) {
      report(path, 'UNKNOWN_NAMESPACE', `${what} "${ns}" is not declared under "namespaces"`);
    }
  };

  const { gateway } = p;
  namespaceRef(gateway.namespace, '/gateway/namespace', 'gateway namespace');
  if (gateway.tls && (gateway.tls.port ?? 443) === (gateway.port ?? 80)) {
    report('/gateway/tls/port', 'INVALID_VALUE', 'gateway tls port must differ from its HTTP port');
  }

  const services = new Map(p.services.map((s) => [s.name, s] as const));
  duplicates(
    p.services.map((s) => s.name),
    (i) => `/services/${i}/name`,
    (n) => `service "${n}" is declared twice`,
  );
  for (const [i, s] of p.services.entries()) {
    namespaceRef(s.namespace, `/services/${i}/namespace`, `service "${s.name}" namespace`);
  }
  const serviceRef = (name: string, path: string, what: string) => {
    if (services.has(name)) return true;
    report(path, 'UNKNOWN_SERVICE', `${what}: service "${name}" is not declared under "services"`);
    return false;
  };

  duplicates(
    p.routes.map((r) => r.name),
    (i) => `/routes/${i}/name`,
    (n) => `route "${n}" is declared twice`,
  );
  p.routes.forEach((route, i) => {
    const what = `route "${route.name}"`;
    matchBlocks(route.match).forEach((block, b) => {
      const at = Array.isArray(route.match) ? `/routes/${i}/match/${b}` : `/routes/${i}/match`;
      const conditions: [string, { regex?: string }][] = Object.entries(block.headers ?? {}).map(([h, m]) => [
        `${at}/headers${pointer(h)}`,
        m,
      ]);
      if (block.uri) conditions.unshift([`${at}/uri`, block.uri]);
      for (const [path, match] of conditions) {
        if (match.regex === undefined) continue;
        try {
          new RegExp(match.regex);
        } catch (error) {
          report(`${path}/regex`, 'INVALID_VALUE', `${what} match regex is not a valid regular expression: ${error}`);
        }
      }
    });
    route.destinations.forEach((d, j) => {
      const at = `/routes/${i}/destinations/${j}`;
      if (!serviceRef(d.service, `${at}/service`, what) || d.subset === undefined) return;
      const versions = Object.keys(services.get(d.service)?.versions ?? {});
      if (!versions.includes(d.subset)) {
        report(
          `${at}/subset`,
          'UNKNOWN_SUBSET',
          `${what}: service "${d.service}" has no version "${d.subset}" (versions: ${versions.join(', ') || 'none'})`,
        );
      }
    });
  });

  const egress = p.egress ?? {};
  namespaceRef(egress.namespace, '/egress/namespace', 'egress namespace');
  const approved = egress.approved ?? [];
  duplicates(
    approved.map((a) => a.host),
    (i) => `/egress/approved/${i}/host`,
    (h) => `egress host "${h}" is approved twice`,
  );
  approved.forEach((a, i) => {
    if (!a.tlsOrigination) return;
    const what = `egress host "${a.host}"`;
    if (a.protocol !== 'HTTPS') {
      report(
        `/egress/approved/${i}/protocol`,
        'INVALID_VALUE',
        `${what}: TLS origination needs protocol HTTPS on port ${a.port}`,
      );
    } else if ((a.httpPort ?? 80) === a.port) {
      report(`/egress/approved/${i}/httpPort`, 'INVALID_VALUE', `${what}: httpPort must differ from port ${a.port}`);
    }
  });
  for (const [i, r] of (egress.requests ?? []).entries()) {
    serviceRef(r.from, `/egress/requests/${i}/from`, `egress requests[${i}]`);
  }
  if (p.secrets) secretsProblems(p, report, serviceRef);
  return problems;
}

/** The namespace of a service as the model resolves it (the first declared namespace by default). */
function serviceNamespace(p: PlatformFileData, name: string): string {
  return p.services.find((s) => s.name === name)?.namespace ?? p.namespaces[0]!.name;
}

/**
 * Rules of the `secrets` section: services and consumer Deployments that exist, unique names (services, bundles,
 * the rendered Secrets of one namespace, consumers of one bundle), consumers in the bundle's namespace (a pod reads
 * Secrets of its own namespace only), one source per env var for each consumer, generator options only on
 * generated rotations. The classic ESO/Vault mistakes (kv/data paths, refreshInterval 0 with rotation, env no
 * bundle provides, incomplete store auth) are the secrets package's checks, run after these.
 */
function secretsProblems(
  p: PlatformFileData,
  report: (path: string, code: string, message: string) => void,
  serviceRef: (name: string, path: string, what: string) => boolean,
): void {
  const secrets = p.secrets!;
  const deployments = new Map<string, { service: string; namespace: string }>();
  for (const s of p.services) {
    for (const d of s.deployments ?? [])
      deployments.set(d.name, { service: s.name, namespace: serviceNamespace(p, s.name) });
  }
  const entries = secrets.services ?? [];
  entries.forEach((entry, i) => {
    if (entries.findIndex((e) => e.name === entry.name) !== i) {
      report(`/secrets/services/${i}/name`, 'DUPLICATE_NAME', `secrets: service "${entry.name}" is listed twice`);
    }
  });
  /** Secret names per namespace → where first declared; env var → bundle, per consumer Deployment. */
  const secretNames = new Map<string, string>();
  const envByConsumer = new Map<string, Map<string, string>>();
  entries.forEach((entry, i) => {
    const at = `/secrets/services/${i}`;
    const known = serviceRef(entry.name, `${at}/name`, 'secrets');
    const namespace = serviceNamespace(p, entry.name);
    const bundles = entry.bundles ?? [];
    bundles.forEach((bundle, b) => {
      const bAt = `${at}/bundles/${b}`;
      const what = `secrets: bundle "${entry.name}/${bundle.name}"`;
      if (bundles.findIndex((x) => x.name === bundle.name) !== b) {
        report(
          `${bAt}/name`,
          'DUPLICATE_NAME',
          `secrets: service "${entry.name}" has two bundles named "${bundle.name}"`,
        );
      }
      const secretName = bundle.secretName ?? `${entry.name}-${bundle.name}`;
      const nameKey = `${namespace}/${secretName}`;
      if (secretNames.has(nameKey)) {
        report(
          bundle.secretName ? `${bAt}/secretName` : `${bAt}/name`,
          'DUPLICATE_NAME',
          `${what}: Secret "${secretName}" in namespace "${namespace}" is already written by bundle "${secretNames.get(nameKey)}"; set secretName`,
        );
      } else {
        secretNames.set(nameKey, `${entry.name}/${bundle.name}`);
      }
      const envVars = Object.entries(bundle.properties);
      envVars.forEach(([property, env], k) => {
        const first = envVars.findIndex(([, e]) => e === env);
        if (first !== k) {
          report(
            `${bAt}/properties${pointer(property)}`,
            'DUPLICATE_ENV',
            `${what}: properties "${envVars[first]![0]}" and "${property}" are both given as env var ${env}`,
          );
        }
      });
      bundle.consumers.forEach((consumer, c) => {
        const cAt = `${bAt}/consumers/${c}`;
        if (bundle.consumers.indexOf(consumer) !== c) {
          report(cAt, 'DUPLICATE_NAME', `${what}: consumer "${consumer}" is listed twice`);
          return;
        }
        const deployment = deployments.get(consumer);
        if (!deployment) {
          const names = [...deployments.keys()];
          report(
            cAt,
            'UNKNOWN_DEPLOYMENT',
            `${what}: consumer "${consumer}" is not a Deployment under services[].deployments (declared: ${names.join(', ') || 'none'})`,
          );
          return;
        }
        if (known && deployment.namespace !== namespace) {
          report(
            cAt,
            'NAMESPACE_MISMATCH',
            `${what}: consumer "${consumer}" runs in namespace "${deployment.namespace}" but the Secret is written to "${namespace}" (a pod reads Secrets of its own namespace only); move the bundle to a service in "${deployment.namespace}"`,
          );
          return;
        }
        const given = envByConsumer.get(consumer) ?? new Map<string, string>();
        envByConsumer.set(consumer, given);
        for (const env of new Set(envVars.map(([, e]) => e))) {
          const other = given.get(env);
          if (other !== undefined && other !== `${entry.name}/${bundle.name}`) {
            report(
              cAt,
              'ENV_PROVIDED_TWICE',
              `${what}: Deployment "${consumer}" already gets env var ${env} from bundle "${other}"; give it from one bundle only`,
            );
          } else {
            given.set(env, `${entry.name}/${bundle.name}`);
          }
        }
      });
      const rotation = bundle.rotation;
      if (rotation && rotation.strategy !== 'generated') {
        for (const option of ['length', 'alphabet'] as const) {
          if (rotation[option] !== undefined) {
            report(
              `${bAt}/rotation/${option}`,
              'INVALID_VALUE',
              `${what}: rotation ${option} applies to strategy generated only (this one is ${rotation.strategy})`,
            );
          }
        }
      }
    });
  });
}

type FileRoute = PlatformFileData['routes'][number];

/** A route's match blocks: one block may be written without the list around it. */
function matchBlocks(match: FileRoute['match']): Exclude<FileRoute['match'], unknown[] | undefined>[] {
  if (match === undefined) return [];
  return Array.isArray(match) ? match : [match];
}

// ---- The model, defaults applied ----

function toPlatform(p: PlatformFileData): Platform {
  const defaultNamespace = p.namespaces[0]!.name;
  const g = p.gateway;
  const egress = p.egress ?? {};
  return {
    name: p.platform,
    namespaces: p.namespaces.map((n) => ({ name: n.name, labels: n.labels ?? {}, mtls: n.mtls })),
    gateway: {
      name: g.name,
      namespace: g.namespace ?? defaultNamespace,
      selector: g.selector ?? { istio: 'ingressgateway' },
      hosts: g.hosts,
      port: g.port ?? 80,
      ...(g.tls ? { tls: { credentialName: g.tls.credentialName, port: g.tls.port ?? 443 } } : {}),
      virtualService: g.virtualService ?? `${g.name}-routes`,
    },
    services: p.services.map((s) => ({
      name: s.name,
      namespace: s.namespace ?? defaultNamespace,
      host: s.host ?? defaultServiceHost(s.name, s.namespace ?? defaultNamespace),
      port: s.port,
      versions: s.versions ?? {},
      deployments: (s.deployments ?? []).map((d) => ({
        name: d.name,
        labels: d.labels,
        container: d.container ?? d.name,
      })),
    })),
    routes: p.routes.map((r) => ({
      name: r.name,
      match: matchBlocks(r.match).map(
        (m): RouteMatch => ({
          ...(m.uri ? { uri: m.uri as StringMatch } : {}),
          ...(m.headers ? { headers: m.headers as Record<string, StringMatch> } : {}),
        }),
      ),
      destinations: r.destinations.map((d) => ({
        service: d.service,
        ...(d.subset !== undefined ? { subset: d.subset } : {}),
        ...(d.weight !== undefined ? { weight: d.weight } : {}),
      })),
    })),
    egress: {
      namespace: egress.namespace ?? defaultNamespace,
      outboundPolicy: egress.outboundPolicy ?? 'REGISTRY_ONLY',
      approved: (egress.approved ?? []).map((a) => ({
        host: a.host,
        port: a.port,
        protocol: a.protocol,
        tlsOrigination: a.tlsOrigination ?? false,
        httpPort: a.httpPort ?? 80,
      })),
      requests: (egress.requests ?? []).map((r) => ({
        from: r.from,
        host: r.host,
        ...(r.port !== undefined ? { port: r.port } : {}),
      })),
    },
    ...(p.secrets ? { secrets: p.secrets } : {}),
  };
}
