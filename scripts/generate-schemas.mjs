#!/usr/bin/env node
// Writes docs/schemas/*.json — the JSON Schemas of the files Runtime Control reads, served at
// GET /api/schemas/<name> — for editors (`# yaml-language-server: $schema=…`) and tools:
//   flags-file.json     from the same flag schema the API uses (packages/core/src/schemas/flag-schema.ts)
//   platform-file.json  the platform file `rctl render` reads (packages/core/src/schemas/platform-file-schema.ts)
// Run `npm run generate:schemas` after changing a schema (needs `tsc -b` first); a server test fails while a
// checked-in copy is stale.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Each published schema: its file name (also its URL under /api/schemas/) and the core function that builds it. */
export const SCHEMA_FILES = [
  { name: 'flags-file.json', build: 'flagsFileJsonSchema' },
  { name: 'platform-file.json', build: 'platformFileJsonSchema' },
].map((entry) => ({ ...entry, path: fileURLToPath(new URL(`../docs/schemas/${entry.name}`, import.meta.url)) }));

export const FLAGS_FILE_SCHEMA_FILE = SCHEMA_FILES[0].path;

/** The checked-in text of one schema file, as `npm run generate:schemas` writes it. */
export async function generateSchemaFile(name) {
  const entry = SCHEMA_FILES.find((e) => e.name === name);
  if (!entry) throw new Error(`no schema file ${name}`);
  const core = await import('@runtime-control/core');
  return format(`${JSON.stringify(core[entry.build](), null, 2)}\n`, entry.path);
}

export async function generateFlagsFileSchema() {
  return generateSchemaFile('flags-file.json');
}

/** Formatted as the repository's own files (Biome), so `biome check` passes on the generated file. */
function format(source, path) {
  const biome = fileURLToPath(new URL('../node_modules/@biomejs/biome/bin/biome', import.meta.url));
  return execFileSync(process.execPath, [biome, 'format', `--stdin-file-path=${path}`], {
    input: source,
    encoding: 'utf8',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const entry of SCHEMA_FILES) {
    writeFileSync(entry.path, await generateSchemaFile(entry.name));
    console.log(`wrote ${entry.path}`);
  }
}
