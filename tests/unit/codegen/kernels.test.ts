/** WASM kernels against the reference interpreter: seeded inputs, odd sizes, broadcasting, batch 1 and > 1. */
import { describe, expect, it } from 'vitest';
import { LutraError } from '../../../src/ir/diagnostics.js';
import { Model, Tensor, tensorType, type Attrs } from '../../../src/ir/index.js';
import { compileWasm } from '../../../src/codegen/index.js';
import { check, graphOf, opGraph, rand } from './harness.js';

const TOL = 1e-5;
const i64 = (shape: number[], v: number[]) => Tensor.from('i64', shape, v);

describe('element-wise kernels', () => {
  it.each([
    ['Add', [[3, 5], [5]]],
    ['Mul', [[2, 3, 7], [3, 1]]],
    ['Sub', [[1], [4, 9]]],
    ['Div', [[2, 13], [2, 13]]],
    ['Max', [[6, 1], [1, 7]]],
  ] as const)('%s broadcasts %j', async (op, shapes) => {
    const xs = shapes.map((s, i) => rand(i + 1, [...s]));
    const xsPos = op === 'Div' ? [xs[0]!, Tensor.from('f32', [...shapes[1]], xs[1]!.toNumbers().map((v) => v + 3))] : xs;
    expect((await check(opGraph(op, xsPos), xsPos)).err).toBeLessThan(TOL);
  });

  it.each(['Relu', 'Sigmoid', 'Tanh', 'Erf', 'Exp', 'Neg', 'Abs', 'Floor', 'HardSwish'])('%s on 11 elements (vector body + scalar tail)', async (op) => {
    const x = rand(7, [11]);
    expect((await check(opGraph(op, [x]), [x])).err).toBeLessThan(TOL);
  });

  it('fuses a chain of element-wise ops into one kernel', async () => {
    const x = rand(3, [2, 9]);
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f32', [2, 9]));
      const a = b.op('onnx.Add', [xv, b.constant('c', rand(4, [9]))]);
      const m = b.op('onnx.Mul', [a, xv]);
      b.output(b.op('onnx.Relu', [b.op('onnx.Erf', [m])]));
    });
    const { err, program } = await check(g, [x]);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Add+Mul+Erf+Relu']);
  });

  it('Where selects with a broadcast boolean mask', async () => {
    const mask = Tensor.from('bool', [1, 5], [1, 0, 1, 1, 0]);
    const x = rand(5, [3, 5]);
    const g = graphOf((b) => b.output(b.op('onnx.Where', [b.constant('m', mask), b.input('x', tensorType('f32', [3, 5])), b.constant('f', Tensor.from('f32', [], [-1e9]))])));
    expect((await check(g, [x])).err).toBeLessThan(TOL);
  });
});

describe('contractions', () => {
  it.each([
    [[5, 7], [7, 9]],
    [[2, 5, 7], [7, 9]],
    [[2, 3, 5, 6], [2, 3, 6, 4]],
    [[1, 17], [17, 3]],
  ])('MatMul %j × %j', async (a, b) => {
    const xs = [rand(1, a), rand(2, b)];
    expect((await check(opGraph('MatMul', xs), xs)).err).toBeLessThan(TOL);
  });

  it('Gemm with transB, bias and Relu is one kernel', async () => {
    const x = rand(1, [6, 10]);
    const g = graphOf((b) => {
      const y = b.op('onnx.Gemm', [b.input('x', tensorType('f32', [6, 10])), b.constant('w', rand(2, [13, 10])), b.constant('c', rand(3, [13]))], { transB: 1, alpha: 0.5 });
      b.output(b.op('onnx.Relu', [y]));
    });
    const { err, program } = await check(g, [x]);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Gemm+Relu']);
  });

  it('depthwise Conv + bias + Relu is one direct kernel (no im2col)', async () => {
    const x = rand(1, [1, 6, 10, 14]);
    const g = graphOf((b) => {
      const y = b.op('onnx.Conv', [b.input('x', tensorType('f32', [1, 6, 10, 14])), b.constant('w', rand(2, [6, 1, 3, 3])), b.constant('c', rand(3, [6]))], { group: 6, pads: [1, 1, 1, 1] });
      b.output(b.op('onnx.Relu', [y]));
    });
    const { err, program } = await check(g, [x]);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['DepthwiseConv+Relu']);
  });

  it.each([
    ['3x3 pad 1', [1, 3, 7, 9], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }],
    ['stride 2, groups 2', [2, 4, 9, 7], [6, 2, 3, 3], { strides: [2, 2], group: 2 }],
    ['depthwise', [1, 5, 6, 6], [5, 1, 3, 3], { group: 5, pads: [1, 1, 1, 1] }],
    ['depthwise stride 2, asymmetric pads, wide rows', [2, 3, 9, 21], [3, 1, 3, 3], { group: 3, pads: [0, 1, 2, 1], strides: [2, 2] }],
    ['depthwise dilated 5×3', [1, 2, 11, 13], [2, 1, 5, 3], { group: 2, pads: [2, 2, 2, 2], dilations: [1, 2] }],
    ['depthwise 1-D', [1, 4, 19], [4, 1, 5], { group: 4, pads: [2, 2] }],
    ['1x1', [2, 6, 5, 3], [7, 6, 1, 1], {}],
    ['1-D', [1, 3, 11], [2, 3, 3], { pads: [1, 1] }],
  ] as [string, number[], number[], Attrs][])('Conv %s', async (_n, xs, ws, attrs) => {
    const x = rand(1, xs);
    const g = opGraph('Conv', [x], [rand(2, ws), rand(3, [ws[0]!])], attrs);
    expect((await check(g, [x], xs[0]!)).err).toBeLessThan(TOL);
  });
});

describe('attention', () => {
  /** softmax(mask(Q·Kᵀ·scale))·V over [b, h, t, d] heads, the layout a transformer exports. */
  const attentionGraph = (t: number, d: number, opts: { strided: boolean; mask: boolean; secondUse?: boolean }) => graphOf((b) => {
    const h = 3;
    const q = b.input('q', tensorType('f32', [2, h, t, d]));
    // Kᵀ as a transposed view of K [b, t, h, d] (strided), or as its own input (unit stride)
    const kt = opts.strided
      ? b.op('onnx.Transpose', [b.input('k', tensorType('f32', [2, t, h, d]))], { perm: [0, 2, 3, 1] })
      : b.input('kt', tensorType('f32', [2, h, d, t]));
    const vv = b.input('v', tensorType('f32', [2, h, t, d]));
    const s = b.op('onnx.Mul', [b.op('onnx.MatMul', [q, kt]), b.constant('scale', Tensor.from('f32', [], [1 / Math.sqrt(d)]))]);
    const causal = Tensor.from('bool', [1, 1, t, t], Array.from({ length: t * t }, (_, i) => (i % t <= Math.floor(i / t) ? 1 : 0)));
    const masked = opts.mask ? b.op('onnx.Where', [b.constant('mask', causal), s, b.constant('ninf', Tensor.from('f32', [], [-3.4e38]))]) : s;
    const p = b.op('onnx.Softmax', [masked], { axis: -1 });
    b.output(b.op('onnx.MatMul', [p, vv]));
    if (opts.secondUse) b.output(p);
  });
  const inputs = (t: number, d: number, strided: boolean) => [rand(1, [2, 3, t, d]), strided ? rand(2, [2, t, 3, d]) : rand(2, [2, 3, d, t]), rand(3, [2, 3, t, d])];

  it.each([
    ['causal mask, strided Kᵀ', 9, 5, true, true],
    ['no mask, unit-stride Kᵀ', 7, 6, false, false],
    ['long rows', 33, 8, true, true],
  ] as [string, number, number, boolean, boolean][])('QKᵀ → scale → %s → softmax → ·V is one kernel', async (_n, t, d, mask, strided) => {
    const { err, program } = await check(attentionGraph(t, d, { strided, mask }), inputs(t, d, strided), 2);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches.map((x) => x.kernel.summary)).toEqual(['Attention']);
  });

  it('probabilities read elsewhere keep the kernels apart', async () => {
    const { err, program } = await check(attentionGraph(6, 4, { strided: false, mask: true, secondUse: true }), inputs(6, 4, false), 2);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches.map((x) => x.kernel.summary)).not.toContain('Attention');
  });
});

describe('windows, reductions and normalizations', () => {
  it.each([
    ['MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
    ['AveragePool', { kernel_shape: [2, 2], strides: [2, 2] }],
    ['GlobalAveragePool', {}],
    // interior (no bounds tests, vectorized along the width) next to border rows and columns
    ['MaxPool', { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 2, 0, 1] }, [1, 2, 9, 14]],
    ['MaxPool', { kernel_shape: [2, 3], strides: [2, 1], dilations: [2, 1], ceil_mode: 1 }, [1, 2, 9, 13]],
    ['AveragePool', { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, [1, 2, 8, 11]],
    ['AveragePool', { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 }, [1, 2, 8, 11]],
    ['MaxPool', { kernel_shape: [4], strides: [1], pads: [2, 1] }, [2, 3, 15]],
  ] as [string, Attrs, number[]?][])('%s %j', async (op, attrs, shape = [2, 3, 7, 6]) => {
    const x = rand(1, shape);
    expect((await check(opGraph(op, [x], [], attrs), [x], 2)).err).toBeLessThan(TOL);
  });

  it.each([[-1, [3, 13]], [1, [2, 5, 3]]] as const)('Softmax axis %i over %j', async (axis, shape) => {
    const x = rand(1, [...shape]);
    expect((await check(opGraph('Softmax', [x], [], { axis }), [x], shape[0])).err).toBeLessThan(TOL);
  });

  it('LayerNormalization over an odd last dim', async () => {
    const x = rand(1, [2, 5, 13]);
    const g = opGraph('LayerNormalization', [x], [rand(2, [13]), rand(3, [13])], { axis: -1, epsilon: 1e-5 });
    expect((await check(g, [x], 2)).err).toBeLessThan(TOL);
  });

  it('ReduceMean over axis 1 with keepdims', async () => {
    const x = rand(1, [2, 7, 3]);
    expect((await check(opGraph('ReduceMean', [x], [i64([1], [1])], { keepdims: 1 }), [x], 2)).err).toBeLessThan(TOL);
  });
});

describe('data movement', () => {
  it('Transpose and Reshape are views; MatMul reads them strided', async () => {
    const x = rand(1, [2, 6, 4]);
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f32', [2, 6, 4]));
      const t = b.op('onnx.Transpose', [xv], { perm: [0, 2, 1] });
      const r = b.op('onnx.Reshape', [t, b.constant('s', i64([3], [2, 4, 6]))]);
      b.output(b.op('onnx.MatMul', [r, b.constant('w', rand(2, [6, 5]))]));
    });
    const { err, program } = await check(g, [x], 2);
    expect(err).toBeLessThan(TOL);
    expect(program.dispatches).toHaveLength(1);
  });


  it('a MatMul read only through Transpose + merging Reshape stores in that layout, its consumer still its epilogue', async () => {
    // attention's P·V: [b, h, t, d] → [b, t, h, d] → [b, t, h·d], then an element-wise op
    const p = rand(1, [1, 3, 5, 7]);
    const build = (extraUse: boolean) => graphOf((b) => {
      const pv = b.input('p', tensorType('f32', [1, 3, 5, 7]));
      const y = b.op('onnx.MatMul', [pv, b.constant('v', rand(2, [1, 3, 7, 6]))]);
      const t = b.op('onnx.Transpose', [y], { perm: [0, 2, 1, 3] });
      const r = b.op('onnx.Reshape', [t, b.constant('s', i64([3], [1, 5, 18]))]);
      b.output(b.op('onnx.Relu', [r]));
      if (extraUse) b.output(b.op('onnx.Neg', [y]));
    });
    const one = await check(build(false), [p]);
    expect(one.err).toBeLessThan(TOL);
    expect(one.program.dispatches.map((d) => d.kernel.summary)).toEqual(['MatMul+Relu']);
    // read twice, the MatMul keeps its own buffer and the transposed read is a separate kernel
    const two = await check(build(true), [p]);
    expect(two.err).toBeLessThan(TOL);
    expect(two.program.dispatches.map((d) => d.kernel.summary)).toEqual(['MatMul', 'Relu', 'Neg']);
  });
  it('i64 values are copied and gathered by scalar loops (a 128-bit vector holds two i64 lanes, not four)', async () => {
    const x = i64([2, 3], [1, -2, 3, 4, 5, 2 ** 40]);
    const g = graphOf((b) => b.output(b.op('onnx.Tile', [b.input('x', tensorType('i64', [2, 3])), b.constant('r', i64([2], [2, 3]))])));
    const { err, program } = await check(g, [x]);
    expect(err).toBe(0);
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Copy']);
  });

  it('Slice, Concat, Gather and Pad', async () => {
    const x = rand(1, [3, 8]);
    const ids = Tensor.from('i64', [1, 4], [2, 0, 1, 2]);
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f32', [3, 8]));
      const idv = b.input('ids', tensorType('i64', [1, 4]));
      const s = b.op('onnx.Slice', [xv, b.constant('st', i64([1], [1])), b.constant('en', i64([1], [7])), b.constant('ax', i64([1], [1])), b.constant('sp', i64([1], [2]))]);
      const c = b.op('onnx.Concat', [s, xv], { axis: 1 });
      const gth = b.op('onnx.Gather', [c, idv], { axis: 0 });
      b.output(b.op('onnx.Pad', [gth, b.constant('p', i64([6], [0, 0, 1, 0, 0, 2]))]));
    });
    expect((await check(g, [x, ids])).err).toBeLessThan(TOL);
  });
});

describe('batching and errors', () => {
  it('a batch larger than the compiled one runs in chunks', async () => {
    const g = graphOf((b) => b.output(b.op('onnx.Relu', [b.op('onnx.MatMul', [b.input('x', tensorType('f32', ['batch', 5])), b.constant('w', rand(2, [5, 3]))])])));
    const x = rand(1, [5, 5]);
    expect((await check(g, [x], 2)).err).toBeLessThan(TOL);
  });

  it('an op without a lowering rule names the node and op', () => {
    const g = graphOf((b) => b.output(b.node('onnx.Softplus', [b.input('x', tensorType('f32', [4]))], {}, 1, { name: 'sp1' }).outputs[0]!));
    const e = (() => { try { compileWasm(new Model(g), { batch: 1, dims: {} }); } catch (err) { return err; } return undefined; })();
    expect(e).toBeInstanceOf(LutraError);
    expect((e as LutraError).message).toMatch(/onnx\.Softplus "sp1".*cannot lower onnx\.Softplus/);
  });
});
