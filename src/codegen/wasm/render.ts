/**
 * @fileoverview The WASM SIMD renderer: kernel IR → one binaryen module per program. Buffer
 * offsets are baked in as load/store offsets, each dispatch is a function, and the exported
 * `run` calls them in order; memory is exported so the runtime writes weights and inputs into
 * it. Ops are tables keyed by register class (f32, i32, i64, bool and their 4-lane vectors);
 * a vector op a table lacks is legalized lane by lane, so every kernel IR op renders.
 */
import binaryen from 'binaryen';
import { assert } from '../../ir/diagnostics.js';
import { type BinOp, type Expr, type Kernel, type Stmt, type Storage, type Type, type UnOp, storageBits, ty } from '../kernel-ir.js';
import type { Program } from '../program.js';
import { type Intrinsic, addIntrinsic, intrinsicName } from './math.js';

type Ref = number;
type M = binaryen.Module;
/** Register class: the table key of an op. */
type Cls = 'f32' | 'i32' | 'i64' | 'bool' | 'f32x4' | 'i32x4' | 'boolx4' | 'i16x8';

const LANES = 4;
const PAGE = 65536;

function cls(t: Type): Cls {
  if (t.scalar === 'i16') {
    assert(t.lanes === 8, `i16 registers are 8-lane vectors, not ${t.lanes}`);
    return 'i16x8';
  }
  if (t.lanes === 1) return t.scalar;
  assert(t.lanes === LANES && t.scalar !== 'i64', `no WASM vector class for ${t.scalar}x${t.lanes}`);
  return `${t.scalar}x4` as Cls;
}

function wasmType(t: Type): number {
  if (t.lanes > 1) return binaryen.v128;
  return t.scalar === 'f32' ? binaryen.f32 : t.scalar === 'i64' ? binaryen.i64 : binaryen.i32;
}

type BinFn = (m: M, a: Ref, b: Ref) => Ref;
type UnFn = (m: M, a: Ref) => Ref;

const CMP_F32: Partial<Record<BinOp, BinFn>> = {
  eq: (m, a, b) => m.f32.eq(a, b), ne: (m, a, b) => m.f32.ne(a, b), lt: (m, a, b) => m.f32.lt(a, b),
  le: (m, a, b) => m.f32.le(a, b), gt: (m, a, b) => m.f32.gt(a, b), ge: (m, a, b) => m.f32.ge(a, b),
};

/** Binary ops by register class. Missing entries of vector classes fall back to lanes. */
const BIN: Record<Cls, Partial<Record<BinOp, BinFn>>> = {
  f32: {
    add: (m, a, b) => m.f32.add(a, b), sub: (m, a, b) => m.f32.sub(a, b), mul: (m, a, b) => m.f32.mul(a, b),
    div: (m, a, b) => m.f32.div(a, b), min: (m, a, b) => m.f32.min(a, b), max: (m, a, b) => m.f32.max(a, b), ...CMP_F32,
  },
  i32: {
    add: (m, a, b) => m.i32.add(a, b), sub: (m, a, b) => m.i32.sub(a, b), mul: (m, a, b) => m.i32.mul(a, b),
    div: (m, a, b) => m.i32.div_s(a, b), rem: (m, a, b) => m.i32.rem_s(a, b), and: (m, a, b) => m.i32.and(a, b),
    or: (m, a, b) => m.i32.or(a, b), xor: (m, a, b) => m.i32.xor(a, b), shl: (m, a, b) => m.i32.shl(a, b),
    shr: (m, a, b) => m.i32.shr_s(a, b), eq: (m, a, b) => m.i32.eq(a, b), ne: (m, a, b) => m.i32.ne(a, b),
    lt: (m, a, b) => m.i32.lt_s(a, b), le: (m, a, b) => m.i32.le_s(a, b), gt: (m, a, b) => m.i32.gt_s(a, b), ge: (m, a, b) => m.i32.ge_s(a, b),
  },
  i64: {
    add: (m, a, b) => m.i64.add(a, b), sub: (m, a, b) => m.i64.sub(a, b), mul: (m, a, b) => m.i64.mul(a, b),
    div: (m, a, b) => m.i64.div_s(a, b), rem: (m, a, b) => m.i64.rem_s(a, b), and: (m, a, b) => m.i64.and(a, b),
    or: (m, a, b) => m.i64.or(a, b), xor: (m, a, b) => m.i64.xor(a, b), shl: (m, a, b) => m.i64.shl(a, b),
    shr: (m, a, b) => m.i64.shr_s(a, b), eq: (m, a, b) => m.i64.eq(a, b), ne: (m, a, b) => m.i64.ne(a, b),
    lt: (m, a, b) => m.i64.lt_s(a, b), le: (m, a, b) => m.i64.le_s(a, b), gt: (m, a, b) => m.i64.gt_s(a, b), ge: (m, a, b) => m.i64.ge_s(a, b),
  },
  bool: {
    and: (m, a, b) => m.i32.and(a, b), or: (m, a, b) => m.i32.or(a, b), xor: (m, a, b) => m.i32.xor(a, b),
    eq: (m, a, b) => m.i32.eq(a, b), ne: (m, a, b) => m.i32.ne(a, b),
  },
  f32x4: {
    add: (m, a, b) => m.f32x4.add(a, b), sub: (m, a, b) => m.f32x4.sub(a, b), mul: (m, a, b) => m.f32x4.mul(a, b),
    div: (m, a, b) => m.f32x4.div(a, b), min: (m, a, b) => m.f32x4.min(a, b), max: (m, a, b) => m.f32x4.max(a, b),
    eq: (m, a, b) => m.f32x4.eq(a, b), ne: (m, a, b) => m.f32x4.ne(a, b), lt: (m, a, b) => m.f32x4.lt(a, b),
    le: (m, a, b) => m.f32x4.le(a, b), gt: (m, a, b) => m.f32x4.gt(a, b), ge: (m, a, b) => m.f32x4.ge(a, b),
  },
  i32x4: {
    add: (m, a, b) => m.i32x4.add(a, b), sub: (m, a, b) => m.i32x4.sub(a, b), mul: (m, a, b) => m.i32x4.mul(a, b),
    min: (m, a, b) => m.i32x4.min_s(a, b), max: (m, a, b) => m.i32x4.max_s(a, b), and: (m, a, b) => m.v128.and(a, b),
    or: (m, a, b) => m.v128.or(a, b), xor: (m, a, b) => m.v128.xor(a, b), eq: (m, a, b) => m.i32x4.eq(a, b),
    ne: (m, a, b) => m.i32x4.ne(a, b), lt: (m, a, b) => m.i32x4.lt_s(a, b), le: (m, a, b) => m.i32x4.le_s(a, b),
    gt: (m, a, b) => m.i32x4.gt_s(a, b), ge: (m, a, b) => m.i32x4.ge_s(a, b),
  },
  boolx4: {
    and: (m, a, b) => m.v128.and(a, b), or: (m, a, b) => m.v128.or(a, b), xor: (m, a, b) => m.v128.xor(a, b),
    eq: (m, a, b) => m.i32x4.eq(a, b), ne: (m, a, b) => m.i32x4.ne(a, b),
  },
  i16x8: { add: (m, a, b) => m.i16x8.add(a, b), sub: (m, a, b) => m.i16x8.sub(a, b), mul: (m, a, b) => m.i16x8.mul(a, b) },
};

const COMPARES: ReadonlySet<BinOp> = new Set<BinOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const INTRINSICS: ReadonlySet<UnOp> = new Set<UnOp>(['exp', 'log', 'erf', 'tanh', 'sigmoid']);

/** Unary ops by register class (exp, log, erf, tanh and sigmoid are calls to math.ts helpers). */
const UN: Record<Cls, Partial<Record<UnOp, UnFn>>> = {
  f32: {
    neg: (m, a) => m.f32.neg(a), abs: (m, a) => m.f32.abs(a), sqrt: (m, a) => m.f32.sqrt(a),
    floor: (m, a) => m.f32.floor(a), ceil: (m, a) => m.f32.ceil(a), round: (m, a) => m.f32.nearest(a),
  },
  i32: { neg: (m, a) => m.i32.sub(m.i32.const(0), a) },
  i64: { neg: (m, a) => m.i64.sub(m.i64.const(0, 0), a) },
  bool: { not: (m, a) => m.i32.eqz(a) },
  f32x4: {
    neg: (m, a) => m.f32x4.neg(a), abs: (m, a) => m.f32x4.abs(a), sqrt: (m, a) => m.f32x4.sqrt(a),
    floor: (m, a) => m.f32x4.floor(a), ceil: (m, a) => m.f32x4.ceil(a), round: (m, a) => m.f32x4.nearest(a),
  },
  i32x4: { neg: (m, a) => m.i32x4.neg(a), abs: (m, a) => m.i32x4.abs(a) },
  boolx4: { not: (m, a) => m.v128.not(a) },
  i16x8: {},
};

const v128Const = (m: M, values: readonly number[], scalar: 'f32' | 'i32' | 'i16'): Ref =>
  m.v128.const(new Uint8Array((scalar === 'f32' ? new Float32Array(values) : scalar === 'i16' ? new Int16Array(values) : new Int32Array(values)).buffer));

// ---- f16 conversions ------------------------------------------------------------------------

/** i32 bit operations (and f32 views of the bits) over one scalar or 4 lanes: the f16 conversions are written once for both. */
interface Lanes {
  k(n: number): Ref;
  and(a: Ref, b: Ref): Ref;
  or(a: Ref, b: Ref): Ref;
  add(a: Ref, b: Ref): Ref;
  sub(a: Ref, b: Ref): Ref;
  shl(a: Ref, n: number): Ref;
  shrU(a: Ref, n: number): Ref;
  /** Signed compares, as select conditions. */
  lt(a: Ref, b: Ref): Ref;
  gt(a: Ref, b: Ref): Ref;
  sel(cond: Ref, a: Ref, b: Ref): Ref;
  fk(x: number): Ref;
  fadd(a: Ref, b: Ref): Ref;
  fmul(a: Ref, b: Ref): Ref;
  asF(a: Ref): Ref;
  asI(a: Ref): Ref;
}

function lanesOf(m: M, vec: boolean): Lanes {
  if (vec) {
    const same = (a: Ref) => a;
    return {
      k: (n) => v128Const(m, [n, n, n, n], 'i32'), and: (a, b) => m.v128.and(a, b), or: (a, b) => m.v128.or(a, b),
      add: (a, b) => m.i32x4.add(a, b), sub: (a, b) => m.i32x4.sub(a, b),
      shl: (a, n) => m.i32x4.shl(a, m.i32.const(n)), shrU: (a, n) => m.i32x4.shr_u(a, m.i32.const(n)),
      lt: (a, b) => m.i32x4.lt_s(a, b), gt: (a, b) => m.i32x4.gt_s(a, b), sel: (c, a, b) => m.v128.bitselect(a, b, c),
      fk: (x) => v128Const(m, [x, x, x, x], 'f32'), fadd: (a, b) => m.f32x4.add(a, b), fmul: (a, b) => m.f32x4.mul(a, b),
      asF: same, asI: same,
    };
  }
  return {
    k: (n) => m.i32.const(n | 0), and: (a, b) => m.i32.and(a, b), or: (a, b) => m.i32.or(a, b),
    add: (a, b) => m.i32.add(a, b), sub: (a, b) => m.i32.sub(a, b),
    shl: (a, n) => m.i32.shl(a, m.i32.const(n)), shrU: (a, n) => m.i32.shr_u(a, m.i32.const(n)),
    lt: (a, b) => m.i32.lt_s(a, b), gt: (a, b) => m.i32.gt_s(a, b), sel: (c, a, b) => m.select(c, a, b),
    fk: (x) => m.f32.const(x), fadd: (a, b) => m.f32.add(a, b), fmul: (a, b) => m.f32.mul(a, b),
    asF: (a) => m.f32.reinterpret(a), asI: (a) => m.i32.reinterpret(a),
  };
}

/** Binds a value to a temporary (set before the result) and returns a getter of it. */
type Bind = (r: Ref) => () => Ref;

/**
 * f32 value of half bits `h` (zero-extended): exponent and mantissa shifted into place and
 * rebased by ×2^112 (exact: half subnormals become f32 normals), Inf/NaN given the f32 exponent.
 */
function halfToF32(L: Lanes, bind: Bind, h: () => Ref): Ref {
  const o = bind(L.shl(L.and(h(), L.k(0x7fff)), 13));
  const mag = L.sel(L.gt(o(), L.k((0x7c00 << 13) - 1)), L.or(o(), L.k(0x7f800000)), L.asI(L.fmul(L.asF(o()), L.fk(2 ** 112))));
  return L.asF(L.or(mag, L.shl(L.and(h(), L.k(0x8000)), 16)));
}

/**
 * Half bits of the f32 with bits `b`, round to nearest even: below 2^-14 the FP add of 0.5 does
 * the rounding (its ulp is the half subnormal step), normals round the mantissa with the
 * carry trick (+0xfff + odd bit), from 2^16 up Inf (NaN becomes a quiet NaN), sign kept.
 */
function f32ToHalf(L: Lanes, bind: Bind, b: () => Ref): Ref {
  const a = bind(L.and(b(), L.k(0x7fffffff)));
  const sub = L.sub(L.asI(L.fadd(L.asF(a()), L.fk(0.5))), L.k(0x3f000000));
  const normal = L.shrU(L.add(L.add(a(), L.k(0xc8000fff)), L.and(L.shrU(a(), 13), L.k(1))), 13);
  const inf = L.sel(L.gt(a(), L.k(0x7f800000)), L.k(0x7e00), L.k(0x7c00));
  const r = L.sel(L.lt(a(), L.k(0x47800000)), L.sel(L.lt(a(), L.k(0x38800000)), sub, normal), inf);
  return L.or(r, L.shrU(L.and(b(), L.k(0x80000000)), 16));
}

/** Renders one kernel into one function of `m`, given where each buffer parameter lives. */
class FunctionRenderer {
  private readonly locals = new Map<string, { index: number; type: Type }>();
  private readonly vars: number[] = [];
  private labels = 0;

  constructor(
    private readonly m: M,
    private readonly bases: ReadonlyMap<string, { offset: number; elem: Storage }>,
    private readonly intrinsics: Set<string>,
  ) {}

  render(k: Kernel, name: string): void {
    const body = this.stmts(k.body);
    this.m.addFunction(name, binaryen.none, binaryen.none, this.vars, this.m.block(null, body, binaryen.none));
  }

  private local(name: string, type: Type): number {
    const l = this.locals.get(name);
    if (l) {
      assert(wasmType(l.type) === wasmType(type), `local ${name} used as ${l.type.scalar}x${l.type.lanes} and ${type.scalar}x${type.lanes}`);
      return l.index;
    }
    const index = this.vars.length;
    this.vars.push(wasmType(type));
    this.locals.set(name, { index, type });
    return index;
  }

  private temp(type: Type): number {
    return this.local(`$t${this.vars.length}`, type);
  }

  /** Evaluate `values` once into temporaries, then build from getters of them. */
  private withTemps(values: readonly { ref: Ref; type: Type }[], resultType: Type, f: (...get: (() => Ref)[]) => Ref): Ref {
    const idx = values.map((x) => this.temp(x.type));
    const sets = values.map((x, i) => this.m.local.set(idx[i]!, x.ref));
    const gets = values.map((x, i) => () => this.m.local.get(idx[i]!, wasmType(x.type)));
    return this.m.block(null, [...sets, f(...gets)], wasmType(resultType));
  }

  /** A conversion built over `lanesOf` (4 lanes when `vec`), its temporaries set first; the result has type `result`. */
  private f16(vec: boolean, result: Type, build: (L: Lanes, bind: Bind) => Ref): Ref {
    const sets: Ref[] = [];
    const t = ty('i32', vec ? LANES : 1);
    const bind: Bind = (r) => {
      const i = this.temp(t);
      sets.push(this.m.local.set(i, r));
      return () => this.m.local.get(i, wasmType(t));
    };
    const r = build(lanesOf(this.m, vec), bind);
    return this.m.block(null, [...sets, r], wasmType(result));
  }

  private stmts(body: readonly Stmt[]): Ref[] {
    return body.map((s) => this.stmt(s));
  }

  private stmt(s: Stmt): Ref {
    const m = this.m;
    switch (s.k) {
      case 'decl': return m.local.set(this.local(s.name, s.type), this.expr(s.init));
      case 'let': return m.local.set(this.local(s.name, s.value.type), this.expr(s.value));
      case 'set': return m.local.set(this.local(s.name, s.value.type), this.expr(s.value));
      case 'store': return this.store(s.buf, s.index, s.value);
      case 'copy': return this.copy(s);
      case 'barrier': return m.nop();
      case 'if': return m.if(this.expr(s.cond), m.block(null, this.stmts(s.then)), s.else.length ? m.block(null, this.stmts(s.else)) : undefined);
      case 'loop': {
        const i = this.local(s.var, ty('i32'));
        const label = `L${this.labels++}`;
        const get = () => m.local.get(i, binaryen.i32);
        const body = m.block(null, [
          ...this.stmts(s.body),
          m.local.set(i, m.i32.add(get(), m.i32.const(s.step))),
          m.br(label, m.i32.lt_s(get(), this.expr(s.end))),
        ]);
        const init = m.local.set(i, this.expr(s.start));
        const staticNonEmpty = s.start.k === 'const' && s.end.k === 'const' && s.start.value < s.end.value;
        const lp = m.loop(label, body);
        return m.block(null, staticNonEmpty ? [init, lp] : [init, m.if(m.i32.lt_s(get(), this.expr(s.end)), lp)]);
      }
    }
  }

  private base(buf: string): { offset: number; elem: Storage } {
    const b = this.bases.get(buf);
    assert(b, `kernel buffer ${buf} is not bound`);
    return b;
  }

  /** Byte pointer of element `index` (excluding the base, which goes in the offset immediate). */
  private ptr(index: Ref, elem: Storage): Ref {
    const bytes = storageBits(elem) / 8;
    return bytes === 1 ? index : this.m.i32.shl(index, this.m.i32.const(Math.log2(bytes)));
  }

  private load(buf: string, indexExpr: Expr, type: Type): Ref {
    const m = this.m;
    const { offset, elem } = this.base(buf);
    const index = this.expr(indexExpr);
    if (type.scalar === 'i16') {
      assert(elem === 'i8' || elem === 'u8', `i16x8 loads widen 8-bit storage, not ${elem}`);
      return elem === 'i8' ? m.v128.load8x8_s(offset, 1, index) : m.v128.load8x8_u(offset, 1, index);
    }
    if (elem === 'f16') {
      // 4 halves widened to i32 lanes (v128.load64_zero), or one, then converted to f32
      const vec = type.lanes > 1;
      const bits = vec ? m.i32x4.extend_low_i16x8_u(m.v128.load64_zero(offset, 2, this.ptr(index, elem))) : m.i32.load16_u(offset, 2, this.ptr(index, elem));
      return this.f16(vec, type, (L, bind) => halfToF32(L, bind, bind(bits)));
    }
    if (type.lanes > 1 && storageBits(elem) === 8) {
      // 4 bytes widened to i32 lanes (bool lanes become all-ones masks)
      const signed = elem === 'i8';
      const bytes = m.v128.load32_zero(offset, 1, index);
      const wide = signed ? m.i32x4.extend_low_i16x8_s(m.i16x8.extend_low_i8x16_s(bytes)) : m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(bytes));
      return type.scalar === 'bool' ? m.i32x4.neg(wide) : wide;
    }
    if (type.lanes > 1) {
      assert(storageBits(elem) === 32, `vector load from ${elem} storage`);
      return m.v128.load(offset, 4, this.ptr(index, elem));
    }
    switch (elem) {
      case 'f32': return m.f32.load(offset, 4, this.ptr(index, elem));
      case 'i32': return m.i32.load(offset, 4, this.ptr(index, elem));
      case 'i64': return m.i64.load(offset, 8, this.ptr(index, elem));
      case 'i16': return m.i32.load16_s(offset, 2, this.ptr(index, elem));
      case 'u16': return m.i32.load16_u(offset, 2, this.ptr(index, elem));
      case 'i8': return m.i32.load8_s(offset, 1, index);
      case 'u8': case 'bool': return m.i32.load8_u(offset, 1, index);
      case 'i4': case 'u4': case 'i2': {
        // packed: element i is bits [(i % per)·w, …) of byte i / per, low bits first
        const w = storageBits(elem);
        const per = 8 / w;
        return this.withTemps([{ ref: index, type: ty('i32') }], ty('i32'), (i) => {
          const byte = m.i32.load8_u(offset, 1, m.i32.shr_u(i(), m.i32.const(Math.log2(per))));
          const shift = m.i32.shl(m.i32.and(i(), m.i32.const(per - 1)), m.i32.const(Math.log2(w)));
          const bits = m.i32.and(m.i32.shr_u(byte, shift), m.i32.const((1 << w) - 1));
          return elem === 'u4' ? bits : m.i32.shr_s(m.i32.shl(bits, m.i32.const(32 - w)), m.i32.const(32 - w));
        });
      }
    }
  }

  /** A short copy as the widest unaligned loads and stores that fit (8, 4, 2, 1 bytes). */
  private copy(s: Extract<Stmt, { k: 'copy' }>): Ref {
    const m = this.m;
    const dst = this.base(s.dst);
    const src = this.base(s.src);
    assert(dst.elem === src.elem && storageBits(dst.elem) % 8 === 0, `copy between ${src.elem} and ${dst.elem} storage`);
    const total = (s.count * storageBits(dst.elem)) / 8;
    const to = this.temp(ty('i32'));
    const from = this.temp(ty('i32'));
    const out: Ref[] = [m.local.set(to, this.ptr(this.expr(s.dstIndex), dst.elem)), m.local.set(from, this.ptr(this.expr(s.srcIndex), src.elem))];
    const at = (i: number) => m.local.get(i, binaryen.i32);
    for (let pos = 0; pos < total;) {
      const w = [8, 4, 2, 1].find((x) => x <= total - pos)!;
      const [o, f] = [dst.offset + pos, src.offset + pos];
      out.push(w === 8 ? m.i64.store(o, 1, at(to), m.i64.load(f, 1, at(from)))
        : w === 4 ? m.i32.store(o, 1, at(to), m.i32.load(f, 1, at(from)))
          : w === 2 ? m.i32.store16(o, 1, at(to), m.i32.load16_u(f, 1, at(from)))
            : m.i32.store8(o, 1, at(to), m.i32.load8_u(f, 1, at(from))));
      pos += w;
    }
    return m.block(null, out);
  }

  private store(buf: string, indexExpr: Expr, valueExpr: Expr): Ref {
    const m = this.m;
    const { offset, elem } = this.base(buf);
    const index = this.expr(indexExpr);
    if (elem === 'f16') {
      // a value rounded to f16 just before its store needs no second rounding
      const inner = valueExpr.k === 'un' && valueExpr.op === 'roundf16' ? valueExpr.a : valueExpr;
      const vec = inner.type.lanes > 1;
      const bits = this.f16(vec, ty('i32', inner.type.lanes), (L, bind) => f32ToHalf(L, bind, bind(L.asI(this.expr(inner)))));
      const ptr = this.ptr(index, elem);
      return vec ? m.v128.store64_lane(offset, 2, 0, ptr, m.i16x8.narrow_i32x4_u(bits, v128Const(m, [0, 0, 0, 0], 'i32'))) : m.i32.store16(offset, 2, ptr, bits);
    }
    const value = this.expr(valueExpr);
    if (valueExpr.type.lanes > 1 && storageBits(elem) === 8) {
      // the low byte of each lane (wrapping, as a scalar store8), gathered into 4 bytes
      const lanes = valueExpr.type.scalar === 'bool' ? m.v128.and(value, v128Const(m, [1, 1, 1, 1], 'i32')) : value;
      return m.v128.store32_lane(offset, 1, 0, index, m.i8x16.shuffle(lanes, v128Const(m, [0, 0, 0, 0], 'i32'), [0, 4, 8, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16]));
    }
    if (valueExpr.type.lanes > 1) {
      assert(storageBits(elem) === 32, `vector store to ${elem} storage`);
      return m.v128.store(offset, 4, this.ptr(index, elem), value);
    }
    switch (elem) {
      case 'f32': return m.f32.store(offset, 4, this.ptr(index, elem), value);
      case 'i32': return m.i32.store(offset, 4, this.ptr(index, elem), value);
      case 'i64': return m.i64.store(offset, 8, this.ptr(index, elem), value);
      case 'i16': case 'u16': return m.i32.store16(offset, 2, this.ptr(index, elem), value);
      case 'i8': case 'u8': case 'bool': return m.i32.store8(offset, 1, index, value);
      case 'i4': case 'u4': case 'i2': {
        const w = storageBits(elem);
        const per = 8 / w;
        const mask = (1 << w) - 1;
        const i = this.temp(ty('i32'));
        const val = this.temp(ty('i32'));
        const get = (x: number) => m.local.get(x, binaryen.i32);
        const byteAddr = () => m.i32.shr_u(get(i), m.i32.const(Math.log2(per)));
        const shift = () => m.i32.shl(m.i32.and(get(i), m.i32.const(per - 1)), m.i32.const(Math.log2(w)));
        const kept = m.i32.and(m.i32.load8_u(offset, 1, byteAddr()), m.i32.xor(m.i32.shl(m.i32.const(mask), shift()), m.i32.const(-1)));
        const put = m.i32.shl(m.i32.and(get(val), m.i32.const(mask)), shift());
        return m.block(null, [m.local.set(i, index), m.local.set(val, value), m.i32.store8(offset, 1, byteAddr(), m.i32.or(kept, put))]);
      }
    }
  }

  private extractLane(vec: Ref, t: Type, lane: number): Ref {
    const m = this.m;
    if (t.scalar === 'f32') return m.f32x4.extract_lane(vec, lane);
    const x = m.i32x4.extract_lane(vec, lane);
    return t.scalar === 'bool' ? m.i32.and(x, m.i32.const(1)) : x;
  }

  /** A vector of `type` from 4 scalar refs (bool lanes become all-ones masks). */
  private packRefs(type: Type, elems: readonly Ref[]): Ref {
    const m = this.m;
    const lane = (r: Ref) => (type.scalar === 'bool' ? m.i32.sub(m.i32.const(0), r) : r);
    let vec = type.scalar === 'f32' ? m.f32x4.splat(elems[0]!) : m.i32x4.splat(lane(elems[0]!));
    for (let j = 1; j < elems.length; j++) {
      vec = type.scalar === 'f32' ? m.f32x4.replace_lane(vec, j, elems[j]!) : m.i32x4.replace_lane(vec, j, lane(elems[j]!));
    }
    return vec;
  }

  /** Legalize a vector op without a table entry: apply the scalar op lane by lane. */
  private lanewise(result: Type, values: readonly { ref: Ref; type: Type }[], scalar: (...xs: Ref[]) => Ref): Ref {
    return this.withTemps(values, result, (...gets) => this.packRefs(result, Array.from({ length: LANES }, (_, j) =>
      scalar(...gets.map((g, i) => this.extractLane(g(), ty(values[i]!.type.scalar), j))))));
  }

  private unRef(op: UnOp, t: Type, a: Ref): Ref {
    const m = this.m;
    const c = cls(t);
    if (INTRINSICS.has(op)) {
      const name = intrinsicName(op as Intrinsic, t.lanes > 1);
      this.intrinsics.add(name);
      return m.call(name, [a], wasmType(t));
    }
    if (op === 'roundf16') {
      assert(t.scalar === 'f32', `roundf16 of ${c}`);
      const vec = t.lanes > 1;
      return this.f16(vec, t, (L, bind) => halfToF32(L, bind, bind(f32ToHalf(L, bind, bind(L.asI(a))))));
    }
    if (op === 'abs' && (c === 'i32' || c === 'i64')) {
      return this.withTemps([{ ref: a, type: t }], t, (x) =>
        m.select(c === 'i32' ? m.i32.lt_s(x(), m.i32.const(0)) : m.i64.lt_s(x(), m.i64.const(0, 0)), UN[c].neg!(m, x()), x()));
    }
    const f = UN[c][op];
    if (f) return f(m, a);
    assert(t.lanes > 1, `no WASM rendering of ${op} on ${c}`);
    return this.lanewise(t, [{ ref: a, type: t }], (x) => this.unRef(op, ty(t.scalar), x));
  }

  /** `a op b` for operands of type `t`. */
  private binRef(op: BinOp, t: Type, a: Ref, b: Ref): Ref {
    const m = this.m;
    const c = cls(t);
    const result = COMPARES.has(op) ? ty('bool', t.lanes) : t;
    if ((op === 'min' || op === 'max') && (c === 'i32' || c === 'i64')) {
      const lt = BIN[c].lt!;
      return this.withTemps([{ ref: a, type: t }, { ref: b, type: t }], t, (x, y) =>
        m.select(lt(m, x(), y()), op === 'min' ? x() : y(), op === 'min' ? y() : x()));
    }
    const f = BIN[c][op];
    if (f) return f(m, a, b);
    assert(t.lanes > 1, `no WASM rendering of ${op} on ${c}`);
    return this.lanewise(result, [{ ref: a, type: t }, { ref: b, type: t }], (x, y) => this.binRef(op, ty(t.scalar), x, y));
  }

  /**
   * The horizontal sums of four i32x4 vectors as one i32x4 (lane j = Σ of vector j): two rounds
   * of interleave-and-add, 6 shuffles and 3 adds where lane extraction takes 12 extracts, 12
   * adds and a 4-lane build (the integer GEMM's column sums).
   */
  private transposeAdd(vs: readonly Ref[]): Ref {
    const m = this.m;
    const t = ty('i32', LANES);
    const lanes = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
    return this.withTemps(vs.map((ref) => ({ ref, type: t })), t, (a, b, c, d) => {
      // (a0+a2, b0+b2, a1+a3, b1+b3) and the same for c, d
      const half = (x: () => Ref, y: () => Ref) => m.i32x4.add(m.i8x16.shuffle(x(), y(), lanes(0, 4, 1, 5)), m.i8x16.shuffle(x(), y(), lanes(2, 6, 3, 7)));
      return this.withTemps([{ ref: half(a!, b!), type: t }, { ref: half(c!, d!), type: t }], t, (ab, cd) =>
        m.i32x4.add(m.i8x16.shuffle(ab!(), cd!(), lanes(0, 1, 4, 5)), m.i8x16.shuffle(ab!(), cd!(), lanes(2, 3, 6, 7))));
    });
  }

  private hreduceRef(op: BinOp, t: Type, a: Ref): Ref {
    const st = ty(t.scalar);
    return this.withTemps([{ ref: a, type: t }], st, (x) => {
      let acc = this.extractLane(x(), st, 0);
      for (let j = 1; j < LANES; j++) acc = this.binRef(op, st, acc, this.extractLane(x(), st, j));
      return acc;
    });
  }

  expr(e: Expr): Ref {
    const m = this.m;
    switch (e.k) {
      case 'const': {
        if (e.type.scalar === 'i16') return v128Const(m, Array(8).fill(e.value), 'i16');
        if (e.type.lanes > 1) return v128Const(m, Array(LANES).fill(e.type.scalar === 'bool' ? -e.value : e.value), e.type.scalar === 'f32' ? 'f32' : 'i32');
        if (e.type.scalar === 'f32') return m.f32.const(e.value);
        if (e.type.scalar === 'i64') return m.i64.const(BigInt(e.value));
        return m.i32.const(e.value);
      }
      case 'var': {
        const l = this.locals.get(e.name);
        assert(l, `variable ${e.name} used before it is defined`);
        return m.local.get(l.index, wasmType(e.type));
      }
      case 'load': return this.load(e.buf, e.index, e.type);
      case 'un': return this.unRef(e.op, e.type, this.expr(e.a));
      case 'bin':
        if ((e.op === 'shl' || e.op === 'shr') && e.a.type.lanes > 1 && e.a.type.scalar === 'i32' && e.b.k === 'splat') {
          const amount = this.expr(e.b.a);
          return e.op === 'shl' ? m.i32x4.shl(this.expr(e.a), amount) : m.i32x4.shr_s(this.expr(e.a), amount);
        }
        return this.binRef(e.op, e.a.type, this.expr(e.a), this.expr(e.b));
      case 'select': {
        if (e.type.lanes > 1) {
          assert(e.cond.type.lanes > 1, 'vector select needs a vector condition');
          return m.v128.bitselect(this.expr(e.a), this.expr(e.b), this.expr(e.cond));
        }
        return m.select(this.expr(e.cond), this.expr(e.a), this.expr(e.b));
      }
      case 'cast': return this.castRef(e.a.type, e.type, this.expr(e.a));
      case 'splat': {
        const a = this.expr(e.a);
        if (e.type.scalar === 'f32') return m.f32x4.splat(a);
        if (e.type.scalar === 'i16') return m.i16x8.splat(a);
        assert(e.type.scalar !== 'i64', 'no i64 vectors in WASM SIMD');
        return m.i32x4.splat(e.type.scalar === 'bool' ? m.i32.sub(m.i32.const(0), a) : a);
      }
      case 'pack': {
        const sums = e.type.scalar === 'i32' && e.elems.length === LANES
          ? e.elems.map((x) => (x.k === 'hreduce' && x.op === 'add' && x.a.type.scalar === 'i32' && x.a.type.lanes === LANES ? x.a : undefined))
          : [];
        if (sums.length === LANES && sums.every((x) => x)) return this.transposeAdd(sums.map((x) => this.expr(x!)));
        if (e.elems.every((x) => x.k === 'const')) {
          return v128Const(m, e.elems.map((x) => (x.k === 'const' ? (e.type.scalar === 'bool' ? -x.value : x.value) : 0)), e.type.scalar === 'f32' ? 'f32' : 'i32');
        }
        return this.packRefs(e.type, e.elems.map((x) => this.expr(x)));
      }
      case 'lane': return this.extractLane(this.expr(e.a), e.type, e.lane);
      case 'hreduce': return this.hreduceRef(e.op, e.a.type, this.expr(e.a));
      case 'dot':
        assert(cls(e.a.type) === 'i16x8' && cls(e.b.type) === 'i16x8', 'dot needs i16x8 operands');
        return m.i32x4.dot_i16x8_s(this.expr(e.a), this.expr(e.b));
      case 'requant': return this.requant(e);
    }
  }

  private castRef(fromT: Type, to: Type, x: Ref): Ref {
    const m = this.m;
    const from = fromT.scalar;
    if (to.lanes > 1) {
      if (from === to.scalar) return x;
      if (from === 'f32' && to.scalar === 'i32') return m.i32x4.trunc_sat_f32x4_s(x);
      if (from === 'i32' && to.scalar === 'f32') return m.f32x4.convert_i32x4_s(x);
      if (from === 'bool' && to.scalar === 'f32') return m.v128.and(x, v128Const(m, [1, 1, 1, 1], 'f32'));
      if (from === 'bool' && to.scalar === 'i32') return m.v128.and(x, v128Const(m, [1, 1, 1, 1], 'i32'));
      if (from === 'f32' && to.scalar === 'bool') return m.f32x4.ne(x, v128Const(m, [0, 0, 0, 0], 'f32'));
      if (from === 'i32' && to.scalar === 'bool') return m.i32x4.ne(x, v128Const(m, [0, 0, 0, 0], 'i32'));
      assert(false, `no WASM vector cast ${from} to ${to.scalar}`);
    }
    const key = `${from}>${to.scalar}`;
    switch (key) {
      case 'f32>i32': return m.i32.trunc_s_sat.f32(x);
      case 'f32>i64': return m.i64.trunc_s_sat.f32(x);
      case 'i32>f32': case 'bool>f32': return m.f32.convert_s.i32(x);
      case 'i64>f32': return m.f32.convert_s.i64(x);
      case 'i32>i64': return m.i64.extend_s(x);
      case 'bool>i64': return m.i64.extend_u(x);
      case 'i64>i32': return m.i32.wrap(x);
      case 'bool>i32': return x;
      case 'f32>bool': return m.f32.ne(x, m.f32.const(0));
      case 'i32>bool': return m.i32.ne(x, m.i32.const(0));
      case 'i64>bool': return m.i64.ne(x, m.i64.const(0, 0));
      default: assert(from === to.scalar, `no WASM cast ${key}`); return x;
    }
  }

  /** clamp(round_half_even(acc·mult / 2^shift) + zero, lo, hi) in i64 arithmetic. */
  private requant(e: Extract<Expr, { k: 'requant' }>): Ref {
    const m = this.m;
    const i64 = ty('i64');
    const product = m.i64.mul(m.i64.extend_s(this.expr(e.acc)), m.i64.const(BigInt(e.mult)));
    const rounded = e.shift === 0 ? product : this.withTemps([{ ref: product, type: i64 }], i64, (p) => {
      const floor = () => m.i64.shr_s(p(), m.i64.const(BigInt(e.shift)));
      const rem = () => m.i64.and(p(), m.i64.const((1n << BigInt(e.shift)) - 1n));
      const half = () => m.i64.const(1n << BigInt(e.shift - 1));
      const up = m.select(m.i64.gt_u(rem(), half()), m.i64.const(1n), m.select(m.i64.eq(rem(), half()), m.i64.and(floor(), m.i64.const(1n)), m.i64.const(0n)));
      return m.i64.add(floor(), up);
    });
    const shifted = m.i64.add(rounded, m.i64.const(BigInt(e.zero)));
    return this.withTemps([{ ref: shifted, type: i64 }], ty('i32'), (q) =>
      m.i32.wrap(m.select(m.i64.lt_s(q(), m.i64.const(BigInt(e.lo))), m.i64.const(BigInt(e.lo)),
        m.select(m.i64.gt_s(q(), m.i64.const(BigInt(e.hi))), m.i64.const(BigInt(e.hi)), q()))));
  }
}

export interface WasmOutput {
  readonly binary: Uint8Array;
  /** The module in binaryen's text form (golden fixtures, `--dump-wasm`). */
  readonly text: string;
}

/** Size (binaryen's measure) up to which a helper with several callers is inlined: the largest math helper fits. */
const INLINE_INTRINSICS = 1000;

const FEATURES = binaryen.Features.SIMD128 | binaryen.Features.NontrappingFPToInt | binaryen.Features.SignExt
  | binaryen.Features.BulkMemory | binaryen.Features.MutableGlobals;

/**
 * Render `kernels` (with buffer offsets already planned) into a validated, optimized module exporting `memory` and `run`;
 * `run` calls a kernel with `guards` only when the bool byte at each guard's address is `value`.
 */
export function renderModule(
  kernels: readonly { kernel: Kernel; bases: ReadonlyMap<string, { offset: number; elem: Storage }>; guards?: readonly { address: number; value: boolean }[] }[],
  memoryBytes: number,
  opts: { optimize?: boolean } = {},
): WasmOutput {
  const m = new binaryen.Module();
  try {
    m.setFeatures(FEATURES);
    const pages = Math.max(1, Math.ceil(memoryBytes / PAGE));
    m.setMemory(pages, pages, 'memory');
    const intrinsics = new Set<string>();
    const names = kernels.map((k, i) => `k${i}_${k.kernel.name}`);
    kernels.forEach((k, i) => new FunctionRenderer(m, k.bases, intrinsics).render(k.kernel, names[i]!));
    for (const name of intrinsics) {
      const [op, suffix] = name.split('_') as [Intrinsic, string];
      addIntrinsic(m, op, suffix === 'f32x4');
    }
    const guarded = (call: Ref, i: number): Ref => (kernels[i]!.guards ?? []).reduceRight((body, g) => {
      const byte = m.i32.load8_u(0, 1, m.i32.const(g.address));
      return m.if(g.value ? byte : m.i32.eqz(byte), body);
    }, call);
    m.addFunction('run', binaryen.none, binaryen.none, [], m.block(null, names.map((n, i) => guarded(m.call(n, [], binaryen.none), i))));
    m.addFunctionExport('run', 'run');
    assert(m.validate(), 'binaryen rejected the generated module');
    if (opts.optimize !== false) {
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      // Inline the math helpers (exp, erf, …) into the kernels that call them, and no kernel
      // into `run`. A helper call keeps the CPU from overlapping one vector's polynomial with
      // the next (char_lm's attention −33 %); one huge `run` is compiled worse by V8 than one
      // function per kernel (char_lm w8a8 10.5 → 7.9 ms). Kernels hold loops, which flexible
      // inlining leaves alone, and one-caller inlining is off.
      const saved = [binaryen.getFlexibleInlineMaxSize(), binaryen.getOneCallerInlineMaxSize()] as const;
      binaryen.setFlexibleInlineMaxSize(INLINE_INTRINSICS);
      binaryen.setOneCallerInlineMaxSize(0);
      try {
        m.optimize();
      } finally {
        binaryen.setFlexibleInlineMaxSize(saved[0]);
        binaryen.setOneCallerInlineMaxSize(saved[1]);
      }
    }
    return { binary: m.emitBinary(), text: m.emitText() };
  } finally {
    m.dispose();
  }
}

/** Render a whole program: every dispatch with its buffers bound to their planned offsets. */
export function renderProgram(p: Program, opts: { optimize?: boolean } = {}): WasmOutput {
  const byName = new Map(p.buffers.map((b) => [b.name, b]));
  return renderModule(p.dispatches.map((d) => ({
    kernel: d.kernel,
    bases: new Map(d.kernel.params.map((param) => {
      const b = byName.get(d.bind[param.name]!);
      assert(b, `dispatch binds ${param.name} to unknown buffer ${d.bind[param.name]}`);
      return [param.name, { offset: b.offset, elem: param.elem }];
    })),
    ...(d.when ? { guards: d.when.map((g) => ({ address: byName.get(g.buf)!.offset + g.offset, value: g.value })) } : {}),
  })), p.memory.total, opts);
}
