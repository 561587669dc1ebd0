/**
 * @fileoverview NumPy .npy files (format versions 1–3, C order), so users can feed data saved
 * with `np.save` without converting it to TensorProto first.
 */
import { type DType, dtypeInfo, f16BitsToNumber, numberToF16Bits } from '../../ir/dtype.js';
import { LutraError } from '../../ir/diagnostics.js';
import { Tensor } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy type code (without byte order) → dtype. */
const DESCR: Readonly<Record<string, DType>> = {
  f4: 'f32', f8: 'f64', f2: 'f16', i8: 'i64', i4: 'i32', i2: 'i16', i1: 'i8', u1: 'u8', b1: 'bool',
};
const DESCR_OF: Readonly<Partial<Record<DType, string>>> = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k]));

/** Decode a .npy file; `file` names it in errors. */
export function decodeNpy(bytes: Uint8Array, file = '<npy>'): Tensor {
  const bad = (msg: string): never => { throw new LutraError('parse', msg, file); };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) bad('not a .npy file (bad magic)');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [hlen, hstart] = major === 1 ? [dv.getUint16(8, true), 10] : major <= 3 ? [dv.getUint32(8, true), 12] : bad(`unsupported .npy version ${major}`);
  if (hstart + hlen > bytes.length) bad('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return bad(`malformed .npy header ${header.trim()}`);
  if (fortran === 'True') bad('Fortran-order .npy arrays are not supported (save with C order)');
  const order = descr[0]!;
  const dtype = DESCR[descr.slice(1)];
  if (!dtype || !'<|='.includes(order)) {
    return bad(`unsupported .npy dtype '${descr}' (supported: float32/64/16, int64/32/16/8, uint8, bool; little-endian)`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`malformed .npy shape (${shapeText})`);
  const n = numel(shape);
  const itemBytes = Number(descr.slice(2));
  const start = hstart + hlen;
  if (bytes.length - start < n * itemBytes) bad(`truncated .npy data: ${n} ${dtype} values need ${n * itemBytes} bytes, file has ${bytes.length - start}`);
  const data = new Uint8Array(bytes.subarray(start, start + n * itemBytes));
  if (dtype === 'f16') {
    const raw = new Uint16Array(data.buffer, 0, n);
    return Tensor.from('f16', shape, Array.from(raw, f16BitsToNumber));
  }
  if (dtype === 'bool') return Tensor.from('bool', shape, data);
  const Ctor = dtypeInfo(dtype).storage;
  return new Tensor(dtype, shape, new Ctor(data.buffer, 0, n));
}

/** Encode a tensor as a version-1 .npy file (the dtypes decodeNpy reads). */
export function encodeNpy(t: Tensor): Uint8Array {
  const code = DESCR_OF[t.dtype];
  if (!code) throw new LutraError('unsupported', `dtype ${t.dtype} cannot be written as .npy`);
  const descr = `${code.endsWith('1') ? '|' : '<'}${code}`;
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  let body: Uint8Array;
  if (t.dtype === 'f16') {
    const bits = new Uint16Array(t.size);
    for (let i = 0; i < t.size; i++) bits[i] = numberToF16Bits(t.data[i] as number);
    body = new Uint8Array(bits.buffer);
  } else {
    body = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}
