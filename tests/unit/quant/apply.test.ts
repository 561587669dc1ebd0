/**
 * quantizeModel: the rewrite into QDQ form, its interpreter semantics (bit-exact with the
 * compile-time quantizer), and its ONNX export (ONNX Runtime, unoptimized, runs it with the
 * interpreter's results).
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../src/frontends/onnx/export.js';
import { loadOnnx } from '../../../src/frontends/onnx/import.js';
import { readDataDir } from '../../../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, isQuant, tensorType } from '../../../src/ir/index.js';
import { verify } from '../../../src/ir/verifier.js';
import { run } from '../../../src/interp/interpreter.js';
import { toOrt } from '../../../src/ort.js';
import { quantizeModel } from '../../../src/quant/apply.js';
import { paramsFromRange, quantize, sqnr } from '../../../src/quant/quantizer.js';
import { loadRecipe, validateRecipe } from '../../../src/quant/recipe.js';
import { errorOf } from '../../helpers/errors.js';
import { CORPUS, HAS_SHARED } from '../../helpers/shared.js';

const corpus = (m: string) => loadOnnx(join(CORPUS, m, 'model.onnx'));

/** x[batch,4] → MatMul(w[4,3]) → Relu → MatMul(v[3,2]). */
function mlp(): Model {
  const g = new Graph('main');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 4]));
  const h = b.op('onnx.Relu', [b.op('onnx.MatMul', [x, b.constant('w', Tensor.from('f32', [4, 3], [0.5, -0.25, 1, 0.125, 0.75, -1, -0.5, 0, 0.25, 1.5, -0.125, 0.5]))], {}, { name: 'mm1' })]);
  b.output(b.op('onnx.MatMul', [h, b.constant('v', Tensor.from('f32', [3, 2], [1, -1, 0.5, 0.25, -0.75, 2]))], {}, { name: 'mm2' }));
  return new Model(g);
}

/** Max |a − b| / max |a|. */
function relErr(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let e = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) { e = Math.max(e, Math.abs(x[i]! - y[i]!)); m = Math.max(m, Math.abs(x[i]!)); }
  return e / m;
}

describe('quantizeModel on a small graph', () => {
  it('weight-only: quantized constants read through q.dequantize, float weights dropped', () => {
    const m = mlp();
    const r = quantizeModel(m, loadRecipe('w4a16'));
    verify(m.graph);
    expect(r.weights.map((w) => w.name)).toEqual(['w', 'v']);
    expect(r.activations).toHaveLength(0);
    expect(m.graph.constants.map((c) => c.name)).toEqual(['w_quantized', 'v_quantized']);
    expect(m.weights.has('w')).toBe(false);
    const qt = m.graph.constants[0]!.type.dtype;
    expect(isQuant(qt) && qt.storage === 'i4' && qt.group === 128 && qt.axis === 0).toBe(true);
    expect(m.graph.nodes.filter((n) => n.op === 'q.dequantize')).toHaveLength(2);
    expect(r.weights.every((w) => w.bytesAfter < w.bytesBefore)).toBe(true);
  });

  it('static activations need calibration data, and the error says so', () => {
    expect(errorOf(() => quantizeModel(mlp(), loadRecipe('w8a8'))).message).toMatch(/static activations, which need calibration data/);
  });

  it('q.quantize in the interpreter is bit-exact with the compile-time quantizer', () => {
    const g = new Graph('main');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [64]));
    const p = paramsFromRange(-1.3, 2.9, { format: 'uint8', symmetric: false, granularity: 'tensor' });
    const qt = { kind: 'quant' as const, storage: 'u8' as const, expressed: 'f32' as const, scale: p.scale[0]!, zero: p.zero[0]! };
    b.output(b.op('q.quantize', [x], {}, { types: [{ dtype: qt, shape: [64] }] }));
    const data = Tensor.from('f32', [64], Array.from({ length: 64 }, (_, i) => -1.5 + i * 0.07));
    const got = run(g, [data])[0]!;
    expect(Array.from(got.data as Uint8Array)).toEqual(Array.from(quantize(data, p).data as Uint8Array));
  });

  it('a narrowed q.quantize (uint6 in u8) clamps to its bits in the interpreter and in the ONNX export', async () => {
    const g = new Graph('main');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [64]));
    const p = paramsFromRange(-1.3, 2.9, { format: 'uint6', symmetric: false, granularity: 'tensor' });
    const qt = { kind: 'quant' as const, storage: 'u8' as const, expressed: 'f32' as const, scale: p.scale[0]!, zero: p.zero[0]!, bits: 6 };
    b.output(b.op('q.quantize', [x], {}, { types: [{ dtype: qt, shape: [64] }] }));
    // half of the values outside the calibrated range: they saturate at 0 and 63, not at 255
    const data = Tensor.from('f32', [64], Array.from({ length: 64 }, (_, i) => -3 + i * 0.15));
    const got = Array.from(run(g, [data])[0]!.data as Uint8Array);
    expect(got).toEqual(Array.from(quantize(data, p).data as Uint8Array));
    expect(Math.max(...got)).toBe(63);
    expect(Math.min(...got)).toBe(0);
    const s = await ort.InferenceSession.create(exportOnnx(new Model(g)), { graphOptimizationLevel: 'disabled' });
    const out = await s.run({ [s.inputNames[0]!]: toOrt(ort, data) });
    expect(Array.from(out[s.outputNames[0]!]!.data as Uint8Array)).toEqual(got);
  });

  it('int6 and int3 weights keep every code inside 6 / 3 bits, and the type says so', () => {
    const int6 = validateRecipe({ name: 'w6', defaults: { weights: { type: 'int6', granularity: 'channel', symmetric: true }, activations: null } }, 'w6.json');
    for (const [recipe, bits] of [[int6, 6], [loadRecipe('w3a16'), 3]] as const) {
      const m = mlp();
      expect(quantizeModel(m, recipe).weights).toHaveLength(2);
      for (const c of m.graph.constants) {
        const qt = c.type.dtype;
        expect(isQuant(qt) && qt.bits).toBe(bits);
        const codes = Array.from(m.weights.get(c.name)!.data as ArrayLike<number>, Number);
        expect(Math.min(...codes)).toBeGreaterThanOrEqual(-(2 ** (bits - 1)));
        expect(Math.max(...codes)).toBeLessThanOrEqual(2 ** (bits - 1) - 1);
        // the range is used: some code sits at an end of it
        expect(codes.some((q) => q === -(2 ** (bits - 1)) || q === 2 ** (bits - 1) - 1)).toBe(true);
      }
    }
  });
});

describe.skipIf(!HAS_SHARED)('quantizeModel on corpus models, exported to ONNX Runtime', () => {
  /**
   * Quantize; expose every quantized integer tensor (q.quantize, DynamicQuantizeLinear) as a
   * graph output; run in the interpreter and in ORT (unoptimized: the QDQ ops as written).
   */
  async function both(model: string, recipe: string) {
    const m = corpus(model);
    quantizeModel(m, loadRecipe(recipe), { calib: join(CORPUS, model, 'calib') });
    verify(m.graph);
    const codes = m.graph.nodes.filter((n) => n.op === 'q.quantize' || n.op === 'onnx.DynamicQuantizeLinear').map((n) => n.outputs[0]!);
    m.graph.outputs.push(...codes);
    const set = readDataDir(join(CORPUS, model, 'eval'))[0]!;
    const x = set.inputs[0]!;
    const ref = run(m.graph, [x]);
    const s = await ort.InferenceSession.create(exportOnnx(m), { graphOptimizationLevel: 'disabled' });
    const out = await s.run({ [s.inputNames[0]!]: toOrt(ort, x) });
    const ortOuts = s.outputNames.map((n) => out[n]!);
    // integer codes: count the elements that differ, and by how much
    let differ = 0;
    let total = 0;
    let maxStep = 0;
    codes.forEach((_, i) => {
      const a = ref[i + 1]!.data as ArrayLike<number>;
      const b = ortOuts[i + 1]!.data as ArrayLike<number>;
      total += a.length;
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) { differ++; maxStep = Math.max(maxStep, Math.abs(Number(a[k]) - Number(b[k]))); }
    });
    const o = ortOuts[0]!;
    return { codes: codes.length, differ, total, maxStep, ref: ref[0]!, ort: new Tensor('f32', [...o.dims].map(Number), o.data as Float32Array), float: set.outputs[0]! };
  }

  for (const recipe of ['w8a8', 'w4a16', 'w8a16', 'w8a8-dynamic']) {
    it(`digits_mlp ${recipe}: ORT runs the QDQ export with the interpreter's integers and results`, async () => {
      const r = await both('digits_mlp', recipe);
      expect(r.codes).toBe(recipe === 'w4a16' ? 0 : 3);
      // Every quantized integer agrees, except where float rounding upstream (matmul accumulation
      // order) moves a value across a rounding boundary: then by one step, rarely (int16 steps are
      // 256× finer than int8 ones, so they flip more often).
      expect(r.maxStep).toBeLessThanOrEqual(1);
      expect(r.differ).toBeLessThanOrEqual(r.total * (recipe === 'w8a16' ? 1e-2 : 1e-4));
      expect(relErr(r.ref, r.ort)).toBeLessThan(1e-3);
      // and quantization changed the result, but not much
      const e = relErr(r.float, r.ref);
      expect(e).toBeGreaterThan(0);
      expect(e).toBeLessThan(recipe === 'w4a16' ? 0.1 : 0.05);
    });
  }

  it('GPTQ takes Gemm transB weights (transposed in and out) and beats RTN on the output', () => {
    const recipe = (rounding: string) => validateRecipe({ name: `w4a16-${rounding}`, defaults: { weights: { type: 'int4', granularity: 'group', group: 128, symmetric: false, rounding }, activations: null } }, 'test');
    const set = readDataDir(join(CORPUS, 'digits_mlp', 'eval'))[0]!;
    const sqnrOf = (rounding: string) => {
      const m = corpus('digits_mlp');
      const r = quantizeModel(m, recipe(rounding), { calib: join(CORPUS, 'digits_mlp', 'calib') });
      expect(r.notes).toEqual([]);
      expect(r.weights.every((w) => w.rounding === rounding)).toBe(true);
      verify(m.graph);
      const out = run(m.graph, set.inputs)[0]!;
      return sqnr(set.outputs[0]!.data as Float32Array, out.data as Float32Array);
    };
    const [g, rtnDb] = [sqnrOf('gptq'), sqnrOf('rtn')];
    expect(g).toBeGreaterThan(rtnDb + 3);
  });

  it('digits_vit w8a8 quantizes the attention matmuls (both operands activations) too', async () => {
    const m = corpus('digits_vit');
    const r = quantizeModel(m, loadRecipe('w8a8'), { calib: join(CORPUS, 'digits_vit', 'calib') });
    const actMatmuls = m.graph.nodes.filter((n) => n.op === 'onnx.MatMul' && n.inputs.every((v) => v!.producer?.op === 'q.dequantize' && v!.producer.inputs[0]!.producer?.op === 'q.quantize'));
    expect(actMatmuls.length).toBe(8); // QKᵀ and attention·V in 4 blocks
    expect(r.activations.length).toBeGreaterThan(30);
  });
});
