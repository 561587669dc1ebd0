/**
 * @fileoverview The kernel IR: target-neutral loop nests over flat buffers. A kernel reads and
 * writes buffer parameters through element-indexed loads and stores; expressions are pure trees
 * over typed registers (scalars or vectors); statements are loops, locals, stores and ifs.
 * Nothing here knows about WASM: a renderer (wasm/, later wgsl/ and cuda/) is a table from
 * these node kinds to target instructions. Scheduling transforms (schedule.ts) rewrite kernels
 * into kernels, so a dumped kernel always reads as the code a target will run.
 */

/**
 * Register element types: what loads produce and ops compute on. `i16` exists only as 8-lane
 * vectors: 8-bit integers widened on load, the operands of `dot` (int8 GEMMs).
 */
export type Scalar = 'f32' | 'i32' | 'i64' | 'bool' | 'i16';

/**
 * Buffer element types. Narrow integers load as i32 (sign- or zero-extended); `i4`/`u4`/`i2`
 * are packed, two (four) per byte, low bits first as in ONNX; `bool` is one byte of 0/1;
 * `f16` is an IEEE half that loads as f32 (exact) and stores rounded to nearest, ties to even.
 */
export type Storage = 'f32' | 'f16' | 'i64' | 'i32' | 'i16' | 'u16' | 'i8' | 'u8' | 'bool' | 'i4' | 'u4' | 'i2';

/** A register type: `lanes` 1 is a scalar, more is a vector of that many lanes. */
export interface Type {
  readonly scalar: Scalar;
  readonly lanes: number;
}

/** `roundf16`: an f32 rounded to the nearest f16 value (ties to even), kept in an f32 register. */
export type UnOp = 'neg' | 'abs' | 'sqrt' | 'exp' | 'log' | 'erf' | 'tanh' | 'sigmoid' | 'floor' | 'ceil' | 'round' | 'not' | 'roundf16';
export type BinOp = 'add' | 'sub' | 'mul' | 'div' | 'rem' | 'min' | 'max' | 'and' | 'or' | 'xor' | 'shl' | 'shr'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
/** Horizontal reductions of a vector's lanes. */
export type ReduceOp = 'add' | 'max' | 'min';

export type Expr =
  | { readonly k: 'const'; readonly type: Type; readonly value: number }
  | { readonly k: 'var'; readonly type: Type; readonly name: string }
  /** `type.lanes` consecutive elements from element `index` of `buf` (i16x8: 8-bit storage widened). */
  | { readonly k: 'load'; readonly type: Type; readonly buf: string; readonly index: Expr }
  | { readonly k: 'un'; readonly type: Type; readonly op: UnOp; readonly a: Expr }
  | { readonly k: 'bin'; readonly type: Type; readonly op: BinOp; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'select'; readonly type: Type; readonly cond: Expr; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'cast'; readonly type: Type; readonly a: Expr }
  | { readonly k: 'splat'; readonly type: Type; readonly a: Expr }
  /** A vector built from scalars (a gather when the lanes are loads). */
  | { readonly k: 'pack'; readonly type: Type; readonly elems: readonly Expr[] }
  | { readonly k: 'lane'; readonly type: Type; readonly a: Expr; readonly lane: number }
  | { readonly k: 'hreduce'; readonly type: Type; readonly op: ReduceOp; readonly a: Expr }
  /**
   * Pairwise dot product of two 2L-lane i16 vectors into L i32 lanes: lane j = a[2j]·b[2j] +
   * a[2j+1]·b[2j+1] (WASM i32x4.dot_i16x8_s, x86 pmaddwd, ARM sdot's pairwise form).
   */
  | { readonly k: 'dot'; readonly type: Type; readonly a: Expr; readonly b: Expr }
  /**
   * Integer requantization: clamp(round_half_even(acc · mult / 2^shift) + zero, lo, hi), the
   * dyadic form of a real multiplier (techniques §1). All operands i32; result i32.
   */
  | { readonly k: 'requant'; readonly type: Type; readonly acc: Expr; readonly mult: number; readonly shift: number; readonly zero: number; readonly lo: number; readonly hi: number };

export type Stmt =
  /** Declare a mutable local (accumulators); `let` is the immutable form. */
  | { readonly k: 'decl'; readonly name: string; readonly type: Type; readonly init: Expr }
  | { readonly k: 'let'; readonly name: string; readonly value: Expr }
  | { readonly k: 'set'; readonly name: string; readonly value: Expr }
  /** Store `value` (a vector stores consecutive elements) at element `index` of `buf`. */
  | { readonly k: 'store'; readonly buf: string; readonly index: Expr; readonly value: Expr }
  | { readonly k: 'loop'; readonly var: string; readonly start: Expr; readonly end: Expr; readonly step: number; readonly body: readonly Stmt[]; readonly hint: LoopHint }
  | { readonly k: 'if'; readonly cond: Expr; readonly then: readonly Stmt[]; readonly else: readonly Stmt[] }
  /**
   * Copy `count` consecutive elements of `src` from element `srcIndex` to `dst` at `dstIndex`
   * (the same storage type): a renderer may move them in pieces as wide as it likes.
   */
  | { readonly k: 'copy'; readonly dst: string; readonly dstIndex: Expr; readonly src: string; readonly srcIndex: Expr; readonly count: number }
  /** Workgroup barrier around shared-memory use (GPU targets; a no-op on one thread). */
  | { readonly k: 'barrier' };

/**
 * How a loop may be scheduled. `parallel`: iterations are independent (a GPU grid dimension,
 * a thread split on CPU). `vector`: lane count to vectorize with; `jam`: unroll-and-jam factor.
 */
export interface LoopHint {
  readonly parallel?: boolean;
  readonly vector?: number;
  readonly jam?: number;
}

/** A buffer parameter of a kernel. `size` is in elements. */
export interface KBuffer {
  readonly name: string;
  readonly elem: Storage;
  readonly size: number;
  readonly access: 'read' | 'write' | 'readwrite';
}

/** Scratch memory a kernel declares for itself: per-thread (`private`) or per-workgroup (`shared`). */
export interface KLocal {
  readonly name: string;
  readonly elem: Storage;
  readonly size: number;
  readonly space: 'private' | 'shared';
}

export interface Kernel {
  readonly name: string;
  /** What the kernel computes, for listings: `matmul+add+gelu`. */
  readonly summary: string;
  readonly params: readonly KBuffer[];
  readonly locals: readonly KLocal[];
  readonly body: readonly Stmt[];
}

// ---- types ---------------------------------------------------------------------------------

export const ty = (scalar: Scalar, lanes = 1): Type => ({ scalar, lanes });
export const F32 = ty('f32');
export const I32 = ty('i32');
export const I64 = ty('i64');
export const BOOL = ty('bool');

/** The register type a load from `elem` storage produces. */
export function registerOf(elem: Storage): Scalar {
  return elem === 'f32' || elem === 'f16' ? 'f32' : elem === 'i64' ? 'i64' : elem === 'bool' ? 'bool' : 'i32';
}

/** Bits per element of a storage type (packed types below 8). */
export function storageBits(elem: Storage): number {
  return { f32: 32, f16: 16, i64: 64, i32: 32, i16: 16, u16: 16, i8: 8, u8: 8, bool: 8, i4: 4, u4: 4, i2: 2 }[elem];
}

/** Bytes a buffer of `size` elements occupies (packed types round up). */
export const storageBytes = (elem: Storage, size: number): number => Math.ceil((size * storageBits(elem)) / 8);

export const formatType = (t: Type): string => (t.lanes === 1 ? t.scalar : `${t.scalar}x${t.lanes}`);

// ---- expression builders (fold constants and identities so index math stays readable) --------

export const cst = (value: number, type: Type = I32): Expr => ({ k: 'const', type, value });
export const f32 = (value: number): Expr => cst(Math.fround(value), F32);
export const i32 = (value: number): Expr => cst(value | 0, I32);
export const v = (name: string, type: Type = I32): Expr => ({ k: 'var', type, name });
export const load = (buf: string, index: Expr, type: Type): Expr => ({ k: 'load', type, buf, index });
export const un = (op: UnOp, a: Expr): Expr => ({ k: 'un', type: a.type, op, a });
export const cast = (a: Expr, scalar: Scalar): Expr => (a.type.scalar === scalar ? a : a.k === 'const' && scalar !== 'bool' && a.type.scalar !== 'f32' ? cst(a.value, ty(scalar, a.type.lanes)) : { k: 'cast', type: ty(scalar, a.type.lanes), a });
export const select = (cond: Expr, a: Expr, b: Expr): Expr => ({ k: 'select', type: a.type, cond, a, b });
export const splat = (a: Expr, lanes: number): Expr => ({ k: 'splat', type: ty(a.type.scalar, lanes), a });
/** Pairwise i16 dot product (see the `dot` node). */
export const dot = (a: Expr, b: Expr): Expr => ({ k: 'dot', type: ty('i32', a.type.lanes / 2), a, b });

const COMPARE: ReadonlySet<BinOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

function foldInt(op: BinOp, a: number, b: number): number | undefined {
  switch (op) {
    case 'add': return (a + b) | 0;
    case 'sub': return (a - b) | 0;
    case 'mul': return Math.imul(a, b);
    case 'div': return b === 0 ? undefined : (a / b) | 0;
    case 'rem': return b === 0 ? undefined : a % b;
    case 'min': return Math.min(a, b);
    case 'max': return Math.max(a, b);
    default: return undefined;
  }
}

export function bin(op: BinOp, a: Expr, b: Expr): Expr {
  const type = COMPARE.has(op) ? ty('bool', a.type.lanes) : a.type;
  if (a.type.scalar === 'i32' && a.type.lanes === 1) {
    if (a.k === 'const' && b.k === 'const') {
      const r = foldInt(op, a.value, b.value);
      if (r !== undefined) return cst(r, type);
    }
    const zero = (e: Expr) => e.k === 'const' && e.value === 0;
    const one = (e: Expr) => e.k === 'const' && e.value === 1;
    if (op === 'add' && zero(a)) return b;
    if ((op === 'add' || op === 'sub') && zero(b)) return a;
    if (op === 'mul' && (zero(a) || zero(b))) return i32(0);
    if (op === 'mul' && one(a)) return b;
    if ((op === 'mul' || op === 'div') && one(b)) return a;
    if (op === 'rem' && one(b)) return i32(0);
  }
  return { k: 'bin', type, op, a, b };
}

export const add = (a: Expr, b: Expr): Expr => bin('add', a, b);
export const sub = (a: Expr, b: Expr): Expr => bin('sub', a, b);
export const mul = (a: Expr, b: Expr): Expr => bin('mul', a, b);
export const div = (a: Expr, b: Expr): Expr => bin('div', a, b);

/**
 * Σ idx[i]·strides[i] + offset: the element index of a strided view. Adjacent indices
 * `x / c, x % c` with strides `c·s, s` (a flattened loop split back into two dims) become `x·s`,
 * since (x / c)·c + x % c = x for truncating division.
 */
export function linear(idx: readonly Expr[], strides: readonly number[], offset = 0): Expr {
  let e: Expr = i32(offset);
  for (let i = 0; i < idx.length; i++) {
    const [x, y] = [idx[i]!, idx[i + 1]];
    if (y && strides[i + 1] !== 0 && splitPair(x, y, strides[i]! / strides[i + 1]!)) {
      e = add(e, mul((x as Extract<Expr, { k: 'bin' }>).a, i32(strides[i + 1]!)));
      i++;
      continue;
    }
    if (strides[i] !== 0) e = add(e, mul(x, i32(strides[i]!)));
  }
  return e;
}

/** Whether `q, r` are `x / c, x % c` for one expression x and the constant c. */
function splitPair(q: Expr, r: Expr, c: number): boolean {
  return q.k === 'bin' && q.op === 'div' && r.k === 'bin' && r.op === 'rem'
    && q.b.k === 'const' && r.b.k === 'const' && q.b.value === c && r.b.value === c && printExpr(q.a) === printExpr(r.a);
}

// ---- statement builders ----------------------------------------------------------------------

export const decl = (name: string, init: Expr): Stmt => ({ k: 'decl', name, type: init.type, init });
export const let_ = (name: string, value: Expr): Stmt => ({ k: 'let', name, value });
export const set = (name: string, value: Expr): Stmt => ({ k: 'set', name, value });
export const store = (buf: string, index: Expr, value: Expr): Stmt => ({ k: 'store', buf, index, value });
export const copy = (dst: string, dstIndex: Expr, src: string, srcIndex: Expr, count: number): Stmt => ({ k: 'copy', dst, dstIndex, src, srcIndex, count });
export const loop = (name: string, end: number, body: readonly Stmt[], hint: LoopHint = {}, start = 0): Stmt =>
  ({ k: 'loop', var: name, start: i32(start), end: i32(end), step: 1, body, hint });
export const if_ = (cond: Expr, then: readonly Stmt[], els: readonly Stmt[] = []): Stmt => ({ k: 'if', cond, then, else: els });

/** Loop nest over `shape` with index variables `${prefix}0…`; `body` gets the index expressions. */
export function loopNest(prefix: string, shape: readonly number[], body: (idx: Expr[]) => Stmt[], hint: (dim: number) => LoopHint = () => ({})): Stmt[] {
  const idx = shape.map((_, i) => v(`${prefix}${i}`));
  let stmts = body(idx);
  for (let d = shape.length - 1; d >= 0; d--) stmts = [loop(`${prefix}${d}`, shape[d]!, stmts, hint(d))];
  return stmts;
}

// ---- traversal -------------------------------------------------------------------------------

/** Rebuild `e` bottom-up with `f` applied to every node (children first). */
export function mapExpr(e: Expr, f: (e: Expr) => Expr): Expr {
  switch (e.k) {
    case 'const': case 'var': return f(e);
    case 'load': return f({ ...e, index: mapExpr(e.index, f) });
    case 'un': case 'cast': case 'splat': case 'lane': case 'hreduce': return f({ ...e, a: mapExpr(e.a, f) });
    case 'bin': case 'dot': return f({ ...e, a: mapExpr(e.a, f), b: mapExpr(e.b, f) });
    case 'select': return f({ ...e, cond: mapExpr(e.cond, f), a: mapExpr(e.a, f), b: mapExpr(e.b, f) });
    case 'pack': return f({ ...e, elems: e.elems.map((x) => mapExpr(x, f)) });
    case 'requant': return f({ ...e, acc: mapExpr(e.acc, f) });
  }
}

/** Whether `e` mentions any of `names` as a variable. */
export function mentions(e: Expr, names: ReadonlySet<string>): boolean {
  let hit = false;
  mapExpr(e, (x) => { if (x.k === 'var' && names.has(x.name)) hit = true; return x; });
  return hit;
}

/** Replace variable `name` by `by` in `e`, re-folding index arithmetic. */
export function substitute(e: Expr, name: string, by: Expr): Expr {
  return mapExpr(e, (x) => {
    if (x.k === 'var' && x.name === name) return by;
    if (x.k === 'bin') return bin(x.op, x.a, x.b);
    return x;
  });
}

/** Apply `f` to every expression of a statement list (not descending into expressions). */
export function mapStmtExprs(body: readonly Stmt[], f: (e: Expr) => Expr): Stmt[] {
  return body.map((s): Stmt => {
    switch (s.k) {
      case 'decl': return { ...s, init: f(s.init) };
      case 'let': case 'set': return { ...s, value: f(s.value) };
      case 'store': return { ...s, index: f(s.index), value: f(s.value) };
      case 'copy': return { ...s, dstIndex: f(s.dstIndex), srcIndex: f(s.srcIndex) };
      case 'loop': return { ...s, start: f(s.start), end: f(s.end), body: mapStmtExprs(s.body, f) };
      case 'if': return { ...s, cond: f(s.cond), then: mapStmtExprs(s.then, f), else: mapStmtExprs(s.else, f) };
      case 'barrier': return s;
    }
  });
}

// ---- printer -----------------------------------------------------------------------------------

const INFIX: Partial<Record<BinOp, string>> = {
  add: '+', sub: '-', mul: '*', div: '/', rem: '%', and: '&', or: '|', xor: '^', shl: '<<', shr: '>>',
  eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=',
};

export function printExpr(e: Expr): string {
  switch (e.k) {
    case 'const': return e.type.scalar === 'f32' ? `${Number.isInteger(e.value) ? `${e.value}.0` : e.value}` : String(e.value);
    case 'var': return e.name;
    case 'load': return e.type.lanes === 1 ? `${e.buf}[${printExpr(e.index)}]` : `${e.buf}[${printExpr(e.index)} +: ${e.type.lanes}]`;
    case 'un': return `${e.op}(${printExpr(e.a)})`;
    case 'bin': return INFIX[e.op] ? `(${printExpr(e.a)} ${INFIX[e.op]} ${printExpr(e.b)})` : `${e.op}(${printExpr(e.a)}, ${printExpr(e.b)})`;
    case 'select': return `select(${printExpr(e.cond)}, ${printExpr(e.a)}, ${printExpr(e.b)})`;
    case 'cast': return `${formatType(e.type)}(${printExpr(e.a)})`;
    case 'splat': return `splat${e.type.lanes}(${printExpr(e.a)})`;
    case 'pack': return `${formatType(e.type)}(${e.elems.map(printExpr).join(', ')})`;
    case 'lane': return `${printExpr(e.a)}.${e.lane}`;
    case 'hreduce': return `reduce_${e.op}(${printExpr(e.a)})`;
    case 'dot': return `dot(${printExpr(e.a)}, ${printExpr(e.b)})`;
    case 'requant': return `requant(${printExpr(e.acc)}, m=${e.mult}, shift=${e.shift}, zero=${e.zero}, [${e.lo}, ${e.hi}])`;
  }
}

function printHint(h: LoopHint): string {
  const parts = [h.parallel ? 'parallel' : '', h.vector ? `vector=${h.vector}` : '', h.jam ? `jam=${h.jam}` : ''].filter(Boolean);
  return parts.length ? ` [${parts.join(', ')}]` : '';
}

function printStmts(body: readonly Stmt[], indent: string, out: string[]): void {
  for (const s of body) {
    switch (s.k) {
      case 'decl': out.push(`${indent}var ${s.name}: ${formatType(s.type)} = ${printExpr(s.init)}`); break;
      case 'let': out.push(`${indent}let ${s.name} = ${printExpr(s.value)}`); break;
      case 'set': out.push(`${indent}${s.name} = ${printExpr(s.value)}`); break;
      case 'store': out.push(`${indent}${s.buf}[${printExpr(s.index)}${s.value.type.lanes > 1 ? ` +: ${s.value.type.lanes}` : ''}] = ${printExpr(s.value)}`); break;
      case 'loop':
        out.push(`${indent}for ${s.var} in ${printExpr(s.start)}..${printExpr(s.end)}${s.step !== 1 ? ` step ${s.step}` : ''}${printHint(s.hint)} {`);
        printStmts(s.body, `${indent}  `, out);
        out.push(`${indent}}`);
        break;
      case 'if':
        out.push(`${indent}if ${printExpr(s.cond)} {`);
        printStmts(s.then, `${indent}  `, out);
        if (s.else.length) { out.push(`${indent}} else {`); printStmts(s.else, `${indent}  `, out); }
        out.push(`${indent}}`);
        break;
      case 'copy': out.push(`${indent}${s.dst}[${printExpr(s.dstIndex)} +: ${s.count}] = copy ${s.src}[${printExpr(s.srcIndex)} +: ${s.count}]`); break;
      case 'barrier': out.push(`${indent}barrier`); break;
    }
  }
}

/** The kernel as readable text (debug listings, `lutra compile --dump-kernels`, golden tests). */
export function printKernel(k: Kernel): string {
  const params = k.params.map((p) => `${p.access === 'read' ? 'in' : p.access === 'write' ? 'out' : 'inout'} ${p.name}: ${p.elem}[${p.size}]`);
  const out = [`kernel @${k.name}(${params.join(', ')}) // ${k.summary}`];
  for (const l of k.locals) out.push(`  ${l.space} ${l.name}: ${l.elem}[${l.size}]`);
  printStmts(k.body, '  ', out);
  return `${out.join('\n')}\n`;
}
