/**
 * @fileoverview Quantization kernels, bit-exact with the ONNX reference implementation:
 * QuantizeLinear divides in the scale's precision (or `precision`), rounds half to even, adds
 * the zero point and saturates; integer ops accumulate exactly (float64 holds every i32
 * partial sum of 8-bit products) and wrap to i32; QLinear* requantize the accumulator by the
 * multiplier a_scale·b_scale/y_scale computed in the scales' dtype, round half to even and
 * saturate.
 */
import { type DType, dtypeFromOnnx, dtypeInfo, floatRounder, isFloat, roundHalfEven } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { windowAttrs } from '../../ir/ops/nn.js';
import { getAttr } from '../../ir/registry.js';
import { normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { registerKernel } from '../kernel.js';
import { broadcastIndex } from './elementwise.js';
import { convF64, f64, fromF64, matmulF64 } from './nn.js';

const identity = (v: number): number => v;

/** Rounding to `dtype` (identity for f64 and integer types). */
const rounder = (dtype: DType): ((v: number) => number) => floatRounder(dtype) ?? identity;

/**
 * Index of the scale / zero-point element for each element of x: per-tensor (null), per-axis
 * (1-D along `axis`) or blocked (`blockSize` consecutive elements along `axis` share one).
 */
export function quantParamIndex(xShape: readonly number[], pShape: readonly number[], axisAttr: number, blockSize: number): Int32Array | null {
  if (numel(pShape) === 1 && pShape.length <= 1) return null;
  const axis = normalizeAxis(axisAttr, xShape.length);
  if (axis === undefined) throw new Error(`axis ${axisAttr} is out of range for rank ${xShape.length}`);
  const len = xShape[axis]!;
  const inner = numel(xShape.slice(axis + 1));
  const outer = numel(xShape.slice(0, axis));
  const blocked = blockSize > 0;
  const plen = blocked ? Math.ceil(len / blockSize) : len;
  if (blocked ? pShape.length !== xShape.length || pShape[axis] !== plen : pShape.length !== 1 || pShape[0] !== len) {
    throw new Error(`quantization parameters [${pShape.join(',')}] do not fit x [${xShape.join(',')}] on axis ${axis}${blocked ? ` with block_size ${blockSize}` : ''}`);
  }
  const idx = new Int32Array(outer * len * inner);
  let k = 0;
  for (let o = 0; o < outer; o++) for (let a = 0; a < len; a++) {
    const p = blocked ? (o * plen + Math.floor(a / blockSize)) * inner : a;
    for (let i = 0; i < inner; i++) idx[k++] = blocked ? p + i : p;
  }
  return idx;
}

/** Parameter lookup for element i given an index map (null = per-tensor). */
const at = (data: Float64Array, idx: Int32Array | null, i: number): number => data[idx ? idx[i]! : 0]!;

/**
 * One QuantizeLinear element as a function of (x, scale, zero point): saturate(round_half_even(
 * div(x / scale)) + zero) for integer `dtype`, a cast for float8; shared with src/quant so that
 * compile-time quantization is bit-exact with this kernel. `div` rounds the quotient to the
 * scale's precision.
 */
export function quantizeFn(dtype: DType, div: (v: number) => number, saturate = true): (x: number, s: number, z: number) => number {
  if (isFloat(dtype)) {
    const cast = floatRounder(dtype, saturate)!;
    return (x, s, z) => cast(div(x / s) + z);
  }
  const { min, max } = dtypeInfo(dtype);
  return (x, s, z) => Math.min(max, Math.max(min, roundHalfEven(div(x / s)) + z));
}

/** One DequantizeLinear element in float64, (q − zero) · scale: shared with src/quant, rounded once by the caller. */
export const dequantizeValue = (q: number, s: number, z: number): number => (q - z) * s;

/**
 * QuantizeLinear on tensors: x → `dtype` with per-tensor, per-axis or blocked scale / zero
 * point; the quotient is rounded to `divType` (the scale's dtype unless `precision` says).
 */
export function quantizeLinear(x: Tensor, scale: Tensor, zp: Tensor | undefined, dtype: DType,
  opts: { axis: number; blockSize: number; saturate?: boolean; divType?: DType }): Tensor {
  const div = rounder(opts.divType ?? scale.dtype);
  const idx = quantParamIndex(x.shape, scale.shape, opts.axis, opts.blockSize);
  const [X, S] = [f64(x), f64(scale)];
  const Z = zp ? f64(zp) : new Float64Array(S.length);
  const q = quantizeFn(dtype, div, opts.saturate ?? true);
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = q(X[i]!, at(S, idx, i), at(Z, idx, i));
  return fromF64(dtype, x.shape, out);
}

/** DequantizeLinear on tensors: (x − zero) · scale, rounded once to `dtype`. */
export function dequantizeLinear(x: Tensor, scale: Tensor, zp: Tensor | undefined, dtype: DType, opts: { axis: number; blockSize: number }): Tensor {
  const idx = quantParamIndex(x.shape, scale.shape, opts.axis, opts.blockSize);
  const [X, S] = [f64(x), f64(scale)];
  const Z = zp ? f64(zp) : new Float64Array(S.length);
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = dequantizeValue(X[i]!, at(S, idx, i), at(Z, idx, i));
  return fromF64(dtype, x.shape, out);
}

registerKernel('onnx.QuantizeLinear', ([x, scale, zp], node) => {
  const precision = getAttr<number>(node, 'precision');
  return [quantizeLinear(x!, scale!, zp, zp?.dtype ?? dtypeFromOnnx(getAttr<number>(node, 'output_dtype')) ?? 'u8', {
    axis: getAttr<number>(node, 'axis'),
    blockSize: getAttr<number>(node, 'block_size'),
    saturate: getAttr<number>(node, 'saturate') !== 0,
    divType: precision ? dtypeFromOnnx(precision)! : undefined,
  })];
});

registerKernel('onnx.DequantizeLinear', ([x, scale, zp], node) => [dequantizeLinear(x!, scale!, zp,
  dtypeFromOnnx(getAttr<number>(node, 'output_dtype')) ?? scale!.dtype,
  { axis: getAttr<number>(node, 'axis'), blockSize: getAttr<number>(node, 'block_size') })]);

registerKernel('onnx.DynamicQuantizeLinear', ([x]) => {
  const f = Math.fround;
  const X = x!.data as Float32Array;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < X.length; i++) { lo = Math.min(lo, X[i]!); hi = Math.max(hi, X[i]!); }
  const scale = f((hi === lo ? 1 : f(hi - lo)) / 255);
  const zero = roundHalfEven(Math.min(255, Math.max(0, f(0 - f(lo / scale)))));
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = Math.min(255, Math.max(0, roundHalfEven(f(X[i]! / scale)) + zero));
  return [fromF64('u8', x!.shape, out), Tensor.scalar('f32', scale), Tensor.scalar('u8', zero)];
});

// ---- integer ops -----------------------------------------------------------------------------

/**
 * x − zero point in float64. A zero point of one element is per-tensor; a 1-D one applies
 * along `vectorAxis` of x (rows of A, columns of B, output channels of W); any other shape
 * broadcasts numpy-style (the N-D per-row / per-column forms).
 */
function shifted(x: Tensor, zp: Tensor | undefined, vectorAxis: number): Float64Array {
  const X = f64(x);
  if (!zp) return X;
  const Z = f64(zp);
  if (Z.length === 1) return X.map((v) => v - Z[0]!);
  const zShape = zp.rank === 1 ? x.shape.map((d, i) => (i === (vectorAxis + x.rank) % x.rank ? d : 1)) : zp.shape;
  const idx = broadcastIndex(zShape, x.shape);
  return X.map((v, i) => v - Z[idx[i]!]!);
}

/** Values of a per-tensor or per-`axis` parameter tensor for each output element (null = per-tensor). */
function perElement(p: Tensor, outShape: readonly number[], vectorAxis: number): Int32Array | null {
  if (p.size === 1) return null;
  const rank = outShape.length;
  const shape = p.rank === 1 ? outShape.map((d, i) => (i === (vectorAxis + rank) % rank ? d : 1)) : p.shape;
  return broadcastIndex(shape, outShape);
}

/**
 * saturate(round_half_even(acc · m + y_zero_point)) into `dtype`, with m = a_scale · b_scale /
 * y_scale computed in the scales' dtype for each element's pair of scale entries.
 */
function requantize(acc: Float64Array, shape: readonly number[], a: { s: Tensor; idx: Int32Array | null }, b: { s: Tensor; idx: Int32Array | null },
  yScale: Tensor, yZero: Tensor, dtype: DType): Tensor {
  const r = rounder(a.s.dtype);
  const [A, B] = [f64(a.s), f64(b.s)];
  const ys = yScale.get(0);
  const yz = yZero.get(0);
  const { min, max } = dtypeInfo(dtype);
  const out = new Float64Array(acc.length);
  for (let i = 0; i < acc.length; i++) {
    const m = r(r(at(A, a.idx, i) * at(B, b.idx, i)) / ys);
    out[i] = roundHalfEven(Math.min(max, Math.max(min, acc[i]! * m + yz)));
  }
  return fromF64(dtype, shape, out);
}

registerKernel('onnx.MatMulInteger', ([a, b, az, bz]) => {
  const r = matmulF64(shifted(a!, az, -2), a!.shape, shifted(b!, bz, -1), b!.shape);
  return [fromF64('i32', r.shape, r.data)];
});

registerKernel('onnx.QLinearMatMul', ([a, as, az, b, bs, bz, ys, yz]) => {
  const r = matmulF64(shifted(a!, az, -2), a!.shape, shifted(b!, bz, -1), b!.shape);
  const rows = r.shape.length >= 2 && a!.rank >= 2 ? -2 : -1;
  return [requantize(r.data, r.shape, { s: as!, idx: perElement(as!, r.shape, rows) }, { s: bs!, idx: perElement(bs!, r.shape, -1) }, ys!, yz!, yz!.dtype)];
});

/** Integer convolution of zero-point-shifted x and w (w's zero point per tensor or per output channel), plus optional i32 bias. */
function convInteger(node: Node, x: Tensor, xz: Tensor | undefined, w: Tensor, wz: Tensor | undefined, bias?: Tensor): { data: Float64Array; shape: number[] } {
  const win = windowAttrs(node, x.rank - 2, w.shape.slice(2));
  return convF64(shifted(x, xz, 1), x.shape, shifted(w, wz, 0), w.shape, bias && f64(bias), getAttr<number>(node, 'group'), win);
}

registerKernel('onnx.ConvInteger', ([x, w, xz, wz], node) => {
  const r = convInteger(node, x!, xz, w!, wz);
  return [fromF64('i32', r.shape, r.data)];
});

registerKernel('onnx.QLinearConv', ([x, xs, xz, w, ws, wz, ys, yz, bias], node) => {
  const r = convInteger(node, x!, xz, w!, wz, bias);
  return [requantize(r.data, r.shape, { s: xs!, idx: null }, { s: ws!, idx: perElement(ws!, r.shape, 1) }, ys!, yz!, yz!.dtype)];
});
