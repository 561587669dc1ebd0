/** @fileoverview File output shared by every writer: never leave a partial file behind. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { LutraError } from './ir/diagnostics.js';

/** Write `data` to `path` through a temp file in the same directory, then rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new LutraError('io', `cannot write file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
}
