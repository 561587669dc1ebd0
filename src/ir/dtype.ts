/**
 * @fileoverview Element types. A tensor's values are stored in the widest JS typed array that
 * holds them exactly: narrow floats (f16, bf16, f8*) live in Float32Array already rounded to
 * their format, sub-byte integers (i4, u4, i2) unpacked one per byte, i64/u64 as BigInt arrays.
 */

/** Every plain element type the IR knows. */
export const DTYPES = [
  'f64', 'f32', 'f16', 'bf16', 'f8e4m3', 'f8e5m2',
  'i64', 'i32', 'i16', 'i8', 'u64', 'u32', 'u16', 'u8', 'i4', 'u4', 'i2',
  'bool',
] as const;

export type DType = (typeof DTYPES)[number];

/** Typed array kinds used for storage. */
export type TypedArray =
  | Float64Array | Float32Array | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

type ArrayCtor = { new (n: number): TypedArray; new (buf: ArrayBufferLike, off?: number, len?: number): TypedArray; BYTES_PER_ELEMENT: number };

export interface DTypeInfo {
  readonly name: DType;
  /** Bits per element in ONNX serialized form. */
  readonly bits: number;
  readonly kind: 'float' | 'int' | 'bool';
  readonly signed: boolean;
  /** Storage array constructor (in-memory representation, not the packed form). */
  readonly storage: ArrayCtor;
  /** Inclusive integer range for int types. */
  readonly min: number;
  readonly max: number;
}

function info(name: DType, bits: number, kind: DTypeInfo['kind'], signed: boolean, storage: ArrayCtor,
  min = 0, max = 0): DTypeInfo {
  return { name, bits, kind, signed, storage, min, max };
}

const TABLE: Record<DType, DTypeInfo> = {
  f64: info('f64', 64, 'float', true, Float64Array, -Infinity, Infinity),
  f32: info('f32', 32, 'float', true, Float32Array, -Infinity, Infinity),
  f16: info('f16', 16, 'float', true, Float32Array, -65504, 65504),
  bf16: info('bf16', 16, 'float', true, Float32Array, -Infinity, Infinity),
  f8e4m3: info('f8e4m3', 8, 'float', true, Float32Array, -448, 448),
  f8e5m2: info('f8e5m2', 8, 'float', true, Float32Array, -57344, 57344),
  i64: info('i64', 64, 'int', true, BigInt64Array as unknown as ArrayCtor, -(2 ** 63), 2 ** 63 - 1),
  i32: info('i32', 32, 'int', true, Int32Array, -(2 ** 31), 2 ** 31 - 1),
  i16: info('i16', 16, 'int', true, Int16Array, -32768, 32767),
  i8: info('i8', 8, 'int', true, Int8Array, -128, 127),
  u64: info('u64', 64, 'int', false, BigUint64Array as unknown as ArrayCtor, 0, 2 ** 64 - 1),
  u32: info('u32', 32, 'int', false, Uint32Array, 0, 2 ** 32 - 1),
  u16: info('u16', 16, 'int', false, Uint16Array, 0, 65535),
  u8: info('u8', 8, 'int', false, Uint8Array, 0, 255),
  i4: info('i4', 4, 'int', true, Int8Array, -8, 7),
  u4: info('u4', 4, 'int', false, Uint8Array, 0, 15),
  i2: info('i2', 2, 'int', true, Int8Array, -2, 1),
  bool: info('bool', 8, 'bool', false, Uint8Array, 0, 1),
};

export function dtypeInfo(d: DType): DTypeInfo {
  return TABLE[d];
}

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(TABLE, s);
}

export const isFloat = (d: DType): boolean => TABLE[d].kind === 'float';
export const isInt = (d: DType): boolean => TABLE[d].kind === 'int';
/** i64 and u64 are stored as BigInt arrays. */
export const isBig = (d: DType): boolean => d === 'i64' || d === 'u64';

// ---- narrow float rounding -------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/**
 * float32 bits of x rounded to odd: when x is not a float32, the odd one of its two float32
 * neighbours. Rounding that again to a format at least 2 bits narrower (f16, bf16) gives the
 * correctly rounded result of x itself: no double-rounding error for float64 inputs.
 */
function f32BitsRoundToOdd(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0]!;
  const r = f32buf[0]!;
  if (r === x || Number.isNaN(x) || (b & 1) !== 0) return b;
  return Math.abs(r) > Math.abs(x) ? b - 1 : b + 1;
}

/** Round a number to the nearest IEEE half (round half to even), returned as a JS number. */
export function roundF16(x: number): number {
  return f16BitsToNumber(numberToF16Bits(x));
}

/** IEEE binary16 bits of x, round-to-nearest-even. */
export function numberToF16Bits(x: number): number {
  const b = f32BitsRoundToOdd(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits of x, round-to-nearest-even (NaN preserved). */
export function numberToBf16Bits(x: number): number {
  const b = f32BitsRoundToOdd(x);
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  const lsb = (b >>> 16) & 1;
  return ((b + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToNumber(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0]!;
}

export const roundBf16 = (x: number): number => bf16BitsToNumber(numberToBf16Bits(x));

/**
 * Generic small-float encoder: `ebits` exponent bits, `mbits` mantissa bits, given bias.
 * `fn` = no infinities, only the all-ones pattern is NaN (e4m3fn); otherwise IEEE-like (e5m2).
 * Saturates to the largest finite value when `saturate` (ONNX Cast default for f8).
 */
function encodeSmallFloat(x: number, ebits: number, mbits: number, bias: number, fn: boolean, saturate: boolean): number {
  const signBit = 1 << (ebits + mbits);
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const ax = Math.abs(x);
  const maxExp = fn ? (1 << ebits) - 1 : (1 << ebits) - 2;
  const maxMant = fn ? (1 << mbits) - 2 : (1 << mbits) - 1;
  const maxFinite = (1 + maxMant / (1 << mbits)) * 2 ** (maxExp - bias);
  const nanCode = fn ? (signBit - 1) | sign : (((1 << ebits) - 1) << mbits) | (1 << (mbits - 1)) | sign;
  if (Number.isNaN(x)) return nanCode;
  if (ax === Infinity) {
    if (saturate) return sign | (maxExp << mbits) | maxMant;
    return fn ? nanCode : sign | (((1 << ebits) - 1) << mbits);
  }
  if (ax === 0) return sign;
  let e = Math.floor(Math.log2(ax));
  if (2 ** e > ax) e--;
  if (2 ** (e + 1) <= ax) e++;
  let be = e + bias;
  let mant: number;
  if (be <= 0) {
    // subnormal: value = m * 2^(1-bias-mbits)
    const q = ax / 2 ** (1 - bias - mbits);
    mant = roundHalfEven(q);
    if (mant >= 1 << mbits) return sign | (1 << mbits) | (mant - (1 << mbits)); // rounds up to normal
    return sign | mant;
  }
  const q = (ax / 2 ** e - 1) * (1 << mbits);
  mant = roundHalfEven(q);
  if (mant === 1 << mbits) { mant = 0; be++; }
  if (be > maxExp || (be === maxExp && mant > maxMant)) {
    if (saturate) return sign | (maxExp << mbits) | maxMant;
    return fn ? nanCode : sign | (((1 << ebits) - 1) << mbits);
  }
  void maxFinite;
  return sign | (be << mbits) | mant;
}

function decodeSmallFloat(b: number, ebits: number, mbits: number, bias: number, fn: boolean): number {
  const signBit = 1 << (ebits + mbits);
  const s = b & signBit ? -1 : 1;
  const e = (b >>> mbits) & ((1 << ebits) - 1);
  const m = b & ((1 << mbits) - 1);
  if (fn) {
    if (e === (1 << ebits) - 1 && m === (1 << mbits) - 1) return NaN;
  } else if (e === (1 << ebits) - 1) {
    return m ? NaN : s * Infinity;
  }
  if (e === 0) return s * m * 2 ** (1 - bias - mbits);
  return s * (1 + m / (1 << mbits)) * 2 ** (e - bias);
}

export const numberToF8e4m3Bits = (x: number, saturate = true): number => encodeSmallFloat(x, 4, 3, 7, true, saturate);
export const f8e4m3BitsToNumber = (b: number): number => decodeSmallFloat(b, 4, 3, 7, true);
export const numberToF8e5m2Bits = (x: number, saturate = true): number => encodeSmallFloat(x, 5, 2, 15, false, saturate);
export const f8e5m2BitsToNumber = (b: number): number => decodeSmallFloat(b, 5, 2, 15, false);

/** Round half to even, as ONNX QuantizeLinear and Round do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The function that rounds a float value to the representable set of a float dtype. */
export function floatRounder(d: DType, saturate = true): ((x: number) => number) | undefined {
  switch (d) {
    case 'f32': return Math.fround;
    case 'f16': return roundF16;
    case 'bf16': return roundBf16;
    case 'f8e4m3': return (x) => f8e4m3BitsToNumber(numberToF8e4m3Bits(x, saturate));
    case 'f8e5m2': return (x) => f8e5m2BitsToNumber(numberToF8e5m2Bits(x, saturate));
    default: return undefined;
  }
}

// ---- ONNX data type codes --------------------------------------------------------------------

/** ONNX `TensorProto.DataType` code of each dtype (Cast's `to`, initializers, value infos). */
export const ONNX_DTYPE_CODE: Readonly<Record<DType, number>> = {
  f32: 1, u8: 2, i8: 3, u16: 4, i16: 5, i32: 6, i64: 7, bool: 9, f16: 10, f64: 11, u32: 12, u64: 13,
  bf16: 16, f8e4m3: 17, f8e5m2: 19, u4: 21, i4: 22, i2: 26,
};

const FROM_ONNX_CODE = new Map<number, DType>(Object.entries(ONNX_DTYPE_CODE).map(([d, c]) => [c, d as DType]));

/** The dtype of an ONNX data type code; undefined for types Lutra does not store (string, complex, FNUZ, f4, e8m0, u2). */
export function dtypeFromOnnx(code: number): DType | undefined {
  return FROM_ONNX_CODE.get(code);
}
