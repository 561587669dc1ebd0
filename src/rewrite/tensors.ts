/** @fileoverview Small helpers rules use to read constants and compare types. */
import type { Value } from '../ir/graph.js';
import { Tensor, strides } from '../ir/tensor.js';
import { broadcastStatic } from '../ir/shape-utils.js';
import type { DType } from '../ir/dtype.js';
import { isStaticShape, numel, sameElemType, type Shape } from '../ir/types.js';

/** A constant's elements as numbers (i64 axes, shapes, perms). */
export const ints = (t: Tensor): number[] => t.toNumbers();

/** Shapes with identical dims (numbers and symbols; unknown rank is never equal). */
export function sameShape(a: Shape | undefined, b: Shape | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((d, i) => d === b[i] && d !== '?');
}

/** Same element type and identical shape: replacing one by the other changes no type. */
export function sameType(a: Value, b: Value): boolean {
  return sameElemType(a.type.dtype, b.type.dtype) && sameShape(a.type.shape, b.type.shape);
}

/** The static shape of `v`, or undefined. */
export function staticShape(v: Value): readonly number[] | undefined {
  return isStaticShape(v.type.shape) ? v.type.shape : undefined;
}

/** A tensor of `shape` filled with `value`. */
export function filled(dtype: DType, shape: readonly number[], value: number): Tensor {
  const t = Tensor.zeros(dtype, shape);
  t.setAll(new Array<number>(t.size).fill(value));
  return t;
}

/** Elementwise `f` over `a` and `b` with numpy broadcasting; the result has `a`'s dtype. */
export function broadcast2(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const shape = broadcastStatic([a.shape, b.shape]);
  const index = (t: Tensor) => {
    const st = strides([...t.shape]);
    const off = shape.length - t.rank;
    return (flat: number): number => {
      let i = 0;
      let rem = flat;
      for (let d = shape.length - 1; d >= 0; d--) {
        const k = rem % shape[d]!;
        rem = Math.floor(rem / shape[d]!);
        if (d >= off && t.shape[d - off] !== 1) i += k * st[d - off]!;
      }
      return i;
    };
  };
  const [ia, ib] = [index(a), index(b)];
  const [xa, xb] = [a.toNumbers(), b.toNumbers()];
  return Tensor.from(a.dtype, shape, Array.from({ length: numel(shape) }, (_, i) => f(xa[ia(i)]!, xb[ib(i)]!)));
}

/**
 * The axis (negative, counted from the end) of a reduction over the trailing dims, from the
 * axes of a ReduceMean on a value of rank `rank` (undefined when unknown); undefined when the
 * axes are not a run of trailing dims.
 */
export function trailingAxis(axes: readonly number[], rank: number | undefined): number | undefined {
  if (axes.length === 0) return rank === undefined ? undefined : -rank;
  if (rank === undefined && axes.some((a) => a >= 0)) return undefined;
  const neg = [...new Set(axes.map((a) => (a >= 0 ? a - rank! : a)))].sort((a, b) => a - b);
  return neg.every((a, i) => a === -neg.length + i) ? -neg.length : undefined;
}

/**
 * `t` as the Scale/Bias of a norm over the trailing `k` dims `dims` (static or undefined when
 * unknown): leading 1s dropped, or broadcast to `dims`; undefined when it does not fit.
 */
export function trailingParam(t: Tensor, k: number, dims: readonly number[] | undefined): Tensor | undefined {
  if (t.rank >= k && t.shape.slice(0, t.rank - k).every((d) => d === 1)) {
    const shape = t.shape.slice(t.rank - k);
    if (!dims || shape.every((d, i) => d === dims[i])) return t.reshape(shape);
  }
  if (!dims) return undefined;
  try {
    const out = broadcast2(filled(t.dtype, dims, 0), t, (_, y) => y);
    return out.shape.join() === dims.join() ? out : undefined;
  } catch {
    return undefined;
  }
}
