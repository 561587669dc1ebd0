/**
 * @fileoverview Quantization quality table: for each corpus model × recipe (the outlier recipes
 * on the outlier models), `lutra quantize`
 * (time, peak RSS, size) then `lutra eval` against the float model on the eval set, through
 * ONNX Runtime and the reference interpreter. Prints a markdown table.
 *
 *   npm run bench:quantize                       (needs ../shared/corpus; a few minutes)
 *   BENCH_ONLY=char_lm npm run bench:quantize    (models whose name contains the string)
 *
 * Each command runs in a fresh process, so peak RSS is that command's own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = process.env.LUTRA_SHARED ? join(process.env.LUTRA_SHARED, 'corpus') : resolve(ROOT, '../shared/corpus');

/** The acceptance matrix of the quantization issue. */
const CASES: [model: string, recipes: string[]][] = [
  ['digits_mlp', ['w8a8', 'w4a16']],
  ['digits_cnn', ['w8a8', 'w4a16']],
  ['digits_vit', ['w8a8', 'w4a16']],
  ['digits_vit_outlier', ['w8a8', 'w8a8-smoothquant', 'w8a8-osplus', 'w8a8-llmint8', 'w4a4-repq']],
  ['char_lm', ['w8a8', 'w8a16', 'w4a16', 'w4a16-awq']],
  ['char_lm_outlier', ['w8a8', 'w8a8-smoothquant', 'w8a8-osplus', 'w8a8-llmint8', 'w4a16', 'w4a16-awq']],
];

function lutra(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`lutra ${args.join(' ')} failed:\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

interface Backend { backend: string; reference: { metric: number | null }; candidate: { metric: number | null }; comparison: { agreement: number; cosine: number } }

const num = (x: unknown): number => (typeof x === 'number' ? x : x === 'inf' ? Infinity : NaN);

if (!existsSync(CORPUS)) {
  console.error(`bench/quantize: ${CORPUS} not found`);
  process.exit(1);
}
const only = process.env.BENCH_ONLY;
const tmp = mkdtempSync(join(tmpdir(), 'lutra-bench-q-'));
const rows: string[] = [];
try {
  for (const [model, recipes] of CASES) {
    if (only && !model.includes(only)) continue;
    const dir = join(CORPUS, model);
    for (const recipe of recipes) {
      const out = join(tmp, `${model}.${recipe}.onnx`);
      const q = JSON.parse(lutra(['quantize', join(dir, 'model.onnx'), '--recipe', recipe, '--calib', join(dir, 'calib'), '-o', out, '--skip-check', '--json']).stdout) as { seconds: number; peakRssMB: number };
      const e = JSON.parse(lutra(['eval', join(dir, 'model.onnx'), out, '--data', join(dir, 'eval'), '--labels', join(dir, 'eval/labels.pb'), '--json']).stdout) as { metric: string; backends: Backend[] };
      const by = (b: string) => e.backends.find((x) => x.backend === b);
      const ortB = by('ort');
      const refB = by('ref')!;
      const metric = e.metric === 'bpc' ? 'bpc' : 'acc';
      const f = (x: number | null | undefined) => (x === null || x === undefined ? '-' : metric === 'acc' ? (100 * x).toFixed(2) : x.toFixed(4));
      const base = num(ortB?.reference.metric ?? refB.reference.metric);
      const cand = num(ortB?.candidate.metric ?? refB.candidate.metric);
      const delta = metric === 'acc' ? `${(100 * (cand - base)).toFixed(2)} pt` : `${(cand - base) >= 0 ? '+' : ''}${(cand - base).toFixed(4)}`;
      rows.push(`| ${model} | ${recipe} | ${metric} | ${f(base)} | ${f(ortB?.candidate.metric)} | ${f(refB.candidate.metric)} | ${delta} | ${(num((ortB ?? refB).comparison.agreement) * 100).toFixed(2)} % | ${num((ortB ?? refB).comparison.cosine).toFixed(6)} `
        + `| ${(statSync(join(dir, 'model.onnx')).size / 1e6).toFixed(2)} → ${(statSync(out).size / 1e6).toFixed(2)} MB | ${q.seconds.toFixed(1)} s | ${q.peakRssMB.toFixed(0)} MB |`);
      console.error(rows[rows.length - 1]);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log('| model | recipe | metric | float (ORT) | quantized (ORT) | quantized (ref) | Δ | top-1 agreement | output cosine | size | quantize time | peak RSS |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
