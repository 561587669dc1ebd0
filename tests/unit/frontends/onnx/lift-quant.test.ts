/**
 * Import lifts quantized ONNX into Lutra's quantized IR (src/frontends/onnx/lift-quant.ts): what
 * Lutra's own quantizer writes comes back as the same IR (ops, names, quantized types, weight
 * bits, interpreter outputs); QDQ pairs and quantized constants lift exactly; QOperator and
 * dynamic integer forms lift to the float path within one quantization step.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../../src/frontends/onnx/export.js';
import { type ImportOptions, importOnnx, loadOnnx } from '../../../../src/frontends/onnx/import.js';
import { liftQuant } from '../../../../src/frontends/onnx/lift-quant.js';
import type { OnnxTypes } from '../../../../src/frontends/onnx/proto.js';
import { tensorToProto } from '../../../../src/frontends/onnx/tensor-proto.js';
import type { DType } from '../../../../src/ir/dtype.js';
import { readDataDir } from '../../../../src/frontends/onnx/testdata.js';
import { run } from '../../../../src/interp/interpreter.js';
import type { Model } from '../../../../src/ir/graph.js';
import { Tensor } from '../../../../src/ir/tensor.js';
import { printGraph } from '../../../../src/ir/text/printer.js';
import { formatType, isQuant } from '../../../../src/ir/types.js';
import { quantizeModel } from '../../../../src/quant/apply.js';
import { loadRecipe } from '../../../../src/quant/recipe.js';
import { CORPUS, HAS_SHARED } from '../../../helpers/shared.js';
import { uniform } from '../../../helpers/random.js';
import { modelBytes, node, vi } from './protos.js';

/** Weight-store entries a model's quantized constants use: their storage integers and parameters. */
function quantizedWeights(m: Model): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const v of m.graph.constants) {
    if (!isQuant(v.type.dtype)) continue;
    for (const k of [v.weight!, v.type.dtype.scale, v.type.dtype.zero]) if (typeof k === 'string') out.set(k, m.weights.get(k)!);
  }
  return out;
}

const bits = (t: Tensor) => ({ dtype: t.dtype, shape: [...t.shape], data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') });

/** The first `n` samples of a batch (the interpreter takes ~20 s for digits_vit's whole eval set). */
const head = (t: Tensor, n: number) => new Tensor(t.dtype, [Math.min(n, t.shape[0]!), ...t.shape.slice(1)], t.data.slice(0, Math.min(n, t.shape[0]!) * (t.size / t.shape[0]!)));

const MODELS = ['digits_mlp', 'digits_cnn', 'digits_vit'];
/** Eval samples the interpreter compares on. */
const SAMPLES = 32;
const RECIPES = ['w8a8', 'w4a16', 'w8a16', 'w8a8-dynamic', 'fp8'];

describe.skipIf(!HAS_SHARED)('Lutra-quantized corpus models survive export → import unchanged', () => {
  it.each(MODELS.flatMap((m) => RECIPES.map((r) => [m, r] as const)))('%s %s', (name, recipe) => {
    const dir = join(CORPUS, name);
    const model = loadOnnx(join(dir, 'model.onnx'));
    quantizeModel(model, loadRecipe(recipe), { calib: join(dir, 'calib'), maxSamples: 8 });
    const back = importOnnx(exportOnnx(model));
    expect(printGraph(back.graph)).toBe(printGraph(model.graph));
    const [want, got] = [quantizedWeights(model), quantizedWeights(back)];
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [k, t] of want) expect(bits(got.get(k)!), k).toEqual(bits(t));
    const [set] = readDataDir(join(dir, 'eval'));
    const inputs = set!.inputs.map((t) => head(t, SAMPLES));
    const [a, b] = [run(model.graph, inputs), run(back.graph, inputs)];
    expect(b.map(bits)).toEqual(a.map(bits));
  }, 120_000);
});

// ---- small models ------------------------------------------------------------------------------

const F32 = 1;
const F16 = 10;

/** An initializer of `dtype` (values rounded / wrapped to it). */
const init = (name: string, dtype: DType, dims: number[], values: number[]) => tensorToProto(Tensor.from(dtype, dims, values), name);
const int = (name: string, i: number): OnnxTypes.IAttributeProto => ({ name, type: 2, i });
const ints = (name: string, v: number[]): OnnxTypes.IAttributeProto => ({ name, type: 7, ints: v });

/** Seeded integers in [lo, hi]. */
const integers = (seed: number, n: number, lo: number, hi: number) => uniform(seed, n, lo, hi + 1).map(Math.floor);

type Graph = OnnxTypes.IGraphProto;
const bytes = (g: Graph, opset = 21) => modelBytes(g, opset);
const lifted = (g: Graph, opts: ImportOptions = {}) => importOnnx(bytes(g), opts);
const ops = (m: Model) => m.graph.nodes.map((n) => n.op);
/** The printed type of value %name. */
const typeText = (m: Model, name: string) => formatType(typeOf(m, name));
const typeOf = (m: Model, name: string) => {
  const v = [...m.graph.constants, ...m.graph.nodes.flatMap((n) => n.outputs)].find((x) => x.name === name);
  if (!v) throw new Error(`no value %${name}`);
  return v.type;
};

/** The trace lines liftQuant writes for a model imported without lifting. */
function trace(g: Graph): string[] {
  const lines: string[] = [];
  liftQuant(lifted(g, { liftQuant: 'none' }).graph, 'all', (l) => lines.push(l));
  return lines;
}

/** Outputs of the model imported with `mode` and without lifting, on `inputs`. */
function outputs(g: Graph, inputs: Tensor[], mode: ImportOptions['liftQuant'] = 'all'): { after: Tensor[]; before: Tensor[] } {
  return { after: run(lifted(g, { liftQuant: mode }).graph, inputs), before: run(lifted(g, { liftQuant: 'none' }).graph, inputs) };
}

/** Q(x) → DQ → MatMul with a per-column i8 weight: Lutra's w8a8 shape. */
const qdqMatMul: Graph = {
  node: [
    node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
    node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd']),
    node('DequantizeLinear', ['W', 'ws', 'wz'], ['wd'], { attribute: [int('axis', 1)] }),
    node('MatMul', ['xd', 'wd'], ['y']),
  ],
  input: [vi('x', [2, 4])],
  output: [vi('y', [2, 3])],
  initializer: [
    init('xs', 'f32', [], [0.05]), init('xz', 'u8', [], [128]),
    init('W', 'i8', [4, 3], integers(1, 12, -128, 127)), init('ws', 'f32', [3], [0.01, 0.02, 0.005]), init('wz', 'i8', [3], [0, 1, -2]),
  ],
};

describe('QDQ lifts exactly into quantized types', () => {
  it('turns weights into quantized constants and Q → DQ pairs into q.quantize → q.dequantize', () => {
    const m = lifted(qdqMatMul);
    expect(ops(m)).toEqual(['q.quantize', 'q.dequantize', 'q.dequantize', 'onnx.MatMul']);
    expect(typeText(m, 'W')).toBe('q<i8, @W.scale, @W.zero, axis=1>[4,3]');
    expect(printGraph(m.graph)).toContain('%xq = q.quantize(%x) : q<u8, 0.05000000074505806, 128>[2,4]');
    expect(printGraph(m.graph)).toContain('%xd = q.dequantize(%xq) : f32[2,4]');
    expect(m.graph.constants.map((c) => c.name)).toEqual(['W']);
    expect(m.weights.get('W.scale')!.dtype).toBe('f32');
    expect(m.weights.get('W.scale')!.toNumbers()).toEqual(Tensor.from('f32', [3], [0.01, 0.02, 0.005]).toNumbers());
    expect(m.weights.get('W.zero')!.dtype).toBe('i8');
    expect(m.weights.get('W.zero')!.toNumbers()).toEqual([0, 1, -2]);
  });

  it('computes bit for bit what the ONNX ops compute, saturation included', () => {
    const x = Tensor.from('f32', [2, 4], uniform(2, 8, -8, 8));
    const { after, before } = outputs(qdqMatMul, [x]);
    expect(after.map(bits)).toEqual(before.map(bits));
  });

  it('lifts Q → Clip(0, 63) → DQ to a 6-bit q.quantize, and keeps a Clip that is no narrowed range', () => {
    const clipped = (lo: number, hi: number): Graph => ({
      node: [
        node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
        node('Clip', ['xq', 'lo', 'hi'], ['xc']),
        node('DequantizeLinear', ['xc', 'xs', 'xz'], ['y']),
      ],
      input: [vi('x', [2, 4])],
      output: [vi('y', [2, 4])],
      initializer: [init('xs', 'f32', [], [0.05]), init('xz', 'u8', [], [31]), init('lo', 'u8', [], [lo]), init('hi', 'u8', [], [hi])],
    });
    const m = lifted(clipped(0, 63));
    expect(ops(m)).toEqual(['q.quantize', 'q.dequantize']);
    expect(printGraph(m.graph)).toContain('%xc = q.quantize(%x) : q<u8, 0.05000000074505806, 31, bits=6>[2,4]');
    expect(m.graph.constants).toHaveLength(0);
    const x = Tensor.from('f32', [2, 4], uniform(3, 8, -4, 4));
    const { after, before } = outputs(clipped(0, 63), [x]);
    expect(after.map(bits)).toEqual(before.map(bits));
    // [1, 63] is no b-bit range: the pair and the Clip stay ONNX ops
    expect(ops(lifted(clipped(1, 63)))).toEqual(['onnx.QuantizeLinear', 'onnx.Clip', 'onnx.DequantizeLinear']);
  });

  it('lifts blocked, int16, float8 and f16-expressed parameters', () => {
    const g: Graph = {
      node: [
        node('DequantizeLinear', ['W', 'ws', 'wz'], ['wd'], { attribute: [int('axis', 1), int('block_size', 4)] }),
        node('DequantizeLinear', ['V', 'vs'], ['vd']),
        node('QuantizeLinear', ['x', 'fs', 'fz'], ['xf8']),
        node('DequantizeLinear', ['xf8', 'fs', 'fz'], ['xd']),
        node('MatMul', ['xd', 'wd'], ['y0']),
        node('MatMul', ['y0', 'vd'], ['y']),
        node('Cast', ['x'], ['h'], { attribute: [int('to', F16)] }),
        node('QuantizeLinear', ['h', 'hs', 'hz'], ['hq']),
        node('DequantizeLinear', ['hq', 'hs', 'hz'], ['hd']),
      ],
      input: [vi('x', [3, 4])],
      output: [vi('y', [3, 2]), vi('hd', [3, 4], F16)],
      initializer: [
        init('W', 'i8', [4, 6], integers(3, 24, -128, 127)), init('ws', 'f32', [4, 2], uniform(4, 8, 0.001, 0.01)), init('wz', 'i8', [4, 2], integers(5, 8, -3, 3)),
        init('V', 'i16', [6, 2], integers(6, 12, -30000, 30000)), init('vs', 'f32', [], [1e-4]),
        init('fs', 'f32', [], [0.02]), init('fz', 'f8e4m3', [], [0]),
        init('hs', 'f16', [], [0.0625]), init('hz', 'u8', [], [7]),
      ],
    };
    const m = lifted(g, {});
    expect(ops(m)).toEqual(['q.dequantize', 'q.dequantize', 'q.quantize', 'q.dequantize', 'onnx.MatMul', 'onnx.MatMul', 'onnx.Cast', 'q.quantize', 'q.dequantize']);
    const text = printGraph(m.graph);
    expect(text).toContain('%W = const @W : q<i8, @W.scale, @W.zero, axis=1, group=4>[4,6]');
    expect(typeText(m, 'V')).toBe('q<i16, 0.00009999999747378752, 0>[6,2]');
    expect(text).toContain('%xf8 = q.quantize(%x) : q<f8e4m3, 0.019999999552965164, 0>[3,4]');
    expect(text).toContain('%hq = q.quantize(%h) : q<u8, 0.0625, 7, expressed=f16>[3,4]');
    const x = Tensor.from('f32', [3, 4], uniform(7, 12, -10, 10));
    const { after, before } = outputs(g, [x]);
    expect(after.map(bits)).toEqual(before.map(bits));
  });

  it('gives a quantized value read by two DequantizeLinear nodes one q.quantize', () => {
    const g: Graph = {
      node: [
        node('QuantizeLinear', ['x', 's', 'z'], ['xq']),
        node('DequantizeLinear', ['xq', 's', 'z'], ['a']),
        node('DequantizeLinear', ['xq', 's2', 'z2'], ['b']),
        node('Add', ['a', 'b'], ['y']),
      ],
      input: [vi('x', [4])],
      output: [vi('y', [4])],
      initializer: [init('s', 'f32', [], [0.1]), init('z', 'i8', [], [3]), init('s2', 'f32', [1], [0.1]), init('z2', 'i8', [1], [3])],
    };
    const m = lifted(g);
    expect(ops(m)).toEqual(['q.quantize', 'q.dequantize', 'q.dequantize', 'onnx.Add']);
    expect(m.graph.constants).toEqual([]);
  });
});

describe('what has no quantized-type form stays as ONNX ops', () => {
  /** Q(x, s, z) → DQ(·, s2, z2) with the given changes. */
  const pair = (opts: { qAttrs?: OnnxTypes.IAttributeProto[]; s2?: number; scaleInput?: boolean; qOutput?: boolean; dqAttrs?: OnnxTypes.IAttributeProto[] } = {}): Graph => ({
    node: [
      node('QuantizeLinear', ['x', 's', 'z'], ['xq'], { attribute: opts.qAttrs }),
      node('DequantizeLinear', ['xq', 's2', 'z'], ['y'], { attribute: opts.dqAttrs }),
    ],
    input: [vi('x', [4]), ...(opts.scaleInput ? [vi('s', [])] : [])],
    output: [vi('y', [4]), ...(opts.qOutput ? [vi('xq', [4], 2)] : [])],
    initializer: [...(opts.scaleInput ? [] : [init('s', 'f32', [], [0.1])]), init('s2', 'f32', [], [opts.s2 ?? 0.1]), init('z', 'u8', [], [128])],
  });
  const kept = ['onnx.QuantizeLinear', 'onnx.DequantizeLinear'];

  it('lifts the plain pair (the control case)', () => {
    expect(ops(lifted(pair()))).toEqual(['q.quantize', 'q.dequantize']);
  });

  it.each([
    ['a scale that is a graph input', pair({ scaleInput: true }), 'the scale is not a constant'],
    ['DequantizeLinear parameters other than the QuantizeLinear ones', pair({ s2: 0.2 }), 'dequantizes %xq with other parameters'],
    ['saturate=0', pair({ qAttrs: [int('saturate', 0)] }), 'saturate=0'],
    ['precision set', pair({ qAttrs: [int('precision', F32)] }), 'precision is set'],
    ['a quantized graph result', pair({ qOutput: true }), '%xq is a graph result'],
  ])('keeps a pair with %s', (_, g, reason) => {
    expect(ops(lifted(g, {}))).toEqual(kept);
    expect(trace(g).join('\n')).toContain(reason);
  });

  it('keeps DequantizeLinear with an output_dtype other than the scale\'s', () => {
    const g: Graph = {
      node: [node('DequantizeLinear', ['W', 's'], ['y'], { attribute: [int('output_dtype', F16)] })],
      input: [], output: [vi('y', [2], F16)],
      initializer: [init('W', 'i8', [2], [1, -1]), init('s', 'f32', [], [0.5])],
    };
    expect(ops(lifted(g, {}))).toEqual(['onnx.DequantizeLinear']);
    expect(trace(g).join('\n')).toContain('output_dtype differs from the scale dtype');
  });

  it('keeps a quantized constant that another op also reads, and i32 constants', () => {
    const g: Graph = {
      node: [
        node('DequantizeLinear', ['W', 's'], ['a']),
        node('Cast', ['W'], ['b'], { attribute: [int('to', F32)] }),
        node('DequantizeLinear', ['B', 's'], ['c']),
        node('Sum', ['a', 'b', 'c'], ['y']),
      ],
      input: [], output: [vi('y', [2])],
      initializer: [init('W', 'i8', [2], [1, -1]), init('B', 'i32', [2], [100000, -7]), init('s', 'f32', [], [0.5])],
    };
    expect(ops(lifted(g, {}))).toEqual(['onnx.DequantizeLinear', 'onnx.Cast', 'onnx.DequantizeLinear', 'onnx.Sum']);
    const lines = trace(g).join('\n');
    expect(lines).toContain('%W is also read by onnx.Cast');
    expect(lines).toContain('i32 is not a quantized storage type');
  });
});

// ---- QOperator and dynamic integer forms ---------------------------------------------------------

/** Largest |a − b| in units of `step`, and how many elements differ. */
function steps(a: Tensor, b: Tensor, step: number): { max: number; differing: number } {
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.get(i) - b.get(i));
    if (d !== 0) differing++;
    max = Math.max(max, d / step);
  }
  return { max, differing };
}

const Y_SCALE = 0.05;

/** Q(x) → QLinearMatMul(·, W per column) → DQ: ORT's QOperator MatMul. */
const qlinearMatMul: Graph = {
  node: [
    node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
    node('QLinearMatMul', ['xq', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz'], ['yq']),
    node('DequantizeLinear', ['yq', 'ys', 'yz'], ['y']),
  ],
  input: [vi('x', [16, 32])],
  output: [vi('y', [16, 8])],
  initializer: [
    init('xs', 'f32', [], [0.02]), init('xz', 'u8', [], [120]),
    init('W', 'i8', [32, 8], integers(10, 256, -127, 127)), init('ws', 'f32', [8], uniform(11, 8, 0.001, 0.004)), init('wz', 'i8', [8], new Array(8).fill(0)),
    init('ys', 'f32', [], [Y_SCALE]), init('yz', 'u8', [], [128]),
  ],
};

/** Q(x) → QLinearConv(·, W per output channel, i32 bias, pads 1) → DQ: ORT's QOperator Conv. */
const qlinearConv: Graph = {
  node: [
    node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
    node('QLinearConv', ['xq', 'xs', 'xz', 'W', 'ws', 'wz', 'ys', 'yz', 'B'], ['yq'], { attribute: [ints('pads', [1, 1, 1, 1])] }),
    node('DequantizeLinear', ['yq', 'ys', 'yz'], ['y']),
  ],
  input: [vi('x', [2, 3, 8, 8])],
  output: [vi('y', [2, 4, 8, 8])],
  initializer: [
    init('xs', 'f32', [], [0.02]), init('xz', 'u8', [], [120]),
    init('W', 'i8', [4, 3, 3, 3], integers(20, 108, -127, 127)), init('ws', 'f32', [4], uniform(21, 4, 0.001, 0.004)), init('wz', 'i8', [4], [0, 0, 0, 0]),
    init('B', 'i32', [4], integers(22, 4, -2000, 2000)), init('ys', 'f32', [], [Y_SCALE]), init('yz', 'u8', [], [128]),
  ],
};

describe('QOperator ops lift to the float path within one quantization step', () => {
  it('QLinearMatMul → q.dequantize, MatMul, q.quantize', () => {
    const m = lifted(qlinearMatMul);
    expect(ops(m)).toEqual(['q.quantize', 'q.dequantize', 'q.dequantize', 'onnx.MatMul', 'q.quantize', 'q.dequantize']);
    expect(printGraph(m.graph)).toContain('%W = const @W : q<i8, @W.scale, @W.zero, axis=1>[32,8]');
    expect(printGraph(m.graph)).toContain('%yq = q.quantize(%yq_float) : q<u8, 0.05000000074505806, 128>[16,8]');
    const x = Tensor.from('f32', [16, 32], uniform(12, 512, -2, 2));
    const { after, before } = outputs(qlinearMatMul, [x]);
    expect(steps(after[0]!, before[0]!, Math.fround(Y_SCALE)).max).toBeLessThanOrEqual(1);
  });

  it('QLinearConv → q.dequantize, Conv with a float bias, q.quantize', () => {
    const m = lifted(qlinearConv);
    expect(ops(m)).toEqual(['q.quantize', 'q.dequantize', 'q.dequantize', 'onnx.Conv', 'q.quantize', 'q.dequantize']);
    const text = printGraph(m.graph);
    expect(text).toContain('%W = const @W : q<i8, @W.scale, @W.zero, axis=0>[4,3,3,3]');
    expect(text).toMatch(/%yq_float = onnx\.Conv\(%xd?\w*, %W_dequantized, %B_float\) \{pads = \[1, 1, 1, 1\]\}/);
    const bias = m.graph.constValue(m.graph.constants.find((c) => c.name === 'B_float')!)!;
    const ws = uniform(21, 4, 0.001, 0.004).map(Math.fround);
    expect(bias.toNumbers()).toEqual(integers(22, 4, -2000, 2000).map((b, i) => Math.fround(b * Math.fround(Math.fround(0.02) * ws[i]!))));
    const x = Tensor.from('f32', [2, 3, 8, 8], uniform(23, 384, -2, 2));
    const { after, before } = outputs(qlinearConv, [x]);
    expect(steps(after[0]!, before[0]!, Math.fround(Y_SCALE)).max).toBeLessThanOrEqual(1);
  });

  it('differs by one step on rounding ties: y_scale = 2·x_scale·w_scale puts half the accumulators on .5', () => {
    // QLinearMatMul rounds acc·m with one multiplier m = fround(fround(xs·ws) / ys); the float path
    // rounds each dequantized operand and the sum: on a tie the two may round to different sides.
    const [xs, ws] = [Math.fround(0.02), Math.fround(0.0013)];
    const g: Graph = {
      ...qlinearMatMul,
      input: [vi('x', [16, 32])],
      initializer: [
        init('xs', 'f32', [], [xs]), init('xz', 'u8', [], [128]),
        init('W', 'i8', [32, 8], integers(40, 256, -127, 127)), init('ws', 'f32', [8], new Array(8).fill(ws)), init('wz', 'i8', [8], new Array(8).fill(0)),
        init('ys', 'f32', [], [2 * Math.fround(xs * ws)]), init('yz', 'u8', [], [128]),
      ],
    };
    const x = Tensor.from('f32', [16, 32], uniform(41, 512, -0.1, 0.1));
    const { after, before } = outputs(g, [x]);
    const d = steps(after[0]!, before[0]!, Math.fround(2 * Math.fround(xs * ws)));
    expect(d.differing).toBeGreaterThan(0);
    expect(d.max).toBeLessThanOrEqual(1 + 1e-5);
  });

  it('keeps QOperator ops with liftQuant: "qdq" and with non-constant parameters', () => {
    expect(ops(lifted(qlinearMatMul, { liftQuant: 'qdq' }))).toEqual(['onnx.QuantizeLinear', 'onnx.QLinearMatMul', 'onnx.DequantizeLinear']);
    const g: Graph = { ...qlinearMatMul, input: [...qlinearMatMul.input!, vi('ys', [])], initializer: qlinearMatMul.initializer!.filter((t) => t.name !== 'ys') };
    expect(ops(lifted(g))).toEqual(['onnx.QuantizeLinear', 'onnx.QLinearMatMul', 'onnx.DequantizeLinear']);
    expect(trace(g).join('\n')).toContain('yScale %ys is not a constant');
  });
});

/** x → DynamicQuantizeLinear → MatMulInteger / ConvInteger → Cast → Mul(x_scale·w_scale) → Add(bias): ORT's dynamic quantization. */
function dynamic(op: 'MatMulInteger' | 'ConvInteger'): Graph {
  const conv = op === 'ConvInteger';
  return {
    node: [
      node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
      node(op, ['xq', 'W', 'xz', 'wz'], ['acc'], { attribute: conv ? [ints('pads', [1, 1, 1, 1])] : [] }),
      node('Cast', ['acc'], ['accf'], { attribute: [int('to', F32)] }),
      node('Mul', ['xs', 'ws'], ['scale']),
      node('Mul', ['accf', 'scale'], ['mm']),
      node('Add', ['mm', 'bias'], ['y']),
    ],
    input: [vi('x', conv ? [2, 3, 6, 6] : [5, 16])],
    output: [vi('y', conv ? [2, 4, 6, 6] : [5, 8])],
    initializer: [
      init('W', 'u8', conv ? [4, 3, 3, 3] : [16, 8], integers(30, conv ? 108 : 128, 0, 255)),
      init('wz', 'u8', [], [131]), init('ws', 'f32', [], [0.003]),
      init('bias', 'f32', conv ? [4, 1, 1] : [8], uniform(31, conv ? 4 : 8, -1, 1)),
    ],
  };
}

/** Largest |a − b| relative to max |b|. */
function relError(a: Tensor, b: Tensor): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.size; i++) scale = Math.max(scale, Math.abs(b.get(i)));
  for (let i = 0; i < b.size; i++) worst = Math.max(worst, Math.abs(a.get(i) - b.get(i)) / scale);
  return worst;
}

describe('dynamic integer MatMul / Conv lift to DequantizeLinear + float op', () => {
  it.each([
    ['MatMulInteger', 'onnx.MatMul', [5, 16]],
    ['ConvInteger', 'onnx.Conv', [2, 3, 6, 6]],
  ] as const)('%s', (op, floatOp, shape) => {
    const g = dynamic(op);
    const m = lifted(g);
    expect(ops(m)).toEqual(['onnx.DynamicQuantizeLinear', 'onnx.DequantizeLinear', 'q.dequantize', floatOp, 'onnx.Add']);
    expect(typeOf(m, 'W').dtype).toEqual({ kind: 'quant', storage: 'u8', expressed: 'f32', scale: Math.fround(0.003), zero: 131 });
    const x = Tensor.from('f32', [...shape], uniform(32, shape.reduce((p, d) => p * d, 1), -3, 3));
    const { after, before } = outputs(g, [x]);
    expect(relError(after[0]!, before[0]!)).toBeLessThan(1e-6);
  });

  it('shares one DequantizeLinear among the integer ops of one DynamicQuantizeLinear', () => {
    const g = dynamic('MatMulInteger');
    g.node!.push(
      node('MatMulInteger', ['xq', 'W2', 'xz'], ['acc2']),
      node('Cast', ['acc2'], ['accf2'], { attribute: [int('to', F32)] }),
      node('Mul', ['scale2', 'accf2'], ['y2']),
      node('Mul', ['xs', 'ws2'], ['scale2']),
    );
    g.output!.push(vi('y2', [5, 4]));
    g.initializer!.push(init('W2', 'i8', [16, 4], integers(33, 64, -127, 127)), init('ws2', 'f32', [4], uniform(34, 4, 0.001, 0.01)));
    const m = lifted(g);
    expect(ops(m).filter((o) => o === 'onnx.DequantizeLinear')).toHaveLength(1);
    expect(typeText(m, 'W2')).toBe('q<i8, @W2.scale, @W2.zero, axis=1>[16,4]');
    const x = Tensor.from('f32', [5, 16], uniform(35, 80, -3, 3));
    const { after, before } = outputs(g, [x]);
    after.forEach((t, i) => expect(relError(t, before[i]!)).toBeLessThan(1e-6));
  });

  it('keeps the integer op when its result has another user', () => {
    const g = dynamic('MatMulInteger');
    g.node!.push(node('Cast', ['acc'], ['acc64'], { attribute: [int('to', 7)] }));
    g.output!.push(vi('acc64', [5, 8], 7));
    expect(ops(lifted(g))).toContain('onnx.MatMulInteger');
    expect(trace(g).join('\n')).toContain('an intermediate result has other users');
  });
});
