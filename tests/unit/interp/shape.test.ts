import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, formatType, tensorType, type Node } from '../../../src/ir/index.js';
import { importOnnx } from '../../../src/frontends/onnx/import.js';
import { run } from '../../../src/interp/interpreter.js';
import { mt19937Uniform } from '../../../src/interp/kernels/shape.js';
import { runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { ONNX_TESTS } from '../../helpers/shared.js';
import { modelBytes, node, vi } from '../frontends/onnx/protos.js';
import { evalAll, evalOp, f32, i64, inferOp, iota, k, t } from './op-harness.js';

const bigs = (x: Tensor): bigint[] => Array.from(x.data as BigInt64Array);
const T = tensorType;

describe('reshape-like kernels', () => {
  it('Reshape copies 0 dims, infers -1, and honours allowzero', () => {
    const x = iota([2, 3, 4]);
    expect(evalOp('Reshape', [x, k(i64([0, -1]))]).shape).toEqual([2, 12]);
    expect(evalOp('Reshape', [x, k(i64([-1, 2, 0]))]).shape).toEqual([3, 2, 4]);
    expect(evalOp('Reshape', [iota([0, 3]), k(i64([3, 0]))], { allowzero: 1 }).shape).toEqual([3, 0]);
    expect(evalOp('Reshape', [x, i64([4, 6])]).toNumbers()).toEqual(x.toNumbers());
  });

  it('Flatten, Squeeze, Unsqueeze move dims without touching data', () => {
    const x = iota([2, 1, 3, 1]);
    expect(evalOp('Flatten', [x], { axis: 2 }).shape).toEqual([2, 3]);
    expect(evalOp('Flatten', [x], { axis: 0 }).shape).toEqual([1, 6]);
    expect(evalOp('Flatten', [x], { axis: -1 }).shape).toEqual([6, 1]);
    expect(evalOp('Squeeze', [x]).shape).toEqual([2, 3]);
    expect(evalOp('Squeeze', [x, k(i64([-1]))]).shape).toEqual([2, 1, 3]);
    expect(evalOp('Unsqueeze', [iota([2, 3]), k(i64([3, 0]))]).shape).toEqual([1, 2, 3, 1]);
  });

  it('infers symbolic reshapes by cancelling symbols', () => {
    expect(inferOp('Reshape', [T('f32', ['batch', 4, 8]), i64([0, -1])])).toEqual(['f32[batch,32]']);
    expect(inferOp('Reshape', [T('f32', ['batch', 4, 8]), i64([-1, 32])])).toEqual(['f32[batch,32]']);
    expect(inferOp('Reshape', [T('f32', ['b', 'seq', 64]), i64([0, 0, 4, 16])])).toEqual(['f32[b,seq,4,16]']);
    expect(inferOp('Reshape', [T('f32', ['b', 6]), i64([-1, 4])])).toEqual(['f32[?,4]']);
    expect(inferOp('Reshape', [T('f32', [2, 3]), T('i64', [3])])).toEqual(['f32[?,?,?]']);
    expect(() => inferOp('Reshape', [T('f32', [2, 3]), i64([4, -1])])).toThrow(/cannot reshape/);
    expect(inferOp('Flatten', [T('f32', ['n', 3, 4])])).toEqual(['f32[n,12]']);
    expect(inferOp('Squeeze', [T('f32', ['n', 1, 4]), i64([1])])).toEqual(['f32[n,4]']);
    expect(inferOp('Unsqueeze', [T('f32', ['n', 4]), i64([-1])])).toEqual(['f32[n,4,1]']);
  });
});

describe('data movement', () => {
  it('Transpose permutes (default: reversed) and keeps i64 as BigInt', () => {
    const x = iota([2, 3]);
    expect(evalOp('Transpose', [x]).toNumbers()).toEqual([0, 3, 1, 4, 2, 5]);
    const y = evalOp('Transpose', [iota([2, 3, 4])], { perm: [1, 2, 0] });
    expect(y.shape).toEqual([3, 4, 2]);
    expect(y.toNumbers().slice(0, 6)).toEqual([0, 12, 1, 13, 2, 14]);
    const big = evalOp('Transpose', [i64([2n ** 62n + 1n, 1n, 2n, 3n], [2, 2])]);
    expect(bigs(big)).toEqual([2n ** 62n + 1n, 2n, 1n, 3n]);
    expect(inferOp('Transpose', [T('f32', ['b', 3, 'c'])], { perm: [2, 0, 1] })).toEqual(['f32[c,b,3]']);
  });

  it('Concat and Split (sizes, num_outputs with a smaller last chunk)', () => {
    const a = iota([2, 2]);
    const b = f32([2, 1], [9, 8]);
    expect(evalOp('Concat', [a, b], { axis: 1 }).toNumbers()).toEqual([0, 1, 9, 2, 3, 8]);
    expect(inferOp('Concat', [T('f32', ['n', 2]), T('f32', ['n', 3])], { axis: -1 })).toEqual(['f32[n,5]']);
    const [p, q] = evalAll('Split', [iota([2, 3]), k(i64([1, 2]))], { axis: 1 }, 2);
    expect(p!.toNumbers()).toEqual([0, 3]);
    expect(q!.toNumbers()).toEqual([1, 2, 4, 5]);
    const parts = evalAll('Split', [iota([7])], { num_outputs: 3 }, 3);
    expect(parts.map((x) => x.toNumbers())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(inferOp('Split', [T('f32', ['b', 7])], { axis: 1, num_outputs: 3 }, 3)).toEqual(['f32[b,3]', 'f32[b,3]', 'f32[b,1]']);
  });

  it('Slice clamps, walks negative steps and takes INT64 max/min ends', () => {
    const x = iota([10]);
    const sl = (s: number, e: number | bigint, step?: number) => evalOp('Slice', [x, i64([s]), i64([e]), i64([0]), ...(step ? [i64([step])] : [])]).toNumbers();
    expect(sl(2, 5)).toEqual([2, 3, 4]);
    expect(sl(-3, 2n ** 63n - 1n)).toEqual([7, 8, 9]);
    expect(sl(8, 2, -2)).toEqual([8, 6, 4]);
    expect(sl(-1, -(2n ** 63n), -3)).toEqual([9, 6, 3, 0]);
    expect(sl(20, 30)).toEqual([]);
    const y = evalOp('Slice', [iota([3, 4]), k(i64([0, 1])), k(i64([2, 4])), k(i64([0, 1])), k(i64([1, 2]))]);
    expect(y.shape).toEqual([2, 2]);
    expect(y.toNumbers()).toEqual([1, 3, 5, 7]);
    expect(inferOp('Slice', [T('f32', ['b', 10]), i64([0, 2]), i64([2n ** 63n - 1n, -1]), i64([0, 1])])).toEqual(['f32[b,7]']);
  });

  it('Expand and Tile broadcast and repeat', () => {
    expect(evalOp('Expand', [f32([3, 1], [1, 2, 3]), k(i64([2, 1, 2]))]).toNumbers()).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expect(evalOp('Tile', [f32([2, 2], [1, 2, 3, 4]), k(i64([1, 2]))]).toNumbers()).toEqual([1, 2, 1, 2, 3, 4, 3, 4]);
    expect(evalOp('Tile', [t('i64', [2], [5n, 6n]), k(i64([2]))]).toNumbers()).toEqual([5, 6, 5, 6]);
    expect(inferOp('Expand', [T('f32', ['b', 1]), i64([1, 4])])).toEqual(['f32[b,4]']);
  });

  it('Gather, GatherElements, GatherND with negative indices', () => {
    const x = iota([3, 2]);
    expect(evalOp('Gather', [x, i64([2, -3])]).toNumbers()).toEqual([4, 5, 0, 1]);
    expect(evalOp('Gather', [x, i64([1], [])], { axis: 1 }).toNumbers()).toEqual([1, 3, 5]);
    expect(inferOp('Gather', [T('f32', [100, 'd']), T('i64', ['b', 'seq'])])).toEqual(['f32[b,seq,d]']);
    expect(evalOp('GatherElements', [iota([2, 2]), i64([1, 0, 0, -1], [2, 2])], { axis: 1 }).toNumbers()).toEqual([1, 0, 2, 3]);
    expect(evalOp('GatherND', [iota([2, 2]), i64([1, 0, 0, 1], [2, 2])]).toNumbers()).toEqual([2, 1]);
    expect(evalOp('GatherND', [iota([2, 2, 2]), i64([1, 0], [2, 1])], { batch_dims: 1 }).toNumbers()).toEqual([2, 3, 4, 5]);
  });

  it('ScatterND and ScatterElements with reductions', () => {
    const data = f32([4], [1, 2, 3, 4]);
    expect(evalOp('ScatterND', [data, i64([3, 1], [2, 1]), f32([2], [9, 10])]).toNumbers()).toEqual([1, 10, 3, 9]);
    expect(evalOp('ScatterND', [data, i64([1, 1], [2, 1]), f32([2], [5, 6])], { reduction: 'add' }).toNumbers()).toEqual([1, 13, 3, 4]);
    const idx = i64([0, 0, 2], [1, 3]);
    const upd = f32([1, 3], [5, 7, 1]);
    const row = f32([1, 3], [4, 2, 3]);
    const scatter = (reduction: string) => evalOp('ScatterElements', [row, idx, upd], { axis: 1, reduction }).toNumbers();
    expect(scatter('none')).toEqual([7, 2, 1]);
    expect(scatter('add')).toEqual([16, 2, 4]);
    expect(scatter('mul')).toEqual([140, 2, 3]);
    expect(scatter('max')).toEqual([7, 2, 3]);
    expect(scatter('min')).toEqual([4, 2, 1]);
  });

  it('Pad: constant, reflect, edge, wrap, negative pads and axes', () => {
    const x = f32([3], [1, 2, 3]);
    const pad = (mode: string, pads: number[]) => evalOp('Pad', [x, k(i64(pads)), k(f32([], [9]))], { mode }).toNumbers();
    expect(pad('constant', [2, 1])).toEqual([9, 9, 1, 2, 3, 9]);
    expect(pad('reflect', [2, 2])).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(pad('edge', [2, 1])).toEqual([1, 1, 1, 2, 3, 3]);
    expect(pad('wrap', [2, 1])).toEqual([2, 3, 1, 2, 3, 1]);
    expect(pad('constant', [-1, 1])).toEqual([2, 3, 9]);
    const y = evalOp('Pad', [iota([2, 2]), k(i64([1, 0])), null, k(i64([-1]))]);
    expect(y.toNumbers()).toEqual([0, 0, 1, 0, 2, 3]);
    expect(inferOp('Pad', [T('f32', ['b', 4]), i64([0, 1, 0, 2])])).toEqual(['f32[b,7]']);
  });
});

describe('generators and indexing', () => {
  it('Shape (start/end), Size, Range, ConstantOfShape, EyeLike, OneHot', () => {
    const x = iota([2, 3, 4]);
    expect(bigs(evalOp('Shape', [x], { start: 1 }))).toEqual([3n, 4n]);
    expect(bigs(evalOp('Shape', [x], { start: -1, end: 10 }))).toEqual([4n]);
    expect(bigs(evalOp('Size', [x]))).toEqual([24n]);
    expect(evalOp('Range', [f32([], [1]), f32([], [2]), f32([], [0.25])]).toNumbers()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(bigs(evalOp('Range', [i64([10], []), i64([4], []), i64([-3], [])]))).toEqual([10n, 7n]);
    expect(evalOp('ConstantOfShape', [i64([2, 2])], { value: Tensor.from('i32', [1], [7]) }).toNumbers()).toEqual([7, 7, 7, 7]);
    expect(evalOp('EyeLike', [iota([2, 3])], { k: 1, dtype: 7 }).toNumbers()).toEqual([0, 1, 0, 0, 0, 1]);
    const oh = evalOp('OneHot', [i64([1, -1, 5]), i64([3], []), f32([2], [0, 2])], { axis: 0 });
    expect(oh.shape).toEqual([3, 3]);
    expect(oh.toNumbers()).toEqual([0, 0, 0, 2, 0, 0, 0, 2, 0]);
    expect(inferOp('Shape', [T('f32', ['b', 3, 4])], { start: -2 })).toEqual(['i64[2]']);
    expect(inferOp('OneHot', [T('i64', ['b']), i64([10], []), T('f32', [2])])).toEqual(['f32[b,10]']);
  });

  it('Trilu, CumSum (exclusive, reverse), NonZero', () => {
    const x = iota([3, 3]);
    expect(evalOp('Trilu', [x]).toNumbers()).toEqual([0, 1, 2, 0, 4, 5, 0, 0, 8]);
    expect(evalOp('Trilu', [x, i64([-1], [])], { upper: 0 }).toNumbers()).toEqual([0, 0, 0, 3, 0, 0, 6, 7, 0]);
    const v = f32([4], [1, 2, 3, 4]);
    expect(evalOp('CumSum', [v, i64([0], [])]).toNumbers()).toEqual([1, 3, 6, 10]);
    expect(evalOp('CumSum', [v, i64([0], [])], { exclusive: 1, reverse: 1 }).toNumbers()).toEqual([9, 7, 4, 0]);
    expect(bigs(evalOp('CumSum', [i64([2n ** 60n, 2n ** 60n]), i64([0], [])]))).toEqual([2n ** 60n, 2n ** 61n]);
    expect(bigs(evalOp('NonZero', [f32([2, 2], [0, 1, 1, 0])]))).toEqual([0n, 1n, 1n, 0n]);
  });

  it('TopK breaks ties by the lower index; ArgMax/ArgMin select first or last', () => {
    const x = f32([5], [3, 1, 3, 2, 1]);
    const [v, i] = evalAll('TopK', [x, i64([3])], {}, 2);
    expect(v!.toNumbers()).toEqual([3, 3, 2]);
    expect(bigs(i!)).toEqual([0n, 2n, 3n]);
    const [s, j] = evalAll('TopK', [x, i64([2])], { largest: 0 }, 2);
    expect(s!.toNumbers()).toEqual([1, 1]);
    expect(bigs(j!)).toEqual([1n, 4n]);
    expect(bigs(evalOp('ArgMax', [x]))).toEqual([0n]);
    expect(bigs(evalOp('ArgMax', [x], { select_last_index: 1 }))).toEqual([2n]);
    const m = evalOp('ArgMin', [f32([2, 2], [4, 1, 0, 5])], { axis: 1, keepdims: 0 });
    expect(m.shape).toEqual([2]);
    expect(bigs(m)).toEqual([1n, 0n]);
  });

  it('DepthToSpace (DCR, CRD) and SpaceToDepth invert each other', () => {
    const x = iota([1, 8, 1, 1]);
    expect(evalOp('DepthToSpace', [x], { blocksize: 2 }).toNumbers()).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
    expect(evalOp('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' }).toNumbers()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(evalOp('DepthToSpace', [iota([1, 4, 1, 2])], { blocksize: 2 }).toNumbers()).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    const d = evalOp('DepthToSpace', [x], { blocksize: 2 });
    expect(evalOp('SpaceToDepth', [d], { blocksize: 2 }).toNumbers()).toEqual(x.toNumbers());
  });

  it('Einsum: matmul, implicit output, diagonal, broadcast ellipsis', () => {
    const a = iota([2, 3]);
    const b = iota([3, 2]);
    expect(evalOp('Einsum', [a, b], { equation: 'ij,jk->ik' }).toNumbers()).toEqual([10, 13, 28, 40]);
    expect(evalOp('Einsum', [a, b], { equation: 'ij,jk' }).toNumbers()).toEqual([10, 13, 28, 40]);
    expect(evalOp('Einsum', [a], { equation: 'ij' }).toNumbers()).toEqual(a.toNumbers());
    expect(evalOp('Einsum', [a], { equation: 'ji' }).toNumbers()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(evalOp('Einsum', [iota([3, 3])], { equation: 'ii->i' }).toNumbers()).toEqual([0, 4, 8]);
    expect(evalOp('Einsum', [iota([3, 3])], { equation: 'ii' }).toNumbers()).toEqual([12]);
    const bm = evalOp('Einsum', [iota([2, 1, 2]), iota([2, 2])], { equation: '...ij,jk->...ik' });
    expect(bm.shape).toEqual([2, 1, 2]);
    expect(bm.toNumbers()).toEqual([2, 3, 6, 11]);
    expect(inferOp('Einsum', [T('f32', ['b', 4, 5]), T('f32', ['b', 5, 6])], { equation: 'bij,bjk->bik' })).toEqual(['f32[b,4,6]']);
  });
});

describe('Resize', () => {
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);

  it('nearest upsampling (asymmetric/floor) and linear half_pixel', () => {
    const near = evalOp('Resize', [x, null, k(f32([4], [1, 1, 2, 2]))], { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
    expect(near.shape).toEqual([1, 1, 4, 4]);
    expect(near.toNumbers().slice(0, 8)).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    const lin = evalOp('Resize', [f32([1, 2], [0, 1]), null, k(f32([2], [1, 2]))], { mode: 'linear' });
    expect(lin.toNumbers()).toEqual([0, 0.25, 0.75, 1]);
    const ac = evalOp('Resize', [f32([1, 2], [0, 1]), null, null, k(i64([1, 3]))], { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
    expect(ac.toNumbers()).toEqual([0, 0.5, 1]);
    expect(inferOp('Resize', [T('f32', ['n', 3, 8, 8]), null, f32([4], [1, 1, 2, 0.5])])).toEqual(['f32[n,3,16,4]']);
    expect(inferOp('Resize', [T('f32', ['n', 3, 8, 8]), null, null, i64([2, 2])], { axes: [2, 3] })).toEqual(['f32[n,3,2,2]']);
  });
});

describe('Dropout, Identity', () => {
  it('inference passes x through with an all-true mask', () => {
    const x = f32([3], [1, 2, 3]);
    const [y, mask] = evalAll('Dropout', [x, f32([], [0.5])], {}, 2);
    expect(y!.toNumbers()).toEqual([1, 2, 3]);
    expect(mask!.dtype).toBe('bool');
    expect(mask!.toNumbers()).toEqual([1, 1, 1]);
    expect(evalOp('Identity', [x]).toNumbers()).toEqual([1, 2, 3]);
  });

  it('training mode draws from numpy\'s seeded MT19937 stream', () => {
    // np.random.seed(0); np.random.uniform(0, 1, 3)
    expect(Array.from(mt19937Uniform(0, 3))).toEqual([0.5488135039273248, 0.7151893663724195, 0.6027633760716439]);
    const [y, mask] = evalAll('Dropout', [f32([3], [1, 2, 3]), f32([], [0.6]), t('bool', [], [1])], { seed: 0 }, 2);
    expect(mask!.toNumbers()).toEqual([0, 1, 1]);
    const scale = 1 / (1 - Math.fround(0.6));
    expect(y!.toNumbers()).toEqual([0, Math.fround(2 * scale), Math.fround(3 * scale)]);
  });
});

describe('opset upgrades', () => {
  /** Import a one-node model at `opset`; return its nodes and graph. */
  const importAt = (opset: number, n: ReturnType<typeof node>, inputs: ReturnType<typeof vi>[], outputs: ReturnType<typeof vi>[]) =>
    importOnnx(modelBytes({ input: inputs, output: outputs, node: [n] }, opset)).graph;
  const ints = (name: string, v: number[]) => ({ name, ints: v, type: 7 });
  const int = (name: string, v: number) => ({ name, i: v, type: 2 });

  it('Slice-9 starts/ends/axes attributes become inputs', () => {
    const g = importAt(9, node('Slice', ['x'], ['y'], { attribute: [ints('starts', [1]), ints('ends', [3]), ints('axes', [1])] }), [vi('x', [2, 4])], [vi('y', [2, 2])]);
    const n = g.nodes[0] as Node;
    expect(n.attrs).toEqual({});
    expect(n.inputs.map((v) => v && formatType(v.type))).toEqual(['f32[2,4]', 'i64[1]', 'i64[1]', 'i64[1]']);
    expect(run(g, [iota([2, 4])])[0]!.toNumbers()).toEqual([1, 2, 5, 6]);
  });

  it('Squeeze/Unsqueeze-11 and Split-11 axes/split attributes become inputs', () => {
    const sq = importAt(11, node('Squeeze', ['x'], ['y'], { attribute: [ints('axes', [0])] }), [vi('x', [1, 3])], [vi('y', [3])]);
    expect(formatType(sq.outputs[0]!.type)).toBe('f32[3]');
    const un = importAt(11, node('Unsqueeze', ['x'], ['y'], { attribute: [ints('axes', [1])] }), [vi('x', [3])], [vi('y', [3, 1])]);
    expect(un.nodes[0]!.inputs).toHaveLength(2);
    const sp = importAt(11, node('Split', ['x'], ['a', 'b'], { attribute: [int('axis', 0), ints('split', [1, 3])] }), [vi('x', [4])], [vi('a', [1]), vi('b', [3])]);
    expect(run(sp, [iota([4])]).map((o) => o.toNumbers())).toEqual([[0], [1, 2, 3]]);
    const eq = importAt(13, node('Split', ['x'], ['a', 'b']), [vi('x', [4])], [vi('a', [2]), vi('b', [2])]);
    expect(eq.nodes[0]!.attrs).toEqual({ num_outputs: 2 });
  });

  it('Pad-10 pads/value attributes, TopK-9 k, Dropout-10 ratio', () => {
    const pad = importAt(10, node('Pad', ['x'], ['y'], { attribute: [ints('pads', [1, 0]), { name: 'value', f: 5, type: 1 }] }), [vi('x', [2])], [vi('y', [3])]);
    expect(run(pad, [f32([2], [1, 2])])[0]!.toNumbers()).toEqual([5, 1, 2]);
    const topk = importAt(9, node('TopK', ['x'], ['v', 'i'], { attribute: [int('k', 1)] }), [vi('x', [3])], [vi('v', [1]), vi('i', [1], 7)]);
    expect(run(topk, [f32([3], [1, 3, 2])])[0]!.toNumbers()).toEqual([3]);
    const drop = importAt(10, node('Dropout', ['x'], ['y'], { attribute: [{ name: 'ratio', f: 0.3, type: 1 }] }), [vi('x', [2])], [vi('y', [2])]);
    expect(drop.nodes[0]!.inputs).toHaveLength(2);
    expect(drop.nodes[0]!.attrs).toEqual({});
  });

  it('Resize-10 and Upsample-9 become asymmetric Resize with floor rounding; Scatter-10 becomes ScatterElements', () => {
    const sc = { name: 's', dims: [4], dataType: 1, rawData: new Uint8Array(new Float32Array([1, 1, 2, 2]).buffer) };
    const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
    for (const [op, opset] of [['Resize', 10], ['Upsample', 9]] as const) {
      const g = importOnnx(modelBytes({ input: [vi('x', [1, 1, 2, 2])], output: [vi('y', [1, 1, 4, 4])], initializer: [sc], node: [node(op, ['x', 's'], ['y'])] }, opset)).graph;
      const n = g.nodes[0] as Node;
      expect(n.op).toBe('onnx.Resize');
      expect(n.attrs).toMatchObject({ coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
      expect(run(g, [x])[0]!.toNumbers()).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    }
    const up7 = importAt(7, node('Upsample', ['x'], ['y'], { attribute: [{ name: 'scales', floats: [1, 1, 2, 1], type: 6 }] }), [vi('x', [1, 1, 2, 2])], [vi('y', [1, 1, 4, 2])]);
    expect(formatType(up7.outputs[0]!.type)).toBe('f32[1,1,4,2]');
    const scatter = importAt(10, node('Scatter', ['x', 'i', 'u'], ['y']), [vi('x', [3]), vi('i', [1], 7), vi('u', [1])], [vi('y', [3])]);
    expect(scatter.nodes[0]!.op).toBe('onnx.ScatterElements');
  });
});

describe('ONNX node conformance tests', () => {
  const dir = join(ONNX_TESTS, 'node');
  const STEMS = [
    'reshape', 'transpose', 'flatten', 'squeeze', 'unsqueeze', 'concat', 'split', 'slice', 'gather', 'gather_elements', 'gathernd',
    'scatter', 'scatternd', 'scatter_elements', 'shape', 'size', 'expand', 'tile', 'range', 'constant_pad', 'edge_pad', 'reflect_pad',
    'wrap_pad', 'resize', 'upsample', 'tril', 'triu', 'cumsum', 'constantofshape', 'identity', 'dropout', 'training_dropout', 'eyelike',
    'onehot', 'top_k', 'argmax', 'argmin', 'nonzero', 'depthtospace', 'spacetodepth', 'einsum',
  ];

  it.skipIf(!existsSync(dir))('every shape-op test passes (skips: opsets past 23, sequence/optional types, Loop)', () => {
    const report = runOnnxSuite(dir, { filter: new RegExp(`^test_(${STEMS.join('|')})(_|\\d|$)`) });
    expect(report.results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(report.passed).toBeGreaterThan(150);
  });
});
