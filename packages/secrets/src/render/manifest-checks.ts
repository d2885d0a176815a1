/**
 * Checks of hand-written manifests (`rctl secrets check --manifests DIR`): External Secrets resources written for an
 * API version ESO no longer serves. `external-secrets.io/v1beta1` is unserved since ESO 0.17 (`v1alpha1` long
 * before), so `kubectl apply` fails with "no matches for kind" — the runbook's own example still uses v1beta1.
 * A KV v2 ClusterSecretStore/SecretStore whose `path` carries "/data" is reported too. Only apiVersion, kind and
 * store paths are read; nothing else of a manifest (a Secret's data in particular) is quoted.
 */
import { readYamlSource } from '@runtime-control/core';

export const MANIFEST_CHECK = {
  id: 'manifests-api-version',
  code: 'ESO_API_VERSION_UNSERVED',
  title: 'hand-written External Secrets manifests use external-secrets.io/v1',
} as const;

/** ESO API versions no longer served, with the version to write instead. */
const UNSERVED: Record<string, string> = {
  'external-secrets.io/v1beta1': 'external-secrets.io/v1',
  'external-secrets.io/v1alpha1': 'external-secrets.io/v1',
};

/** Kinds that moved to external-secrets.io/v1; PushSecret and ClusterPushSecret are still v1alpha1. */
const V1_KINDS = new Set(['ExternalSecret', 'ClusterExternalSecret', 'SecretStore', 'ClusterSecretStore']);

export interface ManifestIssue {
  check: string;
  code: string;
  file: string;
  line: number;
  message: string;
  fix: string;
}

/** The YAML documents of a multi-document file, each with the line it starts on (0-based offset). */
function splitDocuments(text: string): { text: string; offset: number }[] {
  const lines = text.split('\n');
  const docs: { text: string; offset: number }[] = [];
  let start = 0;
  lines.forEach((line, i) => {
    if (/^---(\s|$)/.test(line)) {
      docs.push({ text: lines.slice(start, i).join('\n'), offset: start });
      start = i + 1;
    }
  });
  docs.push({ text: lines.slice(start).join('\n'), offset: start });
  return docs.filter((d) => d.text.trim() !== '');
}

/** Problems of one manifest file (YAML, possibly several documents, or JSON). Unparsable documents are skipped. */
export function checkManifestText(text: string, file: string): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  for (const doc of splitDocuments(text)) {
    const source = readYamlSource(doc.text);
    if (!source.ok) continue;
    const data = source.data as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; spec?: unknown };
    if (typeof data !== 'object' || data === null) continue;
    const { apiVersion, kind } = data;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') continue;
    const name = typeof data.metadata?.name === 'string' ? ` "${data.metadata.name.slice(0, 63)}"` : '';
    const replacement = UNSERVED[apiVersion];
    if (replacement && V1_KINDS.has(kind)) {
      issues.push({
        check: MANIFEST_CHECK.id,
        code: MANIFEST_CHECK.code,
        file,
        line: doc.offset + source.locate('/apiVersion').line,
        message: `${kind}${name} uses ${apiVersion}, which ESO ≥ 0.17 no longer serves: kubectl apply fails with "no matches for kind".`,
        fix: `set apiVersion: ${replacement} (the spec fields are the same for ${kind})`,
      });
    }
    if ((kind === 'ClusterSecretStore' || kind === 'SecretStore') && apiVersion.startsWith('external-secrets.io/')) {
      const vault = (data.spec as { provider?: { vault?: { path?: unknown; version?: unknown } } } | undefined)
        ?.provider?.vault;
      const path = vault?.path;
      const parts = typeof path === 'string' ? path.split('/') : [];
      const dataAt = parts.indexOf('data', 1);
      if ((vault?.version ?? 'v2') === 'v2' && dataAt > 0) {
        issues.push({
          check: 'kv-path',
          code: 'KV_DATA_IN_PATH',
          file,
          line: doc.offset + source.locate('/spec/provider/vault/path').line,
          message: `${kind}${name} has vault path "${String(path)}" with version v2: ESO inserts "/data" itself, so the keys it reads do not exist.`,
          fix: `set path: ${parts.slice(0, dataAt).join('/')} (the KV mount only)`,
        });
      }
    }
  }
  return issues;
}
