/**
 * @fileoverview An example plugin pass: `div-to-mul` turns a division by a constant into a
 * multiplication by its reciprocal (cheaper, and one fewer op kind to quantize).
 *
 *   lutra opt model.onnx --plugin examples/custom-pass/div-to-mul.ts --passes div-to-mul -o out.onnx
 *
 * A plugin exports passes (or arrays of passes); `--plugin` registers them. See docs/writing-a-pass.md.
 */
import { isFloat, P, rewritePass, rule, Tensor } from 'lutra';

/** onnx.Div(x, c) → onnx.Mul(x, 1/c), for a floating-point constant c without zeros. */
export const divToMul = rule('div-to-mul', P.op('onnx.Div', [P.any('x'), P.const('c')]), ({ x, c }, ctx) => {
  const t = ctx.constant(c)!;
  if (!isFloat(t.dtype)) return ctx.fail('integer division truncates');
  if (t.toNumbers().includes(0)) return ctx.fail('the divisor has a zero');
  const reciprocal = Tensor.from(t.dtype, t.shape, t.toNumbers().map((v) => 1 / v));
  return ctx.make('onnx.Mul', [x, ctx.newConstant(reciprocal, `${c.name}_reciprocal`)]);
});

export const divToMulPass = rewritePass({
  name: 'div-to-mul',
  summary: 'division by a constant → multiplication by its reciprocal',
  description: 'Div(x, c) → Mul(x, 1/c) for floating-point constants c without zeros.',
  rules: [divToMul],
});
