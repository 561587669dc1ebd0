/**
 * @fileoverview WASM backend benchmark: per corpus model, batch-1 single-thread latency of the
 * compiled artifact (its runtime's `run`, WASM SIMD) next to onnxruntime-web (WASM backend, SIMD,
 * numThreads = 1, run in Node) and onnxruntime-node (CPU, intraOpNumThreads = 1) on the same
 * input: warm-up, then alternating rounds, medians and ratios (> 1× means Lutra is slower).
 * Also compile time, kernel count, peak activation memory, and the largest difference of the
 * first output from onnxruntime-node's (so a fast wrong result does not pass unnoticed).
 *
 *   npm run bench:compile                          (needs ../shared/corpus; a few minutes)
 *   BENCH_ONLY=digits npm run bench:compile        (models whose name contains the string)
 *   BENCH_VARIANTS=fp32 npm run bench:compile      (variants, comma-separated: fp32, w8a8)
 *   BENCH_BUDGET_MS=3000 npm run bench:compile     (timed milliseconds per contender, default 1500)
 *
 * Variants: each is a `lutra compile` argument list and the ONNX model the peers run. `fp32`
 * compiles model.onnx; `w8a8` compiles with `--recipe w8a8` and the peers run the QDQ model the
 * artifact exports (model.qdq.onnx). A variant whose compile fails prints Lutra's one-line error
 * in its row instead of stopping the table. To add one, push a `Variant` onto VARIANTS
 * (entries appended at the end of this file count: the benchmark starts after the module ran).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataDir } from '../src/frontends/onnx/testdata.js';
import { Tensor } from '../src/ir/tensor.js';
import { type AnyArray, loadArtifact } from '../src/runtime/executor.js';
import { CORPUS, type Contender, type Peer, type PeerName, alternate, firstLine, lutraCli, markdownTable, ms, openPeer, ratio } from './harness.js';

/** The corpus models (batch 1; other symbolic dims bound by DIMS). */
export const MODELS = ['digits_mlp', 'digits_cnn', 'digits_vit', 'char_lm', 'public/mnist-8', 'public/cifar10-cnn', 'public/yamnet256-esc10',
  'public/mobilenetv2-035-128', 'public/speechcommands-squeezenet', 'public/ultraface-rfb-320', 'public/chessgpt', 'public/squeezenet1.1-fp16',
  'public/silero-vad-v3-micro', 'public/silero-vad-v5', 'public/ssd-mobilenetv1-025-256'];

/** `--dim` bindings of the models with symbolic dims besides the batch: their sample data's sizes. */
const DIMS: Record<string, string[]> = {
  'public/silero-vad-v3-micro': ['--dim', 'samples=4000'],
  'public/silero-vad-v5': ['--dim', 'sequence=512'],
};

/** One way of compiling a model, and what the peers run for it. */
export interface Variant {
  readonly label: string;
  /** Extra `lutra compile` arguments for the model in `modelDir`. */
  compileArgs(modelDir: string): string[];
  /** The ONNX file the peers run (undefined or missing: peers are skipped for this row). */
  peerModel(modelDir: string, artifactDir: string): string | undefined;
}

/** Calibration data: the model's calib/ when it has one, else its sample data (public models). */
const calibDir = (dir: string): string => join(dir, existsSync(join(dir, 'calib')) ? 'calib' : existsSync(join(dir, 'eval')) ? 'eval' : 'data');

export const FP32: Variant = { label: 'fp32', compileArgs: () => [], peerModel: (dir) => join(dir, 'model.onnx') };
export const W8A8: Variant = {
  label: 'w8a8',
  compileArgs: (dir) => ['--recipe', 'w8a8', '--calib', calibDir(dir)],
  peerModel: (_dir, art) => join(art, 'model.qdq.onnx'),
};
export const VARIANTS: Variant[] = [FP32, W8A8];

/** One table row. */
export interface Row {
  model: string;
  variant: string;
  kernels?: number;
  compileS?: number;
  peakKiB?: number;
  lutra?: number;
  peers: Partial<Record<PeerName, number>>;
  /** max |lutra − ort-node| / max |ort-node| over the first output. */
  diff?: number;
  notes: string[];
}

/** The model's first sample input(s), cut to the compiled shapes (batch 1). */
function sampleInputs(dir: string, shapes: readonly (readonly number[])[]): Tensor[] {
  const data = readDataDir(join(dir, existsSync(join(dir, 'eval')) ? 'eval' : 'data'))[0]!;
  return data.inputs.map((t, i) => {
    const shape = shapes[i]!;
    return new Tensor(t.dtype, shape, t.data.slice(0, shape.reduce((a, b) => a * b, 1)) as Tensor['data']);
  });
}

function relDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(Number(got[i]) - Number(want[i]))); s = Math.max(s, Math.abs(Number(want[i]))); }
  return got.length === want.length ? d / (s || 1) : Infinity;
}


/** Compile `model` as `variant` into `tmp`, then time Lutra and the peers on one input. */
export async function benchVariant(model: string, variant: Variant, tmp: string, budgetMs: number): Promise<Row> {
  const dir = join(CORPUS, model);
  const row: Row = { model, variant: variant.label, peers: {}, notes: [] };
  const art = join(tmp, `${model.replace('/', '_')}-${variant.label}`);
  const c = await lutraCli('compile', join(dir, 'model.onnx'), '-o', art, ...(DIMS[model] ?? []), ...variant.compileArgs(dir));
  if (c.code !== 0) {
    row.notes.push(`compile failed: ${firstLine(c.stderr)}`);
    console.error(`${model} ${variant.label}: lutra compile failed: ${firstLine(c.stderr)}`);
    return row;
  }
  row.compileS = c.seconds;
  const lutra = await loadArtifact(art);
  row.kernels = lutra.manifest.kernels.length;
  row.peakKiB = lutra.manifest.memory.peakActivationBytes / 1024;
  const inputs = sampleInputs(dir, lutra.manifest.inputs.map((io) => io.shape));
  const feeds = Object.fromEntries(lutra.inputNames.map((n, i) => [n, inputs[i]!.data as AnyArray]));
  const ours = (await lutra.run(feeds))[lutra.outputNames[0]!] as Float32Array;

  const contenders: Contender[] = [{ name: 'lutra', run: () => lutra.run(feeds) }];
  const peers: Peer[] = [];
  const peerPath = variant.peerModel(dir, art);
  if (!peerPath || !existsSync(peerPath)) row.notes.push(`peers skipped: no ${peerPath ?? 'peer model'}`);
  else {
    const bytes = readFileSync(peerPath);
    for (const name of ['ort-web', 'ort-node'] as const) {
      try {
        const p = await openPeer(name, bytes, inputs);
        if (!p) { row.notes.push(`${name} not installed`); continue; }
        const out = p.first(await p.run());
        if (name === 'ort-node') row.diff = relDiff(ours, out);
        peers.push(p);
        contenders.push({ name, run: () => p.run() });
      } catch (e) {
        row.notes.push(`${name} failed: ${firstLine((e as Error).message)}`);
      }
    }
  }
  const times = await alternate(contenders, { budgetMs });
  row.lutra = times[0];
  contenders.slice(1).forEach((ct, i) => { row.peers[ct.name as PeerName] = times[i + 1]; });
  for (const p of peers) await p.release();
  return row;
}

/** The rows as a markdown table (notes in the last column). */
export function formatRows(rows: readonly Row[]): string {
  const head = ['model', 'variant', 'kernels', 'compile s', 'peak act KiB', 'lutra ms', 'ort-web ms', 'ort-node ms', 'lutra/web', 'lutra/node', 'diff vs node', 'notes'];
  return markdownTable([head, ...rows.map((r) => [
    r.model, r.variant, r.kernels === undefined ? '-' : String(r.kernels), r.compileS === undefined ? '-' : r.compileS.toFixed(1),
    r.peakKiB === undefined ? '-' : r.peakKiB.toFixed(0), ms(r.lutra), ms(r.peers['ort-web']), ms(r.peers['ort-node']),
    ratio(r.lutra, r.peers['ort-web']), ratio(r.lutra, r.peers['ort-node']), r.diff === undefined ? '-' : r.diff.toExponential(1), r.notes.join('; '),
  ])], [0, 1, head.length - 1]);
}

async function main(): Promise<void> {
  if (!existsSync(CORPUS)) {
    console.error(`bench:compile needs the corpus at ${CORPUS}`);
    process.exit(1);
  }
  const only = process.env.BENCH_ONLY;
  const wanted = process.env.BENCH_VARIANTS?.split(',');
  const budget = Number(process.env.BENCH_BUDGET_MS ?? 1500);
  const variants = VARIANTS.filter((v) => !wanted || wanted.includes(v.label));
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-bench-compile-'));
  const rows: Row[] = [];
  try {
    for (const model of MODELS.filter((m) => !only || m.includes(only))) {
      for (const v of variants) {
        const r = await benchVariant(model, v, tmp, budget);
        rows.push(r);
        console.error(`${model} ${v.label}: lutra ${ms(r.lutra)} ms, ort-web ${ms(r.peers['ort-web'])} ms, ort-node ${ms(r.peers['ort-node'])} ms ${r.notes.join('; ')}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\nbatch 1, one thread, median ms per inference (alternating rounds, ${budget} ms timed per contender)\n`);
  console.log(formatRows(rows));
}

// Started after the module body has run, so variants appended below this line are included.
setImmediate(() => { main().catch((e: unknown) => { console.error(e); process.exit(1); }); });

// ---- quantized variants: w4a16, and the accuracy / size report ------------------------------------
//
//   BENCH_ACCURACY=1 BENCH_VARIANTS=none npm run bench:compile   (the report alone, no timing)
//
// For each digits / char_lm model × (fp32, w8a8, w4a16): weight bytes and peak activations from
// the manifest, and top-1 agreement / cosine of the artifact against ONNX Runtime (node) running
// the artifact's model.qdq.onnx (model.onnx for fp32) on up to 64 eval rows.

export const W4A16: Variant = {
  label: 'w4a16',
  compileArgs: () => ['--recipe', 'w4a16'],
  peerModel: (_dir, art) => join(art, 'model.qdq.onnx'),
};
VARIANTS.push(W4A16);

interface AccuracyRow { model: string; variant: string; weightBytes?: number; peakKiB?: number; rows?: number; top1?: number; cosine?: number; note?: string }

/** Top-1 agreement and cosine over rows of the last dim. */
function agreeCos(got: ArrayLike<number>, want: ArrayLike<number>, C: number): { top1: number; cosine: number } {
  let same = 0;
  let dot = 0;
  let gg = 0;
  let ww = 0;
  const rows = want.length / C;
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let c = 0; c < C; c++) {
      const g = Number(got[r * C + c]);
      const w = Number(want[r * C + c]);
      if (g > Number(got[r * C + a])) a = c;
      if (w > Number(want[r * C + b])) b = c;
      dot += g * w; gg += g * g; ww += w * w;
    }
    if (a === b) same++;
  }
  return { top1: same / rows, cosine: dot / Math.sqrt(gg * ww) };
}

export async function quantAccuracy(models: readonly string[], variants: readonly Variant[], tmp: string): Promise<AccuracyRow[]> {
  const { openOrt } = await import('../src/ort.js');
  const rows: AccuracyRow[] = [];
  for (const model of models) {
    for (const v of variants) {
      const dir = join(CORPUS, model);
      const art = join(tmp, `${model.replace('/', '_')}-${v.label}-acc`);
      const row: AccuracyRow = { model, variant: v.label };
      rows.push(row);
      const c = await lutraCli('compile', join(dir, 'model.onnx'), '--batch', '8', '-o', art, ...v.compileArgs(dir));
      if (c.code !== 0) { row.note = firstLine(c.stderr); continue; }
      const m = await loadArtifact(art);
      row.weightBytes = m.manifest.memory.weightsBytes;
      row.peakKiB = m.manifest.memory.peakActivationBytes / 1024;
      const x0 = readDataDir(join(dir, 'eval'))[0]!.inputs[0]!;
      const n = Math.min(64, x0.shape[0]!);
      const per = x0.size / x0.shape[0]!;
      const x = new Tensor(x0.dtype, [n, ...x0.shape.slice(1)], x0.data.slice(0, n * per) as Tensor['data']);
      const got = (await m.run({ [m.inputNames[0]!]: x.data as AnyArray }))[m.outputNames[0]!] as Float32Array;
      const ort = await openOrt(v.peerModel(dir, art)!);
      if (!ort) { row.note = 'onnxruntime-node not installed'; continue; }
      const want = (await ort.run([x]))[0]!;
      await ort.release();
      Object.assign(row, { rows: n, ...agreeCos(got, want.data as ArrayLike<number>, want.shape[want.shape.length - 1]!) });
    }
  }
  return rows;
}

if (process.env.BENCH_ACCURACY) {
  setImmediate(() => {
    const tmp = mkdtempSync(join(tmpdir(), 'lutra-bench-accuracy-'));
    quantAccuracy(['digits_mlp', 'digits_cnn', 'digits_vit', 'char_lm'], [FP32, W8A8, W4A16], tmp).then((rows) => {
      console.log('\nartifact vs ONNX Runtime (node) on the artifact\'s QDQ model, up to 64 eval rows, compiled batch 8\n');
      console.log(markdownTable([['model', 'variant', 'weight bytes', 'peak act KiB', 'rows', 'top-1 agreement', 'cosine', 'notes'], ...rows.map((r) => [
        r.model, r.variant, r.weightBytes === undefined ? '-' : String(r.weightBytes), r.peakKiB === undefined ? '-' : r.peakKiB.toFixed(0),
        String(r.rows ?? '-'), r.top1 === undefined ? '-' : `${(100 * r.top1).toFixed(1)} %`, r.cosine === undefined ? '-' : r.cosine.toFixed(7), r.note ?? '',
      ])], [0, 1, 7]));
    }).catch((e: unknown) => { console.error(e); process.exitCode = 1; }).finally(() => rmSync(tmp, { recursive: true, force: true }));
  });
}
