/**
 * @fileoverview Attention as one kernel: `MatMul(L2(Softmax(L1(MatMul(Q, Kᵀ)))), V)`, where L1 and
 * L2 are chains of element-wise ops (scale, mask, fake quantization) that nothing else reads.
 *
 * Per query row the kernel computes the scores into a scratch row, runs the softmax passes over
 * it (L1 read at the row, exp once per element), applies L2, and contracts the row with V; the
 * score matrix never reaches memory and the four kernels (Kᵀ copy, Q·Kᵀ, Softmax, P·V) become
 * one. Kᵀ is packed to unit stride once per head when it is strided.
 */
import type { Node, Value } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { getAttr } from '../../ir/registry.js';
import { type Expr, type Stmt, F32, bin, decl, f32, i32, let_, load, loop, loopNest, set, store, un, v } from '../kernel-ir.js';
import { type AnchorEmit, type Form, type Lowering, type TVal, broadcastIdx } from './lowering.js';
import type { IntOperands } from './quant.js';

/** The nodes of one attention pattern, keyed by its P·V MatMul. */
export interface Attention {
  readonly qk: Node;
  readonly softmax: Node;
}

/** The element-wise ops a chain between the MatMuls and the Softmax may hold. */
export type IsElementwise = (op: string) => boolean;

/**
 * Attention patterns of `g`: P·V MatMuls whose first operand is a single-use element-wise chain
 * over a last-axis Softmax, whose input is a single-use chain over a float Q·Kᵀ MatMul.
 */
export function attentionPatterns(
  flat: { readonly nodes: readonly Node[]; readonly outputs: readonly Value[] },
  uses: ReadonlyMap<Value, readonly Node[]>,
  resolve: (v: Value) => Value,
  statics: ReadonlyMap<Value, Tensor>,
  ints: ReadonlyMap<Node, IntOperands>,
  isElementwise: IsElementwise,
): Map<Node, Attention> {
  const producer = new Map<Value, Node>();
  for (const n of flat.nodes) for (const o of n.outputs) producer.set(o, n);
  const single = (x: Value) => uses.get(x)?.length === 1 && !flat.outputs.includes(x);
  const dynamic = (x: Value | null | undefined): x is Value => !!x && !statics.has(resolve(x));
  /** Walk up a single-use element-wise chain from `x` to the node that starts it. */
  const chainTop = (start: Value): Node | undefined => {
    let x = resolve(start);
    for (;;) {
      const n = producer.get(x);
      if (!n || !single(x)) return undefined;
      if (!isElementwise(n.op)) return n;
      // exactly one runtime operand continues the chain (the others are constants)
      const runtime = n.inputs.filter(dynamic);
      if (runtime.length !== 1 || !sameShape(resolve(runtime[0]!), x)) return undefined;
      x = resolve(runtime[0]!);
    }
  };
  const found = new Map<Node, Attention>();
  for (const pv of flat.nodes) {
    if (pv.op !== 'onnx.MatMul' || ints.has(pv) || !dynamic(pv.inputs[0]) || !dynamic(pv.inputs[1])) continue;
    const softmax = chainTop(pv.inputs[0]!);
    if (softmax?.op !== 'onnx.Softmax') continue;
    const rank = softmax.outputs[0]!.type.shape?.length ?? 0;
    const axis = getAttr<number>(softmax, 'axis');
    if (axis !== -1 && axis !== rank - 1) continue;
    const qk = chainTop(softmax.inputs[0]!);
    if (qk?.op !== 'onnx.MatMul' || ints.has(qk) || !dynamic(qk.inputs[0]) || !dynamic(qk.inputs[1])) continue;
    found.set(pv, { qk, softmax });
  }
  return found;
}

function sameShape(a: Value, b: Value): boolean {
  const [x, y] = [a.type.shape, b.type.shape];
  return !!x && !!y && x.length === y.length && x.every((d, i) => d === y[i]);
}

/** What the fused kernel reads: the lowered values of the pattern. */
export interface AttentionVals {
  readonly q: TVal;
  readonly kt: TVal;
  readonly v: TVal;
  /** Q·Kᵀ (pending, never emitted), the Softmax input (reads it), the Softmax output, P·V's operand (reads it). */
  readonly scores: TVal;
  readonly x: TVal;
  readonly probs: TVal;
  readonly a: TVal;
  readonly out: readonly number[];
  /** Allocates the scratch buffers: the score rows, and Kᵀ packed to unit stride (when it is strided). */
  readonly lw: Lowering;
}

/** The fused kernel: loops o…, m; per row the scores, the softmax passes, then the row times V. */
export function attentionKernel(p: AttentionVals): Form {
  const outer = p.out.slice(0, -2);
  const [M, D] = p.out.slice(-2) as [number, number];
  const T = p.v.shape[p.v.shape.length - 2]!;
  const dk = p.q.shape[p.q.shape.length - 1]!;
  const ktForm = p.kt.form;
  const packed = !(ktForm.k === 'view' && ktForm.strides[ktForm.strides.length - 1] === 1);
  // a scratch row per query row when the head's score block is small (≤ 256 KiB), so four rows
  // run jammed (a 4-row register tile: each Kᵀ and V vector loaded once for four rows)
  const rowsJammed = M >= 4 && M * T <= 65536 ? 4 : 1;
  const row = p.lw.buffer('activation', 'f32', rowsJammed > 1 ? M * T : T);
  const kp = packed ? p.lw.buffer('activation', 'f32', dk * T) : undefined;
  const emit: AnchorEmit = (cx, out) => {
    cx.use(row, 'read');
    const r = cx.use(row, 'write');
    const kpName = kp ? (cx.use(kp, 'read'), cx.use(kp, 'write')) : undefined;
    /** Read `t` at `idx` with the pending `value` standing for `expr` (its element at `idx`). */
    const readWith = (t: TVal, idx: readonly Expr[], value: TVal, expr: Expr): Expr => {
      cx.epilogue = { value, idx, expr };
      const e = cx.read(t, idx);
      cx.epilogue = undefined;
      return e;
    };
    const j = v('j');
    const k = v('k');
    const n = v('n');
    return loopNest('o', outer, (o) => {
      const at = (t: TVal, ...last: Expr[]) => [...broadcastIdx(o, t.shape.slice(0, -2), outer), ...last];
      const ktAt = (kk: Expr, jj: Expr): Expr => (kpName ? load(kpName, bin('add', bin('mul', kk, i32(T)), jj), F32) : cx.read(p.kt, at(p.kt, kk, jj)));
      const pack: Stmt[] = kpName
        ? [loop('k', dk, [loop('j', T, cx.scope(() => [store(kpName, bin('add', bin('mul', k, i32(T)), j), cx.read(p.kt, at(p.kt, k, j)))]), { vector: 4 })])]
        : [];
      const m = v('m');
      const sIdx = [...o, m, j];
      const rj = rowsJammed > 1 ? bin('add', bin('mul', m, i32(T)), j) : j;
      const perRow: Stmt[] = [
        // scores: row[j] = Σ_k Q[m, k] · Kᵀ[k, j]
        loop('j', T, cx.scope(() => [
          decl('acc', f32(0)),
          loop('k', dk, cx.scope(() => [set('acc', bin('add', v('acc', F32), bin('mul', cx.read(p.q, at(p.q, m, k)), ktAt(k, j))))])),
          store(r, rj, v('acc', F32)),
        ]), { vector: 4, jam: rowsJammed > 1 ? 2 : 4 }),
        decl('mx', f32(-Infinity)),
        loop('j', T, cx.scope(() => [set('mx', bin('max', v('mx', F32), readWith(p.x, sIdx, p.scores, load(r, rj, F32))))]), { vector: 4 }),
        decl('sum', f32(0)),
        loop('j', T, cx.scope(() => [
          let_('ej', un('exp', bin('sub', readWith(p.x, sIdx, p.scores, load(r, rj, F32)), v('mx', F32)))),
          store(r, rj, v('ej', F32)),
          set('sum', bin('add', v('sum', F32), v('ej', F32))),
        ]), { vector: 4 }),
        let_('rs', bin('div', f32(1), v('sum', F32))),
        // the probabilities through the chain after the Softmax (e.g. fake quantization)
        loop('j', T, cx.scope(() => [store(r, rj, readWith(p.a, sIdx, p.probs, bin('mul', load(r, rj, F32), v('rs', F32))))]), { vector: 4 }),
        // out[m, n] = Σ_j row[j] · V[j, n]
        loop('n', D, cx.scope(() => [
          decl('acc', f32(0)),
          loop('j', T, cx.scope(() => [set('acc', bin('add', v('acc', F32), bin('mul', load(r, rj, F32), cx.read(p.v, at(p.v, j, n)))))])),
          ...cx.scope(() => out([...o, m, n], v('acc', F32))),
        ]), { vector: 4, jam: rowsJammed > 1 ? 2 : 4 }),
      ];
      return [...pack, loop('m', M, perRow, { parallel: true, ...(rowsJammed > 1 ? { jam: rowsJammed } : {}) })];
    }, () => ({ parallel: true }));
  };
  return { k: 'pending', op: 'Attention', emit, inputs: [p.q, p.kt, p.v] };
}
