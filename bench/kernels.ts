/**
 * @fileoverview Where a compiled model spends its time: the WASM program as shipped (one function
 * per kernel) with each kernel exported, the kernels called in order from JS with a timer around each
 * (per-kernel medians), next to onnxruntime-node's own per-node profile (one thread) summed by
 * operator type. For finding the kernels that make Lutra slower than its peers.
 *
 *   npm run bench:kernels -- public/ultraface-rfb-320 [top=15]     (a corpus model, or a path)
 *   BENCH_PRINT=3 npm run bench:kernels -- digits_cnn             (also print the 3 slowest kernels' IR)
 */
import binaryen from 'binaryen';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lowerModel } from '../src/codegen/lower/index.js';
import { printKernel } from '../src/codegen/kernel-ir.js';
import { manifestOf } from '../src/codegen/artifact.js';
import { renderProgram } from '../src/codegen/wasm/render.js';
import { readDataDir } from '../src/frontends/onnx/testdata.js';
import { numberToF16Bits } from '../src/ir/dtype.js';
import { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { loadOrt } from '../src/ort.js';
import { CORPUS, type RawArtifact, alternate, instantiateRaw, markdownTable, median, ms } from './harness.js';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: npm run bench:kernels -- <corpus model name | model.onnx> [top]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 15);
const path = existsSync(arg) ? arg : join(CORPUS, arg, 'model.onnx');
const program = lowerModel(loadModel(path), { batch: 1, dims: {} });
const byName = new Map(program.buffers.map((b) => [b.name, b]));

/**
 * The program as shipped (render.ts keeps one function per kernel, helpers inlined into them),
 * and again with every kernel exported, called one by one from JS with a timer around each:
 * per-kernel times in context (caches as the real sequence leaves them).
 */
const saved = binaryen.getDebugInfo();
binaryen.setDebugInfo(true); // keeps the function names in the binary's name section
let whole: Uint8Array;
let split: Uint8Array;
try {
  whole = renderProgram(program).binary;
  const m = binaryen.readBinary(whole);
  m.setFeatures(binaryen.Features.All);
  const present = new Set(Array.from({ length: m.getNumFunctions() }, (_, i) => binaryen.getFunctionInfo(m.getFunctionByIndex(i)).name));
  for (const [i, d] of program.dispatches.entries()) {
    const name = `k${i}_${d.kernel.name}`;
    if (present.has(name)) m.addFunctionExport(name, name);
  }
  split = m.emitBinary();
  m.dispose();
} finally {
  binaryen.setDebugInfo(saved);
}
const manifest = manifestOf(program, 'model.wasm');
const all = await instantiateRaw(manifest, whole, program.weights);
const parts = await instantiateRaw(manifest, split, program.weights);
const inputs = sampleInputs();
/** Inputs are written before every run, as the runtime does: the arena may reuse an input's bytes after its last read. */
const feed = (a: RawArtifact) => manifest.inputs.forEach((io, i) => a.memory.set(new Uint8Array(inputs[i]!.data.buffer, inputs[i]!.data.byteOffset, io.bytes), io.offset));
const fns = program.dispatches.map((d, i) => parts.exports[`k${i}_${d.kernel.name}`] as (() => void) | undefined);
const [wholeMs, splitMs] = await alternate([{ name: 'run', run: () => { feed(all); all.run(); } }, { name: 'split', run: () => { feed(parts); parts.run(); } }], { budgetMs: 1000 });
const samples: number[][] = fns.map(() => []);
const t0 = performance.now();
for (let r = 0; r < 5 || (r < 2000 && performance.now() - t0 < 3000); r++) {
  feed(parts);
  for (const [i, f] of fns.entries()) {
    if (!f) continue;
    const s0 = performance.now();
    f();
    samples[i]!.push(performance.now() - s0);
  }
}
const rows = program.dispatches.map((d, i) => {
  const outs = d.kernel.params.filter((p) => p.access !== 'read').map((p) => byName.get(d.bind[p.name]!)!.size);
  return { i, name: d.kernel.name, summary: d.kernel.summary, outElems: outs.reduce((a, b) => a + b, 0), ms: fns[i] ? median(samples[i]!.slice(2)) : 0 };
});
const sum = rows.reduce((s, r) => s + r.ms, 0);
console.log(`\n${arg}: ${program.dispatches.length} kernels; run as shipped ${ms(wholeMs)} ms, with kernels exported ${ms(splitMs)} ms, `
  + `sum of per-kernel medians ${ms(sum)} ms${fns.some((f) => !f) ? ` (${fns.filter((f) => !f).length} kernels not timed: binaryen merged identical ones)` : ''}\n`);
const sorted = [...rows].sort((a, b) => b.ms - a.ms);
console.log(markdownTable([['#', 'kernel', 'summary', 'out elems', 'ms', '% of sum'],
  ...sorted.slice(0, top).map((r) => [String(r.i), r.name, r.summary, String(r.outElems), ms(r.ms), `${((100 * r.ms) / sum).toFixed(1)} %`])], [0, 1, 2]));

/** By anchor (the first op of the summary), next to ORT's per-node profile by op type. */
const byOp = new Map<string, { n: number; ms: number }>();
for (const r of rows) {
  const op = r.summary.split('+')[0]!;
  const e = byOp.get(op) ?? { n: 0, ms: 0 };
  byOp.set(op, { n: e.n + 1, ms: e.ms + r.ms });
}
const ortByOp = await ortProfile();
console.log('\nLutra kernels by anchor op (first op of the fused summary) | onnxruntime-node nodes by op type (1 thread, its fusions):\n');
const lut = [...byOp].sort((a, b) => b[1].ms - a[1].ms);
const ort = [...(ortByOp ?? new Map<string, { n: number; ms: number }>())].sort((a, b) => b[1].ms - a[1].ms);
const n = Math.max(lut.length, ort.length);
console.log(markdownTable([['lutra op', 'kernels', 'ms', 'ort-node op', 'nodes', 'ms'], ...Array.from({ length: n }, (_, i) => [
  lut[i]?.[0] ?? '', lut[i] ? String(lut[i]![1].n) : '', lut[i] ? ms(lut[i]![1].ms) : '',
  ort[i]?.[0] ?? '', ort[i] ? String(ort[i]![1].n) : '', ort[i] ? ms(ort[i]![1].ms) : '',
])], [0, 3]));

for (const r of sorted.slice(0, Number(process.env.BENCH_PRINT ?? 0))) console.log(`\n${printKernel(program.dispatches[r.i]!.kernel)}`);

/** The model's first sample, cut to the compiled (batch-1) shapes; zeros when it has no data folder. */
function sampleInputs(): Tensor[] {
  const dir = join(path, '..');
  const data = ['eval', 'data'].map((d) => join(dir, d)).find((d) => existsSync(d));
  const sets = data ? readDataDir(data) : [];
  return program.inputs.map((io, i) => {
    const n = io.shape.reduce((a, b) => a * b, 1);
    const t = sets[0]?.inputs[i];
    return t ? new Tensor(t.dtype, io.shape, t.data.slice(0, n) as Tensor['data']) : Tensor.zeros(io.dtype === 'i64' ? 'i64' : 'f32', io.shape);
  });
}

/** ORT's per-node times (ms per run, summed by op type), from its JSON profile over 20 runs. */
async function ortProfile(): Promise<Map<string, { n: number; ms: number }> | undefined> {
  const ortMod = await loadOrt();
  if (!ortMod) return undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-ort-profile-'));
  try {
    const s = await ortMod.InferenceSession.create(path, {
      intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: join(tmp, 'p'), logSeverityLevel: 3,
    });
    const feeds: Record<string, InstanceType<typeof ortMod.Tensor>> = {};
    inputs.forEach((t, i) => {
      feeds[s.inputNames[i]!] = t.dtype === 'f16'
        ? new ortMod.Tensor('float16', Uint16Array.from(t.data as Float32Array, numberToF16Bits), [...t.shape])
        : new ortMod.Tensor(t.dtype === 'i64' ? 'int64' : 'float32', t.data as Float32Array, [...t.shape]);
    });
    const RUNS = 20;
    for (let i = 0; i < 5; i++) await s.run(feeds);
    for (let i = 0; i < RUNS; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = readdirSync(tmp).find((f) => f.endsWith('.json'));
    if (!file) return undefined;
    const events = JSON.parse(readFileSync(join(tmp, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    const out = new Map<string, { n: number; ms: number }>();
    const nodes = new Set<string>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
      const cur = out.get(e.args.op_name) ?? { n: 0, ms: 0 };
      if (!nodes.has(e.name)) { nodes.add(e.name); cur.n++; }
      cur.ms += e.dur / 1000 / (RUNS + 5);
      out.set(e.args.op_name, cur);
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
