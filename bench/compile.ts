/**
 * @fileoverview WASM backend benchmark: per corpus model, batch-1 latency of the compiled
 * artifact (runtime + model.wasm, single thread) next to the reference interpreter and
 * onnxruntime-node (1 intra-op thread) on the same input, plus compile time and peak activation
 * memory. Prints a table.
 *
 *   npm run bench:compile            (needs ../shared/corpus)
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestOf } from '../src/codegen/artifact.js';
import { compileWasm } from '../src/codegen/index.js';
import { readDataDir } from '../src/frontends/onnx/testdata.js';
import { run } from '../src/interp/interpreter.js';
import { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { openOrt } from '../src/ort.js';
import { type AnyArray, instantiateArtifact } from '../src/runtime/executor.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = process.env.LUTRA_SHARED ? join(process.env.LUTRA_SHARED, 'corpus') : resolve(ROOT, '../shared/corpus');
const MODELS = ['digits_mlp', 'digits_cnn', 'digits_vit', 'char_lm', 'public/mnist-8', 'public/cifar10-cnn', 'public/yamnet256-esc10',
  'public/mobilenetv2-035-128', 'public/speechcommands-squeezenet', 'public/ultraface-rfb-320', 'public/chessgpt'];

/** Median milliseconds of `f` over enough repetitions to take about `budget` ms. */
async function time(f: () => unknown, budget = 300): Promise<number> {
  await f();
  const t0 = performance.now();
  await f();
  const once = Math.max(performance.now() - t0, 0.01);
  const reps = Math.min(200, Math.max(3, Math.round(budget / once)));
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) { const s = performance.now(); await f(); xs.push(performance.now() - s); }
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

const fmt = (ms: number | undefined) => (ms === undefined ? '-' : ms < 1 ? ms.toFixed(3) : ms.toFixed(1));
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

if (!existsSync(CORPUS)) {
  console.error(`bench:compile needs the corpus at ${CORPUS}`);
  process.exit(1);
}
const rows: string[][] = [['model', 'kernels', 'compile s', 'peak act', 'wasm ms', 'ort ms', 'ref ms']];
for (const name of MODELS) {
  const dir = join(CORPUS, name);
  const path = join(dir, 'model.onnx');
  const model = loadModel(path);
  const t0 = performance.now();
  const { program, wasm } = compileWasm(model, { batch: 1, dims: {} });
  const compileS = (performance.now() - t0) / 1000;
  const data = readDataDir(join(dir, existsSync(join(dir, 'eval')) ? 'eval' : 'data'))[0]!;
  const inputs = data.inputs.map((t, i) => {
    const shape = program.inputs[i]!.shape;
    return new Tensor(t.dtype, shape, t.data.slice(0, shape.reduce((a, b) => a * b, 1)) as Tensor['data']);
  });
  const m = await instantiateArtifact(manifestOf(program, 'model.wasm'), wasm.binary, program.weights);
  const feeds = Object.fromEntries(m.inputNames.map((n, i) => [n, inputs[i]!.data as AnyArray]));
  const wasmMs = await time(() => m.run(feeds));
  const refMs = await time(() => run(model.graph, inputs), 1000);
  const ort = await openOrt(path);
  const ortMs = ort ? await time(() => ort.run(inputs)) : undefined;
  rows.push([name, String(program.dispatches.length), compileS.toFixed(1), kib(program.memory.peakActivationBytes), fmt(wasmMs), fmt(ortMs), fmt(refMs)]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  '));
