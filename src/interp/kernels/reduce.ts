/**
 * @fileoverview Reduction kernels. The input is viewed as [outer, reduced, inner] (transposed
 * first when the reduced axes are not adjacent) and folded in memory order. Floats accumulate
 * in float64 and round once; i64/u64 accumulate as BigInt (wrapping like the storage). Empty reductions give the op's identity (0, 1, ±inf).
 */
import { type DType, dtypeInfo, floatRounder, isBig, isFloat } from '../../ir/dtype.js';
import { getAttr } from '../../ir/registry.js';
import { Tensor } from '../../ir/tensor.js';
import { reduceAxes } from '../../ir/ops/reduce.js';
import { registerKernel } from '../kernel.js';
import { transpose } from './shape.js';

/** One reduction: fold on float64 (and on BigInt where it stays integral), then finish. */
interface Reduction {
  init: (dtype: DType) => number;
  step: (acc: number, x: number) => number;
  finish?: (acc: number, count: number) => number;
  big?: { init: bigint | ((d: DType) => bigint); step: (acc: bigint, x: bigint) => bigint; finish?: (acc: bigint, count: bigint) => bigint };
}

const add = { init: 0n, step: (a: bigint, x: bigint) => a + x };
const sumOf = (f: (x: number) => number) => ({ init: () => 0, step: (a: number, x: number) => a + f(x) });

/** The dtype's lowest / highest value: what Max / Min of nothing give. */
const lowest = (d: DType): number => (isFloat(d) ? -Infinity : dtypeInfo(d).min);
const highest = (d: DType): number => (isFloat(d) ? Infinity : dtypeInfo(d).max);

const REDUCTIONS: Record<string, Reduction> = {
  ReduceSum: { ...sumOf((x) => x), big: add },
  ReduceMean: { ...sumOf((x) => x), finish: (a, n) => a / n, big: { ...add, finish: (a, n) => (n === 0n ? 0n : a / n) } },
  ReduceMax: { init: lowest, step: (a, x) => (x > a || Number.isNaN(x) ? x : a), big: { init: (d) => (d === 'u64' ? 0n : -(2n ** 63n)), step: (a, x) => (x > a ? x : a) } },
  ReduceMin: { init: highest, step: (a, x) => (x < a || Number.isNaN(x) ? x : a), big: { init: (d) => (d === 'u64' ? 2n ** 64n - 1n : 2n ** 63n - 1n), step: (a, x) => (x < a ? x : a) } },
  ReduceProd: { init: () => 1, step: (a, x) => a * x, big: { init: 1n, step: (a, x) => a * x } },
  ReduceL1: { ...sumOf(Math.abs), big: { init: 0n, step: (a, x) => a + (x < 0n ? -x : x) } },
  ReduceL2: { ...sumOf((x) => x * x), finish: Math.sqrt },
  ReduceLogSum: { ...sumOf((x) => x), finish: Math.log },
  ReduceLogSumExp: { ...sumOf(Math.exp), finish: Math.log },
  ReduceSumSquare: { ...sumOf((x) => x * x), big: { init: 0n, step: (a, x) => a + x * x } },
};

/**
 * x viewed as [outer, R, inner] with the reduced axes as the middle block: as it is when they
 * are adjacent, else after moving them last.
 */
function blocked(x: Tensor, axes: readonly number[]): { t: Tensor; outer: number; red: number; inner: number } {
  const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  const red = size(axes.map((a) => x.shape[a]!));
  if (axes[axes.length - 1]! - axes[0]! === axes.length - 1) {
    return { t: x, outer: size(x.shape.slice(0, axes[0])), red, inner: size(x.shape.slice(axes[axes.length - 1]! + 1)) };
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  return { t: transpose(x, [...kept, ...axes]), outer: size(kept.map((a) => x.shape[a]!)), red, inner: 1 };
}

for (const [op, red] of Object.entries(REDUCTIONS)) {
  registerKernel(`onnx.${op}`, ([x, axesT], node) => {
    const axes = reduceAxes(axesT?.toNumbers().map((a) => (a < 0 ? a + x!.rank : a)), x!.rank, getAttr<number>(node, 'noop_with_empty_axes') !== 0);
    if (axes.length === 0) return [x!];
    const keep = getAttr<number>(node, 'keepdims') !== 0;
    const out = Tensor.zeros(x!.dtype, x!.shape.flatMap((d, i) => (!axes.includes(i) ? [d] : keep ? [1] : [])));
    const { t, outer, red: count, inner } = blocked(x!, axes);
    const S = t.data as ArrayLike<number | bigint>;
    // acc[o·inner + k] folds S[(o·R + r)·inner + k] over r, walking S in order
    const fold = <A>(acc: A[] | Float64Array, step: (a: A, v: A) => A, conv: (v: number | bigint) => A): void => {
      const a = acc as A[];
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < count; r++) {
          const base = (o * count + r) * inner;
          const ob = o * inner;
          for (let k = 0; k < inner; k++) a[ob + k] = step(a[ob + k]!, conv(S[base + k]!));
        }
      }
    };
    if (isBig(x!.dtype) && red.big) {
      const { init, step, finish } = red.big;
      const acc = new Array<bigint>(out.size).fill(typeof init === 'bigint' ? init : init(x!.dtype));
      fold(acc, step, (v) => v as bigint);
      out.setAll(finish ? acc.map((a) => finish(a, BigInt(count))) : acc);
      return [out];
    }
    const acc = new Float64Array(out.size).fill(red.init(x!.dtype));
    fold(acc, red.step, Number);
    const fin = red.finish ? acc.map((a) => red.finish!(a, count)) : acc;
    const round = floatRounder(x!.dtype);
    out.setAll(isFloat(x!.dtype) ? (round ? fin.map(round) : fin) : fin.map(Math.trunc));
    return [out];
  });
}
