/**
 * @fileoverview The lowering state: what each graph value is while the graph is turned into
 * kernels, and how kernels are emitted.
 *
 * A value is one of four forms:
 * - `const`: known at compile time; scalars become immediates, others a weight buffer.
 * - `view`: a strided window on a buffer (reshape, transpose, slice, split, expand need no kernel).
 * - `lazy`: an element-wise expression of other values, computed where it is read. Chains of
 *   element-wise ops stay lazy until something materializes them, so they fuse into one kernel.
 * - `pending`: the output of an anchor (MatMul, Conv, Softmax, …) whose kernel has not been
 *   emitted yet. When the value that materializes reads it at its own index, the anchor's
 *   kernel is emitted with that lazy expression as its epilogue (bias + activation fusion).
 */
import { assert, fail } from '../../ir/diagnostics.js';
import type { Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { strides as contiguous } from '../../ir/tensor.js';
import { isFloat } from '../../ir/dtype.js';
import { numel, storageDType } from '../../ir/types.js';
import {
  type Expr, type KBuffer, type Kernel, type LoopHint, type Scalar, type Stmt, type Storage,
  cst, let_, linear, loopNest, printExpr, store, ty, un, v,
} from '../kernel-ir.js';
import type { BufferKind, Guard } from '../program.js';

/** A buffer before planning. */
export interface Buf {
  readonly name: string;
  kind: BufferKind;
  readonly elem: Storage;
  readonly size: number;
  /** Weight contents (kind 'weight'). */
  readonly data?: Tensor;
}

/** Emits an anchor's kernel body; `out` stores one output element (and runs the epilogue). */
export type AnchorEmit = (cx: Emit, out: (idx: readonly Expr[], value: Expr) => Stmt[]) => Stmt[];

export type Form =
  | { readonly k: 'const'; readonly tensor: Tensor }
  | { readonly k: 'view'; readonly buf: Buf; readonly offset: number; readonly strides: readonly number[] }
  | { readonly k: 'lazy'; readonly ops: readonly string[]; readonly read: (idx: readonly Expr[], cx: Emit) => Expr }
  | { readonly k: 'pending'; readonly op: string; readonly emit: AnchorEmit; readonly inputs: readonly TVal[] };

/** A tensor value during lowering. */
export class TVal {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shape: readonly number[],
    readonly scalar: Scalar,
    readonly elem: Storage,
    public form: Form,
  ) {}
}

/** Storage and register type of a graph dtype, or undefined when the backend lacks it. */
export function elemOf(dtype: string): { elem: Storage; scalar: Scalar } | undefined {
  switch (dtype) {
    case 'f32': return { elem: 'f32', scalar: 'f32' };
    case 'f16': return { elem: 'f16', scalar: 'f32' };
    case 'i64': return { elem: 'i64', scalar: 'i64' };
    case 'i32': return { elem: 'i32', scalar: 'i32' };
    case 'bool': return { elem: 'bool', scalar: 'bool' };
    case 'i8': case 'u8': case 'i16': case 'u16': case 'i4': case 'u4': return { elem: dtype, scalar: 'i32' };
    default: return undefined;
  }
}

/**
 * The form of a value whose graph type is f16, computed in f32: rounded to f16 where it is
 * defined (a lazy value where it is read, an anchor's result before its epilogue or store), so
 * a fused chain rounds after every op as the reference does op by op. Views and constants
 * already hold f16 values and pass through.
 */
export function roundedF16(f: Form): Form {
  switch (f.k) {
    case 'lazy': return { ...f, read: (idx, cx) => un('roundf16', f.read(idx, cx)) };
    case 'pending': return { ...f, emit: (cx, out) => f.emit(cx, (idx, value) => out(idx, un('roundf16', value))) };
    default: return f;
  }
}

/** Ops whose result is one of their operands' values (or an integer of one): exact when those are f16. */
const SELECTING = new Set([
  'onnx.Relu', 'onnx.Max', 'onnx.Min', 'onnx.Neg', 'onnx.Abs', 'onnx.Clip', 'onnx.Where', 'onnx.Floor', 'onnx.Ceil', 'onnx.Round',
  'onnx.Pad', 'onnx.Gather', 'onnx.Concat', 'onnx.MaxPool', 'onnx.GlobalMaxPool', 'onnx.ReduceMax', 'onnx.ReduceMin',
]);

/**
 * Whether the f16 results of `node` (lowered by a rule of `kind`) need `roundedF16`: not for
 * views, nor for selecting ops whose float operands are all f16 (their result is already a half).
 */
export function roundsToF16(node: Node, kind: string): boolean {
  if (kind === 'view') return false;
  return !(SELECTING.has(node.op) && node.inputs.every((x) => !x || x.type.dtype === 'f16' || !isFloat(storageDType(x.type.dtype))));
}

/** Index into a broadcast operand of shape `src` from an output index. */
export function broadcastIdx(idx: readonly Expr[], src: readonly number[], out: readonly number[]): Expr[] {
  const off = out.length - src.length;
  return src.map((d, i) => (d === 1 && out[i + off] !== 1 ? cst(0) : idx[i + off]!));
}

const sameIdx = (a: readonly Expr[], b: readonly Expr[]) => a.length === b.length && a.every((x, i) => printExpr(x) === printExpr(b[i]!));

/** Per-kernel emission state: buffers used, let-bound lazy values (CSE), the active epilogue. */
export class Emit {
  readonly used = new Map<string, { buf: Buf; access: 'read' | 'write' | 'readwrite' }>();
  private readonly frames: { lets: Stmt[]; memo: Map<string, Expr> }[] = [{ lets: [], memo: new Map() }];
  private names = 0;
  /** While emitting an anchor's epilogue: reading `value` at `idx` gives the anchor's result. */
  epilogue: { value: TVal; idx: readonly Expr[]; expr: Expr } | undefined;

  constructor(private readonly lw: Lowering) {}

  fresh(prefix: string): string {
    return `${prefix}${this.names++}`;
  }

  use(buf: Buf, access: 'read' | 'write'): string {
    const prev = this.used.get(buf.name);
    this.used.set(buf.name, { buf, access: prev && prev.access !== access ? 'readwrite' : access });
    return buf.name;
  }

  /** Build statements in a new scope: lazy values read inside are let-bound at its top. */
  scope(build: () => Stmt[]): Stmt[] {
    const top = this.frames[this.frames.length - 1]!;
    this.frames.push({ lets: [], memo: new Map(top.memo) });
    const body = build();
    const frame = this.frames.pop()!;
    return [...frame.lets, ...body];
  }

  /** The element of `t` at `idx`, as an expression. */
  read(t: TVal, idx: readonly Expr[]): Expr {
    const f = t.form;
    switch (f.k) {
      case 'const':
        if (f.tensor.size === 1) return cst(f.tensor.get(0), ty(t.scalar));
        t.form = this.lw.constView(t, f.tensor);
        return this.read(t, idx);
      case 'view':
        return { k: 'load', type: ty(t.scalar), buf: this.use(f.buf, 'read'), index: linear(idx, f.strides, f.offset) };
      case 'lazy': {
        const key = `${t.id}:${idx.map(printExpr).join(',')}`;
        const frame = this.frames[this.frames.length - 1]!;
        const hit = frame.memo.get(key);
        if (hit) return hit;
        const e = f.read(idx, this);
        if (e.k === 'const' || e.k === 'var') return e;
        const name = this.fresh('e');
        frame.lets.push(let_(name, e));
        const ref = v(name, e.type);
        frame.memo.set(key, ref);
        return ref;
      }
      case 'pending':
        assert(this.epilogue && this.epilogue.value === t && sameIdx(this.epilogue.idx, idx), `pending ${t.name} read outside its epilogue`);
        return this.epilogue.expr;
    }
  }
}

/** A dry run of lazy reads that records which pending values are reached and at which index. */
class Probe extends Emit {
  readonly leaves: { value: TVal; idx: readonly Expr[] }[] = [];
  override read(t: TVal, idx: readonly Expr[]): Expr {
    const f = t.form;
    if (f.k === 'lazy') return f.read(idx, this);
    if (f.k === 'pending') this.leaves.push({ value: t, idx });
    return cst(0, ty(t.scalar));
  }
  override scope(build: () => Stmt[]): Stmt[] {
    return build();
  }
}

/** The dispatch list and buffers being built, and the value forms. */
export class Lowering {
  readonly buffers: Buf[] = [];
  readonly dispatches: { kernel: Kernel; bind: Record<string, string>; when?: readonly Guard[] }[] = [];
  /** Conditions every kernel emitted now runs under (the branches of run-time Ifs being lowered). */
  readonly when: Guard[] = [];
  private ids = 0;
  private bufIds = { weight: 0, activation: 0, input: 0, output: 0 };
  private readonly constBufs = new Map<Tensor, Buf>();
  private readonly wide = new Map<TVal, TVal>();

  tval(name: string, shape: readonly number[], scalar: Scalar, elem: Storage, form: Form): TVal {
    return new TVal(this.ids++, name, shape, scalar, elem, form);
  }

  buffer(kind: BufferKind, elem: Storage, size: number, data?: Tensor): Buf {
    const prefix = { weight: 'w', activation: 't', input: 'in', output: 'out' }[kind];
    const b: Buf = { name: `${prefix}${this.bufIds[kind]++}`, kind, elem, size, ...(data ? { data } : {}) };
    this.buffers.push(b);
    return b;
  }

  /**
   * A weight buffer holding `tensor` (one per tensor), viewed contiguously. f16 weights are f32
   * buffers: weights.bin keeps them as halves, widened when the runtime loads them (plan.ts).
   */
  constView(t: TVal, tensor: Tensor): Form {
    let b = this.constBufs.get(tensor);
    if (!b) {
      b = this.buffer('weight', t.elem === 'f16' ? 'f32' : t.elem, tensor.size, tensor);
      this.constBufs.set(tensor, b);
    }
    return { k: 'view', buf: b, offset: 0, strides: broadcastStrides(tensor.shape, t.shape) };
  }

  /**
   * `t` in an f32 buffer when it is an f16 activation: an anchor that reads an operand many
   * times (a GEMM operand, the Conv input) reads it converted once instead of at every read.
   * f16 constants are f32 in memory already.
   */
  widened(t: TVal): TVal {
    if (t.elem !== 'f16' || t.form.k === 'const') return t;
    let w = this.wide.get(t);
    if (!w) {
      w = this.tval(`${t.name}.f32`, t.shape, 'f32', 'f32', { k: 'lazy', ops: ['Widen'], read: (idx, cx) => cx.read(t, idx) });
      this.materialize(w);
      this.wide.set(t, w);
    }
    return w;
  }

  /** Emit a kernel: `build` gets a fresh emission context and returns the body. */
  kernel(summary: string, build: (cx: Emit) => Stmt[]): void {
    const cx = new Emit(this);
    const body = cx.scope(() => build(cx));
    const params: KBuffer[] = [...cx.used.values()].map(({ buf, access }) => ({ name: buf.name, elem: buf.elem, size: buf.size, access }));
    const name = summary.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 48);
    this.dispatches.push({
      kernel: { name, summary, params, locals: [], body }, bind: Object.fromEntries(params.map((p) => [p.name, p.name])),
      ...(this.when.length ? { when: [...this.when] } : {}),
    });
  }

  /** Pending anchors a read of `t` over its own shape reaches, with the indices they are read at. */
  pendingLeaves(t: TVal): { value: TVal; idx: readonly Expr[] }[] {
    if (t.form.k === 'pending') return [];
    const probe = new Probe(this);
    const idx = t.shape.map((_, i) => v(`i${i}`));
    probe.read(t, idx);
    return probe.leaves;
  }

  /** Make sure `t` is readable inside another kernel: no pending anchors left in it. */
  settle(t: TVal): void {
    if (t.form.k === 'pending') { this.materialize(t); return; }
    for (const leaf of this.pendingLeaves(t)) if (leaf.value.form.k === 'pending') this.materialize(leaf.value);
  }

  /**
   * Give `t` a buffer of its own (kind `kind`, contiguous). A lazy value that reads exactly one
   * pending anchor at its own index becomes that anchor's epilogue; otherwise pending operands
   * are emitted first and `t` gets an element-wise kernel.
   */
  materialize(t: TVal, kind: BufferKind = 'activation'): void {
    const f = t.form;
    if (f.k === 'view' && kind === 'activation') return;
    if (f.k === 'const' && kind === 'activation') return;
    const out = this.buffer(kind, t.elem, numel(t.shape));
    const st = contiguous(t.shape);
    const dst = (cx: Emit, idx: readonly Expr[], value: Expr): Stmt => store(cx.use(out, 'write'), linear(idx, st), value);
    const hint = (d: number): LoopHint => (d === t.shape.length - 1 ? { vector: 4 } : { parallel: true });
    if (f.k === 'pending') {
      for (const i of f.inputs) this.settle(i);
      this.kernel(f.op, (cx) => f.emit(cx, (idx, value) => [dst(cx, idx, value)]));
    } else {
      const leaves = this.pendingLeaves(t);
      const anchors = [...new Set(leaves.map((l) => l.value))];
      const outIdx = t.shape.map((_, i) => v(`i${i}`));
      const fusable = anchors.length === 1 && sameShape(anchors[0]!.shape, t.shape)
        && leaves.every((l) => sameIdx(l.idx, outIdx));
      if (fusable) {
        const p = anchors[0]!;
        const pf = p.form as Extract<Form, { k: 'pending' }>;
        for (const i of pf.inputs) this.settle(i);
        const ops = f.k === 'lazy' ? f.ops : [];
        this.kernel([pf.op, ...ops].join('+'), (cx) => pf.emit(cx, (idx, value) => cx.scope(() => {
          cx.epilogue = { value: p, idx, expr: value };
          const r = [dst(cx, idx, cx.read(t, idx))];
          cx.epilogue = undefined;
          return r;
        })));
      } else {
        for (const a of anchors) this.materialize(a);
        const ops = f.k === 'lazy' && f.ops.length > 0 ? f.ops : ['Copy'];
        this.kernel(ops.join('+'), (cx) => loopNest('i', t.shape, (idx) => cx.scope(() => [dst(cx, idx, cx.read(t, idx))]), hint));
      }
    }
    t.form = { k: 'view', buf: out, offset: 0, strides: st };
  }

  /** Give `t` the graph-output buffer it must end in. */
  output(t: TVal): Buf {
    const f = t.form;
    if (f.k === 'view' && f.buf.kind === 'activation' && f.offset === 0 && f.buf.size === numel(t.shape)
      && f.strides.every((s, i) => s === contiguous(t.shape)[i] || t.shape[i] === 1)) {
      f.buf.kind = 'output';
      return f.buf;
    }
    this.materialize(t, 'output');
    return (t.form as Extract<Form, { k: 'view' }>).buf;
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Strides reading a contiguous tensor of shape `src` broadcast to `out`. */
export function broadcastStrides(src: readonly number[], out: readonly number[]): number[] {
  const s = contiguous(src);
  const off = out.length - src.length;
  return out.map((_, i) => (i < off || src[i - off] === 1 ? 0 : s[i - off]!));
}

/** A user error for a node the backend cannot lower. */
export function cannotLower(node: Node, why: string): never {
  fail('unsupported', `the wasm backend cannot lower ${node.op}: ${why}`, node.describe());
}

