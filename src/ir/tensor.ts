/**
 * @fileoverview Dense tensors: the values weights hold and the interpreter computes with.
 * Row-major; data in the dtype's storage array (see dtype.ts).
 */
import { type DType, type TypedArray, dtypeInfo, floatRounder, isBig } from './dtype.js';
import { numel } from './types.js';

export class Tensor {
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly data: TypedArray,
  ) {
    if (data.length !== numel(shape)) {
      throw new Error(`tensor data length ${data.length} does not match shape [${shape.join(',')}]`);
    }
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Zero-filled tensor. */
  static zeros(dtype: DType, shape: readonly number[]): Tensor {
    return new Tensor(dtype, shape, new (dtypeInfo(dtype).storage)(numel(shape)));
  }

  /** Build from plain numbers (or bigints for i64/u64); floats are rounded to the dtype. */
  static from(dtype: DType, shape: readonly number[], values: ArrayLike<number | bigint>): Tensor {
    const t = Tensor.zeros(dtype, shape);
    t.setAll(values);
    return t;
  }

  static scalar(dtype: DType, v: number | bigint): Tensor {
    return Tensor.from(dtype, [], [v]);
  }

  /** Element i as a JS number (i64 beyond 2^53 loses precision: use getBig). */
  get(i: number): number {
    return Number(this.data[i]!);
  }

  getBig(i: number): bigint {
    const v = this.data[i]!;
    return typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  }

  /** All elements as JS numbers. */
  toNumbers(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /** Write values converting to the storage representation (rounding floats, wrapping ints). */
  setAll(values: ArrayLike<number | bigint>): void {
    const d = this.data;
    if (isBig(this.dtype)) {
      const big = d as BigInt64Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        big[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
      }
      return;
    }
    const round = floatRounder(this.dtype);
    const num = d as Float32Array;
    if (round && this.dtype !== 'f32') {
      for (let i = 0; i < values.length; i++) num[i] = round(Number(values[i]!));
    } else if (this.dtype === 'bool') {
      for (let i = 0; i < values.length; i++) num[i] = Number(values[i]!) ? 1 : 0;
    } else {
      for (let i = 0; i < values.length; i++) num[i] = Number(values[i]!);
    }
  }

  /** Same data, another shape (no copy). */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.dtype, shape, this.data);
  }

  clone(): Tensor {
    return new Tensor(this.dtype, [...this.shape], this.data.slice() as TypedArray);
  }
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
