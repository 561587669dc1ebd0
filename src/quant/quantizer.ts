/**
 * @fileoverview Uniform quantization at compile time (techniques §1): formats, scale / zero-point
 * choice from ranges, and quantize / dequantize bit-exact with the interpreter's ONNX
 * QuantizeLinear / DequantizeLinear kernels (opset 21 per-tensor, per-axis and blocked layouts),
 * plus the dyadic multipliers integer kernels requantize with.
 *
 * Parameters are float32 scales and int32 zero points; their `shape` is the shape ONNX gives the
 * scale input: [] per tensor, [C] per channel, x's shape with the axis dim replaced by
 * ceil(len / group) for blocks.
 */
import { type DType, roundHalfEven } from '../ir/dtype.js';
import { fail } from '../ir/diagnostics.js';
import { normalizeAxis } from '../ir/shape-utils.js';
import { Tensor } from '../ir/tensor.js';
import { quantRange } from '../ir/types.js';
import { dequantizeValue, quantizeFn, quantParamIndex } from '../interp/kernels/quant.js';
import { f64, fromF64 } from '../interp/kernels/nn.js';

/**
 * The quantized number formats recipes can ask for. 6- and 3-bit integers are held in 8- and
 * 4-bit storage with a narrowed range (the quantized type's `bits`): ONNX has no such types.
 */
export type QuantFormat = 'int8' | 'uint8' | 'int6' | 'uint6' | 'int4' | 'uint4' | 'int3' | 'uint3' | 'int16' | 'fp8e4m3';

/**
 * How a tensor is quantized. `axis` (default 1, ONNX's default) is the channel axis for
 * 'channel' and the blocked axis for 'group' (use 0 for a MatMul weight [K, N] grouped along K);
 * `group` is the block size.
 */
export interface QuantScheme {
  format: QuantFormat;
  symmetric: boolean;
  granularity: 'tensor' | 'channel' | 'group';
  axis?: number;
  group?: number;
}

/** Concrete parameters of a scheme: what QuantizeLinear's scale / zero-point inputs hold. */
export interface QuantParams {
  scheme: QuantScheme;
  scale: Float32Array;
  /** Zero points (all zero for fp8). */
  zero: Int32Array;
  /** Shape of scale / zero: [] per tensor, [C] per channel, blocked shape for groups. */
  shape: number[];
}

/** Storage dtype of each format, and its bit width where that is narrower than the storage. */
const FORMATS: Readonly<Record<QuantFormat, { storage: DType; bits?: number }>> = {
  int8: { storage: 'i8' }, uint8: { storage: 'u8' }, int6: { storage: 'i8', bits: 6 }, uint6: { storage: 'u8', bits: 6 },
  int4: { storage: 'i4' }, uint4: { storage: 'u4' }, int3: { storage: 'i4', bits: 3 }, uint3: { storage: 'u4', bits: 3 },
  int16: { storage: 'i16' }, fp8e4m3: { storage: 'f8e4m3' },
};

/**
 * Storage dtype, integer range and (for narrowed formats) bit width of a format, so callers
 * never hard-code qmin/qmax (fp8: ±448; int6: [−32, 31] in i8).
 */
export function formatInfo(f: QuantFormat): { storage: DType; qmin: number; qmax: number; bits?: number } {
  const { storage, bits } = FORMATS[f];
  const { min, max } = quantRange({ storage, bits });
  return bits === undefined ? { storage, qmin: min, qmax: max } : { storage, qmin: min, qmax: max, bits };
}

/** Smallest scale used for a non-empty range: the smallest normal float32, so x / s never overflows. */
const MIN_SCALE = 2 ** -126;

/** One scale / zero pair from a range, after widening it to include 0 (see paramsFromRange). */
function rangeToParams(lo: number, hi: number, format: QuantFormat, symmetric: boolean): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) fail('pass', `cannot quantize a non-finite range [${lo}, ${hi}]`);
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  const { qmin, qmax } = formatInfo(format);
  const scale = (range: number, steps: number) => (range === 0 ? 1 : Math.max(MIN_SCALE, Math.fround(range / steps)));
  const amax = Math.max(-lo, hi);
  if (format === 'fp8e4m3') return [scale(amax, qmax), 0];
  if (symmetric) {
    // Signed: z = 0. Unsigned: z = the midpoint, so ±amax both fit (u8: z = 128, s = amax / 127).
    const z = qmin < 0 ? 0 : Math.ceil((qmin + qmax) / 2);
    return [scale(amax, qmax - z), z];
  }
  const s = scale(hi - lo, qmax - qmin);
  return [s, Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / s)))];
}

/**
 * Scale / zero point from ranges (numbers per tensor, arrays per channel / group) so that the
 * range widened to include 0 maps onto the format and 0 is exact. Symmetric: s = max|x| / qmax,
 * z = 0 (unsigned: z = midpoint); asymmetric: s = (max − min) / (qmax − qmin), z = round(qmin −
 * min / s) clamped; fp8 e4m3: s = max|x| / 448. An all-zero range gets s = 1; a tiny one is
 * floored at 2^-126 (its values quantize to 0). `shape` defaults to [] / [n]; pass the blocked
 * shape for groups.
 */
export function paramsFromRange(min: number | ArrayLike<number>, max: number | ArrayLike<number>, scheme: QuantScheme, shape?: number[]): QuantParams {
  const los = typeof min === 'number' ? [min] : min;
  const his = typeof max === 'number' ? [max] : max;
  if (los.length !== his.length) fail('pass', `range has ${los.length} minima but ${his.length} maxima`);
  const n = los.length;
  const pShape = shape ?? (typeof min === 'number' && typeof max === 'number' ? [] : [n]);
  if (pShape.reduce((a, b) => a * b, 1) !== n) fail('pass', `parameter shape [${pShape.join(',')}] does not hold ${n} ranges`);
  const scale = new Float32Array(n);
  const zero = new Int32Array(n);
  for (let i = 0; i < n; i++) [scale[i], zero[i]] = rangeToParams(los[i]!, his[i]!, scheme.format, scheme.symmetric);
  return { scheme, scale, zero, shape: pShape };
}

/** Layout of a scheme on a tensor: the parameter shape and the parameter slot of every element. */
export interface ParamLayout {
  shape: number[];
  /** Parameter slot of element i (all 0 per tensor). */
  slotOf: Int32Array;
  slots: number;
  axis: number;
  blockSize: number;
}

/** Where each element's parameters live for `scheme` on `xShape`, as QuantizeLinear reads them. */
export function paramLayout(xShape: readonly number[], scheme: QuantScheme): ParamLayout {
  const size = xShape.reduce((a, b) => a * b, 1);
  if (scheme.granularity === 'tensor') return { shape: [], slotOf: new Int32Array(size), slots: 1, axis: 0, blockSize: 0 };
  const axis = normalizeAxis(scheme.axis ?? 1, xShape.length);
  if (axis === undefined) fail('pass', `quantization axis ${scheme.axis ?? 1} is out of range for a rank-${xShape.length} tensor`);
  const len = xShape[axis]!;
  let shape: number[];
  let blockSize = 0;
  if (scheme.granularity === 'channel') {
    shape = [len];
  } else {
    blockSize = scheme.group ?? 0;
    if (!Number.isInteger(blockSize) || blockSize <= 0) fail('pass', `group quantization needs a positive integer group size, got ${scheme.group}`);
    shape = xShape.map((d, i) => (i === axis ? Math.ceil(len / blockSize) : d));
  }
  const slots = shape.reduce((a, b) => a * b, 1);
  const slotOf = quantParamIndex(xShape, shape, axis, blockSize) ?? new Int32Array(size);
  return { shape, slotOf, slots, axis, blockSize };
}

/** Min / max of every parameter slot: the statistics weights are quantized from. */
export function slotRanges(data: ArrayLike<number>, layout: ParamLayout): { min: Float64Array; max: Float64Array } {
  const min = new Float64Array(layout.slots).fill(Infinity);
  const max = new Float64Array(layout.slots).fill(-Infinity);
  for (let i = 0; i < data.length; i++) {
    const s = layout.slotOf[i]!;
    const v = data[i]!;
    if (v < min[s]!) min[s] = v;
    if (v > max[s]!) max[s] = v;
  }
  for (let s = 0; s < layout.slots; s++) if (min[s] === Infinity) min[s] = max[s] = 0;
  return { min, max };
}

/** Parameters from the tensor's own min / max per tensor, channel or group: how weights get theirs. */
export function paramsForTensor(w: Tensor, scheme: QuantScheme): QuantParams {
  const layout = paramLayout(w.shape, scheme);
  const { min, max } = slotRanges(f64(w), layout);
  return paramsFromRange(min, max, scheme, layout.shape);
}

/** The axis / block size QuantizeLinear reads `p` with on a tensor of `rank`. */
function qdqAxes(p: QuantParams, rank: number): { axis: number; block: number } {
  const { granularity, axis, group } = p.scheme;
  if (granularity === 'tensor') return { axis: 1, block: 0 };
  return { axis: normalizeAxis(axis ?? 1, rank) ?? -1, block: granularity === 'group' ? group ?? 0 : 0 };
}

/** Element function quantizing with float32 scales, exactly as the QuantizeLinear kernel does. */
export function quantizeElement(format: QuantFormat): (x: number, s: number, z: number) => number {
  const { storage, qmin, qmax, bits } = formatInfo(format);
  const q = quantizeFn(storage, Math.fround);
  return bits === undefined ? q : (x, s, z) => Math.min(qmax, Math.max(qmin, q(x, s, z)));
}

/** Element function dequantizing to float32, exactly as the DequantizeLinear kernel does. */
export const dequantizeElement = (q: number, s: number, z: number): number => Math.fround(dequantizeValue(q, s, z));

/** x → storage dtype: round half to even and saturate, bit-exact with onnx.QuantizeLinear(x, scale, zero). */
export function quantize(x: Tensor, p: QuantParams): Tensor {
  const { storage } = formatInfo(p.scheme.format);
  const { axis, block } = qdqAxes(p, x.rank);
  const idx = quantParamIndex(x.shape, p.shape, axis, block);
  const q = quantizeElement(p.scheme.format);
  const X = f64(x);
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const k = idx ? idx[i]! : 0;
    out[i] = q(X[i]!, p.scale[k]!, p.zero[k]!);
  }
  return fromF64(storage, x.shape, out);
}

/** Storage values → f32, bit-exact with onnx.DequantizeLinear(q, scale, zero). */
export function dequantize(q: Tensor, p: QuantParams): Tensor {
  const { axis, block } = qdqAxes(p, q.rank);
  const idx = quantParamIndex(q.shape, p.shape, axis, block);
  const Q = f64(q);
  const out = new Float32Array(Q.length);
  for (let i = 0; i < Q.length; i++) {
    const k = idx ? idx[i]! : 0;
    out[i] = dequantizeElement(Q[i]!, p.scale[k]!, p.zero[k]!);
  }
  return new Tensor('f32', q.shape, out);
}

/** dequantize(quantize(x)): what the quantized model computes with in place of x. */
export function fakeQuant(x: Tensor, p: QuantParams): Tensor {
  return dequantize(quantize(x, p), p);
}

/** Signal-to-quantization-noise ratio in dB, 10·log10(Σref² / Σ(ref − test)²); +Infinity when exact. */
export function sqnr(ref: ArrayLike<number>, test: ArrayLike<number>): number {
  if (ref.length !== test.length) fail('pass', `sqnr of arrays of different lengths (${ref.length} vs ${test.length})`);
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < ref.length; i++) {
    signal += ref[i]! * ref[i]!;
    noise += (ref[i]! - test[i]!) ** 2;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}

/**
 * A real multiplier as m / 2^shift with int32 m, |m| in [2^30, 2^31) (gemmlowp style), so integer
 * kernels requantize without floats. The relative error is at most 2^-31. 0 gives m = 0, shift 0;
 * shift is negative only for |real| ≥ 2^31.
 */
export function dyadic(real: number): { multiplier: number; shift: number } {
  if (!Number.isFinite(real)) fail('pass', `cannot represent ${real} as a dyadic multiplier`);
  if (real === 0) return { multiplier: 0, shift: 0 };
  const a = Math.abs(real);
  let e = Math.floor(Math.log2(a)); // a = f · 2^(e+1), f in [0.5, 1)
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let shift = 30 - e;
  let m = Math.round((a / 2 ** e) * 2 ** 30);
  if (m === 2 ** 31) { m = 2 ** 30; shift--; }
  return { multiplier: real < 0 ? -m : m, shift };
}

/**
 * round_half_even(acc · m / 2^shift) computed exactly in integers (BigInt): one rounding of the
 * exact product, the same tie rule as QuantizeLinear. Against round(acc · real) it is off by at
 * most 1 (the ≤ 2^-31 relative error of m only matters near a .5 boundary). No saturation: the
 * caller adds the zero point and clamps.
 */
export function requantize(acc: number, d: { multiplier: number; shift: number }): number {
  const p = BigInt(acc) * BigInt(d.multiplier);
  if (d.shift <= 0) return Number(p << BigInt(-d.shift));
  const sh = BigInt(d.shift);
  const q = p >> sh; // floor
  const r = p - (q << sh); // in [0, 2^shift)
  const half = 1n << (sh - 1n);
  return Number(r > half || (r === half && (q & 1n) === 1n) ? q + 1n : q);
}
