/**
 * @fileoverview fused.* graph ops made by fusion passes. Each has an `expand` hook that builds
 * the equivalent onnx.* subgraph, which export uses so the model runs in ONNX Runtime.
 */
import { getOp, registerOp } from '../registry.js';
import { broadcastShapes } from '../shape-utils.js';
import { formatShape, shapesCompatible } from '../types.js';

registerOp({
  name: 'fused.MatMulAdd',
  summary: 'MatMul(A, B) + C, where C broadcasts to the product without enlarging it (made by fuse-matmul-add)',
  inputs: [3, 3], outputs: [1, 1], attrs: {},
  infer: (ctx) => {
    const [y] = getOp('onnx.MatMul')!.infer(ctx);
    const c = ctx.inputs[2];
    if (!c) return ctx.fail('missing input 2 (C)');
    if (c.dtype !== y!.dtype) ctx.fail(`C has element type ${String(c.dtype)}, the product ${String(y!.dtype)}`);
    if (y!.shape && c.shape) {
      const b = broadcastShapes([y!.shape, c.shape]);
      if (!b || !shapesCompatible(b, y!.shape)) ctx.fail(`C of shape ${formatShape(c.shape)} does not broadcast to the product ${formatShape(y!.shape)}`);
    }
    return [y!];
  },
  expand: (node, b) => [b.op('onnx.Add', [b.op('onnx.MatMul', [node.inputs[0]!, node.inputs[1]!]), node.inputs[2]!])],
});
