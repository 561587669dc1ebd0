/**
 * @fileoverview ONNX quantization ops: QuantizeLinear / DequantizeLinear (opset 21+ form:
 * per-tensor, per-axis and blocked parameters, sub-byte and float8 types), DynamicQuantizeLinear
 * and the integer ops MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.
 */
import { dtypeFromOnnx, type DType } from '../dtype.js';
import { LutraError } from '../diagnostics.js';
import { registerOp, type InferCtx } from '../registry.js';
import { normalizeAxis } from '../shape-utils.js';
import { formatElemType, formatShape, isQuant, storageDType, type Shape, type TensorType } from '../types.js';
import { CONV_ATTRS, FLOATS, inferConv, inferMatmul } from './nn.js';

/** Element types QuantizeLinear produces and DequantizeLinear reads. */
export const QUANT_TYPES: readonly DType[] = ['i8', 'u8', 'i16', 'u16', 'i4', 'u4', 'i2', 'f8e4m3', 'f8e5m2'];
const INT8: readonly DType[] = ['i8', 'u8'];

/**
 * Input `i` with a dtype from `allowed` (fails otherwise). A quantized type counts as its storage
 * dtype: these ops see only the integers (how q.* ops export).
 */
function input(ctx: InferCtx, i: number, allowed: readonly DType[]): TensorType & { dtype: DType } {
  const t = ctx.inputs[i];
  if (!t) return ctx.fail(`missing input ${i}`);
  const dtype = storageDType(t.dtype);
  if (!allowed.includes(dtype)) ctx.fail(`input ${i} has dtype ${isQuant(t.dtype) ? formatElemType(t.dtype) : dtype}; ${ctx.node.op} takes ${allowed.join('|')}`);
  return { dtype, shape: t.shape };
}

/** Check that scale (input 1) and zero point (input 2) fit x per-tensor, per-axis or blocked. */
function checkQuantParams(ctx: InferCtx, x: TensorType): void {
  const s = ctx.inputs[1]?.shape;
  const z = ctx.inputs[2]?.shape;
  const perTensor = (d: Shape) => d.length === 0 || (d.length === 1 && d[0] === 1);
  if (s && z && formatShape(s) !== formatShape(z) && !(perTensor(s) && perTensor(z))) ctx.fail(`scale ${formatShape(s)} and zero point ${formatShape(z)} differ in shape`);
  const xs = x.shape;
  if (!s || !xs || perTensor(s)) return;
  const axis = normalizeAxis(ctx.attr<number>('axis'), xs.length);
  if (axis === undefined) return ctx.fail(`axis ${ctx.attr<number>('axis')} is out of range for rank ${xs.length}`);
  const bs = ctx.attr<number>('block_size');
  const n = xs[axis]!;
  if (bs > 0) {
    const ok = s.length === xs.length && s.every((d, i) => typeof d !== 'number' || typeof xs[i] !== 'number'
      || (i === axis ? d === Math.ceil((xs[i] as number) / bs) : d === xs[i]));
    if (!ok) ctx.fail(`blocked scale ${formatShape(s)} does not fit x ${formatShape(xs)} with block_size ${bs} on axis ${axis}`);
  } else if (s.length !== 1 || (typeof s[0] === 'number' && typeof n === 'number' && s[0] !== n)) {
    ctx.fail(`per-axis scale ${formatShape(s)} does not fit x ${formatShape(xs)} on axis ${axis}`);
  }
}

/** The dtype an ONNX type-code attribute names (0 = not set). */
function dtypeAttr(ctx: InferCtx, name: string): DType | undefined {
  const code = ctx.attr<number>(name);
  if (!code) return undefined;
  const d = dtypeFromOnnx(code);
  if (!d) throw new LutraError('unsupported', `${name} ${code} names an ONNX type Lutra does not store`, ctx.node.describe());
  return d;
}

const QDQ_ATTRS = { axis: { kind: 'int', default: 1 }, block_size: { kind: 'int', default: 0 }, output_dtype: { kind: 'int', default: 0 } } as const;

registerOp({
  name: 'onnx.QuantizeLinear',
  summary: 'saturate(round_half_even(x / scale) + zero_point); per-tensor, per-axis or blocked parameters; result type from zero_point, else output_dtype, else u8',
  inputs: [2, 3], outputs: [1, 1], since: 21,
  attrs: { ...QDQ_ATTRS, saturate: { kind: 'int', default: 1 }, precision: { kind: 'int', default: 0 } },
  infer: (ctx) => {
    const x = input(ctx, 0, [...FLOATS, 'i32']);
    input(ctx, 1, [...FLOATS, 'i32']);
    const zp = ctx.inputs[2] && input(ctx, 2, QUANT_TYPES).dtype;
    const out = dtypeAttr(ctx, 'output_dtype');
    if (zp && out && zp !== out) ctx.fail(`output_dtype ${out} differs from the zero point's ${zp}`);
    const dtype = zp ?? out ?? 'u8';
    if (!QUANT_TYPES.includes(dtype)) ctx.fail(`cannot quantize to ${dtype}`);
    checkQuantParams(ctx, x);
    return [{ dtype, shape: x.shape }];
  },
});

registerOp({
  name: 'onnx.DequantizeLinear',
  summary: '(x - zero_point) * scale; per-tensor, per-axis or blocked parameters; result type output_dtype, else the scale\'s',
  inputs: [2, 3], outputs: [1, 1], since: 21, attrs: QDQ_ATTRS,
  infer: (ctx) => {
    const x = input(ctx, 0, [...QUANT_TYPES, 'i32']);
    const scale = input(ctx, 1, FLOATS);
    if (ctx.inputs[2] && input(ctx, 2, [...QUANT_TYPES, 'i32']).dtype !== x.dtype) ctx.fail('zero point and x differ in dtype');
    checkQuantParams(ctx, x);
    return [{ dtype: dtypeAttr(ctx, 'output_dtype') ?? scale.dtype, shape: x.shape }];
  },
});

registerOp({
  name: 'onnx.DynamicQuantizeLinear',
  summary: 'u8 quantization with scale and zero point computed from the range of x (widened to include 0)',
  inputs: [1, 1], outputs: [3, 3], since: 11, attrs: {},
  infer: (ctx) => {
    const x = input(ctx, 0, ['f32']);
    return [{ dtype: 'u8', shape: x.shape }, { dtype: 'f32', shape: [] }, { dtype: 'u8', shape: [] }];
  },
});

registerOp({
  name: 'onnx.MatMulInteger', summary: '(A - a_zero_point) · (B - b_zero_point) accumulated in i32; zero points per tensor, per row of A, per column of B',
  inputs: [2, 4], outputs: [1, 1], since: 10, attrs: {},
  infer: (ctx) => inferMatmul(ctx, input(ctx, 0, INT8), input(ctx, 1, INT8), 'i32'),
});

registerOp({
  name: 'onnx.ConvInteger', summary: 'Conv of (x - x_zero_point) and (w - w_zero_point) accumulated in i32; w_zero_point per tensor or per output channel',
  inputs: [2, 4], outputs: [1, 1], since: 10, attrs: CONV_ATTRS,
  infer: (ctx) => inferConv(ctx, input(ctx, 0, INT8), input(ctx, 1, INT8), 'i32'),
});

registerOp({
  name: 'onnx.QLinearMatMul',
  summary: 'i32 MatMul of zero-point-shifted a, b, requantized: saturate(round_half_even(acc * (a_scale * b_scale / y_scale)) + y_zero_point)',
  inputs: [8, 8], outputs: [1, 1], since: 21, attrs: {},
  infer: (ctx) => inferMatmul(ctx, input(ctx, 0, INT8), input(ctx, 3, INT8), input(ctx, 7, INT8).dtype),
});

registerOp({
  name: 'onnx.QLinearConv',
  summary: 'i32 Conv of zero-point-shifted x, w (+ i32 bias), requantized like QLinearMatMul; w_scale / w_zero_point per tensor or per output channel',
  inputs: [8, 9], outputs: [1, 1], since: 10, attrs: CONV_ATTRS,
  infer: (ctx) => inferConv(ctx, input(ctx, 0, INT8), input(ctx, 3, INT8), input(ctx, 7, INT8).dtype),
});
