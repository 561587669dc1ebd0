/**
 * @fileoverview Lowering rules: one row per op saying what kind it is and how it lowers.
 * - `elementwise` ops become lazy expressions (ELEMENTWISE table rows);
 * - `view` ops re-stride a buffer when they can and re-index lazily when they cannot;
 * - `anchor` ops (contractions, convolutions, pools, normalizations, concatenation) become
 *   pending kernels whose epilogue the element-wise consumers can join. `viewInputs` are the
 *   operands an anchor reads many times, which must be in a buffer (never recomputed).
 */
import type { Node, Value } from '../../ir/graph.js';
import { windowAttrs, windowDim } from '../../ir/ops/nn.js';
import { sliceAxis, sliceParams } from '../../ir/ops/shape.js';
import { getAttr } from '../../ir/registry.js';
import { normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor, strides as contiguous } from '../../ir/tensor.js';
import { type QuantType, numel } from '../../ir/types.js';
import {
  type Expr, type LoopHint, type Scalar, type Stmt, F32, bin, cast, copy, cst, decl, f32, i32, if_, let_, linear, load, loop, loopNest,
  select, set, store, ty, un, v,
} from '../kernel-ir.js';
import { resizeTables } from '../../interp/kernels/resize.js';
import { type Attention, attentionKernel } from './attention.js';
import { ELEMENTWISE, powByConstant } from './elementwise.js';
import { type AnchorEmit, type Buf, type Emit, type Form, type Lowering, type TVal, broadcastIdx, cannotLower } from './lowering.js';
import {
  type IntGemm, type IntOperands, type WeightLookup, type WeightQuant, combinedScale, dequantizeExpr, intGemm, paramVals, qparams, quantizeExpr,
  scaled, weightReader, zeroCorrection,
} from './quant.js';

/** What a rule sees: its node, lowered operands, output shapes and register types. */
export interface RuleCtx {
  readonly lw: Lowering;
  readonly node: Node;
  readonly ins: readonly (TVal | undefined)[];
  readonly outShapes: readonly (readonly number[])[];
  readonly outScalars: readonly Scalar[];
  /** The compile-time value of operand i, if it has one. */
  constant(i: number): Tensor | undefined;
  /** A compile-time tensor as a lowered value. */
  constVal(t: Tensor, name: string): TVal;
  /** The lowered value of a graph value defined earlier. */
  valueOf(v: Value): TVal;
  /** Weight-store entries (per-channel quantization parameters). */
  readonly weight: WeightLookup;
  /** The integer pattern this MatMul / Gemm / Conv matched (quant.ts), if any. */
  readonly int?: IntOperands;
  /** Operand 1 when it is a dequantized constant weight (read through its codes). */
  readonly wq?: WeightQuant;
  /** Whether operand i is read by this node only (and is no graph output). */
  soleUse(i: number): boolean;
  /** The attention pattern this P·V MatMul ends (attention.ts), if any. */
  readonly attention?: Attention;
  /** This Q·Kᵀ MatMul is computed inside a fused attention kernel. */
  readonly inAttention?: boolean;
}

export interface Rule {
  readonly kind: 'elementwise' | 'view' | 'anchor';
  readonly viewInputs?: readonly number[];
  lower(c: RuleCtx): Form[];
}

type ViewForm = Extract<Form, { k: 'view' }>;

const lazyOps = (t: TVal): readonly string[] => (t.form.k === 'lazy' ? t.form.ops : []);
const opName = (node: Node) => node.op.replace(/^onnx\./, '');
const ints = (t: Tensor | undefined): number[] | undefined => t?.toNumbers();
const axisOf = (c: RuleCtx, axis: number, rank: number): number => normalizeAxis(axis, rank) ?? cannotLower(c.node, `axis ${axis} is out of range`);

/** A view op: re-stride `t` when it is a buffer view, else read it through `mapIdx`. */
function viewOf(t: TVal, strided: (f: ViewForm) => ViewForm | undefined, mapIdx: (idx: readonly Expr[]) => Expr[]): Form {
  if (t.form.k === 'view') {
    const r = strided(t.form);
    if (r) return r;
  }
  return { k: 'lazy', ops: lazyOps(t), read: (idx, cx) => cx.read(t, mapIdx(idx)) };
}

/** Strides of a no-copy reshape of a strided view (NumPy's algorithm), or undefined. */
export function reshapeStrides(oldShape: readonly number[], oldStrides: readonly number[], newShape: readonly number[]): number[] | undefined {
  const od: number[] = [];
  const os: number[] = [];
  oldShape.forEach((d, i) => { if (d !== 1) { od.push(d); os.push(oldStrides[i]!); } });
  const ns = new Array<number>(newShape.length).fill(0);
  let oi = 0;
  let oj = 1;
  let ni = 0;
  let nj = 1;
  while (ni < newShape.length && oi < od.length) {
    let np = newShape[ni]!;
    let op = od[oi]!;
    while (np !== op) {
      if (np < op) np *= newShape[nj++]!;
      else op *= od[oj++]!;
    }
    for (let k = oi; k < oj - 1; k++) if (os[k] !== od[k + 1]! * os[k + 1]!) return undefined;
    ns[nj - 1] = os[oj - 1]!;
    for (let k = nj - 1; k > ni; k--) ns[k - 1] = ns[k]! * newShape[k]!;
    ni = nj++;
    oi = oj++;
  }
  return ns.map((s, i) => (newShape[i] === 1 ? 0 : s));
}

/**
 * A view op applied to the result of an anchor that nothing else reads: the anchor stores its
 * element at `idx` to `fwd(idx)` instead, so its consumers read it at their own index and can
 * still become its epilogue (attention's `P·V` written straight into the heads-merged layout).
 */
function reindexed(c: RuleCtx, t: TVal, fwd: ((idx: readonly Expr[]) => Expr[]) | undefined): Form | undefined {
  const f = t.form;
  if (f.k !== 'pending' || !fwd || !c.soleUse(0)) return undefined;
  return { ...f, emit: (cx, out) => f.emit(cx, (idx, value) => out(fwd(idx), value)) };
}

/** The index map of a reshape that only merges consecutive dims (src index → dst index), or undefined. */
export function mergeIndex(src: readonly number[], dst: readonly number[]): ((idx: readonly Expr[]) => Expr[]) | undefined {
  const groups: number[][] = [];
  let i = 0;
  for (const d of dst) {
    const grp: number[] = [];
    let p = 1;
    while (p < d && i < src.length) { p *= src[i]!; grp.push(i++); }
    if (p !== d) return undefined;
    groups.push(grp);
  }
  for (; i < src.length; i++) if (src[i] !== 1) return undefined;
  return (idx) => groups.map((grp) => grp.reduce<Expr>((acc, k, j) => (j === 0 ? idx[k]! : bin('add', bin('mul', acc, i32(src[k]!)), idx[k]!)), i32(0)));
}

function reshape(t: TVal, out: readonly number[]): Form {
  const inStr = contiguous(t.shape);
  const outStr = contiguous(out);
  return viewOf(t, (f) => {
    const s = reshapeStrides(t.shape, f.strides, out);
    return s && { ...f, strides: s };
  }, (idx) => {
    const l = linear(idx, outStr);
    return t.shape.map((d, i) => (d === 1 ? i32(0) : bin('rem', bin('div', l, i32(inStr[i]!)), i32(d))));
  });
}

const reshapeRule: Rule = {
  kind: 'view',
  lower: (c) => [reindexed(c, c.ins[0]!, mergeIndex(c.ins[0]!.shape, c.outShapes[0]!)) ?? reshape(c.ins[0]!, c.outShapes[0]!)],
};

function slice(t: TVal, params: readonly { axis: number; start: number; step: number }[]): Form {
  return viewOf(t, (f) => {
    const st = [...f.strides];
    let offset = f.offset;
    for (const p of params) { offset += p.start * st[p.axis]!; st[p.axis] = st[p.axis]! * p.step; }
    return { ...f, offset, strides: st };
  }, (idx) => {
    const r = [...idx];
    for (const p of params) r[p.axis] = bin('add', i32(p.start), bin('mul', idx[p.axis]!, i32(p.step)));
    return r;
  });
}

// ---- contractions ---------------------------------------------------------------------------------

/** out[o…, m, n…] = epilogue(Σ_k a(o, m, k) · b(o, k, n)): MatMul, Gemm and Conv all lower to this. */
interface Contraction {
  readonly outer: readonly number[];
  readonly M: number;
  readonly K: number;
  readonly inner: readonly number[];
  a(cx: Emit, o: readonly Expr[], m: Expr, k: Expr): Expr;
  b(cx: Emit, o: readonly Expr[], k: Expr, n: readonly Expr[]): Expr;
  outIdx(o: readonly Expr[], m: Expr, n: readonly Expr[]): Expr[];
  epilogue?(cx: Emit, o: readonly Expr[], m: Expr, n: readonly Expr[], acc: Expr): Expr;
  /**
   * Scratch for a [K, PANEL] f32 panel of B (one inner dim): B is costly to read (a packed weight
   * dequantized element by element), so each panel of PANEL columns is computed once and every
   * m tile reads it, instead of each m tile computing it again.
   */
  readonly panel?: Buf;
  /** The same for A (a packed weight as Conv's A operand): [4, K] f32, the rows of one m tile. */
  readonly panelA?: Buf;
}

/** Columns of B per panel (the register tile's width). */
const PANEL = 8;

/**
 * Loops o…, m, n…, k with the accumulator in a register: the last n loop is vectorized (4 lanes)
 * and jammed by 2, m is jammed by 4 when it is long enough — an (4 × 8) register tile.
 */
function contraction(c: Contraction): AnchorEmit {
  return (cx, out) => {
    const o = c.outer.map((_, i) => v(`o${i}`));
    const m = v('m');
    const k = v('k');
    const acc = v('acc', F32);
    // A's rows of the m tile dequantized once into the A panel, read by every n column
    const aRow = bin('mul', bin('rem', m, i32(4)), i32(c.K));
    const aAt = c.panelA && c.M >= 4
      ? (kk: Expr) => load(cx.use(c.panelA!, 'read'), bin('add', aRow, kk), F32)
      : (kk: Expr) => c.a(cx, o, m, kk);
    const aPack: Stmt[] = c.panelA && c.M >= 4
      ? [loop('k', c.K, cx.scope(() => [store(cx.use(c.panelA!, 'write'), bin('add', aRow, k), c.a(cx, o, m, k))]), { vector: 4 })]
      : [];
    const tile = (n: readonly Expr[], b: (k: Expr) => Expr): Stmt[] => [
      decl('acc', f32(0)),
      loop('k', c.K, [set('acc', bin('add', acc, bin('mul', aAt(k), b(k))))]),
      ...cx.scope(() => out(c.outIdx(o, m, n), c.epilogue ? c.epilogue(cx, o, m, n, acc) : acc)),
    ];
    const mLoop = (body: Stmt[]) => loop('m', c.M, [...aPack, ...body], c.M >= 4 ? { jam: 4, parallel: true } : { parallel: true });
    const nLast = c.inner.length - 1;
    const N = c.inner[nLast]!;
    const panels = c.panel && c.inner.length === 1 && c.M >= 4 ? Math.floor(N / PANEL) : 0;
    // the columns the panels do not cover (all of them without panels) read B directly
    const n = c.inner.map((_, i) => v(`n${i}`));
    let body = tile(n, (kk) => c.b(cx, o, kk, n));
    for (let d = nLast; d >= 0; d--) {
      body = [loop(`n${d}`, c.inner[d]!, body, d === nLast ? { vector: 4, jam: 2 } : {}, d === nLast ? panels * PANEL : 0)];
    }
    body = panels * PANEL === N ? [] : [mLoop(body)];
    if (panels > 0) {
      const p = cx.use(c.panel!, 'write');
      cx.use(c.panel!, 'read');
      const j = v('j');
      const col = [bin('add', bin('mul', v('nb'), i32(PANEL)), j)];
      const at = (kk: Expr) => bin('add', bin('mul', kk, i32(PANEL)), j);
      body = [loop('nb', panels, [
        loop('k', c.K, [loop('j', PANEL, cx.scope(() => [store(p, at(k), c.b(cx, o, k, col))]), { vector: 4 })]),
        mLoop([loop('j', PANEL, tile(col, (kk) => load(p, at(kk), F32)), { vector: 4, jam: 2 })]),
      ]), ...body];
    }
    for (let d = c.outer.length - 1; d >= 0; d--) body = [loop(`o${d}`, c.outer[d]!, body, { parallel: true })];
    return body;
  };
}

/** `t` as a value the contraction can read with unit stride along its last dim. */
function unitStrideLast(c: RuleCtx, t: TVal, reuse: number): TVal {
  const f = t.form;
  if (f.k === 'view' && f.strides[f.strides.length - 1] !== 1 && reuse >= 4) {
    const copy = c.lw.tval(`${t.name}.contig`, t.shape, t.scalar, t.elem, { k: 'lazy', ops: ['Transpose'], read: (idx, cx) => cx.read(t, idx) });
    c.lw.materialize(copy);
    return copy;
  }
  return t;
}

// ---- quantized contractions (quant.ts) --------------------------------------------------------------

/** The codes of a fake-quantized activation as a buffer view with unit stride along the last dim. */
function codesView(c: RuleCtx, v: Value): { t: TVal; f: ViewForm } {
  const t = c.valueOf(v);
  if (t.form.k === 'view' && t.form.strides[t.form.strides.length - 1] === 1) return { t, f: t.form };
  const copy = c.lw.tval(`${t.name}.contig`, t.shape, t.scalar, t.elem, { k: 'lazy', ops: lazyOps(t), read: (idx, cx) => cx.read(t, idx) });
  c.lw.materialize(copy);
  return { t: copy, f: copy.form as ViewForm };
}

/** An 8-bit weight laid out [channels, K] as a weight buffer. */
const weightBuf = (c: RuleCtx, codes: Tensor, qt: QuantType) => c.lw.buffer('weight', qt.storage === 'u8' ? 'u8' : 'i8', codes.size, codes);

const zeroPoints = (iq: IntOperands): number[] => Array.from(iq.w.params.zero.data as ArrayLike<number>, Number);

/** The i32 zero point of output channel `ch`: an immediate when every channel shares it. */
function weightZero(c: RuleCtx, iq: IntOperands, channels: number): (cx: Emit, ch: Expr) => Expr {
  const values = zeroPoints(iq);
  if (values.every((x) => x === values[0])) return () => i32(values[0]!);
  const t = c.constVal(Tensor.from('i32', [channels], values), `${c.node.outputs[0]!.name}.zw`);
  return (cx, ch) => cx.read(t, [ch]);
}

/** The integer GEMM's constant buffers for weight codes laid out [channels, K]: the weight, its zero-point correction, the tile stage. */
function intBuffers(c: RuleCtx, iq: IntOperands, codes: Tensor): Pick<IntGemm, 'w' | 'corr' | 'stage'> {
  const corr = zeroCorrection(codes, zeroPoints(iq), iq.act.zero);
  return {
    w: weightBuf(c, codes, iq.w.params.qt),
    ...(corr ? { corr: c.lw.buffer('weight', 'i32', corr.size, corr) } : {}),
    stage: c.lw.buffer('activation', 'i32', 8),
  };
}

/** sx·sw as an immediate or a per-channel constant. */
function scaleVal(c: RuleCtx, iq: IntOperands, channels: number): TVal | number {
  const s = combinedScale(iq.act, iq.w, channels);
  return typeof s === 'number' ? s : c.constVal(s, `${c.node.outputs[0]!.name}.qscale`);
}

/** MatMul / Gemm on 8-bit codes: A's codes [o…, M, K] times the constant weight's codes. */
function intMatmul(c: RuleCtx, iq: IntOperands, opts: { transB: boolean; bias?: (cx: Emit, m: Expr, n: Expr, y: Expr) => Expr }): Form {
  const a0 = c.ins[0]!;
  const out = c.outShapes[0]!;
  const outer = out.slice(0, -2);
  const [M, K] = a0.shape.slice(-2) as [number, number];
  const N = out[out.length - 1]!;
  const { t: at, f: af } = codesView(c, iq.act.codes);
  const scale = scaleVal(c, iq, N);
  const emit = intGemm({
    outer, M, N, K, a: af.buf, ...intBuffers(c, iq, opts.transB ? iq.w.codes : transposed2d(iq.w.codes)),
    aRow: (o, m) => linear([...broadcastIdx(o, a0.shape.slice(0, -2), outer), m, i32(0)], af.strides, af.offset),
    channel: (_o, n) => n,
    zw: weightZero(c, iq, N),
    outIdx: (o, m, n) => [...o, m, n],
    epilogue: (cx, _o, m, n, acc) => {
      const y = scaled(cx, acc, scale, n);
      return opts.bias ? opts.bias(cx, m, n, y) : y;
    },
  });
  return { k: 'pending', op: `${opName(c.node)}.int8`, emit, inputs: [at, ...(c.ins.slice(2).filter((x): x is TVal => !!x))] };
}

const matmul: Rule = {
  kind: 'anchor',
  viewInputs: [0, 1],
  lower(c) {
    const [a0, b0] = c.ins as [TVal, TVal];
    if (a0.shape.length < 2 || b0.shape.length < 2) cannotLower(c.node, '1-D MatMul operands have no wasm lowering (unsqueeze them to 2-D)');
    if (c.int) return [intMatmul(c, c.int, { transB: false })];
    if (c.attention) {
      const fused = attention(c, c.attention);
      if (fused) return [fused];
    }
    const out = c.outShapes[0]!;
    const outer = out.slice(0, -2);
    const [M, K] = a0.shape.slice(-2) as [number, number];
    const N = b0.shape[b0.shape.length - 1]!;
    const wq = c.wq && c.wq.codes.rank === 2 ? weightReader(c.wq, c.constVal, b0.name) : undefined;
    // inside a fused attention the scores are never computed by this kernel: no Kᵀ copy for it
    const b = wq || c.inAttention ? b0 : unitStrideLast(c, b0, M);
    const emit = contraction({
      outer, M, K, inner: [N], ...(wq && M >= 4 && N >= PANEL ? { panel: c.lw.buffer('activation', 'f32', K * PANEL) } : {}),
      a: (cx, o, m, k) => cx.read(a0, [...broadcastIdx(o, a0.shape.slice(0, -2), outer), m, k]),
      b: wq ? (cx, _o, k, n) => wq(cx, [k, n[0]!]) : (cx, o, k, n) => cx.read(b, [...broadcastIdx(o, b.shape.slice(0, -2), outer), k, n[0]!]),
      outIdx: (o, m, n) => [...o, m, n[0]!],
    });
    return [{ k: 'pending', op: wq ? 'MatMul.dqw' : 'MatMul', emit, inputs: wq ? [a0] : [a0, b] }];
  },
};

/**
 * P·V of an attention pattern as one kernel (attention.ts), or undefined when the chains read
 * anything pending besides the scores and probabilities; its operand is then materialized and
 * the MatMul lowers as usual.
 */
function attention(c: RuleCtx, att: Attention): Form | undefined {
  const [a, vv] = c.ins as [TVal, TVal];
  const q = c.valueOf(att.qk.inputs[0]!);
  const kt = c.valueOf(att.qk.inputs[1]!);
  const scores = c.valueOf(att.qk.outputs[0]!);
  const x = c.valueOf(att.softmax.inputs[0]!);
  const probs = c.valueOf(att.softmax.outputs[0]!);
  const only = (t: TVal, p: TVal) => c.lw.pendingLeaves(t).every((l) => l.value === p);
  const ok = scores.form.k === 'pending' && probs.form.k === 'pending' && only(x, scores) && only(a, probs)
    && q.shape.length >= 2 && kt.shape.length >= 2 && vv.shape.length >= 2;
  if (!ok) {
    c.lw.materialize(a);
    return undefined;
  }
  return attentionKernel({
    q, kt, v: vv, scores, x, probs, a, out: c.outShapes[0]!, lw: c.lw,
  });
}

function transposed2d(t: Tensor): Tensor {
  const [r, cl] = t.shape as [number, number];
  const out = Tensor.zeros(t.dtype, [cl, r]);
  for (let i = 0; i < r; i++) for (let j = 0; j < cl; j++) out.data[j * r + i] = t.data[i * cl + j]!;
  return out;
}

const gemm: Rule = {
  kind: 'anchor',
  viewInputs: [0, 1],
  lower(c) {
    const [a, b0, cc] = c.ins;
    const transA = getAttr<number>(c.node, 'transA') === 1;
    const transB = getAttr<number>(c.node, 'transB') === 1;
    const alpha = getAttr<number>(c.node, 'alpha');
    const beta = getAttr<number>(c.node, 'beta');
    const [M, N] = c.outShapes[0] as [number, number];
    const K = transA ? a!.shape[0]! : a!.shape[1]!;
    const addC = (cx: Emit, m: Expr, n: Expr, r: Expr): Expr => {
      if (!cc || beta === 0) return r;
      const cv = cx.read(cc, broadcastIdx([m, n], cc.shape, [M, N]));
      return bin('add', r, beta === 1 ? cv : bin('mul', cv, f32(beta)));
    };
    if (c.int) return [intMatmul(c, c.int, { transB, bias: addC })];
    const wq = c.wq ? weightReader(c.wq, c.constVal, b0!.name) : undefined;
    const bConst = wq ? undefined : c.constant(1);
    // constant B is stored [K, N] so the N loop reads it with unit stride
    const b = bConst && transB ? c.constVal(transposed2d(bConst), `${b0!.name}.T`) : b0!;
    const bT = transB && !bConst;
    const bAt = (k: Expr, n: Expr) => (bT ? [n, k] : [k, n]);
    const emit = contraction({
      outer: [], M, K, inner: [N], ...(wq && M >= 4 && N >= PANEL ? { panel: c.lw.buffer('activation', 'f32', K * PANEL) } : {}),
      a: (cx, _o, m, k) => cx.read(a!, transA ? [k, m] : [m, k]),
      b: wq ? (cx, _o, k, n) => wq(cx, bAt(k, n[0]!)) : (cx, _o, k, n) => cx.read(b, bAt(k, n[0]!)),
      outIdx: (_o, m, n) => [m, n[0]!],
      epilogue: (cx, _o, m, n, acc) => addC(cx, m, n[0]!, alpha === 1 ? acc : bin('mul', acc, f32(alpha))),
    });
    return [{ k: 'pending', op: wq ? 'Gemm.dqw' : 'Gemm', emit, inputs: [a!, ...(wq ? [] : [b]), ...(cc ? [cc] : [])] }];
  },
};

const conv: Rule = {
  kind: 'anchor',
  viewInputs: [0],
  lower(c) {
    const [x, w0, bias] = c.ins as [TVal, TVal, TVal | undefined];
    const wt = c.constant(1);
    if (!wt) cannotLower(c.node, 'the weight must be a constant');
    const sp = x.shape.length - 2;
    if (sp < 1 || sp > 2) cannotLower(c.node, `${sp} spatial dims (1 or 2 are supported)`);
    const wa = windowAttrs(c.node, sp, wt.shape.slice(2));
    const G = getAttr<number>(c.node, 'group');
    const [N, C] = x.shape as [number, number];
    const OC = wt.shape[0]!;
    const Cg = C / G;
    const OCg = OC / G;
    // 1-D convolutions run as 2-D ones with a height of 1
    const pad2 = (a: readonly number[], fill: number) => (sp === 1 ? [fill, ...a] : [...a]);
    const H = sp === 1 ? 1 : x.shape[2]!;
    const W = x.shape[x.shape.length - 1]!;
    const dims = x.shape.slice(2).map((d, i) => windowDim(wa, i, d));
    const [KH, KW] = pad2(wa.kernel, 1) as [number, number];
    const [SH, SW] = pad2(wa.strides, 1) as [number, number];
    const [DH, DW] = pad2(wa.dilations, 1) as [number, number];
    const [PH, PW] = pad2(dims.map((d) => d.begin), 0) as [number, number];
    const [OH, OW] = pad2(dims.map((d) => d.out), 1) as [number, number];
    const Kc = Cg * KH * KW;
    const xIdx = (n: Expr, ch: Expr, ih: Expr, iw: Expr): Expr[] => (sp === 1 ? [n, ch, iw] : [n, ch, ih, iw]);
    const outIdx = (n: Expr, oc: Expr, oh: Expr, ow: Expr): Expr[] => (sp === 1 ? [n, oc, ow] : [n, oc, oh, ow]);
    /**
     * Depthwise (one input and one output channel per group): a direct weighted window sum, no
     * im2col (which copied the input KH·KW times for a K of KH·KW). Output positions whose window
     * is inside the input run without bounds tests, vectorized along the width.
     */
    const depthwise = (): Form => {
      const wqr = c.wq ? weightReader(c.wq, c.constVal, w0.name) : undefined;
      const wc = wqr ? undefined : c.constVal(wt, `${w0.name}.dw`);
      const wAt = (cx: Emit, ch: Expr, kh: Expr, kw: Expr): Expr => {
        const idx = sp === 1 ? [ch, i32(0), kw] : [ch, i32(0), kh, kw];
        return wqr ? wqr(cx, idx) : cx.read(wc!, idx);
      };
      const cols = interior(W, KW, SW, DW, PW, OW);
      const rows = interior(H, KH, SH, DH, PH, OH);
      const emit: AnchorEmit = (cx, out) => loopNest('d', [N, C], ([n, ch]) => {
        const oh = v('oh');
        const at = (ow: Expr, checked: boolean): Stmt[] => {
          const [kh, kw] = [v('kh'), v('kw')];
          const ih = bin('add', bin('sub', bin('mul', oh, i32(SH)), i32(PH)), bin('mul', kh, i32(DH)));
          const iw = bin('add', bin('sub', bin('mul', ow, i32(SW)), i32(PW)), bin('mul', kw, i32(DW)));
          const inside = bin('and', bin('and', bin('ge', ih, i32(0)), bin('lt', ih, i32(H))), bin('and', bin('ge', iw, i32(0)), bin('lt', iw, i32(W))));
          // the input is read only inside the test: outside the image its index is not in the buffer
          const term = () => cx.scope(() => [set('acc', bin('add', v('acc', F32), bin('mul', wAt(cx, ch!, kh, kw), cx.read(x, xIdx(n!, ch!, ih, iw)))))]);
          const acc = v('acc', F32);
          return [
            decl('acc', f32(0)),
            loop('kh', KH, [loop('kw', KW, checked ? [if_(inside, term())] : term())]),
            ...cx.scope(() => out(outIdx(n!, ch!, oh, ow), bias ? bin('add', acc, cx.read(bias, [ch!])) : acc)),
          ];
        };
        return [loop('oh', OH, windowRow('ow', OW, cols, { row: oh, ...rows }, at), { parallel: true })];
      }, () => ({ parallel: true }));
      return { k: 'pending', op: wqr ? 'DepthwiseConv.dqw' : 'DepthwiseConv', emit, inputs: [x, ...(bias ? [bias] : [])] };
    };
    if (c.int) {
      // im2row: the codes of each output pixel's window, K contiguous, padding = the zero point
      const iq = c.int;
      const codes = c.valueOf(iq.act.codes);
      const P = OH * OW;
      const rows = c.lw.buffer('activation', codes.elem, N * G * P * Kc);
      const rowsShape = [N, G, P, Kc];
      c.lw.settle(codes);
      // interior pixels (every window column inside the image) copy each window row as a run
      // with no bounds checks; the border columns take the general path (clamp + select)
      const { lo: owLo, hi: owHi } = interior(W, KW, SW, DW, PW, OW);
      const [n, g, oh, ow, ch, kh, kw] = ['n', 'g', 'oh', 'ow', 'ch', 'kh', 'kw'].map((x) => v(x)) as [Expr, Expr, Expr, Expr, Expr, Expr, Expr];
      const cin = bin('add', bin('mul', g, i32(Cg)), ch);
      const rowAt = (kwE: Expr): Expr => linear([n, g, bin('add', bin('mul', oh, i32(OW)), ow), bin('add', bin('mul', bin('add', bin('mul', ch, i32(KH)), kh), i32(KW)), kwE)], contiguous(rowsShape));
      const ihk = bin('add', bin('sub', bin('mul', oh, i32(SH)), i32(PH)), bin('mul', kh, i32(DH)));
      const iwOf = (kwE: Expr) => bin('add', bin('sub', bin('mul', ow, i32(SW)), i32(PW)), bin('mul', kwE, i32(DW)));
      c.lw.kernel('Im2Row.int8', (cx) => {
        const out = cx.use(rows, 'write');
        const zero = i32(iq.act.zero);
        const border = (lo: number, hi: number): Stmt[] => (lo >= hi ? [] : [loop('ow', hi, [loop('ch', Cg, [loop('kh', KH, [loop('kw', KW, cx.scope(() => {
          const iwk = iwOf(kw);
          const inside = bin('and', bin('and', bin('ge', ihk, i32(0)), bin('lt', ihk, i32(H))), bin('and', bin('ge', iwk, i32(0)), bin('lt', iwk, i32(W))));
          const clamp = (e: Expr, top: number) => bin('max', bin('min', e, i32(top - 1)), i32(0));
          const q = cx.read(codes, xIdx(n, cin, clamp(ihk, H), clamp(iwk, W)));
          return [store(out, rowAt(kw), select(inside, q, zero))];
        }))])])], {}, lo)]);
        // a window row of consecutive bytes is one short copy (wide loads and stores)
        const f = codes.form;
        const runCopy = f.k === 'view' && f.strides[f.strides.length - 1] === 1 && DW === 1 && KW >= 2
          ? [copy(out, rowAt(i32(0)), cx.use(f.buf, 'read'), linear(xIdx(n, cin, v('ih'), iwOf(i32(0))), f.strides, f.offset), KW)]
          : undefined;
        const run = (fill: boolean): Stmt[] => (!fill && runCopy) || Array.from({ length: KW }, (_, j) => cx.scope(() =>
          [store(out, rowAt(i32(j)), fill ? zero : cx.read(codes, xIdx(n, cin, v('ih'), iwOf(i32(j)))))])).flat();
        const interior: Stmt[] = owLo >= owHi ? [] : [loop('ow', owHi, [loop('ch', Cg, [loop('kh', KH, [
          let_('ih', ihk),
          if_(bin('and', bin('ge', v('ih'), i32(0)), bin('lt', v('ih'), i32(H))), run(false), run(true)),
        ])])], {}, owLo)];
        return [loop('n', N, [loop('g', G, [loop('oh', OH, [...border(0, owLo), ...interior, ...border(owHi, OW)], { parallel: true })], { parallel: true })], { parallel: true })];
      });
      const scale = scaleVal(c, iq, OC);
      const channel = (o: readonly Expr[], n: Expr) => bin('add', bin('mul', o[1]!, i32(OCg)), n);
      const emit = intGemm({
        outer: [N, G], M: P, N: OCg, K: Kc, a: rows, ...intBuffers(c, iq, iq.w.codes.reshape([OC, Kc])),
        aRow: (o, m) => linear([o[0]!, o[1]!, m, i32(0)], contiguous(rowsShape)),
        channel, zw: weightZero(c, iq, OC),
        outIdx: (o, m, n) => outIdx(o[0]!, channel(o, n), bin('div', m, i32(OW)), bin('rem', m, i32(OW))),
        epilogue: (cx, o, _m, n, acc) => {
          const y = scaled(cx, acc, scale, channel(o, n));
          return bias ? bin('add', y, cx.read(bias, [channel(o, n)])) : y;
        },
      });
      return [{ k: 'pending', op: 'Conv.int8', emit, inputs: bias ? [bias] : [] }];
    }
    if (Cg === 1 && OCg === 1) return [depthwise()];
    const wq = c.wq ? weightReader(c.wq, c.constVal, w0.name) : undefined;
    const w = c.constVal(wt.reshape([OC, Kc]), `${w0.name}.2d`);
    // the original weight index [oc, ch, (kh,) kw] of row oc, column k of the [OC, Kc] view
    const wIdx = (oc: Expr, k: Expr): Expr[] => {
      const ch = bin('div', k, i32(KH * KW));
      const kw = bin('rem', k, i32(KW));
      return sp === 1 ? [oc, ch, kw] : [oc, ch, bin('rem', bin('div', k, i32(KW)), i32(KH)), kw];
    };
    const direct = KH === 1 && KW === 1 && SH === 1 && SW === 1 && PH === 0 && PW === 0
      && dims.every((d) => d.end === 0);
    let bRead: (cx: Emit, o: readonly Expr[], k: Expr, n: readonly Expr[]) => Expr;
    let colVal: TVal | undefined;
    if (direct) {
      bRead = (cx, o, k, n) => cx.read(x, xIdx(o[0]!, bin('add', bin('mul', o[1]!, i32(Cg)), k), n[0]!, n[1]!));
    } else {
      const col = c.lw.buffer('activation', 'f32', N * G * Kc * OH * OW);
      const colShape = [N, G, Kc, OH, OW];
      c.lw.kernel('Im2Col', (cx) => loopNest('c', [N, G, Cg, KH, KW, OH, OW], ([n, g, ch, kh, kw, oh, ow]) => cx.scope(() => {
        const ih = bin('add', bin('mul', oh!, i32(SH)), i32(-PH));
        const iw = bin('add', bin('mul', ow!, i32(SW)), i32(-PW));
        const ihk = bin('add', ih, bin('mul', kh!, i32(DH)));
        const iwk = bin('add', iw, bin('mul', kw!, i32(DW)));
        const inside = bin('and', bin('and', bin('ge', ihk, i32(0)), bin('lt', ihk, i32(H))), bin('and', bin('ge', iwk, i32(0)), bin('lt', iwk, i32(W))));
        const clamp = (e: Expr, hi: number) => bin('max', bin('min', e, i32(hi - 1)), i32(0));
        const val = cx.read(x, xIdx(n!, bin('add', bin('mul', g!, i32(Cg)), ch!), clamp(ihk, H), clamp(iwk, W)));
        const kIdx = bin('add', bin('mul', bin('add', bin('mul', ch!, i32(KH)), kh!), i32(KW)), kw!);
        return [store(cx.use(col, 'write'), linear([n!, g!, kIdx, oh!, ow!], contiguous(colShape)), select(inside, val, f32(0)))];
      }), (d) => (d === 6 ? { vector: 4 } : { parallel: d < 2 })));
      colVal = c.lw.tval(`${x.name}.col`, colShape, 'f32', 'f32', { k: 'view', buf: col, offset: 0, strides: contiguous(colShape) });
      const cv = colVal;
      bRead = (cx, o, k, n) => cx.read(cv, [o[0]!, o[1]!, k, n[0]!, n[1]!]);
    }
    // an output row that is not a whole number of vectors (narrow or odd widths) runs as one
    // flattened OH·OW loop, split back into (oh, ow) where it indexes (linear() folds the pair)
    const flat = OH > 1 && OW % 4 !== 0;
    const spatial = (n: readonly Expr[]): Expr[] => (flat ? [bin('div', n[0]!, i32(OW)), bin('rem', n[0]!, i32(OW))] : [...n]);
    const emit = contraction({
      outer: [N, G], M: OCg, K: Kc, inner: flat ? [OH * OW] : [OH, OW],
      ...(wq && OCg >= 4 && OH * OW >= PANEL ? { panelA: c.lw.buffer('activation', 'f32', 4 * Kc) } : {}),
      a: (cx, o, m, k) => {
        const oc = bin('add', bin('mul', o[1]!, i32(OCg)), m);
        return wq ? wq(cx, wIdx(oc, k)) : cx.read(w, [oc, k]);
      },
      b: (cx, o, k, n) => bRead(cx, o, k, spatial(n)),
      outIdx: (o, m, n) => { const [oh, ow] = spatial(n) as [Expr, Expr]; return outIdx(o[0]!, bin('add', bin('mul', o[1]!, i32(OCg)), m), oh, ow); },
      epilogue: bias ? (cx, o, m, _n, acc) => bin('add', acc, cx.read(bias, [bin('add', bin('mul', o[1]!, i32(OCg)), m)])) : undefined,
    });
    return [{ k: 'pending', op: wq ? 'Conv.dqw' : 'Conv', emit, inputs: [colVal ?? x, ...(wq ? [] : [w]), ...(bias ? [bias] : [])] }];
  },
};

// ---- windows and reductions -------------------------------------------------------------------------

/**
 * The output indices [lo, hi) along one dim whose whole window (k taps, stride st, dilation dl,
 * `pad` before) lies inside an input of `size`: there a window kernel needs no bounds tests.
 */
function interior(size: number, k: number, st: number, dl: number, pad: number, outN: number): { lo: number; hi: number } {
  const lo = Math.min(outN, Math.ceil(pad / st));
  return { lo, hi: Math.max(lo, Math.min(outN, Math.floor((size - 1 - (k - 1) * dl + pad) / st) + 1)) };
}

/**
 * One output row of a window kernel over `width` positions (loop variable `name`): the interior
 * columns unchecked and vectorized, the border columns with bounds tests. With `rows`, a row
 * index outside the interior rows takes the checked body for the whole row.
 */
function windowRow(
  name: string, width: number, cols: { lo: number; hi: number }, rows: { row: Expr; lo: number; hi: number } | undefined,
  at: (col: Expr, checked: boolean) => Stmt[],
): Stmt[] {
  const run = (checked: boolean, from: number, to: number, hint: LoopHint): Stmt[] => (from >= to ? [] : [loop(name, to, at(v(name), checked), hint, from)]);
  const inside = [...run(true, 0, cols.lo, {}), ...run(false, cols.lo, cols.hi, { vector: 4 }), ...run(true, cols.hi, width, {})];
  if (!rows) return inside;
  return [if_(bin('and', bin('ge', rows.row, i32(rows.lo)), bin('lt', rows.row, i32(rows.hi))), inside, run(true, 0, width, {}))];
}

function pool(kind: 'max' | 'avg'): Rule {
  return {
    kind: 'anchor',
    lower(c) {
      if (c.node.outputs.length > 1) cannotLower(c.node, 'the Indices output is not supported');
      const x = c.ins[0]!;
      const sp = x.shape.length - 2;
      if (sp < 1 || sp > 2) cannotLower(c.node, `${sp} spatial dims (1 or 2 are supported)`);
      const wa = windowAttrs(c.node, sp);
      const dims = x.shape.slice(2).map((d, i) => windowDim(wa, i, d));
      const out = c.outShapes[0]!;
      const includePad = kind === 'avg' && getAttr<number>(c.node, 'count_include_pad') === 1;
      // output positions whose whole window is inside the input (per spatial dim: [lo, hi)) run
      // without bounds tests, vectorized along the last dim; the border keeps the tests
      const inner = dims.map((d, i) => interior(x.shape[2 + i]!, wa.kernel[i]!, wa.strides[i]!, wa.dilations[i]!, d.begin, out[2 + i]!));
      const windowAt = (cx: Emit, idx: readonly Expr[], store: (idx: readonly Expr[], value: Expr) => Stmt[], checked: boolean): Stmt[] => {
        const ks = wa.kernel.map((_, i) => v(`kk${i}`));
        const pos = ks.map((kk, i) => bin('add', bin('sub', bin('mul', idx[2 + i]!, i32(wa.strides[i]!)), i32(dims[i]!.begin)), bin('mul', kk, i32(wa.dilations[i]!))));
        const inside = pos.map((p, i) => bin('and', bin('ge', p, i32(0)), bin('lt', p, i32(x.shape[2 + i]!)))).reduce((a, b) => bin('and', a, b));
        const acc = v('acc', F32);
        const counted = kind === 'avg' && checked && !includePad;
        const add = cx.scope(() => {
          const xv = cx.read(x, [idx[0]!, idx[1]!, ...pos]);
          return kind === 'max' ? [set('acc', bin('max', acc, xv))] : [set('acc', bin('add', acc, xv)), ...(counted ? [set('cnt', bin('add', v('cnt', F32), f32(1)))] : [])];
        });
        let body: Stmt[] = checked ? [if_(inside, add)] : add;
        for (let i = ks.length - 1; i >= 0; i--) body = [loop(`kk${i}`, wa.kernel[i]!, body)];
        const result = kind === 'max' ? acc : bin('div', acc, counted ? v('cnt', F32) : f32(numel(wa.kernel)));
        return [decl('acc', f32(kind === 'max' ? -Infinity : 0)), ...(counted ? [decl('cnt', f32(0))] : []), ...body, ...cx.scope(() => store(idx, result))];
      };
      const last = out.length - 1;
      const emit: AnchorEmit = (cx, store) => loopNest('i', out.slice(0, last), (idx) => {
        const at = (ow: Expr, checked: boolean) => cx.scope(() => windowAt(cx, [...idx, ow], store, checked));
        return windowRow(`i${last}`, out[last]!, inner[last - 2]!, sp === 2 ? { row: idx[2]!, ...inner[0]! } : undefined, at);
      }, () => ({ parallel: true }));
      return [{ k: 'pending', op: opName(c.node), emit, inputs: [x] }];
    },
  };
}

/** Reduce `x` over `axes` (keepdims output shape `out`) with `op`, then finish with `done`. */
function reduction(x: TVal, axes: readonly number[], out: readonly number[], keep: boolean, op: 'add' | 'max' | 'min', done: (acc: Expr) => Expr): AnchorEmit {
  const init = op === 'add' ? 0 : op === 'max' ? -Infinity : Infinity;
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return (cx, store) => loopNest('i', kept, (idx) => {
    const r = axes.map((a) => v(`r${a}`));
    const xIdx = idx.map((e, i) => (axes.includes(i) ? r[axes.indexOf(i)]! : e));
    let inner: Stmt[] = cx.scope(() => [set('acc', bin(op, v('acc', F32), cx.read(x, xIdx)))]);
    // the innermost reduced axis vectorizes when it is x's last (unit-stride) axis
    const last = axes[axes.length - 1] === x.shape.length - 1;
    for (let j = axes.length - 1; j >= 0; j--) inner = [loop(`r${axes[j]}`, x.shape[axes[j]!]!, inner, last && j === axes.length - 1 ? { vector: 4 } : {})];
    const outIdx = keep ? idx : idx.filter((_, i) => !axes.includes(i));
    return [decl('acc', f32(init)), ...inner, ...cx.scope(() => store(outIdx.length === out.length ? outIdx : idx, done(v('acc', F32))))];
  }, () => ({ parallel: true }));
}

function globalPool(op: 'add' | 'max'): Rule {
  return {
    kind: 'anchor',
    lower(c) {
      const x = c.ins[0]!;
      const axes = x.shape.map((_, i) => i).slice(2);
      const count = numel(x.shape.slice(2));
      const emit = reduction(x, axes, c.outShapes[0]!, true, op, (acc) => (op === 'add' ? bin('div', acc, f32(count)) : acc));
      return [{ k: 'pending', op: opName(c.node), emit, inputs: [x] }];
    },
  };
}

function reduce(op: 'add' | 'max' | 'min', mean: boolean): Rule {
  return {
    kind: 'anchor',
    lower(c) {
      const x = c.ins[0]!;
      if (x.scalar !== 'f32') cannotLower(c.node, `${x.scalar} reductions are not supported`);
      const given = c.ins[1] ? ints(c.constant(1)) : undefined;
      if (c.ins[1] && !given) cannotLower(c.node, 'axes must be a constant');
      const noop = getAttr<number>(c.node, 'noop_with_empty_axes') === 1;
      const axes = (given && given.length ? given : noop ? [] : x.shape.map((_, i) => i)).map((a) => axisOf(c, a, x.shape.length)).sort((a, b) => a - b);
      const keep = getAttr<number>(c.node, 'keepdims') === 1;
      const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
      const emit = reduction(x, axes, c.outShapes[0]!, keep, op, (acc) => (mean ? bin('div', acc, f32(count)) : acc));
      return [{ k: 'pending', op: opName(c.node), emit, inputs: [x] }];
    },
  };
}

/** Loops over every dim but `axis` (the row), then `row` statements over the axis variable `j`. */
function rows(shape: readonly number[], axis: number, row: (idxAt: (j: Expr) => Expr[]) => Stmt[]): Stmt[] {
  const others = shape.map((d, i) => (i === axis ? 1 : d));
  return loopNest('i', others, (idx) => row((j) => idx.map((e, i) => (i === axis ? j : e))), () => ({ parallel: true }));
}

const softmax: Rule = {
  kind: 'anchor',
  lower(c) {
    const x = c.ins[0]!;
    const axis = axisOf(c, getAttr<number>(c.node, 'axis'), x.shape.length);
    const L = x.shape[axis]!;
    const j = v('j');
    // exp(x − max) of the row is kept in a scratch row between the Σ pass and the normalize
    // pass (the output may be an epilogue's codes, so it cannot hold it), so exp runs once
    const emit: AnchorEmit = (cx, out) => {
      const ex = c.lw.buffer('activation', 'f32', L);
      cx.use(ex, 'read');
      const e = cx.use(ex, 'write');
      return rows(x.shape, axis, (at) => [
        decl('mx', f32(-Infinity)),
        loop('j', L, cx.scope(() => [set('mx', bin('max', v('mx', F32), cx.read(x, at(j))))]), { vector: 4 }),
        decl('sum', f32(0)),
        loop('j', L, cx.scope(() => [
          let_('ej', un('exp', bin('sub', cx.read(x, at(j)), v('mx', F32)))),
          store(e, j, v('ej', F32)),
          set('sum', bin('add', v('sum', F32), v('ej', F32))),
        ]), { vector: 4 }),
        let_('rs', bin('div', f32(1), v('sum', F32))),
        loop('j', L, cx.scope(() => out(at(j), bin('mul', load(e, j, F32), v('rs', F32)))), { vector: 4 }),
      ]);
    };
    return [{ k: 'pending', op: 'Softmax', emit, inputs: [x] }];
  },
};

const layerNorm: Rule = {
  kind: 'anchor',
  lower(c) {
    if (c.node.outputs.length > 1) cannotLower(c.node, 'the Mean / InvStdDev outputs are not supported');
    const [x, scale, bias] = c.ins as [TVal, TVal, TVal | undefined];
    const axis = axisOf(c, getAttr<number>(c.node, 'axis'), x.shape.length);
    const eps = getAttr<number>(c.node, 'epsilon');
    const outer = x.shape.slice(0, axis);
    const norm = x.shape.slice(axis);
    const D = numel(norm);
    const hint = (d: number): LoopHint => (d === norm.length - 1 ? { vector: 4 } : {});
    const emit: AnchorEmit = (cx, store) => loopNest('i', outer, (o) => {
      const over = (prefix: string, body: (j: Expr[]) => Stmt[], h: (d: number) => LoopHint = () => ({})) =>
        loopNest(prefix, norm, (j) => cx.scope(() => body(j)), h);
      const xAt = (j: readonly Expr[]) => cx.read(x, [...o, ...j]);
      return [
        decl('s', f32(0)),
        ...over('j', (j) => [set('s', bin('add', v('s', F32), xAt(j)))], hint),
        let_('mean', bin('div', v('s', F32), f32(D))),
        decl('q', f32(0)),
        ...over('j', (j) => [let_('d', bin('sub', xAt(j), v('mean', F32))), set('q', bin('add', v('q', F32), bin('mul', v('d', F32), v('d', F32))))], hint),
        let_('rstd', bin('div', f32(1), un('sqrt', bin('add', bin('div', v('q', F32), f32(D)), f32(eps))))),
        ...over('j', (j) => {
          let y = bin('mul', bin('mul', bin('sub', xAt(j), v('mean', F32)), v('rstd', F32)), cx.read(scale, broadcastIdx(j, scale.shape, norm)));
          if (bias) y = bin('add', y, cx.read(bias, broadcastIdx(j, bias.shape, norm)));
          return store([...o, ...j], y);
        }, hint),
      ];
    }, () => ({ parallel: true }));
    return [{ k: 'pending', op: 'LayerNormalization', emit, inputs: [x, scale, ...(bias ? [bias] : [])] }];
  },
};

const concat: Rule = {
  kind: 'anchor',
  lower(c) {
    const parts = c.ins as TVal[];
    const out = c.outShapes[0]!;
    const axis = axisOf(c, getAttr<number>(c.node, 'axis'), out.length);
    const emit: AnchorEmit = (cx, store) => {
      let offset = 0;
      return parts.flatMap((p) => {
        const at = offset;
        offset += p.shape[axis]!;
        return loopNest('i', p.shape, (idx) => cx.scope(() => store(idx.map((e, i) => (i === axis ? bin('add', e, i32(at)) : e)), cx.read(p, idx))),
          (d) => (d === p.shape.length - 1 ? { vector: 4 } : { parallel: true }));
      });
    };
    return [{ k: 'pending', op: 'Concat', emit, inputs: parts }];
  },
};

// ---- element-wise rows and special element-wise ops -------------------------------------------------------

function elementwise(op: string): Rule {
  const row = ELEMENTWISE[op]!;
  return {
    kind: 'elementwise',
    lower(c) {
      const out = c.outShapes[0]!;
      const ins = c.ins;
      const ops = [...new Set(ins.flatMap((t) => (t ? lazyOps(t) : [])))];
      return [{
        k: 'lazy', ops: [...ops, opName(c.node)],
        read: (idx, cx) => row(ins.map((t) => (t ? cx.read(t, broadcastIdx(idx, t.shape, out)) : undefined)) as Expr[], c.node, c.outScalars[0]!),
      }];
    },
  };
}

const pow: Rule = {
  kind: 'elementwise',
  lower(c) {
    const p = c.constant(1);
    if (!p || p.size !== 1) cannotLower(c.node, 'only a constant scalar exponent is supported');
    const x = c.ins[0]!;
    const out = c.outShapes[0]!;
    const probe = powByConstant(v('x', ty(x.scalar)), p.get(0));
    if (!probe) cannotLower(c.node, `exponent ${p.get(0)} is not supported (integers up to 8 and 0.5 are)`);
    return [{ k: 'lazy', ops: [...lazyOps(x), 'Pow'], read: (idx, cx) => powByConstant(cx.read(x, broadcastIdx(idx, x.shape, out)), p.get(0))! }];
  },
};

/** Inference BatchNormalization is a per-channel affine map folded at compile time: x·a[c] + b[c]. */
const batchNorm: Rule = {
  kind: 'elementwise',
  lower(c) {
    if (c.node.outputs.length > 1 || getAttr<number>(c.node, 'training_mode') === 1) cannotLower(c.node, 'training mode is not supported');
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => c.constant(i));
    if (!scale || !bias || !mean || !variance) cannotLower(c.node, 'scale, bias, mean and var must be constants');
    const eps = getAttr<number>(c.node, 'epsilon');
    const C = scale.size;
    const a = Tensor.zeros('f32', [C]);
    const b = Tensor.zeros('f32', [C]);
    for (let i = 0; i < C; i++) {
      const ai = scale.get(i) / Math.sqrt(variance.get(i) + eps);
      a.data[i] = ai;
      b.data[i] = bias.get(i) - mean.get(i) * ai;
    }
    const x = c.ins[0]!;
    const av = c.constVal(a, `${c.node.name}.a`);
    const bv = c.constVal(b, `${c.node.name}.b`);
    return [{
      k: 'lazy', ops: [...lazyOps(x), 'BatchNormalization'],
      read: (idx, cx) => bin('add', bin('mul', cx.read(x, idx), cx.read(av, [idx[1]!])), cx.read(bv, [idx[1]!])),
    }];
  },
};

/** Source index along an axis of size d for a (shifted) output index s, per Pad mode (the interpreter's PAD_INDEX). */
const PAD_SOURCE: Readonly<Record<string, (s: Expr, d: number, reach: number) => Expr>> = {
  edge: (s, d) => bin('max', bin('min', s, i32(d - 1)), i32(0)),
  // one reflection at each border while the pads are shorter than the axis, a period 2(d − 1) fold beyond
  reflect: (s, d, reach) => {
    if (d === 1) return i32(0);
    const p = 2 * (d - 1);
    const m = reach < d ? un('abs', s) : bin('rem', bin('add', bin('rem', s, i32(p)), i32(p)), i32(p));
    return select(bin('lt', m, i32(d)), m, bin('sub', i32(p), m));
  },
  wrap: (s, d) => bin('rem', bin('add', bin('rem', s, i32(d)), i32(d)), i32(d)),
};

const pad: Rule = {
  kind: 'elementwise',
  lower(c) {
    const mode = getAttr<string>(c.node, 'mode');
    if (mode !== 'constant' && !PAD_SOURCE[mode]) cannotLower(c.node, `mode '${mode}' is not supported (constant, edge, reflect and wrap are)`);
    const x = c.ins[0]!;
    const pads = ints(c.constant(1));
    if (!pads) cannotLower(c.node, 'pads must be a constant');
    const value = c.ins[2] ? c.constant(2)?.get(0) : 0;
    if (value === undefined) cannotLower(c.node, 'constant_value must be a constant');
    const rank = x.shape.length;
    const axes = c.ins[3] ? (ints(c.constant(3)) ?? cannotLower(c.node, 'axes must be a constant')).map((a) => axisOf(c, a, rank)) : x.shape.map((_, i) => i);
    const begin = new Array<number>(rank).fill(0);
    const end = new Array<number>(rank).fill(0);
    axes.forEach((a, i) => { begin[a] = pads[i]!; end[a] = pads[i + axes.length]!; });
    const srcOf = PAD_SOURCE[mode];
    if (srcOf) {
      if (x.shape.some((d) => d === 0)) cannotLower(c.node, `cannot ${mode}-pad an empty tensor`);
      const out = c.outShapes[0]!;
      // an axis whose output stays inside the input needs no index arithmetic
      const inside = (i: number) => begin[i]! <= 0 && out[i]! - begin[i]! <= x.shape[i]!;
      return [{
        k: 'lazy', ops: [...lazyOps(x), 'Pad'],
        read: (idx, cx) => cx.read(x, idx.map((e, i) => {
          const s = begin[i] ? bin('sub', e, i32(begin[i]!)) : e;
          return inside(i) ? s : srcOf(s, x.shape[i]!, Math.max(begin[i]!, end[i]!));
        })),
      }];
    }
    return [{
      k: 'lazy', ops: [...lazyOps(x), 'Pad'],
      read: (idx, cx) => {
        const src = idx.map((e, i) => bin('sub', e, i32(begin[i]!)));
        const inside = src.map((s, i) => bin('and', bin('ge', s, i32(0)), bin('lt', s, i32(x.shape[i]!)))).reduce((a, b) => bin('and', a, b));
        const clamped = src.map((s, i) => bin('max', bin('min', s, i32(x.shape[i]! - 1)), i32(0)));
        return select(inside, cx.read(x, clamped), cst(value, ty(x.scalar)));
      },
    }];
  },
};

const gather: Rule = {
  kind: 'elementwise',
  lower(c) {
    const [data, indices] = c.ins as [TVal, TVal];
    const axis = axisOf(c, getAttr<number>(c.node, 'axis'), data.shape.length);
    const dim = data.shape[axis]!;
    const known = c.constant(1);
    if (known && known.shape.length === 0) {
      const at = (known.get(0) + dim) % dim;
      return [viewOf(data, (f) => ({ ...f, offset: f.offset + at * f.strides[axis]!, strides: f.strides.filter((_, i) => i !== axis) }),
        (idx) => [...idx.slice(0, axis), i32(at), ...idx.slice(axis)])];
    }
    const q = indices.shape.length;
    return [{
      k: 'lazy', ops: [...lazyOps(data), 'Gather'],
      read: (idx, cx) => {
        const raw = cast(cx.read(indices, idx.slice(axis, axis + q)), 'i32');
        const i = select(bin('lt', raw, i32(0)), bin('add', raw, i32(dim)), raw);
        return cx.read(data, [...idx.slice(0, axis), i, ...idx.slice(axis + q)]);
      },
    }];
  },
};

// ---- view rules -----------------------------------------------------------------------------------------

const transpose: Rule = {
  kind: 'view',
  lower(c) {
    const x = c.ins[0]!;
    const rank = x.shape.length;
    const perm = (c.node.attrs.perm as number[] | undefined) ?? x.shape.map((_, i) => rank - 1 - i);
    const moved = reindexed(c, x, (idx) => perm.map((p) => idx[p]!));
    if (moved) return [moved];
    return [viewOf(x, (f) => ({ ...f, strides: perm.map((p) => f.strides[p]!) }), (idx) => {
      const r = new Array<Expr>(rank);
      perm.forEach((p, i) => { r[p] = idx[i]!; });
      return r;
    })];
  },
};

const sliceRule: Rule = {
  kind: 'view',
  lower(c) {
    const x = c.ins[0]!;
    const [st, en, ax, sp] = [1, 2, 3, 4].map((i) => (c.ins[i] ? ints(c.constant(i)) ?? cannotLower(c.node, 'starts, ends, axes and steps must be constants') : undefined));
    const params = sliceParams(x.shape.length, st!, en!, ax, sp).map((p) => ({ axis: p.axis, step: p.step, start: sliceAxis(x.shape[p.axis]!, p.start, p.end, p.step).start }));
    return [slice(x, params)];
  },
};

const split: Rule = {
  kind: 'view',
  lower(c) {
    const x = c.ins[0]!;
    const axis = axisOf(c, getAttr<number>(c.node, 'axis'), x.shape.length);
    let start = 0;
    return c.outShapes.map((s) => {
      const f = slice(x, [{ axis, start, step: 1 }]);
      start += s[axis]!;
      return f;
    });
  },
};

const expand: Rule = {
  kind: 'view',
  lower(c) {
    const x = c.ins[0]!;
    const out = c.outShapes[0]!;
    const off = out.length - x.shape.length;
    return [viewOf(x, (f) => ({ ...f, strides: out.map((d, i) => (i < off || (x.shape[i - off] === 1 && d !== 1) ? 0 : f.strides[i - off]!)) }),
      (idx) => broadcastIdx(idx, x.shape, out))];
  },
};

/** Tile: output index i along an axis reads the input at i mod d (a repeated axis of size 1 is a stride-0 view). */
const tile: Rule = {
  kind: 'view',
  lower(c) {
    const x = c.ins[0]!;
    const out = c.outShapes[0]!;
    return [viewOf(x, (f) => (x.shape.every((d, i) => d === 1 || d === out[i]) ? { ...f, strides: f.strides.map((s, i) => (x.shape[i] === 1 ? 0 : s)) } : undefined),
      (idx) => idx.map((e, i) => (x.shape[i] === out[i] ? e : x.shape[i] === 1 ? i32(0) : bin('rem', e, i32(x.shape[i]!)))))];
  },
};

/** Most taps (products of per-axis interpolation taps) a Resize output element may read. */
const MAX_RESIZE_TAPS = 64;

/**
 * Resize as a lazy gather: the interpreter's per-axis tables (source index and weight of each
 * tap of each output coordinate, computed at compile time for every mode) become constants; an
 * output element is Σ over the taps of the product of the axes' weights times the input, nested
 * outermost axis first like the interpreter's one-axis-at-a-time passes. Nearest resizes (one
 * tap of weight 1 per row) only gather.
 */
const resize: Rule = {
  kind: 'elementwise',
  lower(c) {
    const x = c.ins[0]!;
    const given = [1, 2, 3].map((i) => (c.ins[i] ? c.constant(i) ?? cannotLower(c.node, 'roi, scales and sizes must be constants') : undefined));
    const { tables } = resizeTables(c.node, x.shape, given[0], given[1], given[2]);
    const out = c.outShapes[0]!;
    const name = c.node.outputs[0]!.name;
    const axes = tables.flatMap((t, d) => {
      if (!t) return [];
      const W = out[d]!;
      const rows = Array.from({ length: W }, (_, i) => i);
      const ext = t.extrapolate.some((e) => e !== 0) ? c.constVal(Tensor.from('bool', [W], t.extrapolate), `${name}.ext${d}`) : undefined;
      // nearest: each row reads one source element with weight 1, so the axis only gathers
      const one = rows.map((i) => Array.from({ length: t.n }, (_, j) => i * t.n + j).filter((k) => t.w[k] !== 0));
      if (one.every((ks, i) => t.extrapolate[i] || (ks.length === 1 && t.w[ks[0]!] === 1))) {
        const idx = c.constVal(Tensor.from('i32', [W, 1], one.map((ks) => (ks.length ? t.idx[ks[0]!]! : 0))), `${name}.idx${d}`);
        return [{ d, taps: 1, idx, w: undefined, ext }];
      }
      // taps whose weight is 0 in every row read nothing
      const taps = Array.from({ length: t.n }, (_, j) => j).filter((j) => rows.some((i) => t.w[i * t.n + j] !== 0));
      const table = (dtype: 'i32' | 'f32', of: Int32Array | Float64Array) =>
        c.constVal(Tensor.from(dtype, [W, taps.length], rows.flatMap((i) => taps.map((j) => of[i * t.n + j]!))), `${name}.${dtype === 'i32' ? 'idx' : 'w'}${d}`);
      return [{ d, taps: taps.length, idx: table('i32', t.idx), w: table('f32', t.w) as TVal | undefined, ext }];
    });
    if (axes.some((a) => a.w) && x.scalar !== 'f32') cannotLower(c.node, `${x.scalar} interpolation is not supported (nearest is)`);
    const taps = axes.reduce((n, a) => n * a.taps, 1);
    if (taps > MAX_RESIZE_TAPS) cannotLower(c.node, `${taps} taps per output element (at most ${MAX_RESIZE_TAPS} are supported)`);
    const fill = cst(getAttr<number>(c.node, 'extrapolation_value'), ty(x.scalar));
    return [{
      k: 'lazy', ops: [...lazyOps(x), 'Resize'],
      read: (idx, cx) => {
        const at = [...idx];
        const sum = (k: number): Expr => {
          if (k === axes.length) return cx.read(x, [...at]);
          const a = axes[k]!;
          const i = idx[a.d]!;
          let acc: Expr | undefined;
          for (let j = 0; j < a.taps; j++) {
            at[a.d] = cx.read(a.idx, [i, i32(j)]);
            const term = a.w ? bin('mul', cx.read(a.w, [i, i32(j)]), sum(k + 1)) : sum(k + 1);
            acc = acc ? bin('add', acc, term) : term;
          }
          return acc!;
        };
        const value = sum(0);
        const outside = axes.flatMap((a) => (a.ext ? [cx.read(a.ext, [idx[a.d]!])] : [])).reduce<Expr | undefined>((p, q) => (p ? bin('or', p, q) : q), undefined);
        return outside ? select(outside, fill, value) : value;
      },
    }];
  },
};

// ---- the q dialect (quant.ts) ------------------------------------------------------------------------

/** q.quantize: the codes, computed where they are read (or stored when the value materializes). */
const quantizeRule: Rule = {
  kind: 'elementwise',
  lower(c) {
    const x = c.ins[0]!;
    const qp = qparams(c.node.outputs[0]!.type.dtype as QuantType, x.shape.length, c.weight);
    const pv = paramVals(qp, c.constVal, c.node.outputs[0]!.name);
    return [{ k: 'lazy', ops: [...lazyOps(x), 'Quantize'], read: (idx, cx) => quantizeExpr(cx, qp, pv, cx.read(x, idx), idx) }];
  },
};

/** q.dequantize of an activation (constant weights are folded, or read through their codes by the GEMMs). */
const dequantizeRule: Rule = {
  kind: 'elementwise',
  lower(c) {
    const q = c.ins[0]!;
    const qp = qparams(c.node.inputs[0]!.type.dtype as QuantType, q.shape.length, c.weight);
    const pv = paramVals(qp, c.constVal, c.node.inputs[0]!.name);
    return [{ k: 'lazy', ops: [...lazyOps(q), 'Dequantize'], read: (idx, cx) => dequantizeExpr(cx, qp, pv, cx.read(q, idx), idx) }];
  },
};

/** Identity and inference Dropout: the output is the input. */
const alias: Rule = { kind: 'view', lower: (c) => [c.ins[0]!.form] };

/** Every op the wasm backend lowers, by name. */
export const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ...Object.keys(ELEMENTWISE).map((op) => [op, elementwise(op)] as [string, Rule]),
  ['onnx.Pow', pow],
  ['onnx.BatchNormalization', batchNorm],
  ['onnx.Pad', pad],
  ['onnx.Gather', gather],
  ['onnx.MatMul', matmul],
  ['onnx.Gemm', gemm],
  ['onnx.Conv', conv],
  ['onnx.MaxPool', pool('max')],
  ['onnx.AveragePool', pool('avg')],
  ['onnx.GlobalAveragePool', globalPool('add')],
  ['onnx.GlobalMaxPool', globalPool('max')],
  ['onnx.ReduceMean', reduce('add', true)],
  ['onnx.ReduceSum', reduce('add', false)],
  ['onnx.ReduceMax', reduce('max', false)],
  ['onnx.ReduceMin', reduce('min', false)],
  ['onnx.Softmax', softmax],
  ['onnx.LayerNormalization', layerNorm],
  ['onnx.Concat', concat],
  ['onnx.Reshape', reshapeRule],
  ['onnx.Flatten', reshapeRule],
  ['onnx.Squeeze', reshapeRule],
  ['onnx.Unsqueeze', reshapeRule],
  ['onnx.Transpose', transpose],
  ['onnx.Slice', sliceRule],
  ['onnx.Split', split],
  ['onnx.Expand', expand],
  ['onnx.Tile', tile],
  ['onnx.Resize', resize],
  ['onnx.Identity', alias],
  ['onnx.Dropout', alias],
  ['q.quantize', quantizeRule],
  ['q.dequantize', dequantizeRule],
]);
