/**
 * @fileoverview `fuse-layernorm`: recognise the decomposed LayerNorm older exporters emit —
 * d = x − mean(x); d / √(mean(d²) + ε) [· γ] [+ β], means over the trailing axes — and replace
 * it by onnx.LayerNormalization. A following constant scale or shift is absorbed into the
 * Scale/B operands, so the affine tail fuses whichever node the driver reaches first.
 */
import type { Node, Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { P, splat, type Pattern } from '../rewrite/pattern.js';
import { rule, type Failure, type RewriteCtx } from '../rewrite/rule.js';
import { broadcast2, filled, ints, sameType, trailingAxis, trailingParam } from '../rewrite/tensors.js';
import type { Tensor } from '../ir/tensor.js';
import { storageDType } from '../ir/types.js';
import { registerPass, rewritePass } from './manager.js';

/** A Cast to the type it already has (the PyTorch exporter puts one after the Sub). */
const noopCast = <C extends object>(p: Pattern<C>) => P.oneOf(p,
  P.op('onnx.Cast', [p]).where('a cast to the same type', (n) => n.outputs[0]!.type.dtype === n.inputs[0]!.type.dtype));

const centered = P.op('onnx.Sub', [P.any('x'), P.op('onnx.ReduceMean', [P.any('x'), P.const('meanAxes')]).as('mean')]).as('centered');
const squared = P.oneOf(P.op('onnx.Pow', [noopCast(centered), P.const(splat(2))]), P.op('onnx.Mul', [noopCast(centered), noopCast(centered)]));
const std = P.op('onnx.Sqrt', [P.op('onnx.Add', [P.op('onnx.ReduceMean', [squared, P.const('varAxes')]).as('variance'), P.const('eps')]).commutative()]);
/** (x − mean) / √(var + ε), as a Div or as a product with the Reciprocal. */
const normalized = P.oneOf(P.op('onnx.Div', [centered, std]), P.op('onnx.Mul', [centered, P.op('onnx.Reciprocal', [std])]).commutative());

interface Core { x: Value; mean: Node; variance: Node; meanAxes: Value; varAxes: Value; eps: Value }

/** The LayerNormalization attributes of a matched core, and the static normalized dims (if known). */
function layout(c: Core, ctx: RewriteCtx): { axis: number; epsilon: number; dims: number[] | undefined } | Failure {
  if (ctx.usedOutside()) return ctx.fail('an intermediate result has other users');
  const rank = c.x.type.shape?.length;
  const a = ints(ctx.constant(c.meanAxes)!);
  const b = ints(ctx.constant(c.varAxes)!);
  const axis = trailingAxis(a, rank);
  if (axis === undefined || trailingAxis(b, rank) !== axis) return ctx.fail('the means are not over the same trailing axes');
  if (getAttr<number>(c.mean, 'keepdims') === 0 || getAttr<number>(c.variance, 'keepdims') === 0) return ctx.fail('a mean drops the reduced axes (keepdims=0)');
  const e = ctx.constant(c.eps)!;
  if (e.size !== 1) return ctx.fail('epsilon is not a scalar');
  const tail = c.x.type.shape?.slice(axis);
  return { axis, epsilon: e.get(0), dims: tail?.every((d): d is number => typeof d === 'number') ? tail : undefined };
}

export const failed = <T extends object>(x: T | Failure): x is Failure => 'failure' in x;

/** (x − mean(x)) / √(mean((x − mean(x))²) + ε) → onnx.LayerNormalization(x, 1){axis, epsilon}, when the normalized dims are static. */
export const layernorm = rule('layernorm', normalized, (c, ctx) => {
  const l = layout(c, ctx);
  if (failed(l)) return l;
  if (!l.dims) return ctx.fail('the normalized dims are not static (a following Mul by γ can still fuse)');
  const scale = ctx.newConstant(filled(storageDType(c.x.type.dtype), l.dims, 1), `${c.x.name}_ln_scale`);
  return ctx.make('onnx.LayerNormalization', [c.x, scale], { axis: l.axis, epsilon: l.epsilon });
});

/** onnx.Mul(normalized, γ) → onnx.LayerNormalization(x, γ){axis, epsilon}; for when the normalized dims are not static. */
export const layernormScale = rule('layernorm-scale', P.op('onnx.Mul', [normalized, P.const('gamma')]).commutative(), (c, ctx) => {
  const l = layout(c, ctx);
  if (failed(l)) return l;
  const g = trailingParam(ctx.constant(c.gamma)!, -l.axis, l.dims);
  if (!g) return ctx.fail('γ does not fit the normalized dims');
  return ctx.make('onnx.LayerNormalization', [c.x, ctx.newConstant(g, `${c.gamma.name}_ln`)], { axis: l.axis, epsilon: l.epsilon });
});

/** The normalized dims of a LayerNormalization / RMSNormalization node: their count and static sizes. */
export function normDims(n: Node): { k: number; dims: number[] | undefined } | undefined {
  const axis = getAttr<number>(n, 'axis');
  const shape = n.inputs[0]!.type.shape;
  if (axis >= 0 && !shape) return undefined;
  const k = axis < 0 ? -axis : shape!.length - axis;
  const tail = shape?.slice(shape.length - k);
  return { k, dims: tail?.every((d): d is number => typeof d === 'number') ? tail : undefined };
}

/** A constant operand of an elementwise op after a norm can be absorbed when it only varies over the normalized dims. */
export function absorbable(norm: Node, op: Node, t: Tensor, ctx: RewriteCtx): Tensor | Failure {
  if (ctx.usedOutside()) return ctx.fail('the norm has other users');
  const nd = normDims(norm);
  if (!nd) return ctx.fail('the normalized dims are unknown');
  if (norm.outputs[0]!.type.shape && !sameType(norm.outputs[0]!, op.outputs[0]!)) return ctx.fail('the constant broadcasts the result to another shape');
  return trailingParam(t, nd.k, nd.dims) ?? ctx.fail('the constant varies over dims that are not normalized');
}

/** onnx.Mul(onnx.LayerNormalization(x, s[, b]), γ) → onnx.LayerNormalization(x, s·γ[, b·γ]). */
export const layernormAbsorbScale = rule('layernorm-absorb-scale',
  P.op('onnx.Mul', [P.op('onnx.LayerNormalization', [P.any('x'), P.const('s')]).rest().as('norm'), P.const('gamma')]).commutative().as('mul'),
  ({ x, s, norm, gamma, mul }, ctx) => {
    if (norm.outputs.length > 1) return ctx.fail('the LayerNormalization returns its statistics too');
    const g = absorbable(norm, mul, ctx.constant(gamma)!, ctx);
    if (failed(g)) return g;
    const b = norm.inputs[2] ? ctx.constant(norm.inputs[2]) : undefined;
    if (norm.inputs[2] && !b) return ctx.fail('B is not a constant');
    const inputs = [x, ctx.newConstant(broadcast2(ctx.constant(s)!, g, (p, q) => p * q), `${gamma.name}_ln`)];
    if (b) inputs.push(ctx.newConstant(broadcast2(b, g, (p, q) => p * q), `${gamma.name}_ln_bias`));
    return ctx.make('onnx.LayerNormalization', inputs, norm.attrs);
  });

/** onnx.Add(onnx.LayerNormalization(x, s[, b]), β) → onnx.LayerNormalization(x, s, b + β). */
export const layernormAbsorbBias = rule('layernorm-absorb-bias',
  P.op('onnx.Add', [P.op('onnx.LayerNormalization', [P.any('x'), P.const('s')]).rest().as('norm'), P.const('beta')]).commutative().as('add'),
  ({ x, s, norm, beta, add }, ctx) => {
    if (norm.outputs.length > 1) return ctx.fail('the LayerNormalization returns its statistics too');
    const bt = absorbable(norm, add, ctx.constant(beta)!, ctx);
    if (failed(bt)) return bt;
    const b = norm.inputs[2] ? ctx.constant(norm.inputs[2]) : undefined;
    if (norm.inputs[2] && !b) return ctx.fail('B is not a constant');
    const bias = b ? broadcast2(b, bt, (p, q) => p + q) : bt;
    return ctx.make('onnx.LayerNormalization', [x, s, ctx.newConstant(bias, `${beta.name}_ln`)], norm.attrs);
  });

export const fuseLayernorm = rewritePass({
  name: 'fuse-layernorm',
  summary: 'decomposed LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add ε, Sqrt, Div [, Mul γ, Add β]) → onnx.LayerNormalization',
  description: 'Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(Sub(…), 2)), ε))) [· γ] [+ β] → '
    + 'LayerNormalization(x, γ, β){axis, epsilon}. Run it before fuse-rmsnorm (whose pattern also matches the centered part).',
  rules: [layernorm, layernormScale, layernormAbsorbScale, layernormAbsorbBias],
});
registerPass(fuseLayernorm);
