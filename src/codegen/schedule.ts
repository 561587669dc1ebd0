/**
 * @fileoverview Scheduling transforms over the kernel IR, driven by loop hints the lowering
 * sets: `vector=L` vectorizes a loop (outer-loop vectorization: every local whose value varies
 * with the loop variable becomes an L-lane vector; a scalar tail handles what is left over),
 * `jam=F` unrolls a loop F times and fuses the copies of its inner loops (register tiling).
 * Both are target-neutral; a renderer only ever sees their result. A loop that cannot be
 * vectorized (a reduction into an outer local, a condition that varies per lane) stays scalar.
 */
import {
  type Expr, type Kernel, type LoopHint, type ReduceOp, type Stmt, type Storage, type Type,
  add, bin, cst, i32, load, mapExpr, mapStmtExprs, mentions, splat, storageBits, substitute, ty, v,
} from './kernel-ir.js';

type LoopStmt = Extract<Stmt, { k: 'loop' }>;

/** Apply every loop hint of `k`, innermost loops first. */
export function schedule(k: Kernel): Kernel {
  const ctx: Ctx = { temps: 0, storage: new Map([...k.params, ...k.locals].map((b) => [b.name, b.elem])) };
  return { ...k, body: cseLoads(apply(k.body, ctx), ctx) };
}

/**
 * Counter for the temporaries transforms introduce (names stay unique within a kernel), and the
 * storage of each buffer: only 32-bit, 8-bit and f16 storage is read and written as whole vectors.
 */
interface Ctx { temps: number; readonly storage: ReadonlyMap<string, Storage> }

function apply(body: readonly Stmt[], ctx: Ctx): Stmt[] {
  const out: Stmt[] = [];
  for (const s of body) {
    if (s.k === 'if') { out.push({ ...s, then: apply(s.then, ctx), else: apply(s.else, ctx) }); continue; }
    if (s.k !== 'loop') { out.push(s); continue; }
    const inner: LoopStmt = { ...s, body: apply(s.body, ctx) };
    const vec = s.hint.vector ? vectorize(inner, s.hint.vector, ctx) : undefined;
    const { pre, main, post } = vec ?? { pre: [], main: { ...inner, hint: { ...s.hint, vector: undefined } } as LoopStmt, post: [] };
    out.push(...pre, ...(s.hint.jam && s.hint.jam > 1 ? unrollJam(main, s.hint.jam) : [main]), ...post);
  }
  return out;
}

const constOf = (e: Expr): number | undefined => (e.k === 'const' ? e.value : undefined);

/** Names declared (decl/let) anywhere in `body`. */
function declared(body: readonly Stmt[], into = new Set<string>()): Set<string> {
  for (const s of body) {
    if (s.k === 'decl' || s.k === 'let') into.add(s.name);
    else if (s.k === 'loop') declared(s.body, into);
    else if (s.k === 'if') { declared(s.then, into); declared(s.else, into); }
  }
  return into;
}

class CannotVectorize extends Error {}

// ---- vectorization -----------------------------------------------------------------------------

/** Locals of `body` whose value depends on `iv` (fixpoint over assignments). */
function varyingLocals(body: readonly Stmt[], iv: string): Set<string> {
  const vary = new Set<string>([iv]);
  let changed = true;
  const visit = (stmts: readonly Stmt[]): void => {
    for (const s of stmts) {
      if (s.k === 'decl' || s.k === 'let' || s.k === 'set') {
        const e = s.k === 'decl' ? s.init : s.value;
        if (!vary.has(s.name) && mentions(e, vary)) { vary.add(s.name); changed = true; }
      } else if (s.k === 'loop') visit(s.body);
      else if (s.k === 'if') { visit(s.then); visit(s.else); }
    }
  };
  while (changed) { changed = false; visit(body); }
  return vary;
}

/** The coefficient of `iv` in an i32 index expression, or undefined when not affine in it. */
function coefficient(e: Expr, iv: string, vary: ReadonlySet<string>): number | undefined {
  if (!mentions(e, vary)) return 0;
  if (e.k === 'var') return e.name === iv ? 1 : undefined;
  if (e.k !== 'bin') return undefined;
  const a = coefficient(e.a, iv, vary);
  const b = coefficient(e.b, iv, vary);
  if (a === undefined || b === undefined) return undefined;
  if (e.op === 'add') return a + b;
  if (e.op === 'sub') return a - b;
  if (e.op === 'mul') {
    if (a === 0 && e.a.k === 'const') return e.a.value * b;
    if (b === 0 && e.b.k === 'const') return e.b.value * a;
  }
  return undefined;
}

/** The value a reduction register starts from. */
function identity(op: ReduceOp, t: Type): Expr {
  const [lo, hi] = t.scalar === 'f32' ? [-Infinity, Infinity] : [-(2 ** 31), 2 ** 31 - 1];
  return cst(op === 'add' ? 0 : op === 'max' ? lo : hi, t);
}

/**
 * Outer locals `body` only updates as `acc = acc op e` (op add, max or min; `acc` read nowhere
 * else), by name; undefined when some other outer local varies with the loop.
 */
function reductions(body: readonly Stmt[], vary: ReadonlySet<string>, local: ReadonlySet<string>, iv: string): Map<string, { op: ReduceOp; type: Type }> | undefined {
  const outer = [...vary].filter((n) => n !== iv && !local.has(n));
  const found = new Map<string, { op: ReduceOp; type: Type }>();
  for (const name of outer) {
    const only = new Set([name]);
    const updates = body.filter((s) => s.k === 'set' && s.name === name);
    const u = updates[0];
    if (updates.length !== 1 || u?.k !== 'set' || u.value.k !== 'bin' || u.value.type.lanes !== 1 || (u.value.type.scalar !== 'f32' && u.value.type.scalar !== 'i32')) return undefined;
    const { op, a, b } = u.value;
    if ((op !== 'add' && op !== 'max' && op !== 'min') || a.k !== 'var' || a.name !== name || mentions(b, only)) return undefined;
    if (body.some((s) => s !== u && stmtMentions(s, only))) return undefined;
    found.set(name, { op, type: u.value.type });
  }
  return found;
}

/** Whether `s` (nested statements included) reads or assigns one of `names`. */
function stmtMentions(s: Stmt, names: ReadonlySet<string>): boolean {
  if (s.k === 'set' && names.has(s.name)) return true;
  if (s.k === 'loop') return mentions(s.start, names) || mentions(s.end, names) || s.body.some((x) => stmtMentions(x, names));
  if (s.k === 'if') return mentions(s.cond, names) || [...s.then, ...s.else].some((x) => stmtMentions(x, names));
  let hit = false;
  mapStmtExprs([s], (e) => { if (mentions(e, names)) hit = true; return e; });
  return hit;
}

/**
 * Main vector loop (step L) and what runs around it: a reduction `acc = acc op e` accumulates in
 * an L-lane register (declared before the loop, folded into `acc` after it), and a scalar tail
 * loop takes the remainder. Undefined when `s` must stay scalar.
 */
function vectorize(s: LoopStmt, lanes: number, ctx: Ctx): { pre: Stmt[]; main: LoopStmt; post: Stmt[] } | undefined {
  const start = constOf(s.start);
  const end = constOf(s.end);
  if (start === undefined || end === undefined || s.step !== 1) return undefined;
  const full = Math.floor((end - start) / lanes) * lanes;
  if (full === 0) return undefined;
  const vary = varyingLocals(s.body, s.var);
  const local = declared(s.body);
  const red = reductions(s.body, vary, local, s.var);
  if (!red) return undefined;
  let body: Stmt[];
  try {
    body = new Widen(s.var, lanes, vary, ctx).stmts(s.body);
  } catch (e) {
    if (e instanceof CannotVectorize) return undefined;
    throw e;
  }
  const hint: LoopHint = { ...s.hint, vector: undefined };
  const main: LoopStmt = { ...s, end: i32(start + full), step: lanes, body, hint };
  const pre: Stmt[] = [...red].map(([n, r]) => ({ k: 'decl', name: `${n}_v`, type: ty(r.type.scalar, lanes), init: splat(identity(r.op, r.type), lanes) }));
  const post: Stmt[] = [...red].map(([n, r]) => ({ k: 'set', name: n, value: bin(r.op, v(n, r.type), { k: 'hreduce', type: r.type, op: r.op, a: v(`${n}_v`, ty(r.type.scalar, lanes)) }) }));
  if (start + full < end) post.push({ ...s, start: i32(start + full), hint: { parallel: s.hint.parallel } });
  return { pre, main, post };
}

class Widen {
  constructor(readonly iv: string, readonly lanes: number, readonly vary: ReadonlySet<string>, readonly ctx: Ctx) {}

  private vt(t: Type): Type {
    // a 128-bit register holds two i64 lanes, not four: loops over i64 values stay scalar
    if (t.lanes !== 1 || t.scalar === 'i64') throw new CannotVectorize();
    return ty(t.scalar, this.lanes);
  }

  /** Whether `buf` is read and written as whole vectors: 32-bit storage, bytes (widened to i32 lanes) or f16 (converted to f32 lanes). */
  private wide(buf: string): boolean {
    const elem = this.ctx.storage.get(buf);
    return elem !== undefined && (storageBits(elem) === 32 || storageBits(elem) === 8 || elem === 'f16');
  }

  private varies(e: Expr): boolean {
    return mentions(e, this.vary);
  }

  expr(e: Expr): Expr {
    if (!this.varies(e)) return splat(e, this.lanes);
    switch (e.k) {
      case 'var':
        if (e.name === this.iv) return bin('add', splat(e, this.lanes), { k: 'pack', type: this.vt(e.type), elems: Array.from({ length: this.lanes }, (_, j) => i32(j)) });
        return v(`${e.name}_v`, this.vt(e.type));
      case 'load': {
        const c = coefficient(e.index, this.iv, this.vary);
        if (c === 1 && e.type.lanes === 1 && this.wide(e.buf) && e.type.scalar !== 'i64' && !mentions(e.index, new Set([...this.vary].filter((n) => n !== this.iv)))) {
          return load(e.buf, e.index, this.vt(e.type));
        }
        return { k: 'pack', type: this.vt(e.type), elems: Array.from({ length: this.lanes }, (_, j) => load(e.buf, this.laneIndex(e.index, c, j), e.type)) };
      }
      case 'un': return { ...e, type: this.vt(e.type), a: this.expr(e.a) };
      case 'bin': return bin(e.op, this.expr(e.a), this.expr(e.b));
      case 'select': return { ...e, type: this.vt(e.type), cond: this.expr(e.cond), a: this.expr(e.a), b: this.expr(e.b) };
      case 'cast': return { ...e, type: this.vt(e.type), a: this.expr(e.a) };
      default: throw new CannotVectorize();
    }
  }

  /**
   * The scalar index of lane `j` of a gather or scatter: an affine index is re-evaluated at
   * iv + j (scalar arithmetic the optimizer folds), any other is computed as a vector once and
   * taken apart lane by lane (`c` is the index's coefficient in iv, undefined when not affine).
   */
  private laneIndex(index: Expr, c: number | undefined, j: number, wide?: Expr): Expr {
    const others = new Set([...this.vary].filter((n) => n !== this.iv));
    if (c !== undefined && !mentions(index, others)) return substitute(index, this.iv, add(v(this.iv), i32(j)));
    return { k: 'lane', type: index.type, a: wide ?? this.expr(index), lane: j };
  }

  stmts(body: readonly Stmt[]): Stmt[] {
    const out: Stmt[] = [];
    for (const s of body) {
      switch (s.k) {
        case 'decl':
          out.push(this.vary.has(s.name) ? { k: 'decl', name: `${s.name}_v`, type: this.vt(s.type), init: this.expr(s.init) } : s);
          break;
        case 'let':
          out.push(this.vary.has(s.name) ? { k: 'let', name: `${s.name}_v`, value: this.expr(s.value) } : s);
          break;
        case 'set':
          out.push(this.vary.has(s.name) ? { k: 'set', name: `${s.name}_v`, value: this.expr(s.value) } : s);
          break;
        case 'store': {
          if (!this.varies(s.index)) throw new CannotVectorize();
          const c = coefficient(s.index, this.iv, this.vary);
          const onlyIv = !mentions(s.index, new Set([...this.vary].filter((n) => n !== this.iv)));
          if (c === 1 && onlyIv && this.wide(s.buf) && s.value.type.scalar !== 'i64') {
            out.push({ ...s, value: this.expr(s.value) });
            break;
          }
          const t = this.ctx.temps++;
          const val = this.expr(s.value);
          const affine = c !== undefined && onlyIv;
          out.push({ k: 'let', name: `_sv${t}`, value: val });
          if (!affine) out.push({ k: 'let', name: `_si${t}`, value: this.expr(s.index) });
          for (let j = 0; j < this.lanes; j++) {
            const index = this.laneIndex(s.index, c, j, affine ? undefined : v(`_si${t}`, ty('i32', this.lanes)));
            out.push({ k: 'store', buf: s.buf, index, value: { k: 'lane', type: s.value.type, a: v(`_sv${t}`, val.type), lane: j } });
          }
          break;
        }
        case 'loop':
          if (this.varies(s.start) || this.varies(s.end)) throw new CannotVectorize();
          out.push({ ...s, body: this.stmts(s.body) });
          break;
        case 'if':
          if (this.varies(s.cond)) throw new CannotVectorize();
          out.push({ ...s, then: this.stmts(s.then), else: this.stmts(s.else) });
          break;
        case 'copy':
          // a copy whose place moves with the lane stays a scalar loop
          if (this.varies(s.dstIndex) || this.varies(s.srcIndex)) throw new CannotVectorize();
          out.push(s);
          break;
        case 'barrier':
          out.push(s);
          break;
      }
    }
    return out;
  }
}

// ---- unroll-and-jam ------------------------------------------------------------------------------

/** Unroll `s` by `factor` and fuse the copies' inner loops; a remainder loop runs the rest. */
function unrollJam(s: LoopStmt, factor: number): LoopStmt[] {
  const start = constOf(s.start);
  const end = constOf(s.end);
  const plain: LoopStmt = { ...s, hint: { parallel: s.hint.parallel } };
  if (start === undefined || end === undefined) return [plain];
  const iters = Math.floor((end - start) / s.step);
  const full = Math.floor(iters / factor) * factor;
  if (full === 0 || factor === 1) return [plain];
  const names = declared(s.body);
  const copies = Array.from({ length: factor }, (_, j) => (e: Expr) => rename(substitute(e, s.var, add(v(s.var), i32(j * s.step))), names, j));
  const mainEnd = start + full * s.step;
  const main: LoopStmt = { ...s, end: i32(mainEnd), step: s.step * factor, body: jam(s.body, copies, names), hint: { parallel: s.hint.parallel } };
  if (mainEnd === end) return [main];
  return [main, { ...s, start: i32(mainEnd), hint: { parallel: s.hint.parallel } }];
}

function rename(e: Expr, names: ReadonlySet<string>, j: number): Expr {
  return mapExpr(e, (x) => (x.k === 'var' && names.has(x.name) ? { ...x, name: `${x.name}_${j}` } : x));
}

function jam(body: readonly Stmt[], copies: readonly ((e: Expr) => Expr)[], names: ReadonlySet<string>): Stmt[] {
  const out: Stmt[] = [];
  for (const s of body) {
    if (s.k === 'loop') { out.push({ ...s, body: jam(s.body, copies, names) }); continue; }
    if (s.k === 'barrier') { out.push(s); continue; }
    copies.forEach((f, j) => out.push(...renameTargets(mapStmtExprs([s], f), names, j)));
  }
  return out;
}

/** Rename the locals a statement declares or assigns (the expression side is renamed by `rename`). */
function renameTargets(body: readonly Stmt[], names: ReadonlySet<string>, j: number): Stmt[] {
  const nm = (n: string) => (names.has(n) ? `${n}_${j}` : n);
  return body.map((s): Stmt => {
    switch (s.k) {
      case 'decl': case 'let': case 'set': return { ...s, name: nm(s.name) };
      case 'loop': return { ...s, body: renameTargets(s.body, names, j) };
      case 'if': return { ...s, then: renameTargets(s.then, names, j), else: renameTargets(s.else, names, j) };
      default: return s;
    }
  });
}

// ---- load CSE ------------------------------------------------------------------------------------

/**
 * In store-free straight-line loop bodies (the inner loop of a jammed GEMM), bind loads that
 * occur more than once to one `let`, so the copies of a register tile share their operand loads.
 */
function cseLoads(body: readonly Stmt[], ctx: Ctx): Stmt[] {
  return body.map((s): Stmt => {
    if (s.k === 'if') return { ...s, then: cseLoads(s.then, ctx), else: cseLoads(s.else, ctx) };
    if (s.k !== 'loop') return s;
    const inner = cseLoads(s.body, ctx);
    if (inner.some((x) => x.k !== 'set' && x.k !== 'let' && x.k !== 'decl')) return { ...s, body: inner };
    const local = declared(inner);
    const counts = new Map<string, { e: Expr; n: number }>();
    const key = (e: Expr) => JSON.stringify(e);
    for (const x of inner) {
      mapStmtExprs([x], (e) => mapExpr(e, (y) => {
        if (y.k === 'load' && !mentions(y.index, local)) {
          const c = counts.get(key(y));
          if (c) c.n++; else counts.set(key(y), { e: y, n: 1 });
        }
        return y;
      }));
    }
    const shared = [...counts.entries()].filter(([, c]) => c.n > 1);
    if (shared.length === 0) return { ...s, body: inner };
    const names = new Map(shared.map(([k]) => [k, `_ld${ctx.temps++}`]));
    const lets: Stmt[] = shared.map(([k, c]) => ({ k: 'let', name: names.get(k)!, value: c.e }));
    const replaced = mapStmtExprs(inner, (e) => mapExpr(e, (y) => {
      const n = y.k === 'load' ? names.get(key(y)) : undefined;
      return n ? v(n, y.type) : y;
    }));
    return { ...s, body: [...lets, ...replaced] };
  });
}

