/** `lutra compile` end to end: corpus models compile, their artifacts run and match the reference interpreter. */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataDir, readTensor } from '../../src/frontends/onnx/testdata.js';
import { run } from '../../src/interp/interpreter.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel } from '../../src/load.js';
import { openOrt } from '../../src/ort.js';
import { type AnyArray, loadArtifact } from '../../src/runtime/executor.js';
import { lutra, userError } from '../helpers/cli.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-compile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The first `rows` samples of a tensor along dim 0. */
function head(t: Tensor, rows: number): Tensor {
  const n = Math.min(rows, t.shape[0]!);
  const per = t.size / t.shape[0]!;
  return new Tensor(t.dtype, [n, ...t.shape.slice(1)], t.data.slice(0, n * per) as Tensor['data']);
}

/** Corpus models and their data directories; `args` are extra `lutra compile` arguments. */
const MODELS: { name: string; data: string; args?: string[] }[] = [
  { name: 'digits_mlp', data: 'eval' },
  { name: 'digits_cnn', data: 'eval' },
  { name: 'digits_vit', data: 'eval' },
  { name: 'char_lm', data: 'eval' },
  { name: 'public/mnist-8', data: 'data' },
  { name: 'public/chessgpt', data: 'data' },
  // reflect Pad, Log, two Ifs on shapes (resolved at compile time)
  { name: 'public/silero-vad-v3-micro', data: 'data', args: ['--dim', 'samples=4000'] },
  // linear Resize, Tile
  { name: 'public/ssd-mobilenetv1-025-256', data: 'data' },
  { name: 'public/cifar10-cnn', data: 'data' },
  { name: 'public/yamnet256-esc10', data: 'data' },
  { name: 'public/mobilenetv2-035-128', data: 'data' },
  // 3×3 convolutions on 7 × 2 maps (the flattened spatial loop), MaxPool interiors
  { name: 'public/speechcommands-squeezenet', data: 'data' },
  { name: 'public/ultraface-rfb-320', data: 'data' },
];

describe.skipIf(!HAS_SHARED)('corpus models compiled for wasm match the reference', () => {
  it.each(MODELS)('$name', async ({ name, data, args = [] }) => {
    const dir = join(CORPUS, name);
    const out = join(tmp, name.replace('/', '_'));
    const r = await lutra('compile', join(dir, 'model.onnx'), ...args, '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kernels, weights .* peak activations/);
    expect(readdirSync(out).sort()).toEqual(['index.d.ts', 'index.js', 'manifest.json', 'model.wasm', 'runtime.js', 'weights.bin']);
    const model = loadModel(join(dir, 'model.onnx'));
    const set = readDataDir(join(dir, data))[0]!;
    const batched = model.graph.inputs.every((v) => typeof v.type.shape?.[0] === 'string');
    const inputs = set.inputs.map((t) => (batched ? head(t, 3) : t));
    const want = run(model.graph, inputs);
    const m = await loadArtifact(out);
    const got = await m.run(Object.fromEntries(m.inputNames.map((n, i) => [n, inputs[i]!.data as AnyArray])));
    want.forEach((w, i) => {
      const g = got[m.outputNames[i]!] as Float32Array;
      expect(g.length).toBe(w.size);
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < w.size; j++) { diff = Math.max(diff, Math.abs(g[j]! - w.get(j))); scale = Math.max(scale, Math.abs(w.get(j))); }
      expect(diff / scale).toBeLessThan(1e-4);
    });
  });

  it('lutra run executes an artifact directory', async () => {
    const art = join(tmp, 'digits_mlp');
    const inputs = join(tmp, 'mlp-in');
    const outputs = join(tmp, 'mlp-out');
    const r0 = await lutra('compile', join(CORPUS, 'digits_mlp/model.onnx'), '-o', art);
    expect(r0.code, r0.stderr).toBe(0);
    const x = head(readDataDir(join(CORPUS, 'digits_mlp/eval'))[0]!.inputs[0]!, 4);
    const { writeTensor } = await import('../../src/frontends/onnx/testdata.js');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(inputs, { recursive: true });
    writeTensor(join(inputs, 'input_0.pb'), x, 'input');
    const r = await lutra('run', art, '--inputs', inputs, '--outputs', outputs);
    expect(r.code, r.stderr).toBe(0);
    const y = readTensor(join(outputs, 'output_0.pb'));
    expect(y.shape).toEqual([4, 10]);
    const want = run(loadModel(join(CORPUS, 'digits_mlp/model.onnx')).graph, [x])[0]!;
    for (let j = 0; j < y.size; j++) expect(Math.abs(y.get(j) - want.get(j))).toBeLessThan(1e-4 * 30);
  });

  it('squeezenet1.1-fp16: f16 I/O, activations and weights (halves in weights.bin) match the reference', async () => {
    const dir = join(CORPUS, 'public/squeezenet1.1-fp16');
    const out = join(tmp, 'squeezenet-fp16');
    const r = await lutra('compile', join(dir, 'model.onnx'), '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const m = await loadArtifact(out);
    expect([...m.manifest.inputs, ...m.manifest.outputs].map((io) => io.dtype)).toEqual(['f16', 'f16']);
    // 1.2 M f16 weights: weights.bin holds them as halves, memory as f32
    expect(statSync(join(out, 'weights.bin')).size).toBeLessThan(0.51 * m.manifest.memory.weightsBytes);
    const set = readDataDir(join(dir, 'data'))[0]!;
    const want = run(loadModel(join(dir, 'model.onnx')).graph, set.inputs)[0]!;
    const got = (await m.run({ [m.inputNames[0]!]: set.inputs[0]!.data as Float32Array }))[m.outputNames[0]!] as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < want.size; j++) { diff = Math.max(diff, Math.abs(got[j]! - want.get(j))); scale = Math.max(scale, Math.abs(want.get(j))); }
    // both round every op's result to f16; they differ only where f32 and f64 accumulations of a
    // Conv or a pool round to neighbouring halves. Measured 6e-5 of the largest output; the bound
    // is one f16 ulp at that output (2^-10 relative), the precision the model computes in
    expect(diff / scale).toBeLessThan(2 ** -10);
    const { top1, cosine } = agreement(got, want.reshape([1, want.size]));
    expect(top1).toBe(1);
    expect(cosine).toBeGreaterThan(0.9999);
  });

  it('an unbound symbolic dim asks for --dim, and no directory is left', async () => {
    const model = join(CORPUS, 'public/silero-vad-v5/model.onnx');
    await userError(/input 'input' has symbolic dim 'sequence': bind it with --dim sequence=<n>/, 'compile', model, '-o', join(tmp, 'vad'));
    expect(existsSync(join(tmp, 'vad'))).toBe(false);
  });

  it('an If on input data (silero-vad-v5 branches on the sample rate) follows its condition at run time', async () => {
    const dir = join(CORPUS, 'public/silero-vad-v5');
    const out = join(tmp, 'vad5');
    const r = await lutra('compile', join(dir, 'model.onnx'), '--dim', 'sequence=512', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const model = loadModel(join(dir, 'model.onnx'));
    const [audio, , state] = readDataDir(join(dir, 'data'))[0]!.inputs as [Tensor, Tensor, Tensor];
    const m = await loadArtifact(out);
    for (const sr of [16000, 8000]) {
      const inputs = [audio, Tensor.from('i64', [], [sr]), state];
      const want = run(model.graph, inputs);
      const got = await m.run(Object.fromEntries(m.inputNames.map((n, i) => [n, inputs[i]!.data as AnyArray])));
      want.forEach((w, i) => {
        const g = got[m.outputNames[i]!] as Float32Array;
        let diff = 0;
        let scale = 0;
        for (let j = 0; j < w.size; j++) { diff = Math.max(diff, Math.abs(g[j]! - w.get(j))); scale = Math.max(scale, Math.abs(w.get(j))); }
        expect(diff / scale, `sr=${sr} ${m.outputNames[i]}`).toBeLessThan(1e-4);
      });
    }
  });
});

/** Top-1 agreement (rows of the last dim) and cosine similarity of two outputs. */
function agreement(got: Float32Array, want: Tensor): { top1: number; cosine: number } {
  const C = want.shape[want.shape.length - 1]!;
  const rows = want.size / C;
  let same = 0;
  let dot = 0;
  let gg = 0;
  let ww = 0;
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let c = 0; c < C; c++) {
      const g = got[r * C + c]!;
      const w = want.get(r * C + c);
      if (g > got[r * C + a]!) a = c;
      if (w > want.get(r * C + b)) b = c;
      dot += g * w; gg += g * g; ww += w * w;
    }
    if (a === b) same++;
  }
  return { top1: same / rows, cosine: dot / Math.sqrt(gg * ww) };
}

const QUANTIZED = ['digits_mlp', 'digits_cnn', 'digits_vit'].flatMap((name) => [
  { name, recipe: 'w8a8', kernel: /\.int8/ },
  { name, recipe: 'w4a16', kernel: /\.dqw/ },
]);

describe.skipIf(!HAS_SHARED)('quantized models compiled for wasm match the reference and ONNX Runtime', () => {
  it.each(QUANTIZED)('$name $recipe', async ({ name, recipe, kernel }) => {
    const dir = join(CORPUS, name);
    const out = join(tmp, `${name}-${recipe}`);
    const r = await lutra('compile', join(dir, 'model.onnx'), '--recipe', recipe, '--calib', join(dir, 'calib'), '--samples', '64', '--batch', '8', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`(${recipe})`);
    expect(readdirSync(out)).toContain('model.qdq.onnx');
    const m = await loadArtifact(out);
    expect(m.manifest.quant).toEqual({ recipe, qdq: 'model.qdq.onnx' });
    expect(m.manifest.kernels.some((k) => kernel.test(k.summary))).toBe(true);
    const x = head(readDataDir(join(dir, 'eval'))[0]!.inputs[0]!, 32);
    const got = (await m.run({ [m.inputNames[0]!]: x.data as AnyArray }))[m.outputNames[0]!] as Float32Array;
    // the reference: the interpreter on the artifact's QDQ model (QuantizeLinear / DequantizeLinear semantics)
    const qdq = join(out, 'model.qdq.onnx');
    const ref = run(loadModel(qdq).graph, [x])[0]!;
    const vsRef = agreement(got, ref);
    expect(vsRef.top1).toBe(1);
    expect(vsRef.cosine).toBeGreaterThanOrEqual(0.9999);
    const ort = await openOrt(qdq);
    if (!ort) return; // onnxruntime-node is optional: the reference comparison above still ran
    try {
      const vsOrt = agreement(got, (await ort.run([x]))[0]!);
      expect(vsOrt.top1).toBe(1);
      expect(vsOrt.cosine).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await ort.release();
    }
  });
});

describe('lutra compile usage errors', () => {
  it('rejects an unavailable target', async () => {
    await userError(/target 'webgpu' is not available \(available targets: wasm\)/, 'compile', 'x.onnx', '--target', 'webgpu', '-o', join(tmp, 'x'));
  });
  it('--calib needs --recipe, and a static recipe needs --calib', async () => {
    await userError(/--calib and --samples go with --recipe/, 'compile', 'x.onnx', '--calib', 'c', '-o', join(tmp, 'x'));
  });
  it.skipIf(!HAS_SHARED)('a static-activation recipe without --calib asks for it, and no directory is left', async () => {
    await userError(/recipe 'w8a8' quantizes activations statically .* pass --calib <dir>/, 'compile', join(CORPUS, 'digits_mlp/model.onnx'), '--recipe', 'w8a8', '-o', join(tmp, 'nocalib'));
    expect(existsSync(join(tmp, 'nocalib'))).toBe(false);
  });
  it('an element type the backend lacks is one error line naming the value, and no directory is left', async () => {
    const model = join(tmp, 'f64.lir');
    writeFileSync(model, 'graph @f64(%x: f64[2,3]) -> f64[2,3] {\n  %y = onnx.Relu(%x) : f64[2,3]\n  return %y\n}\n');
    const out = join(tmp, 'f64');
    await userError(/the wasm backend cannot compile: element type f64\[2,3\] of 'x' is not supported/, 'compile', model, '-o', out);
    expect(existsSync(out)).toBe(false);
  });

  it('names a missing model file', async () => {
    await userError(/nope\.onnx: no such file/, 'compile', join(tmp, 'nope.onnx'), '-o', join(tmp, 'y'));
    expect(existsSync(join(tmp, 'y'))).toBe(false);
  });
});
