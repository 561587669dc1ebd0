/** @fileoverview Locating ../shared (corpus, ONNX conformance data); tests skip when it is absent. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.LUTRA_SHARED ?? resolve(ROOT, '../shared');
export const HAS_SHARED = existsSync(join(SHARED, 'corpus'));
export const CORPUS = join(SHARED, 'corpus');
export const ONNX_TESTS = join(SHARED, 'onnx-tests');

if (!HAS_SHARED) console.warn(`[lutra tests] ${SHARED} not found: corpus and ONNX-suite tests are skipped`);

/** Corpus models: name → directory (trained ones and public/*). */
export function corpusModels(): { name: string; dir: string }[] {
  if (!HAS_SHARED) return [];
  const out: { name: string; dir: string }[] = [];
  for (const d of readdirSync(CORPUS)) {
    if (existsSync(join(CORPUS, d, 'model.onnx'))) out.push({ name: d, dir: join(CORPUS, d) });
  }
  for (const d of readdirSync(join(CORPUS, 'public'))) out.push({ name: `public/${d}`, dir: join(CORPUS, 'public', d) });
  return out;
}
