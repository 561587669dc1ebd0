/**
 * @fileoverview GEMV/GEMM microbenchmark for the WASM backend. First the machine's single-thread
 * memory bandwidth (a 128 MiB read and copy, in JavaScript and in a hand-written WASM SIMD loop),
 * then Lutra's generated kernel for one MatMul `x[M,K] · W[K,N]` with a constant W, at GEMV
 * (M = 1) and GEMM (M = 64) sizes from in-cache to DRAM-sized weights: GB/s of weight bytes
 * streamed, GOP/s (2·M·K·N per run), and the weight stream as a fraction of the measured read
 * bandwidth. The same model in onnxruntime-node and onnxruntime-web (one thread) is the peer.
 *
 *   npm run bench:gemm
 *   BENCH_BUDGET_MS=2000 npm run bench:gemm     (timed milliseconds per contender, default 800)
 *
 * fp32 compiles in-process with the codegen API (compileWasm); int8 goes through
 * `lutra compile --recipe w8a8` on the exported model (a failed compile prints its error in the row). Lutra times are the module's `run` export alone (no JS copies).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { manifestOf } from '../src/codegen/artifact.js';
import { compileWasm } from '../src/codegen/index.js';
import { exportOnnx } from '../src/frontends/onnx/export.js';
import { writeTensor } from '../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../src/ir/index.js';
import { type Contender, type RawArtifact, alternate, firstLine, instantiateRaw, loadRaw, lutraCli, markdownTable, median, openPeer } from './harness.js';

/** The part of the WebAssembly JS API used here (the project's lib setting omits its types). */
declare const WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }> };

const MiB = 1 << 20;
const BW_BYTES = 128 * MiB;
const budgetMs = Number(process.env.BENCH_BUDGET_MS ?? 800);

/** Best and median GB/s of `f` moving `bytes` per call, over `reps` calls after one warm-up. */
function throughput(bytes: number, f: () => unknown, reps = 7): { best: number; median: number } {
  f();
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); xs.push(bytes / ((performance.now() - t0) / 1000) / 1e9); }
  return { best: Math.max(...xs), median: median(xs) };
}

/** A 4-accumulator f64 sum: a JS loop the JIT keeps close to load-bound. */
function jsSum(a: Float64Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let i = 0; i < a.length; i += 4) { s0 += a[i]!; s1 += a[i + 1]!; s2 += a[i + 2]!; s3 += a[i + 3]!; }
  return s0 + s1 + s2 + s3;
}

/** WASM SIMD read (4 × f32x4 accumulators, 64 bytes per iteration) and memory.copy over 2 × 128 MiB. */
const BANDWIDTH_WAT = `(module
  (memory (export "memory") ${(2 * BW_BYTES) / 65536 + 1} ${(2 * BW_BYTES) / 65536 + 1})
  (func (export "sum") (param $p i32) (param $n i32) (result f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $out (loop $l
      (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a (f32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $l)))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d)))))
  (func (export "copy") (param $dst i32) (param $src i32) (param $n i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))))`;

interface Bandwidth { name: string; best: number; median: number }

async function measureBandwidth(): Promise<Bandwidth[]> {
  const out: Bandwidth[] = [];
  const src = new Float64Array(BW_BYTES / 8).map((_, i) => i & 1023);
  const dst = new Float64Array(BW_BYTES / 8);
  out.push({ name: 'JS Float64Array sum (read)', ...throughput(BW_BYTES, () => jsSum(src)) });
  out.push({ name: 'JS TypedArray.set copy (read + write)', ...throughput(2 * BW_BYTES, () => dst.set(src)) });
  const m = binaryen.parseText(BANDWIDTH_WAT);
  m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt);
  if (!m.validate()) throw new Error('bandwidth module does not validate');
  const bytes = m.emitBinary();
  m.dispose();
  const { instance } = await WebAssembly.instantiate(bytes);
  const sum = instance.exports.sum as (p: number, n: number) => number;
  const copy = instance.exports.copy as (d: number, s: number, n: number) => void;
  new Uint8Array((instance.exports.memory as { buffer: ArrayBuffer }).buffer).fill(1);
  out.push({ name: 'WASM SIMD f32x4 sum (read)', ...throughput(BW_BYTES, () => sum(0, BW_BYTES)) });
  out.push({ name: 'WASM memory.copy (read + write)', ...throughput(2 * BW_BYTES, () => copy(BW_BYTES, 0, BW_BYTES)) });
  return out;
}

/** Deterministic values in [-1, 1). */
function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = s / 2 ** 31 - 1; }
  return a;
}

/** The one-MatMul model `y = x[M,K] · W[K,N]` with a constant W. */
function matmulModel(m: number, k: number, n: number): { model: Model; x: Tensor } {
  const g = new Graph('matmul');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', [m, k]));
  const w = b.constant('w', new Tensor('f32', [k, n], filled(k * n, 2)));
  b.output(b.op('onnx.MatMul', [x, w]));
  return { model: new Model(g), x: new Tensor('f32', [m, k], filled(m * k, 1)) };
}

interface GemmRow { kind: string; dtype: string; m: number; k: number; n: number; lutra?: number; web?: number; node?: number; note?: string }

/** Write `x` into the artifact's input buffer (the data does not change the timing, but keeps it realistic). */
function feed(a: RawArtifact, x: Tensor): void {
  const io = a.manifest.inputs[0]!;
  a.memory.set(new Uint8Array((x.data as Float32Array).buffer), io.offset);
}

async function timeAll(a: RawArtifact | undefined, onnx: Uint8Array | undefined, x: Tensor): Promise<[number?, number?, number?]> {
  const cs: Contender[] = [];
  if (a) { feed(a, x); cs.push({ name: 'lutra', run: a.run }); }
  const peers = [];
  for (const name of ['ort-web', 'ort-node'] as const) {
    const p = onnx ? await openPeer(name, onnx, [x]) : undefined;
    if (p) { peers.push(p); cs.push({ name, run: () => p.run() }); }
  }
  const t = await alternate(cs, { budgetMs, minRounds: 5, warmup: 3 });
  for (const p of peers) await p.release();
  const at = (name: string) => { const i = cs.findIndex((c) => c.name === name); return i < 0 ? undefined : t[i]; };
  return [at('lutra'), at('ort-web'), at('ort-node')];
}

async function fp32Row(kind: string, m: number, k: number, n: number): Promise<GemmRow> {
  const { model, x } = matmulModel(m, k, n);
  const onnx = exportOnnx(model);
  const { program, wasm } = compileWasm(model, { batch: 1, dims: {} });
  const a = await instantiateRaw(manifestOf(program, 'model.wasm'), wasm.binary, program.weights);
  const [lutra, web, node] = await timeAll(a, onnx, x);
  return { kind, dtype: 'fp32', m, k, n, lutra, web, node, note: program.dispatches.length === 1 ? undefined : `${program.dispatches.length} kernels` };
}

/** int8 weights and activations via `lutra compile --recipe w8a8`; peers run the artifact's QDQ export. */
async function int8Row(kind: string, m: number, k: number, n: number, tmp: string): Promise<GemmRow> {
  const { model, x } = matmulModel(m, k, n);
  const dir = join(tmp, `int8-${m}x${k}x${n}`);
  mkdirSync(join(dir, 'calib', 'test_data_set_0'), { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), exportOnnx(model));
  writeTensor(join(dir, 'calib', 'test_data_set_0', 'input_0.pb'), x, 'x');
  const art = join(dir, 'art');
  const r = await lutraCli('compile', join(dir, 'model.onnx'), '--recipe', 'w8a8', '--calib', join(dir, 'calib'), '-o', art);
  if (r.code !== 0) return { kind, dtype: 'int8', m, k, n, note: `compile failed: ${firstLine(r.stderr)}` };
  const a = await loadRaw(art);
  const qdq = existsSync(join(art, 'model.qdq.onnx')) ? readFileSync(join(art, 'model.qdq.onnx')) : undefined;
  const [lutra, web, node] = await timeAll(a, qdq, x);
  return { kind, dtype: 'int8', m, k, n, lutra, web, node, note: a.manifest.kernels.length === 1 ? undefined : `${a.manifest.kernels.length} kernels (incl. quantize/dequantize)` };
}

const SHAPES: [kind: string, m: number, k: number, n: number][] = [
  ['GEMV', 1, 256, 256], ['GEMV', 1, 1024, 1024], ['GEMV', 1, 2048, 2048], ['GEMV', 1, 4096, 4096],
  ['GEMM', 64, 256, 256], ['GEMM', 64, 1024, 1024], ['GEMM', 64, 2048, 2048],
];

async function main(): Promise<void> {
  console.error('measuring memory bandwidth (128 MiB buffers, one thread)…');
  const bw = await measureBandwidth();
  const read = Math.max(...bw.filter((b) => b.name.includes('read)')).map((b) => b.best));
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-bench-gemm-'));
  const rows: GemmRow[] = [];
  try {
    for (const [kind, m, k, n] of SHAPES) {
      for (const row of [await fp32Row(kind, m, k, n), await int8Row(kind, m, k, n, tmp)]) {
        rows.push(row);
        console.error(`${row.kind} ${row.dtype} ${m}×${k}×${n}: lutra ${row.lutra?.toFixed(4) ?? '-'} ms, ort-web ${row.web?.toFixed(4) ?? '-'} ms, ort-node ${row.node?.toFixed(4) ?? '-'} ms ${row.note ?? ''}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log('\nSingle-thread memory bandwidth (GB/s = 1e9 bytes/s; copies count the bytes read and written):\n');
  console.log(markdownTable([['measurement', 'best GB/s', 'median GB/s'], ...bw.map((b) => [b.name, b.best.toFixed(1), b.median.toFixed(1)])]));
  console.log(`\nReference read bandwidth: ${read.toFixed(1)} GB/s (best of the read loops).\n`);
  const head = ['op', 'dtype', 'M×K×N', 'weights', 'lutra ms', 'lutra GB/s', '% of read bw', 'lutra GOP/s', 'ort-web ms', 'ort-web GOP/s', 'ort-node ms', 'ort-node GOP/s', 'notes'];
  const body = rows.map((r) => {
    const wBytes = r.k * r.n * (r.dtype === 'int8' ? 1 : 4);
    const ops = 2 * r.m * r.k * r.n;
    const gbs = r.lutra === undefined ? undefined : wBytes / (r.lutra / 1000) / 1e9;
    const gops = (t: number | undefined) => (t === undefined ? '-' : (ops / (t / 1000) / 1e9).toFixed(2));
    const t = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(x < 1 ? 4 : 2));
    const size = wBytes >= MiB ? `${wBytes / MiB} MiB` : `${wBytes / 1024} KiB`;
    return [r.kind, r.dtype, `${r.m}×${r.k}×${r.n}`, size, t(r.lutra), gbs === undefined ? '-' : gbs.toFixed(1), gbs === undefined ? '-' : `${((100 * gbs) / read).toFixed(0)} %`,
      gops(r.lutra), t(r.web), gops(r.web), t(r.node), gops(r.node), r.note ?? ''];
  });
  console.log(markdownTable([head, ...body], [0, 1, head.length - 1]));
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
