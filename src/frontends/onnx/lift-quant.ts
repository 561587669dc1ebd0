/**
 * @fileoverview Lift quantized ONNX into Lutra's quantized IR on import, so a QDQ, QOperator or
 * dynamic-quant model reads like what `quantize` produces (src/quant/apply.ts):
 *
 *   DequantizeLinear(%c, s, z)           → %c : q<i8, s, z, axis?, group?>; q.dequantize(%c)
 *   DequantizeLinear(QuantizeLinear(%x)) → q.quantize(%x) : q<u8, s, z>; q.dequantize
 *   QLinearMatMul / QLinearConv          → DequantizeLinear of the operands, float MatMul / Conv,
 *                                          QuantizeLinear of the result (then lifted as above)
 *   Mul(Cast(MatMulInteger(DynamicQuantizeLinear(%x), %w)), Mul(x_scale, w_scale))
 *                                        → MatMul(DequantizeLinear(%x_q, x_scale, x_zero), DequantizeLinear(%w, w_scale))
 *
 * The QDQ rules are exact (q.* kernels compute what QuantizeLinear / DequantizeLinear compute);
 * the QOperator rules trade the integer requantization for the float path (see
 * docs/quantized-onnx.md). Parameters live in the quantized type: per-tensor ones inline,
 * per-axis / blocked ones as weight-store entries `<value>.scale` / `<value>.zero`.
 */
import { type DType, dtypeFromOnnx, floatRounder, isFloat } from '../../ir/dtype.js';
import { type Graph, type Node, type Value } from '../../ir/graph.js';
import { quantParamTensors } from '../../ir/ops/q.js';
import { QUANT_TYPES } from '../../ir/ops/quant.js';
import { getAttr } from '../../ir/registry.js';
import { normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor } from '../../ir/tensor.js';
import { isQuant, narrowBitsError, quantRange, storageDType, type QuantType } from '../../ir/types.js';
import { type DriverResult, applyRules } from '../../rewrite/driver.js';
import { eraseDead, graphTree, rootGraph } from '../../rewrite/erase.js';
import { P } from '../../rewrite/pattern.js';
import { type Failure, type RewriteCtx, type RuleSet, isFailure, rule } from '../../rewrite/rule.js';

/** What import lifts: everything, only QDQ (exact), or nothing. */
export type LiftQuantMode = 'all' | 'qdq' | 'none';

/** Scale and zero point of one quantizer, as tensors, with its layout. */
interface QParams {
  readonly storage: DType;
  readonly expressed: DType;
  /** In the expressed dtype. */
  readonly scale: Tensor;
  /** In the storage dtype, the scale's shape (zeros when the ONNX zero point is omitted). */
  readonly zero: Tensor;
  /** Undefined for per-tensor parameters. */
  readonly axis?: number;
  readonly group?: number;
}

const QL = 'onnx.QuantizeLinear';
const DQL = 'onnx.DequantizeLinear';

/** One element and at most one dim: per-tensor, as QuantizeLinear reads it. */
const perTensor = (t: Tensor): boolean => t.size === 1 && t.rank <= 1;

/** The rank of `v`, when known. */
const rankOf = (v: Value): number | undefined => v.type.shape?.length;

/**
 * The parameters of a QuantizeLinear / DequantizeLinear node when they are constants Lutra's
 * quantized type can carry with identical numerics, else why not.
 */
function nodeParams(node: Node, ctx: RewriteCtx): QParams | string {
  const [x, sv, zv] = node.inputs;
  const scale = sv ? ctx.constant(sv) : undefined;
  if (!x || !scale) return 'the scale is not a constant';
  const zp = zv ? ctx.constant(zv) : undefined;
  if (zv && !zp) return 'the zero point is not a constant';
  if (!isFloat(scale.dtype)) return `the scale is ${scale.dtype}, not a float`;
  let storage: DType;
  const outCode = getAttr<number>(node, 'output_dtype');
  if (node.op === QL) {
    if (getAttr<number>(node, 'saturate') !== 1) return 'saturate=0 has no quantized-type form';
    if (getAttr<number>(node, 'precision') !== 0) return 'precision is set';
    if (x.type.dtype !== scale.dtype) return `x is ${String(x.type.dtype)} but the scale ${scale.dtype} (QuantizeLinear divides in the scale's precision)`;
    storage = zp?.dtype ?? dtypeFromOnnx(outCode) ?? 'u8';
  } else {
    if (outCode && dtypeFromOnnx(outCode) !== scale.dtype) return 'output_dtype differs from the scale dtype';
    storage = storageDType(x.type.dtype);
  }
  if (!QUANT_TYPES.includes(storage)) return `${storage} is not a quantized storage type`;
  if (zp && zp.dtype !== storage) return `the zero point is ${zp.dtype}, the storage ${storage}`;
  if (perTensor(scale)) {
    if (zp && !perTensor(zp)) return 'per-tensor scale with a per-axis zero point';
    return { storage, expressed: scale.dtype, scale: scale.reshape([]), zero: zp ? zp.reshape([]) : Tensor.zeros(storage, []) };
  }
  if (zp && zp.shape.join() !== scale.shape.join()) return 'scale and zero point differ in shape';
  const block = getAttr<number>(node, 'block_size');
  const params = { storage, expressed: scale.dtype, scale, zero: zp ?? Tensor.zeros(storage, scale.shape), axis: getAttr<number>(node, 'axis') };
  return block > 0 ? { ...params, group: block } : params;
}

/** The parameters a quantized type carries, as tensors. */
function typeParams(qt: QuantType, g: Graph): QParams {
  const { scale, zero } = quantParamTensors(qt, (k) => g.requireWeight(k));
  return { storage: qt.storage, expressed: qt.expressed, scale, zero, axis: qt.axis, group: qt.group };
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  for (let i = 0; i < a.size; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Same quantizer: storage, expressed dtype, layout (axes compared normalized for `rank`) and parameter values. */
function sameParams(a: QParams, b: QParams, rank: number | undefined): boolean {
  const axis = (p: QParams) => (p.axis === undefined || rank === undefined ? p.axis : normalizeAxis(p.axis, rank));
  return a.storage === b.storage && a.expressed === b.expressed && axis(a) === axis(b) && a.group === b.group
    && sameValues(a.scale, b.scale) && sameValues(a.zero, b.zero);
}

/** A weight-store key not yet taken. */
function freshKey(g: Graph, base: string): string {
  const w = g.weights;
  if (!w.has(base)) return base;
  for (let i = 1; ; i++) if (!w.has(`${base}_${i}`)) return `${base}_${i}`;
}

/**
 * The quantized type for `p`, as src/quant/apply.ts writes it: per-tensor parameters inline,
 * others stored under `<base>.scale` (f32 when that holds the scale exactly) and `<base>.zero`.
 */
function quantType(g: Graph, p: QParams, base: string): QuantType {
  const qt = { kind: 'quant', storage: p.storage, expressed: p.expressed } as const;
  if (p.axis === undefined) return { ...qt, scale: p.scale.get(0), zero: p.zero.get(0) };
  const scale = freshKey(g, `${base}.scale`);
  g.weights.set(scale, p.scale.dtype === 'f64' ? p.scale.clone() : Tensor.from('f32', p.scale.shape, p.scale.data as Float32Array));
  const zero = freshKey(g, `${base}.zero`);
  g.weights.set(zero, p.zero.clone());
  const layout = p.group === undefined ? { axis: p.axis } : { axis: p.axis, group: p.group };
  return { ...qt, scale, zero, ...layout };
}

/** `v` is a result of `g` or of one of its subgraphs (retyping it would change a signature). */
const isAnyOutput = (g: Graph, v: Value): boolean => graphTree(rootGraph(g)).some((h) => h.outputs.includes(v));

/**
 * Why some user of `v` is not a DequantizeLinear of `v` with parameters `p`; undefined when every
 * user is one (so `v` can take the quantized type of `p`).
 */
function otherUser(v: Value, p: QParams, ctx: RewriteCtx): string | undefined {
  for (const u of ctx.users(v)) {
    if (u.op !== DQL || u.inputs.indexOf(v, 1) > 0) return `%${v.name} is also read by ${u.describe()}`;
    const q = nodeParams(u, ctx);
    if (typeof q === 'string') return `${u.describe()}: ${q}`;
    if (!sameParams(q, p, rankOf(v))) return `${u.describe()} dequantizes %${v.name} with other parameters`;
  }
  return undefined;
}

const dq = P.op(DQL, [P.any('x'), P.const()]).rest().as('dq');

/** DequantizeLinear(%c : i8, s, z) with constant c, s, z → q.dequantize(%c : q<i8, s, z, …>); every user of %c must be such a DequantizeLinear. */
export const dequantizeConstant = rule('dequantize-constant', dq, ({ x, dq: node }, ctx) => {
  if (!x.isConst || isQuant(x.type.dtype)) return ctx.fail(`%${x.name} is not a constant of a storage type`);
  if (!ctx.graph.constants.includes(x)) return ctx.fail(`%${x.name} is a constant of an enclosing graph`);
  const p = nodeParams(node, ctx);
  if (typeof p === 'string') return ctx.fail(p);
  if (isAnyOutput(ctx.graph, x)) return ctx.fail(`%${x.name} is a graph result`);
  const why = otherUser(x, p, ctx);
  if (why) return ctx.fail(why);
  x.type = { dtype: quantType(ctx.graph, p, x.name), shape: x.type.shape };
  return ctx.make('q.dequantize', [x]);
});

/**
 * DequantizeLinear(QuantizeLinear(%x, s, z), s, z) → q.dequantize(q.quantize(%x) : q<u8, s, z>):
 * the QuantizeLinear becomes the q.quantize in place (keeping its result's name); every user of
 * its result must dequantize with the same parameters.
 */
export const quantizeDequantize = rule('quantize-dequantize', P.op(DQL, [P.op(QL, [P.any('x')]).rest().as('q'), P.const()]).rest().as('dq'),
  ({ x, q, dq: node }, ctx) => {
    const p = nodeParams(q, ctx);
    if (typeof p === 'string') return ctx.fail(`${q.describe()}: ${p}`);
    const qv = q.outputs[0]!;
    if (isAnyOutput(ctx.graph, qv)) return ctx.fail(`%${qv.name} is a graph result`);
    const why = otherUser(qv, p, ctx);
    if (why) return ctx.fail(why);
    const params = q.inputs.slice(1).flatMap((v) => (v ? [v] : []));
    q.op = 'q.quantize';
    q.inputs = [x];
    q.attrs = {};
    qv.type = { dtype: quantType(ctx.graph, p, qv.name), shape: qv.type.shape };
    eraseDead(ctx.graph, params);
    return ctx.make('q.dequantize', [node.inputs[0]!]);
  });

/** The bit width whose narrowed range of `storage` is exactly [lo, hi], or undefined. */
function narrowBits(storage: DType, lo: Tensor | undefined, hi: Tensor | undefined): number | undefined {
  if (!lo || !hi || lo.dtype !== storage || hi.dtype !== storage || lo.size !== 1 || hi.size !== 1) return undefined;
  const [a, b] = [Number(lo.get(0)), Number(hi.get(0))];
  const bits = Math.log2(b - a + 1);
  if (!Number.isInteger(bits) || narrowBitsError(storage, bits)) return undefined;
  const r = quantRange({ storage, bits });
  return r.min === a && r.max === b ? bits : undefined;
}

/**
 * DequantizeLinear(Clip(QuantizeLinear(%x, s, z), lo, hi), s, z), where [lo, hi] is the b-bit
 * range of the storage type → q.dequantize(q.quantize(%x) : q<u8, s, z, bits=b>): the form
 * export writes for 6-bit activations held in 8 bits.
 */
export const quantizeClipDequantize = rule('quantize-clip-dequantize',
  P.op(DQL, [P.op('onnx.Clip', [P.op(QL, [P.any('x')]).rest().as('q'), P.const(), P.const()]).as('clip'), P.const()]).rest().as('dq'),
  ({ x, q, clip, dq: node }, ctx) => {
    const p = nodeParams(q, ctx);
    if (typeof p === 'string') return ctx.fail(`${q.describe()}: ${p}`);
    const bits = narrowBits(p.storage, ctx.constant(clip.inputs[1]!), ctx.constant(clip.inputs[2]!));
    if (bits === undefined) return ctx.fail(`${clip.describe()} does not clip to a narrower ${p.storage} range`);
    const [qv, cv] = [q.outputs[0]!, clip.outputs[0]!];
    if (ctx.users(qv).length !== 1 || isAnyOutput(ctx.graph, qv)) return ctx.fail(`%${qv.name} has readers other than the Clip`);
    if (isAnyOutput(ctx.graph, cv)) return ctx.fail(`%${cv.name} is a graph result`);
    const why = otherUser(cv, p, ctx);
    if (why) return ctx.fail(why);
    const dead = [...q.inputs.slice(1), ...clip.inputs.slice(1)].flatMap((v) => (v ? [v] : []));
    // the Clip becomes the q.quantize (its result is what the DequantizeLinears read); the QuantizeLinear goes
    clip.op = 'q.quantize';
    clip.inputs = [x];
    clip.attrs = {};
    cv.type = { dtype: { ...quantType(ctx.graph, p, cv.name), bits }, shape: cv.type.shape };
    eraseDead(ctx.graph, [q, ...dead]);
    return ctx.make('q.dequantize', [cv]);
  });

/** DequantizeLinear(%v : q<…>, s, z) with the parameters of v's type → q.dequantize(%v) (the other readers of a lifted value). */
export const dequantizeQuantized = rule('dequantize-quantized', dq, ({ x, dq: node }, ctx) => {
  if (!isQuant(x.type.dtype)) return ctx.fail(`%${x.name} has no quantized type`);
  const p = nodeParams(node, ctx);
  if (typeof p === 'string') return ctx.fail(p);
  if (!sameParams(p, typeParams(x.type.dtype, ctx.graph), rankOf(x))) return ctx.fail(`the parameters differ from those of %${x.name}'s type`);
  return ctx.make('q.dequantize', [x]);
});

// ---- QOperator and dynamic-quant forms → QDQ -----------------------------------------------------

/** Per-tensor parameter pair, or a 1-D one of `len` elements (the per-row / per-column / per-channel forms). */
function layoutOf(s: Tensor, z: Tensor | undefined, len: number | undefined): 'tensor' | 'axis' | undefined {
  if (perTensor(s) && (!z || perTensor(z))) return 'tensor';
  const oneD = (t: Tensor) => t.rank === 1 && t.shape[0] === len;
  return len !== undefined && oneD(s) && (!z || oneD(z)) ? 'axis' : undefined;
}

/** The static size of dim `d` (negative: from the end) of `v`. */
function dimOf(v: Value, d: number): number | undefined {
  const s = v.type.shape;
  const n = s?.[d < 0 ? s.length + d : d];
  return typeof n === 'number' ? n : undefined;
}

/** DequantizeLinear(x, scale, zero): an identical one that precedes the root, else a new one named after x. */
function dequantize(ctx: RewriteCtx, x: Value, scale: Value, zero: Value | null, axis?: number): Value {
  const { nodes } = ctx.graph;
  const before = (u: Node) => { const i = nodes.indexOf(u); return i >= 0 && i < nodes.indexOf(ctx.root); };
  const reuse = axis === undefined && ctx.users(x).find((u) => u.op === DQL && u.inputs[0] === x && u.inputs[1] === scale
    && (u.inputs[2] ?? null) === zero && Object.keys(u.attrs).length === 0 && before(u));
  if (reuse) return reuse.outputs[0]!;
  return ctx.builder.op(DQL, zero ? [x, scale, zero] : [x, scale], axis === undefined ? {} : { axis }, { out: `${x.name}_dequantized` });
}

/** Scales of one float dtype, or why not. */
function sameFloat(ts: readonly Tensor[]): string | undefined {
  const d = ts[0]!.dtype;
  return isFloat(d) && ts.every((t) => t.dtype === d) ? undefined : `the scales are ${ts.map((t) => t.dtype).join(', ')}, not one float dtype`;
}

type Consts = Record<string, Tensor>;

/** The constants of `vs` by name, or why one is not a constant. */
function constants(ctx: RewriteCtx, vs: Record<string, Value>): Consts | string {
  const out: Consts = {};
  for (const [k, v] of Object.entries(vs)) {
    const t = ctx.constant(v);
    if (!t) return `${k} %${v.name} is not a constant`;
    out[k] = t;
  }
  return out;
}

const c = P.const;
const a = P.any;

/**
 * QLinearMatMul(a, as, az, b, bs, bz, ys, yz), parameters constant → QuantizeLinear(MatMul(
 * DequantizeLinear(a, as, az), DequantizeLinear(b, bs, bz)), ys, yz). Not bit-exact: see
 * docs/quantized-onnx.md.
 */
export const qlinearMatMul = rule('qlinear-matmul',
  P.op('onnx.QLinearMatMul', [a('a'), a('aScale'), a('aZero'), a('b'), a('bScale'), a('bZero'), a('yScale'), a('yZero')]),
  ({ a: av, aScale, aZero, b, bScale, bZero, yScale, yZero }, ctx) => {
    const k = constants(ctx, { aScale, aZero, bScale, bZero, yScale, yZero });
    if (typeof k === 'string') return ctx.fail(k);
    const why = sameFloat([k.aScale!, k.bScale!, k.yScale!]);
    if (why) return ctx.fail(why);
    if (layoutOf(k.yScale!, k.yZero, undefined) !== 'tensor') return ctx.fail('the output parameters are not per-tensor');
    const ra = rankOf(av);
    const rb = rankOf(b);
    const la = layoutOf(k.aScale!, k.aZero, ra !== undefined && ra >= 2 ? dimOf(av, -2) : undefined);
    const lb = layoutOf(k.bScale!, k.bZero, rb !== undefined && rb >= 2 ? dimOf(b, -1) : undefined);
    if (!la) return ctx.fail('a\'s parameters are neither per-tensor nor one per row');
    if (!lb) return ctx.fail('b\'s parameters are neither per-tensor nor one per column');
    const ad = dequantize(ctx, av, aScale, aZero, la === 'axis' ? ra! - 2 : undefined);
    const bd = dequantize(ctx, b, bScale, bZero, lb === 'axis' ? rb! - 1 : undefined);
    const mm = ctx.builder.op('onnx.MatMul', [ad, bd], {}, { out: `${ctx.root.outputs[0]!.name}_float` });
    return ctx.make(QL, [mm, yScale, yZero]);
  });

/**
 * QLinearConv(x, xs, xz, w, ws, wz, ys, yz, B?), parameters and bias constant → QuantizeLinear(
 * Conv(DequantizeLinear(x, xs, xz), DequantizeLinear(w, ws, wz), B·(xs·ws)), ys, yz); the i32
 * bias becomes a float constant. Not bit-exact: see docs/quantized-onnx.md.
 */
export const qlinearConv = rule('qlinear-conv',
  P.op('onnx.QLinearConv', [a('x'), a('xScale'), a('xZero'), a('w'), a('wScale'), a('wZero'), a('yScale'), a('yZero')]).rest(),
  ({ x, xScale, xZero, w, wScale, wZero, yScale, yZero }, ctx) => {
    const bias = ctx.root.inputs[8] ?? undefined;
    const k = constants(ctx, bias ? { xScale, xZero, wScale, wZero, yScale, yZero, bias } : { xScale, xZero, wScale, wZero, yScale, yZero });
    if (typeof k === 'string') return ctx.fail(k);
    const why = sameFloat([k.xScale!, k.wScale!, k.yScale!]);
    if (why) return ctx.fail(why);
    if (layoutOf(k.xScale!, k.xZero, undefined) !== 'tensor') return ctx.fail('x\'s parameters are not per-tensor');
    if (layoutOf(k.yScale!, k.yZero, undefined) !== 'tensor') return ctx.fail('the output parameters are not per-tensor');
    const channels = dimOf(w, 0);
    const lw = layoutOf(k.wScale!, k.wZero, channels);
    if (!lw) return ctx.fail('w\'s parameters are neither per-tensor nor one per output channel');
    const bt = k.bias;
    if (bt && (bt.dtype !== 'i32' || bt.rank !== 1 || bt.shape[0] !== channels)) return ctx.fail('the bias is not an i32 vector with one element per output channel');
    const ws = k.wScale!;
    const r = floatRounder(ws.dtype) ?? ((v: number) => v);
    const bf = bt && ctx.newConstant(Tensor.from(ws.dtype, bt.shape, bt.toNumbers().map((v, i) => v * r(k.xScale!.get(0) * ws.get(lw === 'axis' ? i : 0)))), `${bias!.name}_float`);
    const xd = dequantize(ctx, x, xScale, xZero);
    const wd = dequantize(ctx, w, wScale, wZero, lw === 'axis' ? 0 : undefined);
    const conv = ctx.builder.op('onnx.Conv', bf ? [xd, wd, bf] : [xd, wd], ctx.root.attrs, { out: `${ctx.root.outputs[0]!.name}_float` });
    return ctx.make(QL, [conv, yScale, yZero]);
  });

/** Mul(Cast(op(…)), Mul(x_scale, w_scale)) in either operand order: the tail of ORT's dynamic quantization of `op`. */
const dynamicTail = (op: string) => P.op('onnx.Mul', [
  P.op('onnx.Cast', [P.op(op, [a('xq'), c('w')]).rest().as('int')]).as('cast'),
  P.op('onnx.Mul', [a('xs'), c('ws')]).commutative(),
]).commutative();

/**
 * The float operands of an integer MatMul / Conv after DynamicQuantizeLinear: DequantizeLinear of
 * the dynamic x and of the constant w (its scale one per `axis`, or per-tensor), or why not.
 */
function dynamicOperands(ctx: RewriteCtx, b: { xq: Value; w: Value; xs: Value; ws: Value; int: Node; cast: Node }, axis: number, len: number | undefined): [Value, Value] | Failure {
  const { xq, w, xs, ws, int, cast } = b;
  const d = xq.producer;
  const [, , xz, wz] = int.inputs;
  if (d?.op !== 'onnx.DynamicQuantizeLinear' || d.outputs[0] !== xq || d.outputs[1] !== xs || (xz && d.outputs[2] !== xz)) {
    return ctx.fail(`${int.describe()} does not read x, its scale and zero point from one DynamicQuantizeLinear`);
  }
  if (cast.outputs[0]!.type.dtype !== 'f32') return ctx.fail('the Cast is not to f32');
  if (ctx.users(int).length !== 1 || ctx.users(cast).length !== 1) return ctx.fail('an intermediate result has other users');
  const wzT = wz ? ctx.constant(wz) : undefined;
  if (wz && !wzT) return ctx.fail('w\'s zero point is not a constant');
  const wsT = ctx.constant(ws)!;
  if (wsT.dtype !== 'f32') return ctx.fail('w\'s scale is not f32');
  const lw = layoutOf(wsT, wzT, len);
  if (!lw) return ctx.fail('w\'s parameters are neither per-tensor nor one per output channel');
  return [dequantize(ctx, xq, xs, xz ?? null), dequantize(ctx, w, ws, wz ?? null, lw === 'axis' ? axis : undefined)];
}

/** Mul(Cast(MatMulInteger(x_q, w, x_zero, w_zero)), Mul(x_scale, w_scale)) after DynamicQuantizeLinear → MatMul(DequantizeLinear(x_q, x_scale, x_zero), DequantizeLinear(w, w_scale, w_zero)). */
export const matmulIntegerDynamic = rule('matmul-integer-dynamic', dynamicTail('onnx.MatMulInteger'), (b, ctx) => {
  const r = rankOf(b.w);
  if (r === undefined || r < 2) return ctx.fail('w is not a matrix');
  const ops = dynamicOperands(ctx, b, r - 1, dimOf(b.w, -1));
  return isFailure(ops) ? ops : ctx.make('onnx.MatMul', ops);
});

/** Mul(Cast(ConvInteger(x_q, w, x_zero, w_zero)), Mul(x_scale, w_scale)) after DynamicQuantizeLinear → Conv(DequantizeLinear(x_q, …), DequantizeLinear(w, …)). */
export const convIntegerDynamic = rule('conv-integer-dynamic', dynamicTail('onnx.ConvInteger'), (b, ctx) => {
  // A per-channel w_scale would multiply the last dim of the Conv output, not the channels: only per-tensor is ORT's form.
  const ops = dynamicOperands(ctx, b, 0, undefined);
  return isFailure(ops) ? ops : ctx.make('onnx.Conv', ops, b.int.attrs);
});

/** The exact rules: QDQ pairs and dequantized constants into quantized types. */
export const QDQ_RULES: RuleSet = [dequantizeConstant, quantizeDequantize, quantizeClipDequantize, dequantizeQuantized];

/** QOperator and dynamic integer forms into QDQ, which QDQ_RULES then lift (the driver iterates to a fixpoint). */
export const QOPERATOR_RULES: RuleSet = [qlinearMatMul, qlinearConv, matmulIntegerDynamic, convIntegerDynamic];

/** Lift the quantized ONNX forms of `graph` (and its subgraphs) into quantized types and q.* ops. */
export function liftQuant(graph: Graph, mode: LiftQuantMode = 'all', trace?: (line: string) => void): DriverResult {
  if (mode === 'none') return { applied: 0, iterations: 0, converged: true };
  return applyRules(graph, mode === 'all' ? [...QOPERATOR_RULES, ...QDQ_RULES] : QDQ_RULES, { trace, maxIterations: 16 });
}
