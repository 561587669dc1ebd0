/**
 * @fileoverview Foundation benchmark: import time and peak memory for the largest corpus model,
 * and reference-interpreter time for one eval batch of digits_vit and char_lm, next to
 * onnxruntime-node (1 intra-op thread) on the same machine and inputs.
 *
 *   npm run bench            (needs ../shared/corpus)
 *
 * Each measurement runs in a fresh child process so peak RSS belongs to that measurement alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = process.env.LUTRA_SHARED ? join(process.env.LUTRA_SHARED, 'corpus') : resolve(ROOT, '../shared/corpus');
const REPS = Number(process.env.BENCH_REPS ?? 3);

interface Sample { ms: number; peakMB: number }

/** Run one measurement in a child process: `bench/interp-child.ts <kind> <model> <data>`. */
function child(kind: string, model: string, data = ''): Sample {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/interp-child.ts'), kind, model, data], {
    encoding: 'utf8', maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`${kind} ${model} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Sample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(kind: string, model: string, data = ''): Sample {
  const s = Array.from({ length: REPS }, () => child(kind, model, data));
  return { ms: median(s.map((x) => x.ms)), peakMB: Math.max(...s.map((x) => x.peakMB)) };
}

if (!existsSync(CORPUS)) {
  console.log(`bench: ${CORPUS} not found; nothing to measure`);
  process.exit(0);
}

const largest = join(CORPUS, 'char_lm/model.onnx');
console.log(`# Import (median of ${REPS}, fresh process each)\n`);
console.log('| model | file MB | lutra import ms | peak RSS MB | ORT session create ms | ratio |');
console.log('| --- | --- | --- | --- | --- | --- |');
{
  const a = measure('import', largest);
  const b = measure('ort-load', largest);
  const mb = (statSync(largest).size / 1e6).toFixed(2);
  console.log(`| char_lm | ${mb} | ${a.ms.toFixed(1)} | ${a.peakMB.toFixed(0)} | ${b.ms.toFixed(1)} | ${(a.ms / b.ms).toFixed(2)}× |`);
}

console.log(`\n# One eval batch, reference interpreter vs onnxruntime-node (1 thread), median of ${REPS}\n`);
console.log('| model | batch | lutra ref ms | ORT ms | lutra / ORT | lutra peak RSS MB |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const name of ['digits_vit', 'char_lm']) {
  const model = join(CORPUS, name, 'model.onnx');
  const data = join(CORPUS, name, 'eval/test_data_set_0');
  const a = measure('interp', model, data);
  const b = measure('ort-run', model, data);
  console.log(`| ${name} | ${name === 'char_lm' ? '32×128 tokens' : '360 images'} | ${a.ms.toFixed(0)} | ${b.ms.toFixed(1)} | ${(a.ms / b.ms).toFixed(1)}× | ${a.peakMB.toFixed(0)} |`);
}
