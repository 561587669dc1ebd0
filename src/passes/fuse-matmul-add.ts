/**
 * @fileoverview `fuse-matmul-add`: a MatMul followed by the addition of a constant bias becomes
 * one op — onnx.Gemm when both operands are 2-D, else fused.MatMulAdd (which export expands
 * back to MatMul + Add).
 */
import { P } from '../rewrite/pattern.js';
import { rule } from '../rewrite/rule.js';
import { sameType } from '../rewrite/tensors.js';
import { registerPass, rewritePass } from './manager.js';

/** onnx.Add(onnx.MatMul(a, b), c) → onnx.Gemm(a, b, c) when a and b are 2-D, else fused.MatMulAdd(a, b, c); c constant. */
export const matmulAdd = rule('matmul-add',
  P.op('onnx.Add', [P.op('onnx.MatMul', [P.any('a'), P.any('b')]).as('matmul'), P.const('c')]).commutative().as('add'),
  ({ a, b, c, matmul, add }, ctx) => {
    if (ctx.usedOutside()) return ctx.fail('the MatMul result has other users');
    if (!sameType(add.outputs[0]!, matmul.outputs[0]!)) return ctx.fail('the bias broadcasts the product to another shape (or shapes are unknown)');
    return a.type.shape?.length === 2 && b.type.shape?.length === 2
      ? ctx.make('onnx.Gemm', [a, b, c])
      : ctx.make('fused.MatMulAdd', [a, b, c]);
  });

export const fuseMatmulAdd = rewritePass({
  name: 'fuse-matmul-add',
  summary: 'MatMul + constant bias → Gemm (2-D) or fused.MatMulAdd',
  description: 'Add(MatMul(a: f32[M,K], b: f32[K,N]), c) → Gemm(a, b, c); Add(MatMul(a: f32[B,T,K], b), c) → fused.MatMulAdd(a, b, c).',
  rules: [matmulAdd],
});
registerPass(fuseMatmulAdd);
