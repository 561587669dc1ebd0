/**
 * @fileoverview Reductions (ReduceSum, ReduceMean, ReduceMax, ...). The canonical form takes
 * `axes` as an optional i64 input (opset 18; ReduceSum since 13) with keepdims and
 * noop_with_empty_axes; older forms' `axes` attribute becomes a constant input on import.
 */
import type { Node } from '../graph.js';
import { registerOp, type InferCtx, type UpgradeCtx } from '../registry.js';
import { Tensor } from '../tensor.js';
import type { Dim, TensorType } from '../types.js';
import { axisIn, constInts, need, reducedShape } from './shape-common.js';

/** Each reduction and the opset its axes-as-input form appeared in. */
export const REDUCE_OPS: Readonly<Record<string, { summary: string; since: number }>> = {
  ReduceSum: { summary: 'sum over axes', since: 13 },
  ReduceMean: { summary: 'mean over axes', since: 18 },
  ReduceMax: { summary: 'maximum over axes (-inf, or the dtype minimum, for an empty set)', since: 18 },
  ReduceMin: { summary: 'minimum over axes (+inf, or the dtype maximum, for an empty set)', since: 18 },
  ReduceProd: { summary: 'product over axes', since: 18 },
  ReduceL1: { summary: 'sum of |x| over axes', since: 18 },
  ReduceL2: { summary: 'sqrt of the sum of x^2 over axes', since: 18 },
  ReduceLogSum: { summary: 'log of the sum over axes', since: 18 },
  ReduceLogSumExp: { summary: 'log of the sum of e^x over axes', since: 18 },
  ReduceSumSquare: { summary: 'sum of x^2 over axes', since: 18 },
};

/** The reduced axes (sorted) of a reduction over `rank` dims; [] means none (noop). */
export function reduceAxes(axes: readonly number[] | undefined, rank: number, noopWithEmpty: boolean): number[] {
  if (!axes || axes.length === 0) return noopWithEmpty ? [] : Array.from({ length: rank }, (_, i) => i);
  return [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

function inferReduce(ctx: InferCtx): TensorType[] {
  const x = need(ctx, 0);
  const keep = ctx.attr<number>('keepdims') !== 0;
  if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
  const given = ctx.inputs[1];
  const axes = given ? constInts(ctx, 1) : [];
  if (!axes) return [{ dtype: x.dtype, shape: keep ? x.shape.map((): Dim => '?') : undefined }];
  for (const a of axes) axisIn(ctx, a, x.shape.length);
  const r = reduceAxes(axes, x.shape.length, ctx.attr<number>('noop_with_empty_axes') !== 0);
  return [{ dtype: x.dtype, shape: reducedShape(x.shape, r, keep) }];
}

/** Before the axes-as-input form, `axes` was an attribute: it becomes an i64 constant input. */
const upgradeReduce = (since: number) => (node: Node, ctx: UpgradeCtx): void => {
  if (ctx.opset >= since) return;
  const axes = node.attrs.axes as number[] | undefined;
  delete node.attrs.axes;
  if (axes !== undefined) {
    node.inputs[1] = ctx.constant(Tensor.from('i64', [axes.length], axes), `${node.name || node.outputs[0]?.name || 'reduce'}_axes`);
  }
};

for (const [op, { summary, since }] of Object.entries(REDUCE_OPS)) {
  registerOp({
    name: `onnx.${op}`, summary, inputs: [1, 2], outputs: [1, 1], since,
    attrs: { keepdims: { kind: 'int', default: 1 }, noop_with_empty_axes: { kind: 'int', default: 0 } },
    infer: inferReduce, upgrade: upgradeReduce(since),
  });
}
