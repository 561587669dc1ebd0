/** @fileoverview fused.* kernels: the same arithmetic (and rounding) as the onnx.* ops they replace. */
import { getKernel, registerKernel } from '../kernel.js';

/** MatMul rounded to the output type, then Add: bit-identical to the unfused pair. */
registerKernel('fused.MatMulAdd', ([a, b, c], node, ctx) => {
  const [y] = getKernel('onnx.MatMul')!([a, b], node, ctx);
  return getKernel('onnx.Add')!([y, c], node, ctx);
});
