/**
 * @fileoverview Storage-level helpers shared by the data-movement kernel families (shape, gather,
 * resize): the generic element view, attribute and integer-input readers, axis normalization, a
 * row-major index walker and the one contiguous / strided copy routine (precomputed strides).
 */
import type { TypedArray } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { normalizeAxis } from '../../ir/shape-utils.js';
import type { Tensor } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';

export type Elem = number | bigint;
/**
 * Storage viewed generically. The data-movement kernels only move elements between arrays of one dtype, so
 * the Float64Array view stands for every storage array (BigInt arrays included).
 */
export type Buf = Float64Array;
export const buf = (t: Tensor): Buf => t.data as unknown as Buf;

/** A numeric attribute (schema default applied), and an optional attribute as given. */
export const attr = (node: Node, name: string): number => getAttr<number>(node, name);
export const optAttr = <T>(node: Node, name: string): T | undefined => node.attrs[name] as T | undefined;

/** The values of an integer input (shape, axes, indices) as numbers. */
export const ints = (t: Tensor | undefined): number[] | undefined => t?.toNumbers();

/** Normalize an axis or throw. */
export function axisOf(axis: number, rank: number): number {
  const a = normalizeAxis(axis, rank);
  if (a === undefined) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Copy n contiguous elements; `set` over a subarray only pays off for longer runs. */
export function copyRun(D: Buf, d: number, S: Buf, s: number, n: number): void {
  if (n >= 16) D.set(S.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) D[d + i] = S[s + i]!;
}

/**
 * dst[dOff + Σ i_k·dStr_k] = src[sOff + Σ i_k·sStr_k] over `shape`. Size-1 dims are dropped and
 * dims contiguous in both arrays merged; contiguous inner runs copy with `set`.
 */
export function stridedCopy(dst: TypedArray, dOff: number, dStr: readonly number[], src: TypedArray, sOff: number, sStr: readonly number[], shape: readonly number[]): void {
  const D = dst as unknown as Buf;
  const S = src as unknown as Buf;
  const sh: number[] = [];
  const ds: number[] = [];
  const ss: number[] = [];
  for (let k = 0; k < shape.length; k++) {
    const n = shape[k]!;
    if (n === 0) return;
    if (n === 1) continue;
    const j = sh.length - 1;
    if (j >= 0 && ds[j] === dStr[k]! * n && ss[j] === sStr[k]! * n) {
      sh[j]! *= n;
      ds[j] = dStr[k]!;
      ss[j] = sStr[k]!;
    } else {
      sh.push(n);
      ds.push(dStr[k]!);
      ss.push(sStr[k]!);
    }
  }
  const r = sh.length;
  if (r === 0) { D[dOff] = S[sOff]!; return; }
  const n = sh[r - 1]!;
  const di = ds[r - 1]!;
  const si = ss[r - 1]!;
  let outer = 1;
  for (let k = 0; k < r - 1; k++) outer *= sh[k]!;
  const idx = new Array<number>(r).fill(0);
  let d = dOff;
  let s = sOff;
  for (let o = 0; o < outer; o++) {
    if (di === 1 && si === 1) copyRun(D, d, S, s, n);
    else for (let i = 0, dd = d, sp = s; i < n; i++, dd += di, sp += si) D[dd] = S[sp]!;
    for (let k = r - 2; k >= 0; k--) {
      idx[k]!++;
      d += ds[k]!;
      s += ss[k]!;
      if (idx[k]! < sh[k]!) break;
      d -= ds[k]! * sh[k]!;
      s -= ss[k]! * sh[k]!;
      idx[k] = 0;
    }
  }
}

/** Call f(flat index, multi-index) for every element of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], f: (flat: number, at: readonly number[]) => void): void {
  const n = numel(shape);
  const at = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(i, at);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++at[k]! < shape[k]!) break;
      at[k] = 0;
    }
  }
}
