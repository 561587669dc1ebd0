/**
 * @fileoverview Float functions WebAssembly lacks (exp, erf, tanh, sigmoid), written once over
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
  nearest(a: Ref): Ref;
  /** a < b ? x : y */
  selectLt(a: Ref, b: Ref, x: Ref, y: Ref): Ref;
  /** 2^k for integral-valued float k in [-126, 127]. */
  pow2(k: Ref): Ref;
  /** |y| with the sign of x. */
  copysign(y: Ref, x: Ref): Ref;
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
    nearest: (a) => m.f32.nearest(a),
    selectLt: (a, b, x, y) => m.select(m.f32.lt(a, b), x, y),
    pow2: (k) => m.f32.reinterpret(m.i32.shl(m.i32.add(m.i32.trunc_s_sat.f32(k), m.i32.const(127)), m.i32.const(23))),
    copysign: (y, x) => m.f32.copysign(y, x),
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
    nearest: (a) => m.f32x4.nearest(a),
    selectLt: (a, b, x, y) => m.v128.bitselect(x, y, m.f32x4.lt(a, b)),
    pow2: (k) => m.i32x4.shl(m.i32x4.add(m.i32x4.trunc_sat_f32x4_s(k), i32splat(127)), m.i32.const(23)),
    copysign: (y, x) => m.v128.or(m.v128.and(y, i32splat(0x7fffffff)), m.v128.and(x, i32splat(-0x80000000))),
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
  const k = f.let(L.nearest(L.mul(xc(), L.c(1.44269504088896341))));
  const r = f.let(L.sub(L.sub(xc(), L.mul(k(), L.c(0.693359375))), L.mul(k(), L.c(-2.12194440e-4))));
  const p = poly(L, r, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720]);
  return L.mul(p, L.pow2(k()));
}

const BODIES: Record<Intrinsic, (f: Fn) => Ref> = {
  exp: (f) => expBody(f, f.x),
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

export type Intrinsic = 'exp' | 'erf' | 'tanh' | 'sigmoid';

/** The helper's function name for `op` on scalars or 4-lane vectors. */
export const intrinsicName = (op: Intrinsic, vector: boolean): string => `${op}_${vector ? 'f32x4' : 'f32'}`;

/** Add the helper function for `op` to `m`. */
export function addIntrinsic(m: binaryen.Module, op: Intrinsic, vector: boolean): void {
  const L = vector ? vectorLanes(m) : scalarLanes(m);
  const f = new Fn(m, L);
  const result = BODIES[op](f);
  m.addFunction(intrinsicName(op, vector), L.type, L.type, f.vars, m.block(null, [...f.body, result], L.type));
}
