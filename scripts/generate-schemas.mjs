#!/usr/bin/env node
// Writes docs/schemas/flags-file.json — the flags file's JSON Schema, built from the same flag schema the API uses
// (packages/core/src/schemas/flag-schema.ts) and served at GET /api/schemas/flags-file.json — for editors
// (`# yaml-language-server: $schema=…`) and tools. Run `npm run generate:schemas` after changing the schema (needs
// `tsc -b` first); a server test fails while the checked-in copy is stale.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FLAGS_FILE_SCHEMA_FILE = fileURLToPath(new URL('../docs/schemas/flags-file.json', import.meta.url));

export async function generateFlagsFileSchema() {
  const { flagsFileJsonSchema } = await import('@runtime-control/core');
  return format(`${JSON.stringify(flagsFileJsonSchema(), null, 2)}\n`);
}

/** Formatted as the repository's own files (Biome), so `biome check` passes on the generated file. */
function format(source) {
  const biome = fileURLToPath(new URL('../node_modules/@biomejs/biome/bin/biome', import.meta.url));
  return execFileSync(process.execPath, [biome, 'format', `--stdin-file-path=${FLAGS_FILE_SCHEMA_FILE}`], {
    input: source,
    encoding: 'utf8',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(FLAGS_FILE_SCHEMA_FILE, await generateFlagsFileSchema());
  console.log(`wrote ${FLAGS_FILE_SCHEMA_FILE}`);
}
