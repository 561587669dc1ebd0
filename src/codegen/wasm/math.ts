/**
 * @fileoverview Float functions WebAssembly lacks (exp, log, erf, tanh, sigmoid), written once over
 * a lane-generic builder so the scalar f32 and the f32x4 versions are the same code. Accuracy
 * (relative, in f32): exp ~2e-7 (Cody–Waite reduction, degree-6 polynomial), tanh ~3e-7
 * (Cephes tanhf), erf ~1.5e-7 absolute (Abramowitz–Stegun 7.1.26), sigmoid via exp.
 */
import binaryen from 'binaryen';

type Ref = number;

/** Arithmetic on f32 or f32x4 values, with the i32 bit tricks exp needs. */
interface Lanes {
  readonly type: number;
  c(x: number): Ref;
  add(a: Ref, b: Ref): Ref;
  sub(a: Ref, b: Ref): Ref;
  mul(a: Ref, b: Ref): Ref;
  div(a: Ref, b: Ref): Ref;
  min(a: Ref, b: Ref): Ref;
  max(a: Ref, b: Ref): Ref;
  abs(a: Ref): Ref;
  /** a < b ? x : y */
  selectLt(a: Ref, b: Ref, x: Ref, y: Ref): Ref;
  /** 2^k from km = k + MAGIC (k integral in [-126, 127]): k sits in km's low mantissa bits. */
  pow2Magic(km: Ref): Ref;
  /** |y| with the sign of x. */
  copysign(y: Ref, x: Ref): Ref;
  /** The unbiased exponent field of a as a float (log's range reduction). */
  exponent(a: Ref): Ref;
  /** a with its exponent field set to 0: the mantissa in [1, 2). */
  mantissa(a: Ref): Ref;
}

function scalarLanes(m: binaryen.Module): Lanes {
  return {
    type: binaryen.f32,
    c: (x) => m.f32.const(Math.fround(x)),
    add: (a, b) => m.f32.add(a, b),
    sub: (a, b) => m.f32.sub(a, b),
    mul: (a, b) => m.f32.mul(a, b),
    div: (a, b) => m.f32.div(a, b),
    min: (a, b) => m.f32.min(a, b),
    max: (a, b) => m.f32.max(a, b),
    abs: (a) => m.f32.abs(a),
    selectLt: (a, b, x, y) => m.select(m.f32.lt(a, b), x, y),
    pow2Magic: (km) => m.f32.reinterpret(m.i32.shl(m.i32.add(m.i32.reinterpret(km), m.i32.const(127)), m.i32.const(23))),
    copysign: (y, x) => m.f32.copysign(y, x),
    exponent: (a) => m.f32.convert_s.i32(m.i32.sub(m.i32.shr_u(m.i32.reinterpret(a), m.i32.const(23)), m.i32.const(127))),
    mantissa: (a) => m.f32.reinterpret(m.i32.or(m.i32.and(m.i32.reinterpret(a), m.i32.const(0x7fffff)), m.i32.const(0x3f800000))),
  };
}

function vectorLanes(m: binaryen.Module): Lanes {
  const splat = (x: number) => {
    const b = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
    return m.v128.const(b);
  };
  const i32splat = (x: number) => m.v128.const(new Uint8Array(new Int32Array([x, x, x, x]).buffer));
  return {
    type: binaryen.v128,
    c: (x) => splat(Math.fround(x)),
    add: (a, b) => m.f32x4.add(a, b),
    sub: (a, b) => m.f32x4.sub(a, b),
    mul: (a, b) => m.f32x4.mul(a, b),
    div: (a, b) => m.f32x4.div(a, b),
    // pmin/pmax (b < a ? b : a): one instruction where min/max need NaN and -0 fixups; a NaN
    // first operand still passes through
    min: (a, b) => m.f32x4.pmin(a, b),
    max: (a, b) => m.f32x4.pmax(a, b),
    abs: (a) => m.f32x4.abs(a),
    selectLt: (a, b, x, y) => m.v128.bitselect(x, y, m.f32x4.lt(a, b)),
    pow2Magic: (km) => m.i32x4.shl(m.i32x4.add(km, i32splat(127)), m.i32.const(23)),
    copysign: (y, x) => m.v128.or(m.v128.and(y, i32splat(0x7fffffff)), m.v128.and(x, i32splat(-0x80000000))),
    exponent: (a) => m.f32x4.convert_i32x4_s(m.i32x4.sub(m.i32x4.shr_u(a, m.i32.const(23)), i32splat(127))),
    mantissa: (a) => m.v128.or(m.v128.and(a, i32splat(0x7fffff)), i32splat(0x3f800000)),
  };
}

/** A function body under construction: parameter 0 is x, temporaries are extra locals. */
class Fn {
  readonly vars: number[] = [];
  readonly body: Ref[] = [];
  constructor(readonly m: binaryen.Module, readonly L: Lanes) {}
  get x(): Ref {
    return this.m.local.get(0, this.L.type);
  }
  /** Evaluate `e` once into a new local; returns a getter. */
  let(e: Ref): () => Ref {
    const i = 1 + this.vars.length;
    this.vars.push(this.L.type);
    this.body.push(this.m.local.set(i, e));
    return () => this.m.local.get(i, this.L.type);
  }
}

/** Horner evaluation of Σ coeffs[i]·x^i (coefficients lowest first). */
function poly(L: Lanes, x: () => Ref, coeffs: readonly number[]): Ref {
  let acc = L.c(coeffs[coeffs.length - 1]!);
  for (let i = coeffs.length - 2; i >= 0; i--) acc = L.add(L.mul(acc, x()), L.c(coeffs[i]!));
  return acc;
}

function expBody(f: Fn, x: Ref): Ref {
  const L = f.L;
  const xc = f.let(L.max(L.min(x, L.c(88.3762626647949)), L.c(-87.3365447505531)));
  // k = round-half-even(x·log2 e) by adding 1.5·2^23 (the sum's ulp is 1), exactly what
  // f32.nearest gives for |x·log2 e| ≤ 128; km keeps k in its low bits for 2^k (no float → int)
  const km = f.let(L.add(L.mul(xc(), L.c(1.44269504088896341)), L.c(MAGIC)));
  const k = f.let(L.sub(km(), L.c(MAGIC)));
  const r = f.let(L.sub(L.sub(xc(), L.mul(k(), L.c(0.693359375))), L.mul(k(), L.c(-2.12194440e-4))));
  const p = poly(L, r, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720]);
  return L.mul(p, L.pow2Magic(km()));
}

/** 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer, held in the low mantissa bits. */
const MAGIC = 12582912;

/**
 * Cephes logf: x = 2^e·m with m in [√½, √2), log(m) by a degree-9 polynomial in m − 1, e·ln 2 in
 * two parts; denormals are scaled by 2^23 first; 0 → −∞, negatives and NaN → NaN, +∞ → +∞.
 */
function logBody(f: Fn): Ref {
  const L = f.L;
  const tiny = f.let(L.selectLt(f.x, L.c(1.17549435e-38), L.c(1), L.c(0)));
  const xs = f.let(L.mul(f.x, L.add(L.c(1), L.mul(tiny(), L.c(8388607)))));
  const m0 = f.let(L.mantissa(xs()));
  const big = f.let(L.selectLt(L.c(Math.SQRT2), m0(), L.c(1), L.c(0)));
  const x = f.let(L.sub(L.mul(m0(), L.sub(L.c(1), L.mul(big(), L.c(0.5)))), L.c(1)));
  const e = f.let(L.add(L.sub(L.exponent(xs()), L.mul(tiny(), L.c(23))), big()));
  const z = f.let(L.mul(x(), x()));
  const p = poly(L, x, [3.3333331174e-1, -2.4999993993e-1, 2.0000714765e-1, -1.6668057665e-1, 1.4249322787e-1, -1.2420140846e-1, 1.1676998740e-1, -1.1514610310e-1, 7.0376836292e-2]);
  const y = L.add(L.add(L.mul(L.mul(x(), z()), p), L.mul(e(), L.c(-2.12194440e-4))), L.mul(z(), L.c(-0.5)));
  const r = f.let(L.add(L.add(x(), y), L.mul(e(), L.c(0.693359375))));
  // x − x is NaN for NaN and ±∞; the selects then fix 0, negatives and +∞
  const nan = L.add(r(), L.sub(f.x, f.x));
  const zero = L.selectLt(f.x, L.c(1.4e-45), L.c(-Infinity), nan);
  const neg = L.selectLt(f.x, L.c(0), L.c(NaN), zero);
  return L.selectLt(L.c(3.4028234663852886e38), f.x, L.c(Infinity), neg);
}

const BODIES: Record<Intrinsic, (f: Fn) => Ref> = {
  exp: (f) => expBody(f, f.x),
  log: logBody,
  sigmoid: (f) => {
    const L = f.L;
    return L.div(L.c(1), L.add(L.c(1), expBody(f, L.sub(L.c(0), f.x))));
  },
  tanh: (f) => {
    const L = f.L;
    const a = f.let(L.abs(f.x));
    const z = f.let(L.mul(f.x, f.x));
    // Cephes tanhf: odd polynomial below 0.625, 1 - 2/(e^{2|x|} + 1) above
    const small = L.add(f.x, L.mul(L.mul(f.x, z()), poly(L, z, [-3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2, -5.70498872745e-3])));
    const e = f.let(expBody(f, L.mul(a(), L.c(2))));
    const large = L.copysign(L.sub(L.c(1), L.div(L.c(2), L.add(e(), L.c(1)))), f.x);
    return L.selectLt(a(), L.c(0.625), small, large);
  },
  erf: (f) => {
    const L = f.L;
    const a = f.let(L.abs(f.x));
    const t = f.let(L.div(L.c(1), L.add(L.c(1), L.mul(L.c(0.3275911), a()))));
    const p = L.mul(t(), poly(L, t, [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429]));
    const y = L.sub(L.c(1), L.mul(p, expBody(f, L.sub(L.c(0), L.mul(a(), a())))));
    return L.copysign(y, f.x);
  },
};

export type Intrinsic = 'exp' | 'log' | 'erf' | 'tanh' | 'sigmoid';

/** The helper's function name for `op` on scalars or 4-lane vectors. */
export const intrinsicName = (op: Intrinsic, vector: boolean): string => `${op}_${vector ? 'f32x4' : 'f32'}`;

/** Add the helper function for `op` to `m`. */
export function addIntrinsic(m: binaryen.Module, op: Intrinsic, vector: boolean): void {
  const L = vector ? vectorLanes(m) : scalarLanes(m);
  const f = new Fn(m, L);
  const result = BODIES[op](f);
  m.addFunction(intrinsicName(op, vector), L.type, L.type, f.vars, m.block(null, [...f.body, result], L.type));
}
