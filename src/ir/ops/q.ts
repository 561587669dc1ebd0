/**
 * @fileoverview The quantization dialect. Quantized element types carry their parameters
 * (`q<u8, 0.02, 128>`, per-channel ones name weight-store entries: `q<i8, @w.scale, @w.zero,
 * axis=1>`), so two ops suffice:
 *
 *   %xq = q.quantize(%x) : q<u8, 0.0235, 131>[1,64]     // result type declared, as MLIR's quant.qcast
 *   %xd = q.dequantize(%xq) : f32[1,64]
 *
 * A quantized weight is a constant whose type is quantized (its weight-store entry holds the
 * storage integers) read through q.dequantize. Every other op sees only float values: the IR is
 * in QDQ form, which is what ONNX export writes (QuantizeLinear / DequantizeLinear) and what
 * the kernel generators pattern-match into integer kernels.
 */
import type { DType } from '../dtype.js';
import { dtypeInfo, isFloat } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { registerOp } from '../registry.js';
import { formatType, isQuant, narrowBitsError, quantRange, type QuantType } from '../types.js';

/** Scale (in the expressed dtype) and zero point (in the storage dtype) of a quantized type, as QuantizeLinear takes them. */
export function quantParamTensors(qt: QuantType, weight: (key: string) => Tensor): { scale: Tensor; zero: Tensor } {
  const param = (p: number | string, dtype: DType): Tensor => {
    if (typeof p === 'number') return Tensor.scalar(dtype, p);
    const t = weight(p);
    return t.dtype === dtype ? t : Tensor.from(dtype, [...t.shape], Array.from(t.data as ArrayLike<number>, Number));
  };
  return { scale: param(qt.scale, qt.expressed), zero: param(qt.zero, qt.storage) };
}

/** QuantizeLinear / DequantizeLinear attributes for a quantized type's layout. */
export function quantLayoutAttrs(qt: QuantType): { axis: number; block_size: number } {
  return { axis: qt.axis ?? 1, block_size: qt.group ?? 0 };
}

registerOp({
  name: 'q.quantize',
  summary: 'float → quantized type declared on the result (scale, zero point, axis, group in the type); ONNX QuantizeLinear semantics',
  inputs: [1, 1], outputs: [1, 1], attrs: {},
  infer: (ctx) => {
    const x = ctx.inputs[0]!;
    const declared = ctx.node.outputs[0]?.type.dtype;
    if (isQuant(x.dtype) || !isFloat(x.dtype)) ctx.fail(`operand must be a float tensor, got ${formatType(x)}`);
    if (!declared || !isQuant(declared)) return ctx.fail('the result type must be declared as a quantized type q<…>');
    if (declared.expressed !== x.dtype) ctx.fail(`the result type expresses ${declared.expressed} but the operand is ${x.dtype}`);
    const narrow = declared.bits === undefined ? undefined : narrowBitsError(declared.storage, declared.bits);
    if (narrow) ctx.fail(narrow);
    if (declared.bits !== undefined && dtypeInfo(declared.storage).bits < 8) {
      ctx.fail(`a result narrowed inside ${declared.storage} cannot be exported: ONNX Clip has no 4-bit types (narrowed activations need 8-bit storage)`);
    }
    const rank = x.shape?.length;
    if (declared.axis !== undefined && rank !== undefined && (declared.axis < -rank || declared.axis >= rank)) {
      ctx.fail(`quantization axis ${declared.axis} is out of range for rank ${rank}`);
    }
    return [{ dtype: declared, shape: x.shape }];
  },
  expand: (node, b) => {
    const qt = node.outputs[0]!.type.dtype as QuantType;
    const { scale, zero } = quantParamTensors(qt, (k) => b.graph.requireWeight(k));
    const name = node.outputs[0]!.name;
    const q = b.op('onnx.QuantizeLinear', [node.inputs[0]!, b.constant(`${name}_scale`, scale), b.constant(`${name}_zero_point`, zero)], quantLayoutAttrs(qt));
    if (qt.bits === undefined) return [q];
    // a narrow range (6 bits in i8): QuantizeLinear saturates to the storage range, Clip to the type's
    const { min, max } = quantRange(qt);
    return [b.op('onnx.Clip', [q, b.constant(`${name}_qmin`, Tensor.scalar(qt.storage, min)), b.constant(`${name}_qmax`, Tensor.scalar(qt.storage, max))])];
  },
});

registerOp({
  name: 'q.dequantize',
  summary: 'quantized → float: (q − zero) · scale with the operand type\'s parameters; ONNX DequantizeLinear semantics',
  inputs: [1, 1], outputs: [1, 1], attrs: {},
  infer: (ctx) => {
    const x = ctx.inputs[0]!;
    if (!isQuant(x.dtype)) return ctx.fail(`operand must have a quantized type q<…>, got ${formatType(x)}`);
    return [{ dtype: x.dtype.expressed, shape: x.shape }];
  },
  expand: (node, b) => {
    const qt = node.inputs[0]!.type.dtype as QuantType;
    const { scale, zero } = quantParamTensors(qt, (k) => b.graph.requireWeight(k));
    const name = node.inputs[0]!.name;
    return [b.op('onnx.DequantizeLinear', [node.inputs[0]!, b.constant(`${name}_scale`, scale), b.constant(`${name}_zero_point`, zero)], quantLayoutAttrs(qt))];
  },
});

/** 1/√2 rounded to float32: the odd-level factor of the log√2 quantizer. */
export const INV_SQRT2_F32 = Math.fround(Math.SQRT1_2);

registerOp({
  name: 'q.log2_fake_quant',
  summary: 'log√2 quantize-dequantize (RepQ-ViT, for post-Softmax probabilities): q = round(−2·log2(a/scale)); q ≥ 2^bits → 0; else scale·2^(−⌊q/2⌋)·(q odd ? 1/√2 : 1) with q clamped to ≥ 0',
  inputs: [1, 1], outputs: [1, 1],
  attrs: { scale: { kind: 'float' }, bits: { kind: 'int', default: 4 } },
  infer: (ctx) => {
    const a = ctx.inputs[0]!;
    if (a.dtype !== 'f32') ctx.fail(`operand must be f32, got ${formatType(a)}`);
    if (!(ctx.attr<number>('scale') > 0)) ctx.fail('scale must be positive');
    const bits = ctx.attr<number>('bits');
    if (!Number.isInteger(bits) || bits < 1 || bits > 16) ctx.fail(`bits must be an integer in [1, 16], got ${bits}`);
    return [a];
  },
  // The exact float emulation ONNX Runtime runs: the same f32 steps the kernel takes.
  expand: (node, b) => {
    const s = node.attrs.scale as number;
    const levels = 2 ** ((node.attrs.bits as number | undefined) ?? 4);
    const f = (name: string, v: number) => b.constant(`${node.outputs[0]!.name}_${name}`, Tensor.scalar('f32', v));
    const r = b.op('onnx.Div', [node.inputs[0]!, f('scale', s)]);
    const t = b.op('onnx.Mul', [b.op('onnx.Log', [r]), f('minus_2_over_ln2', -2 / Math.LN2)]);
    const q = b.op('onnx.Round', [t]);
    const dead = b.op('onnx.GreaterOrEqual', [q, f('levels', levels)]);
    const qc = b.op('onnx.Clip', [q, f('zero', 0), f('max_level', levels - 1)]);
    const h = b.op('onnx.Floor', [b.op('onnx.Mul', [qc, f('half', 0.5)])]);
    const odd = b.op('onnx.Equal', [b.op('onnx.Sub', [qc, b.op('onnx.Add', [h, h])]), f('one', 1)]);
    const p = b.op('onnx.Pow', [f('two', 2), b.op('onnx.Neg', [h])]);
    const factor = b.op('onnx.Where', [odd, f('inv_sqrt2', INV_SQRT2_F32), f('unit', 1)]);
    const a = b.op('onnx.Mul', [b.op('onnx.Mul', [p, factor]), f('scale_out', s)]);
    return [b.op('onnx.Where', [dead, f('zero_out', 0), a])];
  },
});
