/**
 * @fileoverview Element-wise ops: unary math, binary arithmetic with numpy broadcasting,
 * comparisons, logic, Where, Clip, Cast.
 */
import { registerOp, type InferCtx } from '../registry.js';
import { broadcastShapes } from '../shape-utils.js';
import type { TensorType } from '../types.js';

/** Output = type of input 0 (unary, shape-preserving). */
export function sameAsInput0(ctx: InferCtx): TensorType[] {
  const t = ctx.inputs[0];
  if (!t) return ctx.fail('missing input 0');
  return [t];
}

/** Broadcast of all present inputs; dtype from input 0 (or `dtype` when given). */
export function broadcastInfer(ctx: InferCtx, dtype?: TensorType['dtype']): TensorType[] {
  const ts = ctx.inputs.filter((t): t is TensorType => t !== undefined);
  if (ts.length === 0) return ctx.fail('no inputs');
  const shapes = ts.map((t) => t.shape);
  if (shapes.some((s) => s === undefined)) return [{ dtype: dtype ?? ts[0]!.dtype, shape: undefined }];
  const shape = broadcastShapes(shapes as NonNullable<TensorType['shape']>[]);
  if (!shape) return ctx.fail(`input shapes ${ts.map((t) => `[${t.shape!.join(',')}]`).join(', ')} do not broadcast`);
  return [{ dtype: dtype ?? ts[0]!.dtype, shape }];
}

registerOp({
  name: 'onnx.Relu', summary: 'max(x, 0)', inputs: [1, 1], outputs: [1, 1], attrs: {},
  infer: sameAsInput0,
});

registerOp({
  name: 'onnx.Add', summary: 'A + B with numpy broadcasting', inputs: [2, 2], outputs: [1, 1], attrs: {},
  infer: (ctx) => broadcastInfer(ctx),
});
