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
  type Expr, type Stmt, I32, bin, cast, cst, decl, dot, f32, i32, load, set, store, ty, un, v,
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
  // q is integral, so saturating to i32 first and clamping in i32 is the same (NaN → 0 → clamped),
  // and integer min/max are single SIMD instructions where f32 ones need NaN fixups
  return bin('max', bin('min', cast(q, 'i32'), i32(max)), i32(min));
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
 * The kernel sums A's raw codes: Σ (A − za)(W − zw) = Σ A·(W − zw) − za·Σ (W − zw), and the
 * second term is a per-channel constant (`corr`, see zeroCorrection) subtracted once per output.
 */
export interface IntGemm {
  readonly outer: readonly number[];
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly a: Buf;
  /** Element index of A[o…, m, 0]. */
  aRow(o: readonly Expr[], m: Expr): Expr;
  readonly w: Buf;
  /** za·Σ_k (W[c, k] − zw[c]) per channel (i32); absent when za is 0. */
  readonly corr?: Buf;
  /** Four i32 per tile row: the tile's sums pass through it into the vectorized epilogue. */
  readonly stage: Buf;
  /** The output channel (row of W) that column n of batch o computes (groups offset it). */
  channel(o: readonly Expr[], n: Expr): Expr;
  /** The weight zero point of output channel `ch` (i32). */
  zw(cx: Emit, ch: Expr): Expr;
  outIdx(o: readonly Expr[], m: Expr, n: Expr): Expr[];
  /** The f32 result from the exact i32 accumulator. */
  epilogue(cx: Emit, o: readonly Expr[], m: Expr, n: Expr, acc: Expr): Expr;
}

const I16X8 = ty('i16', 8);
const I32X4 = ty('i32', 4);
const splat16 = (x: Expr): Expr => ({ k: 'splat', type: I16X8, a: x });
const hsum = (x: Expr): Expr => ({ k: 'hreduce', type: I32, op: 'add', a: x });
const isZero = (e: Expr): boolean => e.k === 'const' && e.value === 0;
const kLoop = (start: number, end: number, step: number, body: Stmt[]): Stmt => ({ k: 'loop', var: 'k', start: i32(start), end: i32(end), step, hint: {}, body });

/** za·Σ_k (W[c, k] − zw[c]) for W's codes laid out [channels, K], or undefined when za is 0. */
export function zeroCorrection(codes: Tensor, zero: readonly number[], za: number): Tensor | undefined {
  if (za === 0) return undefined;
  const [C, K] = codes.shape as [number, number];
  const d = codes.data as ArrayLike<number>;
  return Tensor.from('i32', [C], Array.from({ length: C }, (_, c) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += Number(d[c * K + k]) - zero[zero.length === 1 ? 0 : c]!;
    return Math.imul(za, s);
  }));
}

/**
 * Loops o…, m, n, k over register tiles of R = 2 rows × 4 columns: k runs 8 codes at a time
 * (an i16x8 widening load per row and per column, a pairwise dot into one i32x4 accumulator
 * per tile element: 14 v128 registers), a scalar tail takes K mod 8. The four column sums of a
 * row form one i32x4, so the epilogue (scale, bias, activation, requantization) runs as a
 * 4-lane loop the scheduler vectorizes. Leftover rows and columns (M mod 2, N mod 4) run the
 * same code one row or one column at a time.
 */
export function intGemm(g: IntGemm): AnchorEmit {
  return (cx, out) => {
    const o = g.outer.map((_, i) => v(`o${i}`));
    const a = cx.use(g.a, 'read');
    const w = cx.use(g.w, 'read');
    const stage = cx.use(g.stage, 'write');
    const corr = g.corr && cx.use(g.corr, 'read');
    const K8 = g.K - (g.K % 8);
    const m = v('m');
    const n = v('n');
    const k = v('k');
    const aAt = (row: Expr, t: typeof I32) => load(a, bin('add', g.aRow(o, row), k), t);
    const wAt = (ch: Expr, t: typeof I32) => load(w, bin('add', bin('mul', ch, i32(g.K)), k), t);
    const centered = (x: Expr, z: Expr): Expr => (isZero(z) ? x : bin('sub', x, z));
    /** R rows from m × C columns from n: sums per row as i32 (C = 1) or i32x4 (C = 4), then the epilogue. */
    const tile = (R: number, C: number): Stmt[] => {
      const rows = Array.from({ length: R }, (_, r) => bin('add', m, i32(r)));
      const chs = Array.from({ length: C }, (_, c) => g.channel(o, bin('add', n, i32(c))));
      const zws = chs.map((ch) => g.zw(cx, ch));
      const body: Stmt[] = [];
      const acc = (r: number, c: number) => v(`acc${r}_${c}`, I32X4);
      const sumName = (r: number) => `${C === 4 ? 'sumv' : 'sum'}${r}`;
      const sum = (r: number) => v(sumName(r), C === 4 ? I32X4 : I32);
      if (K8 > 0) {
        zws.forEach((z, c) => { if (!isZero(z)) body.push(decl(`zw${c}`, splat16(z))); });
        const zw16 = (c: number) => (isZero(zws[c]!) ? zws[c]! : v(`zw${c}`, I16X8));
        const step: Stmt[] = [
          ...rows.map((row, r) => decl(`a${r}`, aAt(row, I16X8))),
          ...chs.map((ch, c) => decl(`w${c}`, centered(wAt(ch, I16X8), zw16(c)))),
        ];
        for (let r = 0; r < R; r++) {
          for (let c = 0; c < C; c++) {
            body.push(decl(`acc${r}_${c}`, cst(0, I32X4)));
            step.push(set(`acc${r}_${c}`, bin('add', acc(r, c), dot(v(`a${r}`, I16X8), v(`w${c}`, I16X8)))));
          }
        }
        body.push(kLoop(0, K8, 8, step));
        rows.forEach((_, r) => body.push(decl(sumName(r), C === 4 ? { k: 'pack', type: I32X4, elems: chs.map((__, c) => hsum(acc(r, c))) } : hsum(acc(r, 0)))));
      } else {
        rows.forEach((_, r) => body.push(decl(sumName(r), cst(0, C === 4 ? I32X4 : I32))));
      }
      if (K8 < g.K) {
        const wk = chs.map((ch, c) => centered(wAt(ch, I32), zws[c]!));
        const wv = C === 4 ? { k: 'pack', type: I32X4, elems: wk } as Expr : wk[0]!;
        body.push(kLoop(K8, g.K, 1, rows.map((row, r) => {
          const ak = aAt(row, I32);
          return set(sumName(r), bin('add', sum(r), bin('mul', C === 4 ? { k: 'splat', type: I32X4, a: ak } : ak, wv)));
        })));
      }
      if (corr) rows.forEach((_, r) => body.push(set(sumName(r), bin('sub', sum(r), load(corr, chs[0]!, sum(r).type)))));
      rows.forEach((row, r) => {
        if (C === 1) {
          body.push(...cx.scope(() => out(g.outIdx(o, row, n), g.epilogue(cx, o, row, n, sum(r)))));
          return;
        }
        const j = v('nj');
        const col = bin('add', n, j);
        body.push(store(stage, i32(4 * r), sum(r)), {
          k: 'loop', var: 'nj', start: i32(0), end: i32(4), step: 1, hint: { vector: 4 },
          body: cx.scope(() => out(g.outIdx(o, row, col), g.epilogue(cx, o, row, col, load(stage, bin('add', i32(4 * r), j), I32)))),
        });
      });
      return body;
    };
    const N4 = g.N - (g.N % 4);
    const R = g.M >= 2 ? 2 : 1;
    const M2 = g.M - (g.M % R);
    const columns = (R: number): Stmt[] => [
      ...(N4 > 0 ? [{ k: 'loop', var: 'n', start: i32(0), end: i32(N4), step: 4, hint: {}, body: tile(R, 4) } as Stmt] : []),
      ...(N4 < g.N ? [{ k: 'loop', var: 'n', start: i32(N4), end: i32(g.N), step: 1, hint: {}, body: tile(R, 1) } as Stmt] : []),
    ];
    let nest: Stmt[] = [{ k: 'loop', var: 'm', start: i32(0), end: i32(M2), step: R, body: columns(R), hint: { parallel: true } }];
    if (M2 < g.M) nest.push({ k: 'loop', var: 'm', start: i32(M2), end: i32(g.M), step: 1, body: columns(1), hint: { parallel: true } });
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

