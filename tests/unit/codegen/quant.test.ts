/**
 * Quantized WASM kernels against the reference interpreter's quantized semantics.
 *
 * "Bit-exact integer parts" means: the activation codes (QuantizeLinear) and the i32 accumulator
 * Σ (xq − zx)·(wq − zw) are exact, so the kernel's f32 output equals, bit for bit,
 * f32(f32(acc) · f32(sx·sw[n])) (+ bias) computed here from the interpreter's codes; against the
 * interpreter's own float output (f32 products of dequantized values summed in f64) it is
 * within 1e-5 relative. A q.quantize after the GEMM then gives the interpreter's codes except
 * where the interpreter's value sits within float rounding of a half-step tie.
 */
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../../src/codegen/index.js';
import type { Program } from '../../../src/codegen/program.js';
import { run } from '../../../src/interp/interpreter.js';
import { type Builder, Model, Tensor, tensorType, type Value } from '../../../src/ir/index.js';
import type { DType } from '../../../src/ir/dtype.js';
import type { QuantType } from '../../../src/ir/types.js';
import { uniform } from '../../helpers/random.js';
import { graphOf, rand, relError, runProgram } from './harness.js';

const f = Math.fround;

/** Seeded integers in [lo, hi]. */
const ints = (seed: number, n: number, lo: number, hi: number): number[] => uniform(seed, n, lo, hi + 1).map((x) => Math.min(hi, Math.floor(x)));

/** A quantized constant: storage codes with scale / zero in the weight store when per channel. */
function qconst(b: Builder, name: string, storage: DType, shape: number[], codes: number[], scale: number[], zero: number[], layout: { axis?: number; group?: number } = {}): Value {
  const v = b.constant(name, Tensor.from(storage, shape, codes));
  const perTensor = scale.length === 1 && layout.axis === undefined;
  if (!perTensor) {
    const pShape = layout.group ? shape.map((d, i) => (i === layout.axis ? Math.ceil(d / layout.group!) : d)) : [scale.length];
    b.graph.weights.set(`${name}.scale`, Tensor.from('f32', pShape, scale));
    b.graph.weights.set(`${name}.zero`, Tensor.from(storage, pShape, zero));
  }
  const qt: QuantType = {
    kind: 'quant', storage, expressed: 'f32',
    scale: perTensor ? f(scale[0]!) : `${name}.scale`, zero: perTensor ? zero[0]! : `${name}.zero`, ...layout,
  };
  v.type = tensorType(qt, shape);
  return b.op('q.dequantize', [v]);
}

/** q.dequantize(q.quantize(x)) with per-tensor parameters. */
function fakeQuant(b: Builder, x: Value, storage: DType, scale: number, zero: number): { codes: Value; dq: Value } {
  const qt: QuantType = { kind: 'quant', storage, expressed: 'f32', scale: f(scale), zero };
  const codes = b.node('q.quantize', [x], {}, 1, { types: [tensorType(qt, x.type.shape)] }).outputs[0]!;
  return { codes, dq: b.op('q.dequantize', [codes]) };
}

async function compileRun(g: ReturnType<typeof graphOf>, inputs: Tensor[]): Promise<{ got: Tensor[]; program: Program }> {
  const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} }, { optimize: false });
  return { got: await runProgram(program, wasm.binary, inputs), program };
}

/** The interpreter's outputs and the value of `v` it computed. */
function reference(g: ReturnType<typeof graphOf>, inputs: Tensor[], v: Value): { outs: Tensor[]; at: Tensor } {
  let at: Tensor | undefined;
  const outs = run(g, inputs, { onNode: (node, o) => { node.outputs.forEach((x, i) => { if (x === v) at = o[i]; }); } });
  return { outs, at: at! };
}

interface LinearCase {
  readonly name: string;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly batch?: number;
  readonly act: 'u8' | 'i8';
  readonly perChannel: boolean;
  readonly gemm?: boolean;
}

const LINEAR: LinearCase[] = [
  { name: 'MatMul K < 8 (scalar tail only), u8, per tensor', M: 3, K: 5, N: 7, act: 'u8', perChannel: false },
  { name: 'MatMul odd K and N, u8, per channel', M: 5, K: 19, N: 13, act: 'u8', perChannel: true },
  { name: 'MatMul batched A, i8, per channel', M: 3, K: 17, N: 6, batch: 2, act: 'i8', perChannel: true },
  { name: 'Gemm transB + bias, u8, per channel', M: 6, K: 40, N: 9, act: 'u8', perChannel: true, gemm: true },
  { name: 'Gemm transB + bias, i8, per tensor', M: 1, K: 24, N: 11, act: 'i8', perChannel: false, gemm: true },
];

describe('int8 × int8 GEMM kernels', () => {
  it.each(LINEAR)('$name', async (c) => {
    const sx = 0.0173;
    const zx = c.act === 'u8' ? 131 : -3;
    const wShape = c.gemm ? [c.N, c.K] : [c.K, c.N];
    const wq = ints(11, c.K * c.N, -127, 127);
    const sw = c.perChannel ? uniform(12, c.N, 0.002, 0.02) : [0.011];
    const bias = uniform(13, c.N, -0.5, 0.5);
    const xShape = [...(c.batch ? [c.batch] : []), c.M, c.K];
    const x = rand(14, xShape);
    let xCodes: Value | undefined;
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f32', xShape));
      const fq = fakeQuant(b, xv, c.act, sx, zx);
      xCodes = fq.codes;
      const w = qconst(b, 'w', 'i8', wShape, wq, sw, new Array(sw.length).fill(0), c.perChannel ? { axis: c.gemm ? 0 : 1 } : {});
      b.output(c.gemm
        ? b.op('onnx.Gemm', [fq.dq, w, b.constant('bias', Tensor.from('f32', [c.N], bias))], { transB: 1 })
        : b.op('onnx.MatMul', [fq.dq, w]));
    });
    const { got, program } = await compileRun(g, [x]);
    expect(program.dispatches.some((d) => /\.int8/.test(d.kernel.summary))).toBe(true);
    const ref = reference(g, [x], xCodes!);
    expect(relError(got, ref.outs)).toBeLessThan(1e-5);
    // the integer part, exactly: acc from the interpreter's codes, then the kernel's f32 epilogue
    const rows = (c.batch ?? 1) * c.M;
    const y = got[0]!.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < c.N; n++) {
        let acc = 0;
        for (let k = 0; k < c.K; k++) acc += (ref.at.get(r * c.K + k) - zx) * wq[c.gemm ? n * c.K + k : k * c.N + n]!;
        let want = f(f(acc) * f(f(sx) * f(sw[c.perChannel ? n : 0]!)));
        if (c.gemm) want = f(want + f(bias[n]!));
        expect(y[r * c.N + n], `row ${r} col ${n}`).toBe(want);
      }
    }
  });

  it('requantizes in the epilogue: the next q.quantize stores codes the interpreter agrees with off ties', async () => {
    const [M, K, N] = [7, 29, 10];
    const wq = ints(21, K * N, -127, 127);
    const sw = uniform(22, N, 0.004, 0.02);
    const [sy, zy] = [0.013, 120];
    const x = rand(23, [M, K]);
    let pre: Value | undefined;
    let yCodes: Value | undefined;
    const g = graphOf((b) => {
      const fq = fakeQuant(b, b.input('x', tensorType('f32', [M, K])), 'u8', 0.0161, 128);
      pre = b.op('onnx.Relu', [b.op('onnx.MatMul', [fq.dq, qconst(b, 'w', 'i8', [K, N], wq, sw, new Array(N).fill(0), { axis: 1 })])]);
      const out = fakeQuant(b, pre, 'u8', sy, zy);
      yCodes = out.codes;
      b.output(out.dq);
    });
    const { got, program } = await compileRun(g, [x]);
    // one quantize kernel for x, one GEMM whose epilogue requantizes y
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Quantize', 'MatMul.int8+Relu+Quantize+Dequantize']);
    const ref = reference(g, [x], pre!);
    const refCodes = reference(g, [x], yCodes!).at;
    const out = got[0]!.data as Float32Array;
    let ties = 0;
    for (let i = 0; i < M * N; i++) {
      const code = Math.round(out[i]! / f(sy)) + zy;
      if (code === refCodes.get(i)) continue;
      const t = ref.at.get(i) / f(sy);
      expect(Math.abs(t - Math.floor(t) - 0.5), `element ${i}`).toBeLessThan(1e-4);
      ties++;
    }
    expect(ties).toBeLessThanOrEqual(1);
  });
});

describe('int8 convolutions (im2row + integer GEMM)', () => {
  it.each([
    { name: '3×3 pad 1 stride 2, per channel, u8', C: 3, OC: 5, G: 1, k: 3, pads: [1, 1, 1, 1], strides: [2, 2], act: 'u8' as const },
    { name: '3×3 asymmetric pads stride 1 (interior and border runs), per channel, u8', C: 3, OC: 4, G: 1, k: 3, pads: [2, 0, 0, 1], strides: [1, 1], act: 'u8' as const },
    { name: '5×5 pad 2, window wider than the interior, per channel, i8', C: 2, OC: 3, G: 1, k: 5, pads: [2, 2, 2, 2], strides: [1, 1], act: 'i8' as const },
    { name: '1×1, 2 groups, per tensor, i8', C: 4, OC: 6, G: 2, k: 1, pads: [0, 0, 0, 0], strides: [1, 1], act: 'i8' as const },
    // window rows copied as one piece of 4 + 2 + 1 bytes, and of 8 + 1
    { name: '7×7 pad 1 on 12×13, interior rows copied whole, u8', C: 2, OC: 3, G: 1, k: 7, pads: [1, 1, 1, 1], strides: [1, 1], act: 'u8' as const, H: 12, W: 13 },
    { name: '9×9 stride 2 on 12×13, interior rows copied whole, i8', C: 2, OC: 3, G: 1, k: 9, pads: [0, 2, 0, 2], strides: [2, 2], act: 'i8' as const, H: 12, W: 13 },
  ])('$name', async (c) => {
    const [H, W] = [c.H ?? 7, c.W ?? 6];
    const Cg = c.C / c.G;
    const wShape = [c.OC, Cg, c.k, c.k];
    const wq = ints(31, c.OC * Cg * c.k * c.k, -127, 127);
    const perChannel = c.G === 1;
    const sw = perChannel ? uniform(32, c.OC, 0.003, 0.03) : [0.01];
    const bias = uniform(33, c.OC, -0.3, 0.3);
    const [sx, zx] = [0.021, c.act === 'u8' ? 100 : 5];
    const x = rand(34, [1, c.C, H, W]);
    const attrs = { kernel_shape: [c.k, c.k], pads: c.pads, strides: c.strides, group: c.G };
    let xCodes: Value | undefined;
    const g = graphOf((b) => {
      const fq = fakeQuant(b, b.input('x', tensorType('f32', [1, c.C, H, W])), c.act, sx, zx);
      xCodes = fq.codes;
      const w = qconst(b, 'w', 'i8', wShape, wq, sw, new Array(sw.length).fill(0), perChannel ? { axis: 0 } : {});
      b.output(b.op('onnx.Conv', [fq.dq, w, b.constant('b', Tensor.from('f32', [c.OC], bias))], attrs));
    });
    const { got, program } = await compileRun(g, [x]);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Quantize', 'Im2Row.int8', 'Conv.int8']);
    const ref = reference(g, [x], xCodes!);
    expect(relError(got, ref.outs)).toBeLessThan(1e-5);
    // exact accumulators: the interpreter's float Conv on the centered codes (small integers, exact in f64)
    const centered = Tensor.from('f32', [1, c.C, H, W], ref.at.toNumbers().map((q) => q - zx));
    const acc = run(graphOf((b) => {
      b.output(b.op('onnx.Conv', [b.input('x', tensorType('f32', [1, c.C, H, W])), b.constant('w', Tensor.from('f32', wShape, wq))], attrs));
    }), [centered])[0]!;
    const per = acc.size / c.OC;
    const y = got[0]!.data as Float32Array;
    for (let i = 0; i < acc.size; i++) {
      const oc = Math.floor(i / per);
      expect(y[i], `element ${i}`).toBe(f(f(f(acc.get(i)) * f(f(sx) * f(sw[perChannel ? oc : 0]!))) + f(bias[oc]!)));
    }
  });
});

describe('weight-only int4 GEMMs (w4a16)', () => {
  it.each([
    { name: 'MatMul i4, groups of 16 along K = 37 (short last group)', gemm: false, storage: 'i4' as const, K: 37, N: 9, group: 16 },
    { name: 'Gemm transB u4 with zero points, groups of 8 along K = 21', gemm: true, storage: 'u4' as const, K: 21, N: 5, group: 8 },
    // M ≥ 4: B is dequantized once per panel of 8 columns into scratch and read by every m tile;
    // the columns past the last whole panel (and rows past the last tile of 4) take the direct path
    { name: 'MatMul i4, 6 rows, N = 9 (one panel + 1 column)', gemm: false, storage: 'i4' as const, K: 37, N: 9, group: 16, M: 6 },
    { name: 'Gemm transB u4, 5 rows, N = 21 (two panels + 5 columns)', gemm: true, storage: 'u4' as const, K: 21, N: 21, group: 8, M: 5 },
  ])('$name', async (c) => {
    const M = c.M ?? 3;
    const [lo, hi] = c.storage === 'i4' ? [-8, 7] : [0, 15];
    const groups = Math.ceil(c.K / c.group);
    const wShape = c.gemm ? [c.N, c.K] : [c.K, c.N];
    const axis = c.gemm ? 1 : 0;
    const codes = ints(41, c.K * c.N, lo, hi);
    const scale = uniform(42, groups * c.N, 0.01, 0.05);
    const zero = c.storage === 'u4' ? ints(43, groups * c.N, 6, 9) : new Array(groups * c.N).fill(0);
    const x = rand(44, [M, c.K]);
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f32', [M, c.K]));
      const w = qconst(b, 'w', c.storage, wShape, codes, scale, zero, { axis, group: c.group });
      b.output(c.gemm ? b.op('onnx.Gemm', [xv, w], { transB: 1 }) : b.op('onnx.MatMul', [xv, w]));
    });
    const { got, program } = await compileRun(g, [x]);
    expect(relError(got, run(g, [x]))).toBeLessThan(1e-5);
    // the weight stays packed: one 4-bit buffer, no f32 copy of it
    const weights = program.buffers.filter((b) => b.kind === 'weight');
    expect(weights.filter((b) => b.elem === c.storage).map((b) => b.bytes)).toEqual([Math.ceil((c.K * c.N) / 2)]);
    expect(weights.some((b) => b.elem === 'f32' && b.size === c.K * c.N)).toBe(false);
    const panel = program.dispatches[0]!.kernel.params.some((p) => p.elem === 'f32' && p.size === c.K * 8 && p.access === 'readwrite');
    expect(panel).toBe(M >= 4 && c.N >= 8);
  });
});

describe('weight-only int4 convolution', () => {
  it.each([
    { name: '6 channels (one tile of 4 + 2), 3×3 pad 1, i4 per channel', OC: 6, storage: 'i4' as const },
    { name: '3 channels (no tile), u4 with zero points', OC: 3, storage: 'u4' as const },
  ])('$name', async (c) => {
    const [C, H, W, k] = [3, 5, 7, 3];
    const [lo, hi] = c.storage === 'i4' ? [-8, 7] : [0, 15];
    const codes = ints(61, c.OC * C * k * k, lo, hi);
    const scale = uniform(62, c.OC, 0.01, 0.05);
    const zero = c.storage === 'u4' ? ints(63, c.OC, 6, 9) : new Array(c.OC).fill(0);
    const x = rand(64, [1, C, H, W]);
    const g = graphOf((b) => {
      const w = qconst(b, 'w', c.storage, [c.OC, C, k, k], codes, scale, zero, { axis: 0 });
      b.output(b.op('onnx.Conv', [b.input('x', tensorType('f32', [1, C, H, W])), w], { kernel_shape: [k, k], pads: [1, 1, 1, 1] }));
    });
    const { got, program } = await compileRun(g, [x]);
    expect(relError(got, run(g, [x]))).toBeLessThan(1e-5);
    // with a tile of 4 output channels, their weight rows are dequantized once into a [4, K] panel
    const conv = program.dispatches.find((d) => d.kernel.summary.startsWith('Conv'))!;
    const panel = conv.kernel.params.some((p) => p.elem === 'f32' && p.size === 4 * C * k * k && p.access === 'readwrite');
    expect(panel).toBe(c.OC >= 4);
  });
});

describe('fake-quant pairs', () => {
  it('q.dequantize(q.quantize(x)) before Softmax is fused and bit-exact, rounding ties to even', async () => {
    const s = 0.125;
    // exact ties (k + 0.5)·s, saturating values, and seeded ones
    const vals = [0.0625, 0.1875, -0.0625, -0.1875, 40, -40, ...rand(51, [10]).toNumbers()];
    const x = Tensor.from('f32', [2, 8], vals);
    let dq: Value | undefined;
    const g = graphOf((b) => {
      dq = fakeQuant(b, b.input('x', tensorType('f32', [2, 8])), 'i8', s, -2).dq;
      b.output(dq, b.op('onnx.Softmax', [dq], { axis: -1 }));
    });
    const { got, program } = await compileRun(g, [x]);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Quantize+Dequantize', 'Softmax']);
    const ref = run(g, [x]);
    expect(Array.from(got[0]!.data as Float32Array)).toEqual(Array.from(ref[0]!.data as Float32Array));
    expect(relError([got[1]!], [ref[1]!])).toBeLessThan(1e-5);
  });
});
