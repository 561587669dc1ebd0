/**
 * @fileoverview Kernels of the q dialect: q.quantize / q.dequantize read their parameters from
 * the quantized type (weight-store entries for per-channel and per-group ones) and compute
 * exactly what ONNX QuantizeLinear / DequantizeLinear compute with those parameters, so the
 * exported QDQ model and the interpreter agree bit for bit.
 */
import { roundHalfEven } from '../../ir/dtype.js';
import { INV_SQRT2_F32, quantLayoutAttrs, quantParamTensors } from '../../ir/ops/q.js';
import { Tensor } from '../../ir/tensor.js';
import { quantRange, type QuantType } from '../../ir/types.js';
import { registerKernel } from '../kernel.js';
import { dequantizeLinear, quantizeLinear } from './quant.js';

const layout = (qt: QuantType) => {
  const a = quantLayoutAttrs(qt);
  return { axis: a.axis, blockSize: a.block_size };
};

registerKernel('q.quantize', ([x], node, ctx) => {
  const qt = node.outputs[0]!.type.dtype as QuantType;
  const { scale, zero } = quantParamTensors(qt, ctx.weight);
  const q = quantizeLinear(x!, scale, zero, qt.storage, layout(qt));
  if (qt.bits === undefined) return [q];
  const { min, max } = quantRange(qt);
  return [Tensor.from(qt.storage, [...q.shape], Array.from(q.data as ArrayLike<number>, (v) => Math.min(max, Math.max(min, Number(v)))))];
});

registerKernel('q.dequantize', ([x], node, ctx) => {
  const qt = node.inputs[0]!.type.dtype as QuantType;
  const { scale, zero } = quantParamTensors(qt, ctx.weight);
  return [dequantizeLinear(x!, scale, zero, qt.expressed, layout(qt))];
});

/**
 * The log√2 quantizer, step for step as its ONNX expansion computes it in float32 (each op
 * rounded once), so the interpreter and the exported model agree.
 */
registerKernel('q.log2_fake_quant', ([x], node) => {
  const f = Math.fround;
  const s = f(node.attrs.scale as number);
  const levels = 2 ** ((node.attrs.bits as number | undefined) ?? 4);
  const k = f(-2 / Math.LN2);
  const X = x!.data as Float32Array;
  const out = new Float32Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const q = roundHalfEven(f(f(Math.log(f(X[i]! / s))) * k));
    if (q >= levels || Number.isNaN(q)) { out[i] = q >= levels ? 0 : NaN; continue; }
    const qc = Math.min(levels - 1, Math.max(0, q));
    const h = Math.floor(f(qc * 0.5));
    const odd = qc - (h + h) === 1;
    out[i] = f(f(f(2 ** -h) * (odd ? INV_SQRT2_F32 : 1)) * s);
  }
  return [new Tensor('f32', [...x!.shape], out)];
});
