/**
 * @fileoverview `fold-batchnorm`: an inference BatchNormalization is a per-channel affine map
 * y = x·s + t (s = γ/√(var+ε), t = β − mean·s). After a Conv, Gemm or MatMul with constant
 * weights it folds into the weights (scaled per output channel) and the bias.
 */
import type { Node, Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { P } from '../rewrite/pattern.js';
import { rule, type Failure, type RewriteCtx } from '../rewrite/rule.js';
import { registerPass, rewritePass } from './manager.js';

interface Affine { s: number[]; t: number[] }

/** The BatchNormalization as y = x·s + t per channel, or why it is not foldable. */
function affine(bn: Node, ctx: RewriteCtx, channels: number): Affine | Failure {
  if (getAttr<number>(bn, 'training_mode') !== 0 || bn.outputs.length > 1) return ctx.fail('BatchNormalization is in training mode');
  if (ctx.usedOutside()) return ctx.fail('the producer has other users');
  const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((v) => ctx.constant(v!)!.toNumbers());
  if (gamma!.length !== channels) return ctx.fail(`the statistics have ${gamma!.length} channels, the weights ${channels}`);
  const eps = getAttr<number>(bn, 'epsilon');
  const s = gamma!.map((g, c) => g / Math.sqrt(variance![c]! + eps));
  return { s, t: beta!.map((b, c) => b - mean![c]! * s[c]!) };
}

const failed = (x: Affine | Failure): x is Failure => 'failure' in x;

/** `w` with element i multiplied by s[channel(i)]. */
function scaled(w: Tensor, s: readonly number[], channel: (i: number) => number): Tensor {
  return Tensor.from(w.dtype, w.shape, w.toNumbers().map((x, i) => x * s[channel(i)]!));
}

const stats = [P.const('gamma'), P.const('beta'), P.const('mean'), P.const('variance')] as const;
const hint = (v: Value, what: string): string => `${v.name}_${what}`;

/** onnx.BatchNormalization(onnx.Conv(x, w[, b])) → onnx.Conv(x, w·s, b·s + t). */
export const convBatchnorm = rule('conv-batchnorm',
  P.op('onnx.BatchNormalization', [P.op('onnx.Conv', [P.any('x'), P.const('w')]).rest().as('conv'), ...stats]).as('bn'),
  ({ x, w, conv, bn }, ctx) => {
    const wt = ctx.constant(w)!;
    const a = affine(bn, ctx, wt.shape[0]!);
    if (failed(a)) return a;
    const b = conv.inputs[2] ? ctx.constant(conv.inputs[2]) : undefined;
    if (conv.inputs[2] && !b) return ctx.fail('the Conv bias is not a constant');
    const per = wt.size / wt.shape[0]!;
    const bias = Tensor.from(wt.dtype, [wt.shape[0]!], a.t.map((t, c) => (b ? b.get(c) : 0) * a.s[c]! + t));
    return ctx.make('onnx.Conv', [x, ctx.newConstant(scaled(wt, a.s, (i) => Math.floor(i / per)), hint(w, 'bn')),
      ctx.newConstant(bias, hint(bn.outputs[0]!, 'bias'))], conv.attrs);
  });

/** onnx.BatchNormalization(onnx.Gemm(a, w[, c])) → onnx.Gemm(a, w·s, c·s + t){beta=1}. */
export const gemmBatchnorm = rule('gemm-batchnorm',
  P.op('onnx.BatchNormalization', [P.op('onnx.Gemm', [P.any('a'), P.const('w')]).rest().as('gemm'), ...stats]).as('bn'),
  ({ a, w, gemm, bn }, ctx) => {
    const wt = ctx.constant(w)!;
    const transB = getAttr<number>(gemm, 'transB') !== 0;
    const [k, n] = transB ? [wt.shape[1]!, wt.shape[0]!] : [wt.shape[0]!, wt.shape[1]!];
    const f = affine(bn, ctx, n);
    if (failed(f)) return f;
    const c = gemm.inputs[2] ? ctx.constant(gemm.inputs[2]) : undefined;
    if (gemm.inputs[2] && !c) return ctx.fail('the Gemm bias is not a constant');
    const beta = getAttr<number>(gemm, 'beta');
    let bias: Tensor;
    if (!c || c.size === 1 || (c.size === n && c.shape[c.shape.length - 1] === n)) {
      bias = Tensor.from(wt.dtype, [n], f.t.map((t, j) => (c ? beta * c.get(c.size === 1 ? 0 : j) : 0) * f.s[j]! + t));
    } else if (c.shape.length === 2 && c.shape[1] === n) {
      bias = Tensor.from(wt.dtype, c.shape, c.toNumbers().map((x, i) => beta * x * f.s[i % n]! + f.t[i % n]!));
    } else {
      return ctx.fail(`bias of shape [${c.shape.join(',')}] is not supported`);
    }
    const w2 = scaled(wt, f.s, transB ? (i) => Math.floor(i / k) : (i) => i % n);
    return ctx.make('onnx.Gemm', [a, ctx.newConstant(w2, hint(w, 'bn')), ctx.newConstant(bias, hint(bn.outputs[0]!, 'bias'))], { ...gemm.attrs, beta: 1 });
  });

/** onnx.BatchNormalization(onnx.MatMul(a, w)) → onnx.Add(onnx.MatMul(a, w·s), t), for a 2-D result (channels last). */
export const matmulBatchnorm = rule('matmul-batchnorm',
  P.op('onnx.BatchNormalization', [P.op('onnx.MatMul', [P.any('a'), P.const('w')]).as('matmul'), ...stats]).as('bn'),
  ({ a, w, matmul, bn }, ctx) => {
    const wt = ctx.constant(w)!;
    if (wt.rank !== 2 || matmul.outputs[0]!.type.shape?.length !== 2) return ctx.fail('the MatMul result is not 2-D (BatchNormalization normalizes axis 1)');
    const n = wt.shape[1]!;
    const f = affine(bn, ctx, n);
    if (failed(f)) return f;
    const y = ctx.make('onnx.MatMul', [a, ctx.newConstant(scaled(wt, f.s, (i) => i % n), hint(w, 'bn'))]);
    return ctx.make('onnx.Add', [y, ctx.newConstant(Tensor.from(wt.dtype, [n], f.t), hint(bn.outputs[0]!, 'bias'))]);
  });

export const foldBatchnorm = rewritePass({
  name: 'fold-batchnorm',
  summary: 'fold inference BatchNormalization into the constant weights of the Conv/Gemm/MatMul before it',
  description: 'BatchNormalization(Conv(x, w, b), γ, β, mean, var) → Conv(x, w·s, b·s + t) with s = γ/√(var+ε), '
    + 't = β − mean·s; likewise Gemm (weights and C) and 2-D MatMul (→ MatMul + Add).',
  rules: [convBatchnorm, gemmBatchnorm, matmulBatchnorm],
});
registerPass(foldBatchnorm);
