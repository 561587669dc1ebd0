/**
 * @fileoverview Raw tensor bytes as ONNX `raw_data` holds them: little-endian, narrow floats as
 * their bit patterns, i4/u4 two per byte and i2 four per byte, low bits first. Shared by the ONNX
 * frontend and the text IR's `weights { }` section.
 */
import {
  type DType, type TypedArray, bf16BitsToNumber, dtypeInfo, f16BitsToNumber, f8e4m3BitsToNumber,
  f8e5m2BitsToNumber, numberToBf16Bits, numberToF16Bits, numberToF8e4m3Bits, numberToF8e5m2Bits,
} from './dtype.js';
import { Tensor } from './tensor.js';
import { numel } from './types.js';

/** Elements per byte: sub-byte types pack several elements into one byte. */
const elemsPerByte = (d: DType): number => (d === 'i4' || d === 'u4' ? 2 : d === 'i2' ? 4 : 1);

/** Length in bytes of the raw data of `count` elements of `dtype`. */
export function rawByteLength(dtype: DType, count: number): number {
  const per = elemsPerByte(dtype);
  return per === 1 ? count * (dtypeInfo(dtype).bits / 8) : Math.ceil(count / per);
}

const NARROW_ENCODE: Partial<Record<DType, (x: number) => number>> = {
  f16: numberToF16Bits, bf16: numberToBf16Bits, f8e4m3: (x) => numberToF8e4m3Bits(x), f8e5m2: (x) => numberToF8e5m2Bits(x),
};
const NARROW_DECODE: Partial<Record<DType, (b: number) => number>> = {
  f16: f16BitsToNumber, bf16: bf16BitsToNumber, f8e4m3: f8e4m3BitsToNumber, f8e5m2: f8e5m2BitsToNumber,
};

/** The tensor's raw little-endian bytes (what ONNX `raw_data` holds). */
export function tensorToBytes(t: Tensor): Uint8Array {
  const out = new Uint8Array(rawByteLength(t.dtype, t.size));
  const per = elemsPerByte(t.dtype);
  if (per > 1) {
    const bits = 8 / per;
    const mask = (1 << bits) - 1;
    for (let i = 0; i < t.size; i++) out[Math.floor(i / per)]! |= ((t.data[i] as number) & mask) << (bits * (i % per));
    return out;
  }
  const encode = NARROW_ENCODE[t.dtype];
  if (encode) {
    const view = new DataView(out.buffer);
    const wide = t.dtype === 'f16' || t.dtype === 'bf16';
    for (let i = 0; i < t.size; i++) {
      const b = encode(t.data[i] as number);
      if (wide) view.setUint16(2 * i, b, true); else out[i] = b;
    }
    return out;
  }
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, out.length));
  return out;
}

/** A tensor from raw little-endian bytes; the caller checks `bytes.length === rawByteLength(…)`. */
export function tensorFromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor {
  const count = numel(shape);
  const info = dtypeInfo(dtype);
  const data = new info.storage(count) as TypedArray;
  const per = elemsPerByte(dtype);
  const decode = NARROW_DECODE[dtype];
  if (per > 1) {
    const bits = 8 / per;
    const mask = (1 << bits) - 1;
    for (let i = 0; i < count; i++) {
      const u = (bytes[Math.floor(i / per)]! >> (bits * (i % per))) & mask;
      data[i] = info.signed && u >= 1 << (bits - 1) ? u - (1 << bits) : u;
    }
  } else if (decode) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const wide = dtype === 'f16' || dtype === 'bf16';
    for (let i = 0; i < count; i++) data[i] = decode(wide ? view.getUint16(2 * i, true) : bytes[i]!);
  } else {
    new Uint8Array(data.buffer).set(bytes);
  }
  return new Tensor(dtype, shape, data);
}
