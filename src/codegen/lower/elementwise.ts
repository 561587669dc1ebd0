/**
 * @fileoverview Element-wise ops as data: each row maps an op's operand expressions to its
 * result expression. Lowered ops stay lazy (see lowering.ts), so a chain of rows composes into
 * one expression tree and one kernel.
 */
import type { Node } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { type Expr, type Scalar, bin, cast, cst, select, un } from '../kernel-ir.js';

const c = (x: Expr, value: number): Expr => cst(value, x.type);
const f = (node: Node, name: string): number => getAttr<number>(node, name);

const hardSigmoid = (x: Expr, alpha: number, beta: number): Expr =>
  bin('max', c(x, 0), bin('min', c(x, 1), bin('add', bin('mul', x, c(x, alpha)), c(x, beta))));

/** One element-wise op: its result from its operands' values (already broadcast). */
export type ElementwiseRow = (xs: readonly Expr[], node: Node, out: Scalar) => Expr;

export const ELEMENTWISE: Readonly<Record<string, ElementwiseRow>> = {
  'onnx.Add': ([a, b]) => bin('add', a!, b!),
  'onnx.Sub': ([a, b]) => bin('sub', a!, b!),
  'onnx.Mul': ([a, b]) => bin('mul', a!, b!),
  'onnx.Div': ([a, b]) => bin('div', a!, b!),
  'onnx.Max': (xs) => xs.reduce((a, b) => bin('max', a, b)),
  'onnx.Min': (xs) => xs.reduce((a, b) => bin('min', a, b)),
  'onnx.Sum': (xs) => xs.reduce((a, b) => bin('add', a, b)),
  'onnx.Neg': ([x]) => un('neg', x!),
  'onnx.Abs': ([x]) => un('abs', x!),
  'onnx.Sqrt': ([x]) => un('sqrt', x!),
  'onnx.Exp': ([x]) => un('exp', x!),
  'onnx.Log': ([x]) => un('log', x!),
  'onnx.Erf': ([x]) => un('erf', x!),
  'onnx.Tanh': ([x]) => un('tanh', x!),
  'onnx.Sigmoid': ([x]) => un('sigmoid', x!),
  'onnx.Floor': ([x]) => un('floor', x!),
  'onnx.Ceil': ([x]) => un('ceil', x!),
  'onnx.Round': ([x]) => un('round', x!),
  'onnx.Reciprocal': ([x]) => bin('div', c(x!, 1), x!),
  'onnx.Relu': ([x]) => bin('max', x!, c(x!, 0)),
  'onnx.LeakyRelu': ([x], n) => select(bin('lt', x!, c(x!, 0)), bin('mul', x!, c(x!, f(n, 'alpha'))), x!),
  'onnx.HardSigmoid': ([x], n) => hardSigmoid(x!, f(n, 'alpha'), f(n, 'beta')),
  'onnx.HardSwish': ([x]) => bin('mul', x!, hardSigmoid(x!, 1 / 6, 0.5)),
  'onnx.Gelu': ([x], n) => getAttr<string>(n, 'approximate') === 'tanh'
    ? bin('mul', bin('mul', x!, c(x!, 0.5)), bin('add', c(x!, 1), un('tanh', bin('mul', c(x!, Math.sqrt(2 / Math.PI)), bin('add', x!, bin('mul', c(x!, 0.044715), bin('mul', x!, bin('mul', x!, x!))))))))
    : bin('mul', bin('mul', x!, c(x!, 0.5)), bin('add', c(x!, 1), un('erf', bin('mul', x!, c(x!, Math.SQRT1_2))))),
  'onnx.Clip': ([x, lo, hi]) => {
    let r = x!;
    if (lo) r = bin('max', r, lo);
    if (hi) r = bin('min', r, hi);
    return r;
  },
  'onnx.Where': ([cond, a, b]) => select(cast(cond!, 'bool'), a!, b!),
  'onnx.Equal': ([a, b]) => bin('eq', a!, b!),
  'onnx.Less': ([a, b]) => bin('lt', a!, b!),
  'onnx.LessOrEqual': ([a, b]) => bin('le', a!, b!),
  'onnx.Greater': ([a, b]) => bin('gt', a!, b!),
  'onnx.GreaterOrEqual': ([a, b]) => bin('ge', a!, b!),
  'onnx.Not': ([x]) => un('not', x!),
  'onnx.And': ([a, b]) => bin('and', a!, b!),
  'onnx.Or': ([a, b]) => bin('or', a!, b!),
  'onnx.Xor': ([a, b]) => bin('xor', a!, b!),
  'onnx.Cast': ([x], _n, out) => cast(x!, out),
};

/** Integer powers by repeated multiplication, square root for 0.5: the exponents models use. */
export function powByConstant(x: Expr, p: number): Expr | undefined {
  if (p === 0.5) return un('sqrt', x);
  if (!Number.isInteger(p) || Math.abs(p) > 8) return undefined;
  let r: Expr = c(x, 1);
  for (let i = 0; i < Math.abs(p); i++) r = i === 0 ? x : bin('mul', r, x);
  return p < 0 ? bin('div', c(x, 1), r) : r;
}
