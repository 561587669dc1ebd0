/**
 * @fileoverview `fuse-gelu`: recognise the decomposed GELU that exporters emit and replace it by
 * onnx.Gelu — the exact form 0.5·x·(1 + erf(x/√2)) and the tanh approximation
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with the factors in any order.
 */
import { P, splat, type Pattern } from '../rewrite/pattern.js';
import { rule, type RewriteCtx } from '../rewrite/rule.js';
import type { Value } from '../ir/graph.js';
import { registerPass, rewritePass } from './manager.js';

const x = P.any('x');
const one = P.const(splat(1));
const half = P.const(splat(0.5));
/** Products commute; exporters write either order. */
const mul = <const A extends Pattern<object>, const B extends Pattern<object>>(a: A, b: B) => P.op('onnx.Mul', [a, b]).commutative();
const add = <const A extends Pattern<object>, const B extends Pattern<object>>(a: A, b: B) => P.op('onnx.Add', [a, b]).commutative();

/** x/√2, written as a division or as a product with 1/√2 (0.7071… within 1e-4). */
const erfArg = P.oneOf(P.op('onnx.Div', [x, P.const(splat(Math.SQRT2, 1e-4))]), mul(x, P.const(splat(Math.SQRT1_2, 1e-4))));
const erfPlusOne = add(P.op('onnx.Erf', [erfArg]), one);

/** √(2/π)·(x + 0.044715·x³), with x³ as Pow(x, 3) or x·(x·x). */
const cube = P.oneOf(P.op('onnx.Pow', [x, P.const(splat(3))]), mul(x, mul(x, x)));
const tanhArg = mul(add(x, mul(cube, P.const(splat(0.044715, 1e-4)))), P.const(splat(Math.sqrt(2 / Math.PI), 1e-4)));
const tanhPlusOne = add(P.op('onnx.Tanh', [tanhArg]), one);

/** 0.5·x·s in the three groupings exporters produce: (x·s)·0.5, (x·0.5)·s, x·(s·0.5). */
const halfXTimes = (s: Pattern<object>) => P.oneOf(mul(mul(x, s), half), mul(mul(x, half), s), mul(x, mul(s, half)));

const fuse = (approximate: 'none' | 'tanh') => ({ x }: { x: Value }, ctx: RewriteCtx) =>
  (ctx.usedOutside() ? ctx.fail('an intermediate result has other users') : ctx.make('onnx.Gelu', [x], approximate === 'tanh' ? { approximate } : {}));

/** onnx.Mul(0.5, x, onnx.Add(onnx.Erf(x/√2), 1)) (any grouping) → onnx.Gelu(x). */
export const geluErf = rule('gelu-erf', halfXTimes(erfPlusOne), fuse('none'));

/** onnx.Mul(0.5, x, onnx.Add(onnx.Tanh(√(2/π)·(x + 0.044715·x³)), 1)) (any grouping) → onnx.Gelu(x){approximate="tanh"}. */
export const geluTanh = rule('gelu-tanh', halfXTimes(tanhPlusOne), fuse('tanh'));

export const fuseGelu = rewritePass({
  name: 'fuse-gelu',
  summary: 'decomposed GELU (Erf or Tanh form) → onnx.Gelu',
  description: 'Mul(Mul(x, Add(Erf(Div(x, 1.4142135)), 1)), 0.5) and its reorderings → Gelu(x); '
    + 'the same with Tanh(0.7978846·(x + 0.044715·x³)) → Gelu(x){approximate="tanh"}.',
  rules: [geluErf, geluTanh],
});
registerPass(fuseGelu);
