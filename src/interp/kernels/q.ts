/**
 * @fileoverview Kernels of the q dialect: q.quantize / q.dequantize read their parameters from
 * the quantized type (weight-store entries for per-channel and per-group ones) and compute
 * exactly what ONNX QuantizeLinear / DequantizeLinear compute with those parameters, so the
 * exported QDQ model and the interpreter agree bit for bit.
 */
import { quantLayoutAttrs, quantParamTensors } from '../../ir/ops/q.js';
import type { QuantType } from '../../ir/types.js';
import { registerKernel } from '../kernel.js';
import { dequantizeLinear, quantizeLinear } from './quant.js';

const layout = (qt: QuantType) => {
  const a = quantLayoutAttrs(qt);
  return { axis: a.axis, blockSize: a.block_size };
};

registerKernel('q.quantize', ([x], node, ctx) => {
  const qt = node.outputs[0]!.type.dtype as QuantType;
  const { scale, zero } = quantParamTensors(qt, ctx.weight);
  return [quantizeLinear(x!, scale, zero, qt.storage, layout(qt))];
});

registerKernel('q.dequantize', ([x], node, ctx) => {
  const qt = node.inputs[0]!.type.dtype as QuantType;
  const { scale, zero } = quantParamTensors(qt, ctx.weight);
  return [dequantizeLinear(x!, scale, zero, qt.expressed, layout(qt))];
});
