/**
 * @fileoverview TensorProto ↔ Tensor: raw little-endian data, the typed repeated fields, external
 * data files, packed 4-bit integers and the narrow float formats.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { type DType, bf16BitsToNumber, f16BitsToNumber, f8e4m3BitsToNumber, f8e5m2BitsToNumber } from '../../ir/dtype.js';
import { rawByteLength, tensorFromBytes, tensorToBytes } from '../../ir/raw-data.js';
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

function fromBytes(dtype: DType, shape: number[], raw: Uint8Array, bad: Bad): Tensor {
  const want = rawByteLength(dtype, numel(shape));
  if (raw.length !== want) bad('model', `${dtype}[${shape.join(',')}] needs ${want} bytes of data, has ${raw.length}`);
  return tensorFromBytes(dtype, shape, new Uint8Array(raw)); // aligned copy
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
    case 'i4': case 'u4': case 'i2':
      check(i32.length, 'int32_data (packed bytes)', rawByteLength(dtype, n));
      return tensorFromBytes(dtype, shape, Uint8Array.from(i32));
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
  return onnx.TensorProto.create({ name, dims: [...t.shape], dataType, rawData: tensorToBytes(t) });
}

