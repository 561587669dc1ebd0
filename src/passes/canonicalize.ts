/**
 * @fileoverview `canonicalize`: remove ops that do nothing and merge pairs that undo or repeat
 * each other, so later passes see one form. Every rule keeps types exactly.
 */
import { getAttr } from '../ir/registry.js';
import type { Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { P, splat } from '../rewrite/pattern.js';
import { rule } from '../rewrite/rule.js';
import { ints, sameType, staticShape } from '../rewrite/tensors.js';
import { registerPass, rewritePass } from './manager.js';

/** onnx.Identity(x) → x. */
export const identity = rule('identity', P.op('onnx.Identity', [P.any('x')]), ({ x }) => x);

/** onnx.Dropout(x, …) → x, when its mask is unused and training_mode is absent or false. */
export const dropout = rule('dropout', P.op('onnx.Dropout', [P.any('x')]).rest().as('drop'), ({ x, drop }, ctx) => {
  const mask = drop.outputs[1];
  if (mask && (ctx.isOutput(mask) || ctx.users(mask).length > 0)) return ctx.fail('its mask is used');
  const mode = drop.inputs[2];
  if (mode) {
    const t = ctx.constant(mode);
    if (!t || t.get(0) !== 0) return ctx.fail('training_mode is not a constant false');
  }
  return [x];
});

/** onnx.Reshape(x, s) → x, when x already has that static shape. */
export const reshapeNoop = rule('reshape-noop', P.op('onnx.Reshape', [P.any('x'), P.any()]).as('reshape'), ({ x, reshape }, ctx) =>
  staticShape(x) && sameType(x, reshape.outputs[0]!) ? x : ctx.fail('the shape changes (or is not static)'));

/** onnx.Reshape(onnx.Reshape(x, s1), s2) → onnx.Reshape(x, s2), when s2 copies no input dim (0). */
export const reshapeReshape = rule('reshape-reshape',
  P.op('onnx.Reshape', [P.op('onnx.Reshape', [P.any('x'), P.any()]), P.const('shape')]).as('outer'),
  ({ x, shape, outer }, ctx) => (getAttr<number>(outer, 'allowzero') === 0 && ints(ctx.constant(shape)!).includes(0)
    ? ctx.fail('the outer shape copies dims of its input (0 entries)')
    : ctx.make('onnx.Reshape', [x, shape], outer.attrs)));

/** The permutation a Transpose applies (its default reverses the dims); undefined for unknown rank. */
function perm(attrs: Record<string, unknown>, x: Value): number[] | undefined {
  const p = attrs.perm as number[] | undefined;
  if (p) return p;
  const rank = x.type.shape?.length;
  return rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/** onnx.Transpose(x) → x, when its perm is the identity. */
export const transposeNoop = rule('transpose-noop', P.op('onnx.Transpose', [P.any('x')]).as('t'), ({ x, t }, ctx) => {
  const p = perm(t.attrs, x);
  return p && p.every((d, i) => d === i) ? x : ctx.fail('perm is not the identity');
});

/** onnx.Transpose(onnx.Transpose(x){perm=p}){perm=q} → onnx.Transpose(x){perm=p∘q}. */
export const transposeTranspose = rule('transpose-transpose',
  P.op('onnx.Transpose', [P.op('onnx.Transpose', [P.any('x')]).as('inner')]).as('outer'),
  ({ x, inner, outer }, ctx) => {
    const p = perm(inner.attrs, x);
    const q = perm(outer.attrs, inner.outputs[0]!);
    if (!p || !q) return ctx.fail('rank unknown');
    return ctx.make('onnx.Transpose', [x], { perm: q.map((i) => p[i]!) });
  });

/** onnx.Cast(x) → x, when x already has the target type. */
export const castNoop = rule('cast-noop', P.op('onnx.Cast', [P.any('x')]).as('cast'), ({ x, cast }, ctx) =>
  (x.type.dtype === cast.outputs[0]!.type.dtype ? x : ctx.fail('the element type changes')));

/** Result of `x op c` is `x` itself when c does not broadcast x to a new type. */
const neutral = (name: string, ops: string[], value: number, commutes: boolean) => {
  const base = P.op(ops, [P.any('x'), P.const(splat(value, 0))]).as('op');
  return rule(name, commutes ? base.commutative() : base, ({ x, op }, ctx) =>
    (sameType(x, op.outputs[0]!) ? x : ctx.fail('the constant broadcasts x to another shape')));
};

/** onnx.Add(x, 0) → x (either operand order). */
export const addZero = neutral('add-zero', ['onnx.Add'], 0, true);
/** onnx.Sub(x, 0) → x. */
export const subZero = neutral('sub-zero', ['onnx.Sub'], 0, false);
/** onnx.Mul(x, 1) → x (either operand order). */
export const mulOne = neutral('mul-one', ['onnx.Mul'], 1, true);
/** onnx.Div(x, 1) → x. */
export const divOne = neutral('div-one', ['onnx.Div'], 1, false);

/** Sorted non-negative axes of an axes constant for rank `rank`. */
const axesOf = (t: Tensor, rank: number): string => ints(t).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b).join(',');

/** onnx.Unsqueeze(onnx.Squeeze(x, a), a) → x. */
export const squeezeUnsqueeze = rule('squeeze-unsqueeze',
  P.op('onnx.Unsqueeze', [P.op('onnx.Squeeze', [P.any('x'), P.const('a')]), P.const('b')]).as('outer'),
  ({ x, a, b, outer }, ctx) => {
    const rank = x.type.shape?.length;
    if (rank === undefined) return ctx.fail('rank unknown');
    return axesOf(ctx.constant(a)!, rank) === axesOf(ctx.constant(b)!, rank) && sameType(x, outer.outputs[0]!) ? x : ctx.fail('the axes differ');
  });

/** onnx.Squeeze(onnx.Unsqueeze(x, a), a) → x. */
export const unsqueezeSqueeze = rule('unsqueeze-squeeze',
  P.op('onnx.Squeeze', [P.op('onnx.Unsqueeze', [P.any('x'), P.const('a')]).as('inner'), P.const('b')]),
  ({ x, a, b, inner }, ctx) => {
    const rank = inner.outputs[0]!.type.shape?.length;
    if (rank === undefined) return ctx.fail('rank unknown');
    return axesOf(ctx.constant(a)!, rank) === axesOf(ctx.constant(b)!, rank) ? x : ctx.fail('the axes differ');
  });

export const CANONICALIZE_RULES = [
  identity, dropout, reshapeNoop, reshapeReshape, transposeNoop, transposeTranspose, castNoop,
  addZero, subZero, mulOne, divOne, squeezeUnsqueeze, unsqueezeSqueeze,
];

export const canonicalize = rewritePass({
  name: 'canonicalize',
  summary: 'remove no-op ops and merge Transpose/Reshape/Squeeze pairs',
  description: 'Identity(x), Dropout(x), Reshape(x) to its own shape, Transpose(x) by the identity, Cast(x) to its own '
    + 'type, x+0, x-0, x*1, x/1 → x; Transpose(Transpose(x)) → one Transpose; Reshape(Reshape(x)) → one Reshape; '
    + 'Unsqueeze(Squeeze(x, a), a) and Squeeze(Unsqueeze(x, a), a) → x.',
  rules: CANONICALIZE_RULES,
});
registerPass(canonicalize);
