import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CachedSnapshot {
  revision: number;
  savedAt: string;
  /** flagd JSON as the server sent it. */
  config: string;
}

/** Reads the on-disk snapshot; any problem (missing, corrupt) means "no cache", never an exception. */
export async function readSnapshotCache(path: string): Promise<CachedSnapshot | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<CachedSnapshot>;
    if (typeof parsed.config !== 'string' || typeof parsed.revision !== 'number') return undefined;
    JSON.parse(parsed.config);
    return { revision: parsed.revision, savedAt: String(parsed.savedAt), config: parsed.config };
  } catch {
    return undefined;
  }
}

/** Writes atomically (temp file + rename) so a crash mid-write never leaves a half snapshot behind. */
export async function writeSnapshotCache(path: string, snapshot: CachedSnapshot): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(snapshot), { mode: 0o600 });
  await rename(tmp, path);
}
