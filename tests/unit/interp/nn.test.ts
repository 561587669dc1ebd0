import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Node, Tensor, Value, getOp, roundF16, tensorType, verify, formatType, type Attrs, type DType, type Shape, type UpgradeCtx } from '../../../src/ir/index.js';
import { run } from '../../../src/interp/interpreter.js';
import { runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { ONNX_TESTS } from '../../helpers/shared.js';
import { uniform } from '../../helpers/random.js';

/** Build a one-node graph over graph inputs (null = omitted optional input), verify it and run it. */
function evalNode(op: string, inputs: readonly (Tensor | null)[], attrs: Attrs = {}, numOutputs = 1): Tensor[] {
  const b = new Builder(new Graph('g'));
  const xs = inputs.map((t, i) => (t ? b.input(`x${i}`, tensorType(t.dtype, t.shape)) : null));
  const n = b.node(op.includes('.') ? op : `onnx.${op}`, xs, attrs, numOutputs);
  b.output(...n.outputs);
  verify(b.graph);
  return run(b.graph, inputs.filter((t): t is Tensor => t !== null));
}

const evalOp = (op: string, inputs: readonly (Tensor | null)[], attrs: Attrs = {}): Tensor => evalNode(op, inputs, attrs)[0]!;

/** The inferred result type of a one-node graph over inputs of the given types. */
function inferred(op: string, types: [DType, Shape][], attrs: Attrs = {}): string {
  const b = new Builder(new Graph('g'));
  const xs = types.map(([d, s], i) => b.input(`x${i}`, tensorType(d, s)));
  return formatType(b.op(`onnx.${op}`, xs, attrs).type);
}

const f32 = (shape: number[], v: number[]) => Tensor.from('f32', shape, v);
const iota = (shape: number[]) => f32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

/** Deterministic uniform values in [-1, 1). */
const seeded = (seed: number, n: number): number[] => uniform(seed, n, -1, 1);
const rand = (seed: number, shape: number[]) => f32(shape, seeded(seed, shape.reduce((a, b) => a * b, 1)));

/** Values close to `want` (f32 results of float64 math). */
function near(x: Tensor, want: number[], tol = 1e-6): void {
  expect(x.size).toBe(want.length);
  x.toNumbers().forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!))));
}

/** Naive reference convolution (2-D, NCHW) straight from the definition. */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | undefined, a: { group: number; strides: number[]; pads: number[]; dilations: number[] }): number[] {
  const [N, C, H, W] = x.shape as number[];
  const [M, Cg, kH, kW] = w.shape as number[];
  const oH = Math.floor((H! + a.pads[0]! + a.pads[2]! - (a.dilations[0]! * (kH! - 1) + 1)) / a.strides[0]!) + 1;
  const oW = Math.floor((W! + a.pads[1]! + a.pads[3]! - (a.dilations[1]! * (kW! - 1) + 1)) / a.strides[1]!) + 1;
  const out: number[] = [];
  const Mg = M! / a.group;
  for (let n = 0; n < N!; n++) for (let m = 0; m < M!; m++) for (let i = 0; i < oH; i++) for (let j = 0; j < oW; j++) {
    let s = b ? b.get(m) : 0;
    const g = Math.floor(m / Mg);
    for (let c = 0; c < Cg!; c++) for (let p = 0; p < kH!; p++) for (let q = 0; q < kW!; q++) {
      const h = i * a.strides[0]! - a.pads[0]! + p * a.dilations[0]!;
      const v = j * a.strides[1]! - a.pads[1]! + q * a.dilations[1]!;
      if (h < 0 || h >= H! || v < 0 || v >= W!) continue;
      s += x.get(((n * C! + g * Cg! + c) * H! + h) * W! + v) * w.get(((m * Cg! + c) * kH! + p) * kW! + q);
    }
    out.push(s);
  }
  return out;
}

describe('MatMul and Gemm', () => {
  it('multiplies 1-D operands, batches with broadcasting and drops promoted dims', () => {
    expect(evalOp('MatMul', [f32([3], [1, 2, 3]), f32([3], [4, 5, 6])]).toNumbers()).toEqual([32]);
    const a = f32([2, 2, 3], [1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0]);
    const b = f32([3, 2], [1, 0, 0, 1, 1, 1]);
    const y = evalOp('MatMul', [a, b]);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.toNumbers()).toEqual([4, 5, 10, 11, 1, 0, 0, 1]);
    const v = evalOp('MatMul', [f32([3], [1, 1, 1]), f32([2, 3, 2], [1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 1])]);
    expect(v.shape).toEqual([2, 2]);
    expect(v.toNumbers()).toEqual([9, 12, 0, 3]);
  });

  it('matches a naive product on odd shapes (remainder rows, K not a multiple of 4) with batch broadcasting', () => {
    const a = rand(1, [2, 1, 5, 7]);
    const b = rand(2, [3, 7, 9]);
    const y = evalOp('MatMul', [a, b]);
    expect(y.shape).toEqual([2, 3, 5, 9]);
    const want: number[] = [];
    for (let p = 0; p < 2; p++) for (let q = 0; q < 3; q++) for (let i = 0; i < 5; i++) for (let j = 0; j < 9; j++) {
      let s = 0;
      for (let k = 0; k < 7; k++) s += a.get((p * 5 + i) * 7 + k) * b.get((q * 7 + k) * 9 + j);
      want.push(Math.fround(s));
    }
    near(y, want);
  });

  it('infers batch-broadcast shapes with symbolic dims and rejects mismatched inner dims', () => {
    expect(inferred('MatMul', [['f32', ['batch', 17, 96]], ['f32', [96, 288]]])).toBe('f32[batch,17,288]');
    expect(inferred('MatMul', [['f32', [4, 1, 8, 32]], ['f32', [3, 32, 8]]])).toBe('f32[4,3,8,8]');
    expect(inferred('MatMul', [['f32', [5]], ['f32', ['n', 5, 2]]])).toBe('f32[n,2]');
    expect(() => inferred('MatMul', [['f32', [2, 3]], ['f32', [4, 2]]])).toThrow(/inner dims differ/);
  });

  it('rounds f16 results once from float64', () => {
    const y = evalOp('MatMul', [Tensor.from('f16', [1, 3], [1, 2 ** -11, 2 ** -11]), Tensor.from('f16', [3, 1], [1, 1, 1])]);
    expect(y.dtype).toBe('f16');
    expect(y.get(0)).toBe(roundF16(1 + 2 ** -10)); // two sub-ulp terms summed before rounding
  });

  it('Gemm applies transA, transB, alpha and beta with a broadcast C, and works without C', () => {
    const a = f32([3, 2], [1, 2, 3, 4, 5, 6]);
    const b = f32([2, 3], [1, 0, 1, 0, 1, 1]);
    const y = evalOp('Gemm', [a, b, f32([2], [1, 2])], { transA: 1, transB: 1, alpha: 2, beta: 0.5 });
    expect(y.shape).toEqual([2, 2]);
    expect(y.toNumbers()).toEqual([12.5, 17, 16.5, 21]);
    expect(evalOp('Gemm', [f32([1, 2], [1, 2]), f32([2, 1], [3, 4])]).toNumbers()).toEqual([11]);
    expect(inferred('Gemm', [['f32', ['n', 64]], ['f32', [10, 64]]], { transB: 1 })).toBe('f32[n,10]');
  });
});

describe('Conv', () => {
  const x33 = iota([1, 1, 3, 3]);
  const ones22 = f32([1, 1, 2, 2], [1, 1, 1, 1]);

  it('convolves with explicit pads and strides', () => {
    expect(evalOp('Conv', [x33, ones22]).toNumbers()).toEqual([8, 12, 20, 24]);
    expect(evalOp('Conv', [x33, ones22], { pads: [1, 1, 1, 1], strides: [2, 2] }).toNumbers()).toEqual([0, 3, 9, 24]);
  });

  it('auto_pad SAME_UPPER puts the odd padding at the end, SAME_LOWER at the start; VALID pads nothing', () => {
    expect(evalOp('Conv', [x33, ones22], { auto_pad: 'SAME_UPPER' }).toNumbers()).toEqual([8, 12, 7, 20, 24, 13, 13, 15, 8]);
    expect(evalOp('Conv', [x33, ones22], { auto_pad: 'SAME_LOWER' }).toNumbers()).toEqual([0, 1, 3, 3, 8, 12, 9, 20, 24]);
    expect(evalOp('Conv', [x33, ones22], { auto_pad: 'VALID', pads: [5, 5, 5, 5] }).shape).toEqual([1, 1, 2, 2]);
  });

  it('handles depthwise groups with bias, 1-D dilations and 3-D kernels', () => {
    const x = f32([1, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(evalOp('Conv', [x, f32([2, 1, 1, 1], [2, -1]), f32([2], [0.5, 1])], { group: 2 }).toNumbers())
      .toEqual([2.5, 4.5, 6.5, 8.5, -4, -5, -6, -7]);
    expect(evalOp('Conv', [f32([1, 1, 5], [1, 2, 3, 4, 5]), f32([1, 1, 2], [1, 1])], { dilations: [2] }).toNumbers()).toEqual([4, 6, 8]);
    const y3 = evalOp('Conv', [iota([1, 1, 2, 2, 2]), f32([1, 1, 2, 2, 2], new Array(8).fill(1))]);
    expect(y3.shape).toEqual([1, 1, 1, 1, 1]);
    expect(y3.toNumbers()).toEqual([28]);
  });

  it('matches a naive convolution for grouped, strided, dilated, padded and pointwise cases', () => {
    const cases = [
      { x: [2, 4, 7, 6], w: [6, 2, 3, 2], group: 2, strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2] },
      { x: [1, 3, 5, 5], w: [4, 3, 1, 1], group: 1, strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] },
      { x: [1, 5, 6, 7], w: [5, 1, 3, 3], group: 5, strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] },
    ];
    cases.forEach((c, k) => {
      const x = rand(10 + k, c.x);
      const w = rand(20 + k, c.w);
      const b = rand(30 + k, [c.w[0]!]);
      const y = evalOp('Conv', [x, w, b], { group: c.group, strides: c.strides, pads: c.pads, dilations: c.dilations });
      near(y, naiveConv(x, w, b, c).map(Math.fround), 1e-6);
    });
  });

  it('infers output dims, keeping symbols through size-preserving windows', () => {
    expect(inferred('Conv', [['f32', ['N', 3, 'H', 'W']], ['f32', [16, 3, 3, 3]]], { pads: [1, 1, 1, 1] })).toBe('f32[N,16,H,W]');
    expect(inferred('Conv', [['f32', ['N', 3, 'H', 'W']], ['f32', [16, 3, 3, 3]]], { strides: [2, 2], pads: [1, 1, 1, 1] })).toBe('f32[N,16,?,?]');
    expect(inferred('Conv', [['f32', [1, 3, 240, 320]], ['f32', [16, 3, 3, 3]]], { strides: [2, 2], auto_pad: 'SAME_UPPER' })).toBe('f32[1,16,120,160]');
    expect(() => inferred('Conv', [['f32', [1, 4, 8, 8]], ['f32', [8, 3, 3, 3]]])).toThrow(/4 channels; weight expects 3/);
  });
});

describe('ConvTranspose', () => {
  const x = f32([1, 1, 3], [1, 2, 3]);
  const w = f32([1, 1, 2], [1, 1]);

  it('scatters with strides, output_padding, pads and output_shape', () => {
    expect(evalOp('ConvTranspose', [x, w]).toNumbers()).toEqual([1, 3, 5, 3]);
    expect(evalOp('ConvTranspose', [x, w], { strides: [2] }).toNumbers()).toEqual([1, 1, 2, 2, 3, 3]);
    expect(evalOp('ConvTranspose', [x, w], { strides: [2], output_padding: [1] }).toNumbers()).toEqual([1, 1, 2, 2, 3, 3, 0]);
    expect(evalOp('ConvTranspose', [x, w], { pads: [1, 1] }).toNumbers()).toEqual([3, 5]);
    expect(evalOp('ConvTranspose', [x, w], { strides: [2], output_shape: [5] }).toNumbers()).toEqual([1, 2, 2, 3, 3]);
  });

  it('splits groups and adds the bias per output channel', () => {
    const x2 = f32([1, 2, 2], [1, 2, 10, 20]);
    const w2 = f32([2, 1, 1], [1, -1]);
    const y = evalOp('ConvTranspose', [x2, w2, f32([2], [0.5, 0])], { group: 2 });
    expect(y.shape).toEqual([1, 2, 2]);
    expect(y.toNumbers()).toEqual([1.5, 2.5, -10, -20]);
  });
});

describe('normalizations', () => {
  it('BatchNormalization normalizes per channel with running statistics', () => {
    const y = evalOp('BatchNormalization', [f32([1, 2, 1, 2], [1, 2, 3, 4]), f32([2], [1, 2]), f32([2], [0, 1]), f32([2], [1, 3]), f32([2], [4, 1])], { epsilon: 0 });
    expect(y.toNumbers()).toEqual([0, 0.5, 1, 3]);
  });

  it('BatchNormalization in training mode uses batch statistics and updates the running ones', () => {
    const [y, mean, variance] = evalNode('BatchNormalization',
      [f32([2, 1, 1, 1], [1, 3]), f32([1], [1]), f32([1], [0]), f32([1], [0]), f32([1], [1])], { epsilon: 0, momentum: 0.5, training_mode: 1 }, 3);
    expect(y!.toNumbers()).toEqual([-1, 1]);
    expect(mean!.toNumbers()).toEqual([1]);
    expect(variance!.toNumbers()).toEqual([1]);
  });

  it('LayerNormalization returns Y, Mean and InvStdDev over the trailing dims', () => {
    const [y, mean, inv] = evalNode('LayerNormalization', [f32([2, 3], [1, 2, 3, 2, 2, 2]), f32([3], [1, 1, 2]), f32([3], [0, 0, 1])], {}, 3);
    const s = 1 / Math.sqrt(2 / 3 + 1e-5);
    near(y!, [-s, 0, 2 * s + 1, 0, 0, 1]);
    expect(mean!.shape).toEqual([2, 1]);
    near(mean!, [2, 2]);
    near(inv!, [s, 1 / Math.sqrt(1e-5)]);
    expect(evalNode('LayerNormalization', [f32([2, 2], [1, 3, 5, 7]), f32([2, 2], [1, 1, 1, 1])], { axis: 0, epsilon: 0 })[0]!.toNumbers().map((v) => +v.toFixed(5)))
      .toEqual([-1.34164, -0.44721, 0.44721, 1.34164]);
  });

  it('InstanceNormalization, GroupNormalization and RMSNormalization', () => {
    const x = f32([1, 2, 1, 2], [1, 3, 10, 20]);
    near(evalOp('InstanceNormalization', [x, f32([2], [1, 2]), f32([2], [0, 1])], { epsilon: 0 }), [-1, 1, -1, 3]);
    const g = evalOp('GroupNormalization', [f32([1, 4, 1, 1], [1, 2, 3, 4]), f32([4], [1, 1, 2, 2]), f32([4], [0, 0, 0, 1])], { num_groups: 2, epsilon: 0 });
    near(g, [-1, 1, -2, 3]);
    const r = evalOp('RMSNormalization', [f32([1, 2], [3, 4]), f32([2], [1, 2])], { epsilon: 0 });
    near(r, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)]);
  });

  it('GroupNormalization-18 per-group scale and bias upgrade to per-channel constants', () => {
    const g = new Graph('g');
    const x = new Value('x', tensorType('f32', [1, 4, 1, 1]));
    const scale = g.addConstant('scale', f32([2], [1, 2]));
    const bias = g.addConstant('bias', f32([2], [0, 5]));
    const node = new Node('onnx.GroupNormalization', [x, scale, bias], [new Value('y', tensorType('f32', undefined))], { num_groups: 2 });
    getOp(node.op)!.upgrade!(node, upgradeCtx(g, 18));
    expect(g.constValue(node.inputs[1]!)!.toNumbers()).toEqual([1, 1, 2, 2]);
    expect(g.constValue(node.inputs[2]!)!.toNumbers()).toEqual([0, 0, 5, 5]);
  });
});

/** An UpgradeCtx over graph `g` at `opset`. */
function upgradeCtx(g: Graph, opset: number): UpgradeCtx {
  return { opset, graph: g, constant: (t, hint) => g.addConstant(g.freshName(hint), t), fail: (m) => { throw new Error(m); } };
}

describe('pooling', () => {
  const x44 = iota([1, 1, 4, 4]);

  it('MaxPool returns values and flat indices in row- or column-major storage order', () => {
    const [y, idx] = evalNode('MaxPool', [x44], { kernel_shape: [2, 2], strides: [2, 2] }, 2);
    expect(y!.toNumbers()).toEqual([5, 7, 13, 15]);
    expect(idx!.dtype).toBe('i64');
    expect(idx!.toNumbers()).toEqual([5, 7, 13, 15]);
    const [, col] = evalNode('MaxPool', [x44], { kernel_shape: [2, 2], strides: [2, 2], storage_order: 1 }, 2);
    expect(col!.toNumbers()).toEqual([5, 13, 7, 15]);
  });

  it('MaxPool ceil_mode keeps a partial last window; dilations spread the taps; u8 stays u8', () => {
    expect(evalOp('MaxPool', [iota([1, 1, 3, 3])], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }).toNumbers()).toEqual([4, 5, 7, 8]);
    expect(evalOp('MaxPool', [iota([1, 1, 3, 3])], { kernel_shape: [2, 2], strides: [2, 2] }).toNumbers()).toEqual([4]);
    expect(evalOp('MaxPool', [x44], { kernel_shape: [2, 2], dilations: [2, 2] }).toNumbers()).toEqual([10, 11, 14, 15]);
    const u = evalOp('MaxPool', [Tensor.from('u8', [1, 1, 1, 3], [7, 255, 1])], { kernel_shape: [1, 2] });
    expect(u.dtype).toBe('u8');
    expect(u.toNumbers()).toEqual([255, 255]);
  });

  it('AveragePool divides by the taps inside the input, or inside the padded input with count_include_pad', () => {
    const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
    const attrs = { kernel_shape: [2, 2], pads: [1, 1, 1, 1], strides: [2, 2] };
    expect(evalOp('AveragePool', [x], attrs).toNumbers()).toEqual([1, 2, 3, 4]);
    expect(evalOp('AveragePool', [x], { ...attrs, count_include_pad: 1 }).toNumbers()).toEqual([0.25, 0.5, 0.75, 1]);
    expect(evalOp('AveragePool', [x44], { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', strides: [2, 2] }).toNumbers()).toEqual([5, 6.5, 11, 12.5]);
  });

  it('LpPool and the global pools', () => {
    near(evalOp('LpPool', [f32([1, 1, 1, 2], [3, -4])], { kernel_shape: [1, 2] }), [5]);
    near(evalOp('LpPool', [f32([1, 1, 1, 2], [1, -2])], { kernel_shape: [1, 2], p: 1 }), [3]);
    const x = f32([1, 2, 1, 2], [3, -4, 1, 5]);
    expect(evalOp('GlobalAveragePool', [x]).toNumbers()).toEqual([-0.5, 3]);
    expect(evalOp('GlobalMaxPool', [x]).shape).toEqual([1, 2, 1, 1]);
    expect(evalOp('GlobalMaxPool', [x]).toNumbers()).toEqual([3, 5]);
    near(evalOp('GlobalLpPool', [x]), [5, Math.sqrt(26)]);
  });

  it('infers pooled shapes', () => {
    expect(inferred('MaxPool', [['f32', ['N', 96, 111, 111]]], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })).toBe('f32[N,96,55,55]');
    expect(inferred('GlobalAveragePool', [['f16', ['N', 8, 'H', 'W']]])).toBe('f16[N,8,1,1]');
    expect(() => inferred('MaxPool', [['f32', [1, 1, 4, 4]]], { kernel_shape: [2, 2], pads: [1, 1] })).toThrow(/'pads' has 2 values for 2 spatial dims/);
  });
});

describe('Softmax family and LRN', () => {
  const x = f32([2, 2], [1, 2, 3, 4]);
  const e = 1 / (1 + Math.E ** 2);

  it('computes Softmax, LogSoftmax and Hardmax over one axis', () => {
    near(evalOp('Softmax', [x], { axis: 0 }), [e, e, 1 - e, 1 - e]);
    near(evalOp('LogSoftmax', [x]), [Math.log(1 / (1 + Math.E)), Math.log(Math.E / (1 + Math.E)), Math.log(1 / (1 + Math.E)), Math.log(Math.E / (1 + Math.E))]);
    expect(evalOp('Hardmax', [f32([2, 3], [1, 3, 3, 0, -1, -2])]).toNumbers()).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('opset < 13 nodes keep the 2-D coercion: a single-axis op when possible, else fused.<op>2D', () => {
    const upgraded = (shape: number[], axis?: number) => {
      const node = new Node('onnx.Softmax', [new Value('x', tensorType('f32', shape))], [new Value('y', tensorType('f32', undefined))], axis === undefined ? {} : { axis });
      getOp('onnx.Softmax')!.upgrade!(node, upgradeCtx(new Graph('g'), 11));
      return `${node.op} axis=${String(node.attrs.axis)}`;
    };
    expect(upgraded([8, 10])).toBe('onnx.Softmax axis=1');
    expect(upgraded([8, 10, 1, 1])).toBe('onnx.Softmax axis=1');
    expect(upgraded([2, 3, 4], 1)).toBe('fused.Softmax2D axis=1');
    const y = evalOp('fused.Softmax2D', [iota([2, 2, 2])], { axis: 1 });
    const z = Math.exp(0) + Math.exp(1) + Math.exp(2) + Math.exp(3);
    near(y, [1, Math.E, Math.E ** 2, Math.E ** 3, 1, Math.E, Math.E ** 2, Math.E ** 3].map((v) => v / z));
  });

  it('fused.<op>2D expands to Flatten → op over axis 1 → Reshape to the input shape', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', tensorType('f32', [2, 3, 4]));
    const node = b.node('fused.LogSoftmax2D', [x], { axis: 1 });
    b.insertionPoint = node;
    const [y] = getOp(node.op)!.expand!(node, b);
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['onnx.Flatten', 'onnx.LogSoftmax', 'onnx.Shape', 'onnx.Reshape', 'fused.LogSoftmax2D']);
    expect(b.graph.nodes[0]!.attrs).toEqual({ axis: 1 });
    expect(formatType(b.graph.nodes[1]!.outputs[0]!.type)).toBe('f32[2,12]');
    expect(y!.producer!.op).toBe('onnx.Reshape');
  });

  it('LRN sums squares over the channel window', () => {
    near(evalOp('LRN', [f32([1, 3, 1, 1], [1, 2, 3])], { size: 3, alpha: 3, beta: 1, bias: 1 }), [1 / 6, 2 / 15, 3 / 14]);
  });
});

describe('ONNX node tests', () => {
  const STEMS = [
    'matmul', 'gemm', 'basic_conv', 'conv_with', 'convtranspose', 'batchnorm', 'layer_normalization', 'instancenorm', 'group_normalization',
    'rms_normalization', 'maxpool', 'averagepool', 'globalaveragepool', 'globalmaxpool', 'lppool', 'softmax', 'logsoftmax', 'hardmax', 'lrn',
  ];
  const dir = join(ONNX_TESTS, 'node');

  it.skipIf(!existsSync(dir))('every nn op test passes', () => {
    const report = runOnnxSuite(dir, { filter: new RegExp(`^test_(${STEMS.join('|')})(_|$)(?!.*expanded)`) });
    expect(report.results.filter((r) => r.status !== 'passed')).toEqual([]);
    expect(report.passed).toBeGreaterThanOrEqual(155);
  });

  it.each(['pytorch-converted', 'pytorch-operator'])('%s/ nn tests do not fail', (suite) => {
    const d = join(ONNX_TESTS, suite);
    if (!existsSync(d)) return;
    const report = runOnnxSuite(d, { filter: /(Conv|Pool|BatchNorm|Linear|Softm|softmax|addmm|_mm$|conv|maxpool)/ });
    expect(report.results.filter((r) => r.status === 'failed')).toEqual([]);
  });
});
