/**
 * @fileoverview Element-wise kernels. Float math runs in float64 and is rounded to the output
 * dtype once (so f32 results match a correctly rounded float32 computation).
 */
import { floatRounder, isBig } from '../../ir/dtype.js';
import { broadcastStatic } from '../../ir/shape-utils.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { registerKernel } from '../kernel.js';

/** Map over a tensor elementwise, keeping its dtype. */
export function mapUnary(x: Tensor, f: (v: number) => number): Tensor {
  const out = Tensor.zeros(x.dtype, x.shape);
  const round = floatRounder(x.dtype);
  const s = x.data as Float32Array;
  const d = out.data as Float32Array;
  if (round && x.dtype !== 'f32') for (let i = 0; i < s.length; i++) d[i] = round(f(s[i]!));
  else for (let i = 0; i < s.length; i++) d[i] = f(s[i]!);
  return out;
}

/** Index of the source element for each output element under broadcasting. */
export function broadcastIndex(src: readonly number[], out: readonly number[]): Int32Array {
  const n = out.reduce((a, b) => a * b, 1);
  const idx = new Int32Array(n);
  const rank = out.length;
  const off = rank - src.length;
  const ss = strides(src);
  const bs = out.map((_, i) => (i < off || src[i - off] === 1 ? 0 : ss[i - off]!));
  const counter = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = cur;
    for (let k = rank - 1; k >= 0; k--) {
      counter[k]!++;
      cur += bs[k]!;
      if (counter[k]! < out[k]!) break;
      cur -= bs[k]! * out[k]!;
      counter[k] = 0;
    }
  }
  return idx;
}

/** Broadcasting binary op on numbers (non-BigInt dtypes). `dtype` defaults to a's. */
export function mapBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number, dtype = a.dtype): Tensor {
  const shape = broadcastStatic([a.shape, b.shape]);
  const out = Tensor.zeros(dtype, shape);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  const d = out.data as Float32Array;
  const round = floatRounder(dtype);
  if (round && dtype !== 'f32') for (let i = 0; i < d.length; i++) d[i] = round(f(ad[ia[i]!]!, bd[ib[i]!]!));
  else for (let i = 0; i < d.length; i++) d[i] = f(ad[ia[i]!]!, bd[ib[i]!]!);
  return out;
}

/** Broadcasting binary op for i64/u64 tensors. */
export function mapBinaryBig(a: Tensor, b: Tensor, f: (x: bigint, y: bigint) => bigint): Tensor {
  const shape = broadcastStatic([a.shape, b.shape]);
  const out = Tensor.zeros(a.dtype, shape);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const ad = a.data as BigInt64Array;
  const bd = b.data as BigInt64Array;
  const d = out.data as BigInt64Array;
  for (let i = 0; i < d.length; i++) d[i] = f(ad[ia[i]!]!, bd[ib[i]!]!);
  return out;
}

registerKernel('onnx.Relu', ([x]) => [mapUnary(x!, (v) => (v > 0 ? v : v === 0 || v < 0 ? 0 : v))]);

registerKernel('onnx.Add', ([a, b]) => [
  isBig(a!.dtype) ? mapBinaryBig(a!, b!, (x, y) => BigInt.asIntN(64, x + y)) : mapBinary(a!, b!, (x, y) => x + y),
]);
