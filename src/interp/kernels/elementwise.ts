/**
 * @fileoverview Element-wise kernels. Float math runs in float64 and is rounded to the output
 * dtype once (so f32 results match a correctly rounded float32 computation). Integers of up to
 * 32 bits compute on numbers and wrap when stored in their typed array; i64/u64 compute on
 * BigInt and wrap the same way. Ops are tables of per-representation functions.
 */
import { type DType, dtypeFromOnnx, floatRounder, isBig, isFloat, roundHalfEven } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { broadcastStatic } from '../../ir/shape-utils.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { registerKernel } from '../kernel.js';

type Elem = number | bigint;
type Store = { [i: number]: Elem };

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

/**
 * Where output element i reads `src` from: `((i / div) | 0) % mod` when the non-1 dims of src are
 * one contiguous run of the output's (same shape, scalar, bias [C], column [N,1]), else `table[i]`.
 */
interface Source { readonly div: number; readonly mod: number; readonly table: Int32Array | null }

function sourceOf(src: readonly number[], out: readonly number[]): Source {
  const off = out.length - src.length;
  const first = src.findIndex((d) => d !== 1);
  if (first < 0) return { div: 1, mod: 1, table: null };
  let last = src.length - 1;
  while (src[last] === 1) last--;
  for (let k = first; k <= last; k++) if (src[k] !== out[k + off]) return { div: 1, mod: 1, table: broadcastIndex(src, out) };
  const div = out.slice(last + off + 1).reduce((a, b) => a * b, 1);
  return { div, mod: src.reduce((a, b) => a * b, 1), table: null };
}

/** The source element index of output element i. */
const at = (s: Source, i: number): number => (s.table ? s.table[i]! : ((i / s.div) | 0) % s.mod);

/** `f` with its result rounded to `dtype` when that is a narrow float (f32 rounds on store, wider types need none). */
function rounded<A extends unknown[]>(dtype: DType, f: (...a: A) => Elem): (...a: A) => Elem {
  const round = dtype === 'f32' ? undefined : floatRounder(dtype);
  return round ? (...a: A) => round(f(...a) as number) : f;
}

/** Sub-byte integers live in byte arrays: wrap to their width explicitly. */
const SUBBYTE_WRAP: Partial<Record<DType, (v: number) => number>> = {
  i4: (v) => (v << 28) >> 28,
  u4: (v) => v & 15,
  i2: (v) => (v << 30) >> 30,
};

/** Unary map into a new tensor of `dtype` (no rounding: see `rounded`). */
export function map1(x: Tensor, dtype: DType, g: (v: Elem) => Elem): Tensor {
  const out = Tensor.zeros(dtype, x.shape);
  const s = x.data as unknown as ArrayLike<Elem>;
  const d = out.data as unknown as Store;
  for (let i = 0; i < s.length; i++) d[i] = g(s[i]!);
  return out;
}

/** Broadcasting binary map into a new tensor of `dtype` (no rounding: see `rounded`). */
export function map2(a: Tensor, b: Tensor, dtype: DType, g: (x: Elem, y: Elem) => Elem): Tensor {
  const shape = broadcastStatic([a.shape, b.shape]);
  const out = Tensor.zeros(dtype, shape);
  const A = a.data as unknown as ArrayLike<Elem>;
  const B = b.data as unknown as ArrayLike<Elem>;
  const d = out.data as unknown as Store;
  const n = out.size;
  // a size-1 operand leaves the other one's elements in output order
  if (b.size === 1) {
    const y = B[0]!;
    for (let i = 0; i < n; i++) d[i] = g(A[i]!, y);
    return out;
  }
  if (a.size === 1) {
    const x = A[0]!;
    for (let i = 0; i < n; i++) d[i] = g(x, B[i]!);
    return out;
  }
  if (a.size === n && b.size === n) {
    for (let i = 0; i < n; i++) d[i] = g(A[i]!, B[i]!);
    return out;
  }
  const sa = sourceOf(a.shape, shape);
  const sb = sourceOf(b.shape, shape);
  // one full operand, the other constant over runs of `div` elements (bias, column)
  if (a.size === n && !sb.table) {
    for (let j = 0, k = 0; j < n; j += sb.div, k = (k + 1) % sb.mod) {
      const y = B[k]!;
      for (let i = j, end = j + sb.div; i < end; i++) d[i] = g(A[i]!, y);
    }
  } else if (b.size === n && !sa.table) {
    for (let j = 0, k = 0; j < n; j += sa.div, k = (k + 1) % sa.mod) {
      const x = A[k]!;
      for (let i = j, end = j + sa.div; i < end; i++) d[i] = g(x, B[i]!);
    }
  } else {
    for (let i = 0; i < n; i++) d[i] = g(A[at(sa, i)]!, B[at(sb, i)]!);
  }
  return out;
}

/** Broadcasting ternary map into a new tensor of `dtype` (no rounding). */
function map3(a: Tensor, b: Tensor, c: Tensor, dtype: DType, g: (x: Elem, y: Elem, z: Elem) => Elem): Tensor {
  const shape = broadcastStatic([a.shape, b.shape, c.shape]);
  const out = Tensor.zeros(dtype, shape);
  const [A, B, C] = [a, b, c].map((t) => t.data as unknown as ArrayLike<Elem>) as [ArrayLike<Elem>, ArrayLike<Elem>, ArrayLike<Elem>];
  const [sa, sb, sc] = [a, b, c].map((t) => sourceOf(t.shape, shape)) as [Source, Source, Source];
  const d = out.data as unknown as Store;
  for (let i = 0; i < out.size; i++) d[i] = g(A[at(sa, i)]!, B[at(sb, i)]!, C[at(sc, i)]!);
  return out;
}

/** Float map keeping x's dtype, rounded once to it (for float kernels of other families). */
export function mapUnary(x: Tensor, f: (v: number) => number): Tensor {
  return map1(x, x.dtype, rounded(x.dtype, f as (v: Elem) => Elem));
}

/** Broadcasting float map into `dtype` (default a's), rounded once to it. */
export function mapBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number, dtype = a.dtype): Tensor {
  return map2(a, b, dtype, rounded(dtype, f as (x: Elem, y: Elem) => Elem));
}

/** A float result as an i64/u64 element: truncated toward zero; NaN and infinities give 0. */
const toBig = (v: number): bigint => (Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n);

/**
 * How an op computes, by representation: `float` (float64 math), `int` (integers of up to 32
 * bits and bool, stored as numbers; defaults to `float`), `big` (i64/u64; defaults to `float`
 * on the converted value).
 */
interface Impl<F extends (...a: number[]) => number, B extends (...a: bigint[]) => Elem> {
  readonly float: F;
  readonly int?: F;
  readonly big?: B;
}
type Impl1 = Impl<(x: number) => number, (x: bigint) => Elem>;
type Impl2 = Impl<(x: number, y: number) => number, (x: bigint, y: bigint) => Elem>;

/** The function of `impl` for operands of `dtype`. */
function pick1(impl: Impl1, dtype: DType): (v: Elem) => Elem {
  if (isFloat(dtype)) return impl.float as (v: Elem) => Elem;
  if (!isBig(dtype)) return (impl.int ?? impl.float) as (v: Elem) => Elem;
  return (impl.big ?? ((x: bigint) => toBig(impl.float(Number(x))))) as (v: Elem) => Elem;
}

function pick2(impl: Impl2, dtype: DType): (x: Elem, y: Elem) => Elem {
  if (isFloat(dtype)) return impl.float as (x: Elem, y: Elem) => Elem;
  if (!isBig(dtype)) return (impl.int ?? impl.float) as (x: Elem, y: Elem) => Elem;
  return (impl.big ?? ((x: bigint, y: bigint) => toBig(impl.float(Number(x), Number(y))))) as (x: Elem, y: Elem) => Elem;
}

/** A table row: fixed, or built from the node's attributes. */
type Row<T> = T | ((node: Node) => T);
const resolve = <T extends object>(row: Row<T>, node: Node): T => (typeof row === 'function' ? row(node) : row);
const attr = (node: Node, name: string): number => getAttr<number>(node, name);

// ---- unary -----------------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * erf to double precision: a series of positive terms (no cancellation) below 3, the erfc
 * continued fraction up to 6, and ±1 beyond (erf(6) rounds to 1).
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (!(ax < 6)) return Number.isNaN(x) ? x : Math.sign(x);
  let r: number;
  if (ax < 3) {
    // erf(x) = 2/√π e^{-x²} Σ_n (2x²)^n x / (1·3·…·(2n+1))
    const x2 = 2 * ax * ax;
    let term = ax;
    let sum = ax;
    for (let k = 1; term > sum * 1e-17; k++) { term *= x2 / (2 * k + 1); sum += term; }
    r = TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
  } else {
    // erfc(x) = e^{-x²}/√π / (x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  }
  return x < 0 ? -r : r;
}

/** ln(1 + e^x) without overflow. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** Unary ops whose result has the input dtype. */
const UNARY: Record<string, Row<Impl1>> = {
  Abs: { float: Math.abs, big: (x) => (x < 0n ? -x : x) },
  Neg: { float: (x) => -x, big: (x) => -x },
  Sign: { float: Math.sign, big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) },
  Sqrt: { float: Math.sqrt },
  Reciprocal: { float: (x) => 1 / x },
  Exp: { float: Math.exp },
  Log: { float: Math.log },
  Erf: { float: erf },
  Tanh: { float: Math.tanh },
  Sigmoid: { float: (x) => 1 / (1 + Math.exp(-x)) },
  Relu: { float: (x) => (x < 0 ? 0 : x), big: (x) => (x < 0n ? 0n : x) },
  LeakyRelu: (n) => { const a = attr(n, 'alpha'); return { float: (x) => (x < 0 ? a * x : x) }; },
  Elu: (n) => { const a = attr(n, 'alpha'); return { float: (x) => (x < 0 ? a * Math.expm1(x) : x) }; },
  Selu: (n) => {
    const a = attr(n, 'alpha');
    const g = attr(n, 'gamma');
    return { float: (x) => (x <= 0 ? g * a * Math.expm1(x) : g * x) };
  },
  Celu: (n) => { const a = attr(n, 'alpha'); return { float: (x) => Math.max(0, x) + Math.min(0, a * Math.expm1(x / a)) }; },
  ThresholdedRelu: (n) => { const a = attr(n, 'alpha'); return { float: (x) => (x > a ? x : 0) }; },
  Gelu: (n) => (getAttr<string>(n, 'approximate') === 'tanh'
    ? { float: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))) }
    : { float: (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2)) }),
  HardSwish: { float: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)) },
  HardSigmoid: (n) => {
    const a = attr(n, 'alpha');
    const b = attr(n, 'beta');
    return { float: (x) => Math.max(0, Math.min(1, a * x + b)) };
  },
  Softplus: { float: softplus },
  Softsign: { float: (x) => x / (1 + Math.abs(x)) },
  Mish: { float: (x) => x * Math.tanh(softplus(x)) },
  Shrink: (n) => {
    const lambd = attr(n, 'lambd');
    const bias = attr(n, 'bias');
    return { float: (x) => (x < -lambd ? x + bias : x > lambd ? x - bias : 0) };
  },
  Swish: (n) => { const a = attr(n, 'alpha'); return { float: (x) => x / (1 + Math.exp(-a * x)) }; },
  Floor: { float: Math.floor },
  Ceil: { float: Math.ceil },
  Round: { float: roundHalfEven },
  Sin: { float: Math.sin },
  Cos: { float: Math.cos },
  Tan: { float: Math.tan },
  Asin: { float: Math.asin },
  Acos: { float: Math.acos },
  Atan: { float: Math.atan },
  Sinh: { float: Math.sinh },
  Cosh: { float: Math.cosh },
  Asinh: { float: Math.asinh },
  Acosh: { float: Math.acosh },
  Atanh: { float: Math.atanh },
  BitwiseNot: { float: (x) => ~x, big: (x) => ~x },
  Not: { float: (x) => (x ? 0 : 1) },
};

/** Unary predicates: the result is bool. */
const PREDICATES: Record<string, Row<Impl1>> = {
  IsNaN: { float: (x) => +Number.isNaN(x) },
  IsInf: (n) => {
    const pos = attr(n, 'detect_positive') ? Infinity : NaN;
    const neg = attr(n, 'detect_negative') ? -Infinity : NaN;
    return { float: (x) => +(x === pos || x === neg) };
  },
};

for (const [op, row] of Object.entries(UNARY)) {
  registerKernel(`onnx.${op}`, ([x], node) => [map1(x!, x!.dtype, rounded(x!.dtype, pick1(resolve(row, node), x!.dtype)))]);
}
for (const [op, row] of Object.entries(PREDICATES)) {
  registerKernel(`onnx.${op}`, ([x], node) => [map1(x!, 'bool', pick1(resolve(row, node), x!.dtype))]);
}

// ---- binary ----------------------------------------------------------------------------------

/** Python-style remainder (the sign of the divisor). */
function floorMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

/** floorMod for i64/u64. */
function floorModBig(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
}

/** Binary ops whose result has the operands' dtype. */
const ARITH: Record<string, Row<Impl2>> = {
  Add: { float: (a, b) => a + b, big: (a, b) => a + b },
  Sub: { float: (a, b) => a - b, big: (a, b) => a - b },
  Mul: { float: (a, b) => a * b, int: Math.imul, big: (a, b) => a * b },
  Div: { float: (a, b) => a / b, int: (a, b) => (b === 0 ? 0 : Math.trunc(a / b)), big: (a, b) => (b === 0n ? 0n : a / b) },
  Mod: (n) => (attr(n, 'fmod')
    ? { float: (a, b) => a % b, int: (a, b) => (b === 0 ? 0 : a % b), big: (a, b) => (b === 0n ? 0n : a % b) }
    : { float: floorMod, int: (a, b) => (b === 0 ? 0 : floorMod(a, b)), big: (a, b) => (b === 0n ? 0n : floorModBig(a, b)) }),
  PRelu: { float: (x, s) => (x < 0 ? x * s : x), int: (x, s) => (x < 0 ? Math.imul(x, s) : x), big: (x, s) => (x < 0n ? x * s : x) },
  BitShift: (n) => (getAttr<string>(n, 'direction') === 'LEFT'
    ? { float: (a, b) => a * 2 ** b, big: (a, b) => (b >= 64n ? 0n : a << b) }
    : { float: (a, b) => Math.floor(a / 2 ** b), big: (a, b) => (b >= 64n ? 0n : a >> b) }),
  BitwiseAnd: { float: (a, b) => a & b, big: (a, b) => a & b },
  BitwiseOr: { float: (a, b) => a | b, big: (a, b) => a | b },
  BitwiseXor: { float: (a, b) => a ^ b, big: (a, b) => a ^ b },
  And: { float: (a, b) => a & b },
  Or: { float: (a, b) => a | b },
  Xor: { float: (a, b) => a ^ b },
};

/** Comparisons: JS relational operators work on numbers and bigints alike; the result is bool. */
const COMPARE: Record<string, (a: Elem, b: Elem) => number> = {
  Equal: (a, b) => +(a === b),
  Less: (a, b) => +(a < b),
  LessOrEqual: (a, b) => +(a <= b),
  Greater: (a, b) => +(a > b),
  GreaterOrEqual: (a, b) => +(a >= b),
};

for (const [op, row] of Object.entries(ARITH)) {
  registerKernel(`onnx.${op}`, ([a, b], node) => [map2(a!, b!, a!.dtype, rounded(a!.dtype, pick2(resolve(row, node), a!.dtype)))]);
}
for (const [op, f] of Object.entries(COMPARE)) registerKernel(`onnx.${op}`, ([a, b]) => [map2(a!, b!, 'bool', f)]);

/** i64 power by squaring, wrapping every step (the exponent is non-negative). */
function powBig(base: bigint, exp: bigint): bigint {
  let r = 1n;
  for (let b = base, e = exp; e > 0n; e >>= 1n, b = BigInt.asIntN(64, b * b)) if (e & 1n) r = BigInt.asIntN(64, r * b);
  return r;
}

registerKernel('onnx.Pow', ([x, y]) => {
  const big = isBig(x!.dtype);
  const f = big
    ? (a: Elem, b: Elem) => (typeof b === 'bigint' && b >= 0n ? powBig(a as bigint, b) : toBig(Number(a) ** Number(b)))
    : (a: Elem, b: Elem) => (a as number) ** Number(b);
  return [map2(x!, y!, x!.dtype, rounded(x!.dtype, f))];
});

// ---- variadic --------------------------------------------------------------------------------

/** Variadic folds; floats accumulate in float64 and `finish` (given the input count) runs before the one rounding. */
const VARIADIC: Record<string, { fold: Impl2; finish?: (count: number) => (v: number) => number }> = {
  Min: { fold: { float: Math.min, big: (a, b) => (a < b ? a : b) } },
  Max: { fold: { float: Math.max, big: (a, b) => (a > b ? a : b) } },
  Sum: { fold: { float: (a, b) => a + b } },
  Mean: { fold: { float: (a, b) => a + b }, finish: (count) => (v) => v / count },
};

for (const [op, { fold, finish }] of Object.entries(VARIADIC)) {
  registerKernel(`onnx.${op}`, (inputs) => {
    const ins = inputs as readonly Tensor[];
    const dtype = ins[0]!.dtype;
    const wide = isFloat(dtype) ? 'f64' : dtype;
    const f = pick2(fold, dtype);
    let acc = ins[0]!;
    for (const t of ins.slice(1)) acc = map2(acc, t, wide, f);
    const done = (finish ? finish(ins.length) : (v: Elem) => v) as (v: Elem) => Elem;
    return [map1(acc, dtype, rounded(dtype, done))];
  });
}

// ---- Where, Clip, Cast -----------------------------------------------------------------------

registerKernel('onnx.Where', ([c, x, y]) => [map3(c!, x!, y!, x!.dtype, (k, a, b) => (k ? a : b))]);

/** min(max(x, lo), hi) like numpy.clip: when lo > hi everything becomes hi. */
registerKernel('onnx.Clip', ([x, lo, hi]) => {
  const min = lo?.data[0];
  const max = hi?.data[0];
  if (typeof min === 'bigint' || typeof max === 'bigint') {
    return [map1(x!, x!.dtype, (v) => {
      const r = min !== undefined && v < min ? min : v;
      return max !== undefined && r > max ? max : r;
    })];
  }
  const a = min ?? -Infinity;
  const b = max ?? Infinity;
  return [map1(x!, x!.dtype, (v) => Math.min(Math.max(v as number, a), b))];
});

/** Element conversion from `from` to `to`; `saturate` applies to f8 targets. */
function converter(from: DType, to: DType, saturate: boolean): (v: Elem) => Elem {
  const num = isBig(from) ? (v: Elem) => Number(v) : (v: Elem) => v as number;
  if (to === 'bool') return (v) => +(num(v) !== 0);
  if (isBig(to)) return isBig(from) ? (v) => v : (v) => toBig(v as number);
  const round = floatRounder(to, saturate);
  if (round) return (v) => round(num(v));
  if (isFloat(to)) return num;
  const low = isBig(from) ? (v: Elem) => Number(BigInt.asIntN(32, v as bigint)) : (v: Elem) => Math.trunc(v as number);
  const wrap = SUBBYTE_WRAP[to];
  return wrap ? (v) => wrap(low(v)) : low;
}

/** Cast `x` to `to` (CastLike passes the dtype of its second input). */
function cast(x: Tensor, to: DType, node: Node): Tensor {
  return map1(x, to, converter(x.dtype, to, attr(node, 'saturate') !== 0));
}

registerKernel('onnx.Cast', ([x], node) => [cast(x!, dtypeFromOnnx(attr(node, 'to'))!, node)]);
registerKernel('onnx.CastLike', ([x, like], node) => [cast(x!, like!.dtype, node)]);
