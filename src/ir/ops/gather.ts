/**
 * @fileoverview Indexing ops: the Gather/Scatter family, OneHot, TopK, ArgMax/ArgMin and NonZero.
 */
import { registerOp, type InferCtx } from '../registry.js';
import type { Dim, TensorType } from '../types.js';
import { attrToInput, axisIn, int, need, reducedShape, same, str, unknownRank } from './shape-common.js';

// ---- Gather / Scatter ------------------------------------------------------------------------

registerOp({
  name: 'onnx.Gather', summary: 'take slices of data along axis at the indices (negative indices count from the end)',
  inputs: [2, 2], outputs: [1, 1], attrs: { axis: int(0) }, since: 13,
  infer: (ctx) => {
    const [x, idx] = [need(ctx, 0), need(ctx, 1)];
    if (!x.shape || !idx.shape) return unknownRank(x);
    const a = axisIn(ctx, ctx.attr<number>('axis'), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)] }];
  },
});

registerOp({
  name: 'onnx.GatherElements', summary: 'out[i][j][k] = data[..index[i][j][k] at axis..]', inputs: [2, 2], outputs: [1, 1], attrs: { axis: int(0) }, since: 13,
  infer: (ctx) => [{ dtype: need(ctx, 0).dtype, shape: need(ctx, 1).shape }],
});

registerOp({
  name: 'onnx.GatherND', summary: 'gather slices of data addressed by the last dim of indices (after batch_dims leading dims)',
  inputs: [2, 2], outputs: [1, 1], attrs: { batch_dims: int(0) }, since: 13,
  infer: (ctx) => {
    const [x, idx] = [need(ctx, 0), need(ctx, 1)];
    const b = ctx.attr<number>('batch_dims');
    const k = idx.shape?.[idx.shape.length - 1];
    if (!x.shape || !idx.shape || typeof k !== 'number') return unknownRank(x);
    return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + k)] }];
  },
});

const SCATTER_REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'];
const reductionOk = (ctx: InferCtx): void => {
  const r = ctx.attr<string>('reduction');
  if (!SCATTER_REDUCTIONS.includes(r)) ctx.fail(`reduction "${r}" is not one of ${SCATTER_REDUCTIONS.join(', ')}`);
};

registerOp({
  name: 'onnx.ScatterND', summary: 'copy of data with slices addressed by indices replaced by (or reduced with) updates',
  inputs: [3, 3], outputs: [1, 1], attrs: { reduction: str('none') }, since: 18,
  infer: (ctx) => { reductionOk(ctx); return same(ctx); },
});

const scatterElements = {
  summary: 'copy of data with elements at index (along axis) replaced by (or reduced with) updates',
  inputs: [3, 3] as const, outputs: [1, 1] as const, attrs: { axis: int(0), reduction: str('none') },
  infer: (ctx: InferCtx): TensorType[] => { reductionOk(ctx); return same(ctx); },
};

registerOp({ name: 'onnx.ScatterElements', ...scatterElements, since: 18 });

registerOp({
  name: 'onnx.Scatter', ...scatterElements, summary: 'opset < 11 name of ScatterElements (renamed on import)',
  upgrade: (node) => { node.op = 'onnx.ScatterElements'; },
});

// ---- OneHot ---------------------------------------------------------------------------------

registerOp({
  name: 'onnx.OneHot', summary: 'one-hot encode indices along a new axis of size depth: values[1] at the index, values[0] elsewhere',
  inputs: [3, 3], outputs: [1, 1], attrs: { axis: int(-1) }, since: 11,
  infer: (ctx) => {
    const idx = need(ctx, 0);
    const dtype = need(ctx, 2).dtype;
    if (!idx.shape) return [{ dtype, shape: undefined }];
    const depth = ctx.constant(1)?.get(0);
    const a = axisIn(ctx, ctx.attr<number>('axis'), idx.shape.length + 1);
    const out: Dim[] = [...idx.shape];
    out.splice(a, 0, depth === undefined ? '?' : Math.trunc(depth));
    return [{ dtype, shape: out }];
  },
});

// ---- TopK, ArgMax/ArgMin, NonZero ------------------------------------------------------------

registerOp({
  name: 'onnx.TopK', summary: 'the k largest (or smallest) values along axis and their indices; ties keep the lower index',
  inputs: [2, 2], outputs: [2, 2], attrs: { axis: int(-1), largest: int(1), sorted: int(1) }, since: 11,
  infer: (ctx) => {
    const x = need(ctx, 0);
    if (!x.shape) return [unknownRank(x)[0]!, { dtype: 'i64', shape: undefined }];
    const a = axisIn(ctx, ctx.attr<number>('axis'), x.shape.length);
    const k = ctx.constant(1)?.get(0);
    const shape = x.shape.map((d, i) => (i === a ? k ?? '?' : d));
    return [{ dtype: x.dtype, shape }, { dtype: 'i64', shape }];
  },
  upgrade: (node, ctx) => {
    if (ctx.opset >= 10) return;
    attrToInput(node, ctx, 'k', 1);
  },
});

for (const op of ['ArgMax', 'ArgMin']) {
  registerOp({
    name: `onnx.${op}`, summary: `index of the ${op === 'ArgMax' ? 'largest' : 'smallest'} element along axis (first, or last with select_last_index)`,
    inputs: [1, 1], outputs: [1, 1], attrs: { axis: int(0), keepdims: int(1), select_last_index: int(0) }, since: 13,
    infer: (ctx) => {
      const x = need(ctx, 0);
      if (!x.shape) return [{ dtype: 'i64', shape: undefined }];
      const a = axisIn(ctx, ctx.attr<number>('axis'), x.shape.length);
      return [{ dtype: 'i64', shape: reducedShape(x.shape, [a], ctx.attr<number>('keepdims') !== 0) }];
    },
  });
}

registerOp({
  name: 'onnx.NonZero', summary: 'indices of the non-zero elements, [rank, count] i64', inputs: [1, 1], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => [{ dtype: 'i64', shape: [need(ctx, 0).shape?.length ?? '?', '?'] }],
});
