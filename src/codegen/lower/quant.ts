/**
 * @fileoverview Quantized lowering: the QDQ graph (q.quantize / q.dequantize around float ops,
 * src/ir/ops/q.ts) into integer kernels.
 *
 * - `q.quantize` and `q.dequantize` are element-wise rows computing exactly what the reference
 *   interpreter computes (ONNX QuantizeLinear: f32 x / s, round half to even, + zero, saturate;
 *   DequantizeLinear: (q − zero) · s, one f32 rounding). A fake-quant pair before Softmax or Add
 *   is a lazy value fused into its consumer; a q.quantize that materializes stores its codes.
 * - MatMul / Gemm / Conv whose input is `q.dequantize(q.quantize(x))` (8-bit, per tensor) and
 *   whose weight is `q.dequantize` of an 8-bit constant (per tensor or per output channel)
 *   become integer GEMMs: the activation's codes are materialized (the producer's epilogue
 *   quantizes), Σ (xq − zx)·(wq − zw) accumulates exactly in i32 with i16x8 pairwise dots, and
 *   the f32 epilogue is acc · (sx·sw[n]) + bias, then whatever element-wise ops and q.quantize
 *   follow. Convolutions gather codes into an im2row buffer first (8-bit, K contiguous).
 * - Any other `q.dequantize` of a constant weight (int4 groups of w4a16, int8 of w8a16) is read
 *   by the float GEMM through its codes: each element dequantized in the inner loop, so the
 *   weight stays packed in memory.
 *
 * Integer results are exact; the float epilogue differs from the reference (which sums f32
 * products of dequantized values in f64) only by float rounding, see docs/codegen.md.
 */
import type { Node, Value } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { quantParamTensors } from '../../ir/ops/q.js';
import { normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor } from '../../ir/tensor.js';
import { type QuantType, isQuant, quantRange } from '../../ir/types.js';
import {
  type Expr, type Stmt, I32, bin, cast, cst, decl, dot, f32, i32, load, set, ty, un, v,
} from '../kernel-ir.js';
import type { AnchorEmit, Buf, Emit, TVal } from './lowering.js';

/** Where a value's quantization parameters come from (graph weights for per-channel ones). */
export type WeightLookup = (key: string) => Tensor;

/** Quantization parameters as f32 tensors, with the layout they apply in. */
export interface QParams {
  readonly qt: QuantType;
  readonly scale: Tensor;
  readonly zero: Tensor;
  /** Normalized axis of per-axis and blocked parameters; undefined per tensor. */
  readonly axis?: number;
  readonly block: number;
}

const asF32 = (t: Tensor): Tensor => Tensor.from('f32', [...t.shape], Array.from(t.data as ArrayLike<number>, (x) => Math.fround(Number(x))));

export function qparams(qt: QuantType, rank: number, weight: WeightLookup): QParams {
  const { scale, zero } = quantParamTensors(qt, weight);
  const perTensor = scale.size === 1 && scale.rank <= 1;
  return {
    qt, scale: asF32(scale), zero: asF32(zero), block: qt.group ?? 0,
    ...(perTensor ? {} : { axis: normalizeAxis(qt.axis ?? 1, rank) }),
  };
}

const allZero = (t: Tensor): boolean => Array.from(t.data as ArrayLike<number>).every((x) => Number(x) === 0);

/** An activation fake-quantized for its consumer: `q.dequantize(q.quantize(x))`, 8-bit, per tensor. */
export interface ActQuant {
  /** The q.quantize output: what the integer kernel reads. */
  readonly codes: Value;
  readonly scale: number;
  readonly zero: number;
}

export function actQuant(v: Value | null | undefined): ActQuant | undefined {
  const dq = v?.producer;
  if (dq?.op !== 'q.dequantize') return undefined;
  const codes = dq.inputs[0]!;
  const qt = codes.type.dtype;
  if (codes.producer?.op !== 'q.quantize' || !isQuant(qt) || (qt.storage !== 'u8' && qt.storage !== 'i8')) return undefined;
  if (typeof qt.scale !== 'number' || typeof qt.zero !== 'number' || qt.group !== undefined) return undefined;
  return { codes, scale: Math.fround(qt.scale), zero: qt.zero };
}

/** A constant weight read through q.dequantize: its codes and parameters. */
export interface WeightQuant {
  readonly codes: Tensor;
  readonly params: QParams;
}

export function weightQuant(v: Value | null | undefined, statics: ReadonlyMap<Value, Tensor>, weight: WeightLookup): WeightQuant | undefined {
  const dq = v?.producer;
  if (dq?.op !== 'q.dequantize') return undefined;
  const src = dq.inputs[0]!;
  const codes = statics.get(src);
  const qt = src.type.dtype;
  if (!codes || !isQuant(qt) || qt.expressed !== 'f32' || !['i8', 'u8', 'i4', 'u4'].includes(qt.storage)) return undefined;
  return { codes, params: qparams(qt, codes.rank, weight) };
}

/** An anchor the integer path takes: its activation (operand 0) and 8-bit weight (operand 1). */
export interface IntOperands {
  readonly act: ActQuant;
  readonly w: WeightQuant;
}

/**
 * The integer pattern of a MatMul / Gemm / Conv node: a fake-quantized 8-bit activation times
 * an 8-bit weight whose scale is per tensor or per output channel (so it factors out of Σ_k).
 */
export function intOperands(node: Node, statics: ReadonlyMap<Value, Tensor>, weight: WeightLookup): IntOperands | undefined {
  if (node.op !== 'onnx.MatMul' && node.op !== 'onnx.Gemm' && node.op !== 'onnx.Conv') return undefined;
  const act = actQuant(node.inputs[0]);
  const w = act && weightQuant(node.inputs[1], statics, weight);
  if (!act || !w || (w.params.qt.storage !== 'i8' && w.params.qt.storage !== 'u8') || w.params.block) return undefined;
  const outAxis = node.op === 'onnx.Conv' ? 0 : node.op === 'onnx.MatMul' ? 1 : getAttr<number>(node, 'transB') === 1 ? 0 : 1;
  if (w.params.axis !== undefined && w.params.axis !== outAxis) return undefined;
  if (node.op === 'onnx.MatMul' && (w.codes.rank !== 2 || (node.inputs[0]!.type.shape?.length ?? 0) < 2)) return undefined;
  if (node.op === 'onnx.Gemm' && (getAttr<number>(node, 'transA') === 1 || getAttr<number>(node, 'alpha') !== 1)) return undefined;
  if (node.op === 'onnx.Conv' && ![3, 4].includes(w.codes.rank)) return undefined;
  return { act, w };
}

// ---- element-wise rows ----------------------------------------------------------------------

/** Parameter `p` of `qp` for the element at `idx` of a tensor of rank `idx.length`, as f32. */
function paramAt(cx: Emit, qp: QParams, p: TVal | number, idx: readonly Expr[]): Expr {
  if (typeof p === 'number') return f32(p);
  const a = qp.axis!;
  if (!qp.block) return cx.read(p, [idx[a]!]);
  return cx.read(p, idx.map((e, i) => (i === a ? bin('div', e, i32(qp.block)) : e)));
}

/** Scale and zero point as immediates (per tensor) or lowered constants. */
export function paramVals(qp: QParams, constVal: (t: Tensor, name: string) => TVal, name: string): { s: TVal | number; z: TVal | number } {
  if (qp.axis === undefined) return { s: qp.scale.get(0), z: qp.zero.get(0) };
  return { s: constVal(qp.scale, `${name}.scale`), z: allZero(qp.zero) ? 0 : constVal(qp.zero, `${name}.zero`) };
}

/** QuantizeLinear of f32 `x`: saturate(round_half_even(x / s) + z) as an i32 code. */
export function quantizeExpr(cx: Emit, qp: QParams, pv: ReturnType<typeof paramVals>, x: Expr, idx: readonly Expr[]): Expr {
  const { min, max } = quantRange(qp.qt);
  const q = bin('add', un('round', bin('div', x, paramAt(cx, qp, pv.s, idx))), paramAt(cx, qp, pv.z, idx));
  return cast(bin('max', bin('min', q, f32(max)), f32(min)), 'i32');
}

/** DequantizeLinear of an i32 code: (q − z) · s in f32 (exact operands, one rounding). */
export function dequantizeExpr(cx: Emit, qp: QParams, pv: ReturnType<typeof paramVals>, q: Expr, idx: readonly Expr[]): Expr {
  const zero = pv.z === 0 ? cast(q, 'f32') : bin('sub', cast(q, 'f32'), paramAt(cx, qp, pv.z, idx));
  return bin('mul', zero, paramAt(cx, qp, pv.s, idx));
}

/** Reads a dequantized constant weight element by element from its codes (weight-only kernels). */
export function weightReader(wq: WeightQuant, constVal: (t: Tensor, name: string) => TVal, name: string): (cx: Emit, idx: readonly Expr[]) => Expr {
  const codes = constVal(wq.codes, `${name}.codes`);
  const pv = paramVals(wq.params, constVal, name);
  return (cx, idx) => dequantizeExpr(cx, wq.params, pv, cx.read(codes, idx), idx);
}

// ---- the integer GEMM ----------------------------------------------------------------------

/**
 * out[o…, m, n] = epilogue(Σ_k (A[o, m, k] − za)·(W[c, k] − zw[c])) with c = channel(o, n): A's
 * codes in a buffer with unit stride along k, W an 8-bit weight buffer laid out [channels, K].
 */
export interface IntGemm {
  readonly outer: readonly number[];
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly a: Buf;
  /** Element index of A[o…, m, 0]. */
  aRow(o: readonly Expr[], m: Expr): Expr;
  readonly za: number;
  readonly w: Buf;
  /** The output channel (row of W) that column n of batch o computes (groups offset it). */
  channel(o: readonly Expr[], n: Expr): Expr;
  /** The weight zero point of output channel `ch` (i32). */
  zw(cx: Emit, ch: Expr): Expr;
  outIdx(o: readonly Expr[], m: Expr, n: Expr): Expr[];
  /** The f32 result from the exact i32 accumulator. */
  epilogue(cx: Emit, o: readonly Expr[], m: Expr, n: Expr, acc: Expr): Expr;
}

const I16X8 = ty('i16', 8);
const splat16 = (x: Expr): Expr => ({ k: 'splat', type: I16X8, a: x });

/**
 * Loops o…, m, n, k: k runs 8 codes at a time (two i16x8 widening loads, a pairwise dot into
 * an i32x4 accumulator), a scalar tail takes K mod 8; m is jammed by 4 and n by 2, so each
 * widened load feeds several dots (a 4 × 2 tile of accumulators).
 */
export function intGemm(g: IntGemm): AnchorEmit {
  return (cx, out) => {
    const o = g.outer.map((_, i) => v(`o${i}`));
    const m = v('m');
    const n = v('n');
    const k = v('k');
    const a = cx.use(g.a, 'read');
    const w = cx.use(g.w, 'read');
    const K8 = g.K - (g.K % 8);
    const aAt = (t: typeof I32) => load(a, bin('add', g.aRow(o, m), k), t);
    const ch = g.channel(o, n);
    const wAt = (t: typeof I32) => load(w, bin('add', bin('mul', ch, i32(g.K)), k), t);
    const zw = g.zw(cx, ch);
    const centered = (x: Expr, z: Expr, wide: boolean): Expr => (z.k === 'const' && z.value === 0 ? x : bin('sub', x, wide ? splat16(z) : z));
    const body: Stmt[] = [];
    if (K8 > 0) {
      const acc4 = v('acc4', ty('i32', 4));
      const step = dot(centered(aAt(I16X8), i32(g.za), true), centered(wAt(I16X8), zw, true));
      body.push(
        decl('acc4', cst(0, ty('i32', 4))),
        { k: 'loop', var: 'k', start: i32(0), end: i32(K8), step: 8, hint: {}, body: [set('acc4', bin('add', acc4, step))] },
        decl('acc', { k: 'hreduce', type: I32, op: 'add', a: acc4 }),
      );
    } else {
      body.push(decl('acc', i32(0)));
    }
    if (K8 < g.K) {
      body.push({ k: 'loop', var: 'k', start: i32(K8), end: i32(g.K), step: 1, hint: {}, body: [set('acc', bin('add', v('acc'), bin('mul', centered(aAt(I32), i32(g.za), false), centered(wAt(I32), zw, false))))] });
    }
    body.push(...cx.scope(() => out(g.outIdx(o, m, n), g.epilogue(cx, o, m, n, v('acc')))));
    let nest: Stmt[] = [{ k: 'loop', var: 'n', start: i32(0), end: i32(g.N), step: 1, body, hint: g.N >= 2 ? { jam: 2 } : {} }];
    nest = [{ k: 'loop', var: 'm', start: i32(0), end: i32(g.M), step: 1, body: nest, hint: g.M >= 4 ? { jam: 4, parallel: true } : { parallel: true } }];
    for (let d = g.outer.length - 1; d >= 0; d--) nest = [{ k: 'loop', var: `o${d}`, start: i32(0), end: i32(g.outer[d]!), step: 1, body: nest, hint: { parallel: true } }];
    return nest;
  };
}

/** The f32 epilogue's first step: acc · scale[n] (the product sx·sw[n], one f32 rounding). */
export function scaled(cx: Emit, acc: Expr, scale: TVal | number, n: Expr): Expr {
  return bin('mul', cast(acc, 'f32'), typeof scale === 'number' ? f32(scale) : cx.read(scale, [n]));
}

/** sx·sw[n] rounded to f32, per tensor (a number) or per output channel (a tensor). */
export function combinedScale(act: ActQuant, w: WeightQuant, N: number): number | Tensor {
  if (w.params.axis === undefined) return Math.fround(act.scale * w.params.scale.get(0));
  return Tensor.from('f32', [N], Array.from({ length: N }, (_, n) => Math.fround(act.scale * w.params.scale.get(n))));
}

