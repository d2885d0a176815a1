import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';

/** A line and column (both 1-based) in a source file. */
export interface SourcePosition {
  line: number;
  column: number;
}

export interface YamlSyntaxError extends SourcePosition {
  message: string;
}

/**
 * A parsed YAML (or JSON) document that can map a JSON Pointer back to the line it came from, so validation
 * problems found on the plain data can be reported as `file:line:column`.
 */
export type YamlSource =
  | { ok: true; data: unknown; locate(path: string): SourcePosition }
  | { ok: false; errors: YamlSyntaxError[] };

export function decodePointer(path: string): string[] {
  if (path === '') return [];
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The YAML node deepest along `segments`: the closest thing that exists, when the path itself does not. */
function nodeAt(root: YamlNode | null | undefined, segments: string[]): YamlNode | undefined {
  let node: unknown = root;
  let found: YamlNode | undefined = (root ?? undefined) as YamlNode | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      node = pair.value ?? pair.key;
      found = (pair.value ?? pair.key) as YamlNode;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      node = item;
      found = item as YamlNode;
    } else {
      break;
    }
  }
  return found;
}

/** Parses with duplicate keys refused and aliases bounded (a billion-laughs file cannot blow up memory). */
export function readYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number | undefined): SourcePosition => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({ ...position(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })),
    };
  }
  return {
    ok: true,
    data: doc.toJS({ maxAliasCount: 100 }),
    locate: (path) => position(nodeAt(doc.contents, decodePointer(path))?.range?.[0]),
  };
}
