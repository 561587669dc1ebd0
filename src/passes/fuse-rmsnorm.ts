/**
 * @fileoverview `fuse-rmsnorm`: recognise the decomposed RMSNorm — x / √(mean(x²) + ε) [· γ],
 * with the division written as Div or as Mul by Reciprocal, mean over the trailing axes — and
 * replace it by onnx.RMSNormalization; a following constant scale is absorbed into Scale.
 * Run fuse-layernorm first: a decomposed LayerNorm contains this pattern around its centered x.
 */
import type { Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { storageDType } from '../ir/types.js';
import { P, splat } from '../rewrite/pattern.js';
import { rule, type Failure, type RewriteCtx } from '../rewrite/rule.js';
import { broadcast2, filled, ints, trailingAxis, trailingParam } from '../rewrite/tensors.js';
import type { Node } from '../ir/graph.js';
import { absorbable, failed } from './fuse-layernorm.js';
import { registerPass, rewritePass } from './manager.js';

const x = P.any('x');
const meanSquare = P.op('onnx.ReduceMean', [P.oneOf(P.op('onnx.Pow', [x, P.const(splat(2))]), P.op('onnx.Mul', [x, x])), P.const('axes')]).as('mean');
const rms = P.op('onnx.Sqrt', [P.op('onnx.Add', [meanSquare, P.const('eps')]).commutative()]);
/** x / √(mean(x²) + ε), as a Div or as a product with the Reciprocal. */
const normalized = P.oneOf(P.op('onnx.Div', [x, rms]), P.op('onnx.Mul', [x, P.op('onnx.Reciprocal', [rms])]).commutative());

/** The RMSNormalization attributes of a matched core, and the static normalized dims (if known). */
function layout(c: { x: Value; mean: Node; axes: Value; eps: Value }, ctx: RewriteCtx): { axis: number; epsilon: number; dims: number[] | undefined } | Failure {
  if (ctx.usedOutside()) return ctx.fail('an intermediate result has other users');
  const axis = trailingAxis(ints(ctx.constant(c.axes)!), c.x.type.shape?.length);
  if (axis === undefined) return ctx.fail('the mean is not over trailing axes');
  if (getAttr<number>(c.mean, 'keepdims') === 0) return ctx.fail('the mean drops the reduced axes (keepdims=0)');
  const e = ctx.constant(c.eps)!;
  if (e.size !== 1) return ctx.fail('epsilon is not a scalar');
  const tail = c.x.type.shape?.slice(axis);
  return { axis, epsilon: e.get(0), dims: tail?.every((d): d is number => typeof d === 'number') ? tail : undefined };
}

/** x / √(mean(x²) + ε) → onnx.RMSNormalization(x, 1){axis, epsilon}, when the normalized dims are static. */
export const rmsnorm = rule('rmsnorm', normalized, (c, ctx) => {
  const l = layout(c, ctx);
  if (failed(l)) return l;
  if (!l.dims) return ctx.fail('the normalized dims are not static (a following Mul by γ can still fuse)');
  const scale = ctx.newConstant(filled(storageDType(c.x.type.dtype), l.dims, 1), `${c.x.name}_rms_scale`);
  return ctx.make('onnx.RMSNormalization', [c.x, scale], { axis: l.axis, epsilon: l.epsilon });
});

/** onnx.Mul(normalized, γ) → onnx.RMSNormalization(x, γ){axis, epsilon}; for when the normalized dims are not static. */
export const rmsnormScale = rule('rmsnorm-scale', P.op('onnx.Mul', [normalized, P.const('gamma')]).commutative(), (c, ctx) => {
  const l = layout(c, ctx);
  if (failed(l)) return l;
  const g = trailingParam(ctx.constant(c.gamma)!, -l.axis, l.dims);
  if (!g) return ctx.fail('γ does not fit the normalized dims');
  return ctx.make('onnx.RMSNormalization', [c.x, ctx.newConstant(g, `${c.gamma.name}_rms`)], { axis: l.axis, epsilon: l.epsilon });
});

/** onnx.Mul(onnx.RMSNormalization(x, s), γ) → onnx.RMSNormalization(x, s·γ). */
export const rmsnormAbsorbScale = rule('rmsnorm-absorb-scale',
  P.op('onnx.Mul', [P.op('onnx.RMSNormalization', [P.any('x'), P.const('s')]).as('norm'), P.const('gamma')]).commutative().as('mul'),
  ({ x, s, norm, gamma, mul }, ctx) => {
    const g = absorbable(norm, mul, ctx.constant(gamma)!, ctx);
    if (failed(g)) return g;
    return ctx.make('onnx.RMSNormalization', [x, ctx.newConstant(broadcast2(ctx.constant(s)!, g, (p, q) => p * q), `${gamma.name}_rms`)], norm.attrs);
  });

export const fuseRmsnorm = rewritePass({
  name: 'fuse-rmsnorm',
  summary: 'decomposed RMSNorm (Pow 2, ReduceMean, Add ε, Sqrt, Div or Reciprocal+Mul [, Mul γ]) → onnx.RMSNormalization',
  description: 'Div(x, Sqrt(Add(ReduceMean(Pow(x, 2)), ε))) [· γ] or Mul(x, Reciprocal(Sqrt(…))) [· γ] → '
    + 'RMSNormalization(x, γ){axis, epsilon}. Run fuse-layernorm first.',
  rules: [rmsnorm, rmsnormScale, rmsnormAbsorbScale],
});
registerPass(fuseRmsnorm);
