/**
 * @fileoverview TensorProto ↔ Tensor: raw little-endian data, the typed repeated fields, external
 * data files, packed 4-bit integers and the narrow float formats.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import {
  type DType, type TypedArray, bf16BitsToNumber, dtypeInfo, f16BitsToNumber, f8e4m3BitsToNumber, f8e5m2BitsToNumber,
  numberToBf16Bits, numberToF16Bits, numberToF8e4m3Bits, numberToF8e5m2Bits,
} from '../../ir/dtype.js';
import { LutraError } from '../../ir/diagnostics.js';
import { Tensor } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { type OnnxTypes, dtypeFromOnnx, dtypeToOnnx, onnx, onnxTypeName, toBig, toNum } from './proto.js';

/** Where a tensor comes from: the file named in errors and the directory external data is relative to. */
export interface TensorSource {
  /** File named in error messages (the model or data file). */
  file?: string;
  /** Directory external-data locations are relative to. */
  baseDir?: string;
}

const SMALL_FLOAT_DECODE: Partial<Record<DType, (bits: number) => number>> = {
  f16: f16BitsToNumber, bf16: bf16BitsToNumber, f8e4m3: f8e4m3BitsToNumber, f8e5m2: f8e5m2BitsToNumber,
};
const SMALL_FLOAT_ENCODE: Partial<Record<DType, (x: number) => number>> = {
  f16: numberToF16Bits, bf16: numberToBf16Bits, f8e4m3: (x) => numberToF8e4m3Bits(x), f8e5m2: (x) => numberToF8e5m2Bits(x),
};

/** Decode a TensorProto; unsupported element types and malformed data are LutraErrors naming the tensor. */
export function tensorFromProto(p: OnnxTypes.ITensorProto, src: TensorSource = {}): Tensor {
  const name = p.name ? `tensor '${p.name}'` : 'tensor';
  const bad = (code: 'model' | 'unsupported' | 'io', msg: string): never => {
    throw new LutraError(code, `${name}: ${msg}`, src.file);
  };
  const onnxType = p.dataType ?? 0;
  const dtype = dtypeFromOnnx(onnxType);
  if (!dtype) return bad('unsupported', `element type ${onnxTypeName(onnxType)} is not supported`);
  const shape = (p.dims ?? []).map(toNum);
  if (shape.some((d) => d < 0 || !Number.isInteger(d))) bad('model', `invalid dims [${shape.join(',')}]`);
  const n = numel(shape);
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    return fromBytes(dtype, shape, readExternal(p, src, bad), bad);
  }
  if (p.rawData && p.rawData.length > 0) return fromBytes(dtype, shape, p.rawData, bad);
  if (n === 0) return Tensor.zeros(dtype, shape);
  return fromFields(dtype, shape, p, bad);
}

type Bad = (code: 'model' | 'unsupported' | 'io', msg: string) => never;

function readExternal(p: OnnxTypes.ITensorProto, src: TensorSource, bad: Bad): Uint8Array {
  const kv = new Map((p.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const loc = kv.get('location');
  if (!loc) return bad('model', 'external data without a location');
  if (isAbsolute(loc) || normalize(loc).startsWith('..')) bad('model', `external data location '${loc}' must be relative to the model directory`);
  const path = join(src.baseDir ?? '.', loc);
  if (!existsSync(path)) bad('io', `external data file '${path}' not found`);
  const buf = readFileSync(path);
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
  if (!(offset >= 0 && length >= 0 && offset + length <= buf.length)) {
    bad('model', `external data range ${offset}+${length} is outside '${path}' (${buf.length} bytes)`);
  }
  return buf.subarray(offset, offset + length);
}

/** Bytes in the packed serialized form: sub-byte types round up to whole bytes. */
function packedBytes(dtype: DType, n: number): number {
  const bits = dtypeInfo(dtype).bits;
  return bits < 8 ? Math.ceil((n * bits) / 8) : n * (bits / 8);
}

function fromBytes(dtype: DType, shape: number[], raw: Uint8Array, bad: Bad): Tensor {
  const n = numel(shape);
  const want = packedBytes(dtype, n);
  if (raw.length !== want) bad('model', `${dtype}[${shape.join(',')}] needs ${want} bytes of data, has ${raw.length}`);
  const bytes = new Uint8Array(raw); // aligned copy
  const t = Tensor.zeros(dtype, shape);
  const decode = SMALL_FLOAT_DECODE[dtype];
  if (decode) {
    const bits = dtype === 'f16' || dtype === 'bf16' ? new Uint16Array(bytes.buffer, 0, n) : bytes;
    const out = t.data as Float32Array;
    for (let i = 0; i < n; i++) out[i] = decode(bits[i]!);
  } else if (dtype === 'i4' || dtype === 'u4') {
    unpack4(bytes, t.data as Int8Array | Uint8Array, dtype === 'i4');
  } else if (dtype === 'bool') {
    const out = t.data as Uint8Array;
    for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
  } else {
    const Ctor = dtypeInfo(dtype).storage;
    t.data.set(new Ctor(bytes.buffer, 0, n) as never);
  }
  return t;
}

/** Two 4-bit values per byte, low nibble first. */
function unpack4(bytes: ArrayLike<number>, out: Int8Array | Uint8Array, signed: boolean): void {
  for (let i = 0; i < out.length; i++) {
    const nib = (bytes[i >> 1]! >> ((i & 1) * 4)) & 0xf;
    out[i] = signed && nib >= 8 ? nib - 16 : nib;
  }
}

function fromFields(dtype: DType, shape: number[], p: OnnxTypes.ITensorProto, bad: Bad): Tensor {
  const n = numel(shape);
  const t = Tensor.zeros(dtype, shape);
  const check = (len: number, field: string, want = n) => {
    if (len !== want) bad('model', `${dtype}[${shape.join(',')}] has ${len} values in ${field}, expected ${want}`);
  };
  const i32 = p.int32Data ?? [];
  switch (dtype) {
    case 'f32': check(p.floatData?.length ?? 0, 'float_data'); (t.data as Float32Array).set(p.floatData!); break;
    case 'f64': check(p.doubleData?.length ?? 0, 'double_data'); (t.data as Float64Array).set(p.doubleData!); break;
    case 'i64': {
      const src = p.int64Data ?? [];
      check(src.length, 'int64_data');
      const d = t.data as BigInt64Array;
      for (let i = 0; i < n; i++) d[i] = toBig(src[i]!);
      break;
    }
    case 'u64': case 'u32': {
      const src = p.uint64Data ?? [];
      check(src.length, 'uint64_data');
      if (dtype === 'u64') { const d = t.data as BigUint64Array; for (let i = 0; i < n; i++) d[i] = toBig(src[i]!, true); }
      else { const d = t.data as Uint32Array; for (let i = 0; i < n; i++) d[i] = toNum(src[i]!); }
      break;
    }
    case 'i4': case 'u4':
      check(i32.length, 'int32_data (two values per entry)', Math.ceil(n / 2));
      unpack4(i32, t.data as Int8Array | Uint8Array, dtype === 'i4');
      break;
    default: {
      check(i32.length, 'int32_data');
      const decode = SMALL_FLOAT_DECODE[dtype];
      if (decode) { const d = t.data as Float32Array; for (let i = 0; i < n; i++) d[i] = decode(i32[i]! & 0xffff); }
      else t.setAll(i32);
    }
  }
  return t;
}

/** Encode a tensor as a TensorProto with raw little-endian data (sub-byte types packed). */
export function tensorToProto(t: Tensor, name = ''): OnnxTypes.TensorProto {
  const dataType = dtypeToOnnx(t.dtype);
  if (dataType === undefined) throw new LutraError('unsupported', `dtype ${t.dtype} has no ONNX element type`, name ? `tensor '${name}'` : undefined);
  return onnx.TensorProto.create({ name, dims: [...t.shape], dataType, rawData: tensorBytes(t) });
}

/** The tensor's data in ONNX raw_data form. */
export function tensorBytes(t: Tensor): Uint8Array {
  const n = t.size;
  const encode = SMALL_FLOAT_ENCODE[t.dtype];
  if (encode) {
    const src = t.data as Float32Array;
    if (t.dtype === 'f16' || t.dtype === 'bf16') {
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = encode(src[i]!);
      return new Uint8Array(bits.buffer);
    }
    const bits = new Uint8Array(n);
    for (let i = 0; i < n; i++) bits[i] = encode(src[i]!);
    return bits;
  }
  if (t.dtype === 'i4' || t.dtype === 'u4') {
    const out = new Uint8Array(Math.ceil(n / 2));
    for (let i = 0; i < n; i++) out[i >> 1]! |= ((t.data[i] as number) & 0xf) << ((i & 1) * 4);
    return out;
  }
  const d: TypedArray = t.data;
  return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}
