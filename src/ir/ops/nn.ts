/**
 * @fileoverview Neural-network ops: MatMul, Gemm, convolutions, normalizations, pooling, the
 * Softmax family and LRN. Sliding-window geometry (pads, auto_pad, dilations, ceil_mode) is
 * computed here once and shared by type inference and the interpreter kernels.
 */
import { constantOf, type Builder } from '../builder.js';
import { dtypeFromOnnx, type DType } from '../dtype.js';
import { LutraError } from '../diagnostics.js';
import type { Attrs, Node } from '../graph.js';
import { attrsWithDefaults, registerOp, type AttrSpec, type InferCtx, type UpgradeCtx } from '../registry.js';
import { broadcastShapes, normalizeAxis } from '../shape-utils.js';
import { Tensor } from '../tensor.js';
import { formatShape, isQuant, type Dim, type Shape, type TensorType } from '../types.js';

/** Float dtypes the nn ops compute on. */
export const FLOATS: readonly DType[] = ['f64', 'f32', 'f16', 'bf16'];
const MATMUL_TYPES: readonly DType[] = [...FLOATS, 'i64', 'i32', 'u64', 'u32'];
const POOL_TYPES: readonly DType[] = [...FLOATS, 'i8', 'u8'];

const int = (d: number): AttrSpec => ({ kind: 'int', default: d });
const float = (d: number): AttrSpec => ({ kind: 'float', default: d });
const ints: AttrSpec = { kind: 'ints', optional: true };

// ---- sliding-window geometry -----------------------------------------------------------------

/** Resolved window attributes of a conv or pool node, one entry per spatial dim. */
export interface WindowAttrs {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** Explicit pads `[begin..., end...]` (zeros when absent); ignored unless autoPad is NOTSET. */
  readonly pads: readonly number[];
  readonly autoPad: string;
  readonly ceil: boolean;
}

/** Attributes shared by Conv-like ops. */
export const CONV_ATTRS: Readonly<Record<string, AttrSpec>> = {
  auto_pad: { kind: 'string', default: 'NOTSET' }, dilations: ints, group: int(1), kernel_shape: ints, pads: ints, strides: ints,
};

const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** Window attributes of `node` for `spatial` dims; `kernel` (from the weight shape) when kernel_shape is absent. */
export function windowAttrs(node: Node, spatial: number, kernel?: readonly Dim[]): WindowAttrs {
  const a: Attrs = attrsWithDefaults(node);
  const fail = (m: string): never => { throw new LutraError('type', m, node.describe()); };
  const list = (name: string, dflt: number): number[] => {
    const v = a[name] as number[] | undefined;
    const len = name === 'pads' ? 2 * spatial : spatial;
    if (v === undefined) return new Array<number>(len).fill(dflt);
    if (v.length !== len) fail(`attribute '${name}' has ${v.length} values for ${spatial} spatial dims`);
    return v;
  };
  const ks = (a.kernel_shape as number[] | undefined) ?? kernel?.map((d) => (typeof d === 'number' ? d : fail('kernel shape is unknown')));
  if (!ks) return fail("attribute 'kernel_shape' is required");
  if (ks.length !== spatial) fail(`kernel_shape has ${ks.length} dims for ${spatial} spatial dims`);
  const autoPad = (a.auto_pad as string | undefined) ?? 'NOTSET';
  if (!AUTO_PADS.includes(autoPad)) fail(`auto_pad "${autoPad}" is not one of ${AUTO_PADS.join(', ')}`);
  return {
    kernel: ks, strides: list('strides', 1), dilations: list('dilations', 1), pads: list('pads', 0), autoPad, ceil: a.ceil_mode === 1,
  };
}

/** Output size and leading / trailing padding of a sliding window along spatial dim `i` of size `size`. */
export function windowDim(w: WindowAttrs, i: number, size: number): { out: number; begin: number; end: number } {
  const s = w.strides[i]!;
  const span = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + span - size);
    const begin = w.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    return { out, begin, end: total - begin };
  }
  const n = w.kernel.length;
  const begin = w.autoPad === 'VALID' ? 0 : w.pads[i]!;
  const end = w.autoPad === 'VALID' ? 0 : w.pads[i + n]!;
  const room = size + begin + end - span;
  let out = (w.ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
  // with ceil_mode the last window must start inside the input or its leading padding
  if (w.ceil && (out - 1) * s >= size + begin) out--;
  return { out, begin, end };
}

/** Output spatial dims for (possibly symbolic) input dims: a symbol survives a size-preserving window. */
function windowShape(w: WindowAttrs, dims: readonly Dim[]): Dim[] {
  return dims.map((d, i) => {
    if (typeof d === 'number') return windowDim(w, i, d).out;
    const same = w.strides[i] === 1 && (w.autoPad.startsWith('SAME')
      || ((w.kernel[i]! - 1) * w.dilations[i]! === (w.autoPad === 'VALID' ? 0 : w.pads[i]! + w.pads[i + w.kernel.length]!)));
    return same ? d : '?';
  });
}

/** ConvTranspose geometry along spatial dim `i`: output size and leading padding. */
export function transposeDim(node: Node, w: WindowAttrs, i: number, size: number): { out: number; begin: number } {
  const a = attrsWithDefaults(node);
  const n = w.kernel.length;
  const outPad = (a.output_padding as number[] | undefined)?.[i] ?? 0;
  const outShape = a.output_shape as number[] | undefined;
  const full = w.strides[i]! * (size - 1) + outPad + (w.kernel[i]! - 1) * w.dilations[i]! + 1;
  const target = outShape ? outShape[outShape.length - n + i]! : w.autoPad.startsWith('SAME') ? size * w.strides[i]! : undefined;
  if (target === undefined) return { out: full - w.pads[i]! - w.pads[i + n]!, begin: w.pads[i]! };
  const total = full - target;
  return { out: target, begin: w.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2) };
}

// ---- inference helpers -----------------------------------------------------------------------

/** Input `i`, failing when it is absent or has a dtype outside `allowed`. */
function input(ctx: InferCtx, i: number, allowed?: readonly DType[]): TensorType {
  const t = ctx.inputs[i];
  if (!t) return ctx.fail(`missing input ${i}`);
  if (allowed && (isQuant(t.dtype) || !allowed.includes(t.dtype))) {
    ctx.fail(`input ${i} has dtype ${isQuant(t.dtype) ? 'quant' : t.dtype}; ${ctx.node.op} takes ${allowed.join('|')}`);
  }
  return t;
}

/** Shape of X (rank ≥ 3: N, C, spatial...) or undefined when unknown. */
function spatialInput(ctx: InferCtx, t: TensorType): Shape | undefined {
  if (t.shape && t.shape.length < 3) ctx.fail(`input shape ${formatShape(t.shape)} needs rank ≥ 3 (N, C, spatial...)`);
  return t.shape;
}

/** Output shape of MatMul (numpy semantics, 1-D operands promoted and removed). */
export function matmulShape(a: Shape, b: Shape, fail: (m: string) => never): Dim[] {
  if (a.length === 0 || b.length === 0) return fail('MatMul operands must have rank ≥ 1');
  const A = a.length === 1 ? [1, a[0]!] : a;
  const B = b.length === 1 ? [b[0]!, 1] : b;
  const [m, k1] = A.slice(-2) as [Dim, Dim];
  const [k2, n] = B.slice(-2) as [Dim, Dim];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) fail(`MatMul inner dims differ: ${formatShape(a)} x ${formatShape(b)}`);
  const batch = broadcastShapes([A.slice(0, -2), B.slice(0, -2)]);
  if (!batch) return fail(`MatMul batch dims do not broadcast: ${formatShape(a)} x ${formatShape(b)}`);
  return [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
}

/** MatMul-shaped inference with a given result dtype (shared with the integer MatMul ops). */
export function inferMatmul(ctx: InferCtx, a: TensorType, b: TensorType, dtype: DType): TensorType[] {
  if (!a.shape || !b.shape) return [{ dtype, shape: undefined }];
  return [{ dtype, shape: matmulShape(a.shape, b.shape, ctx.fail) }];
}

/** Conv-shaped inference: X [N, C, ...], W [M, C/group, k...] → [N, M, out...]. */
export function inferConv(ctx: InferCtx, x: TensorType, w: TensorType, dtype: DType): TensorType[] {
  const xs = spatialInput(ctx, x);
  const ws = w.shape;
  if (!xs) return [{ dtype, shape: undefined }];
  if (ws && ws.length !== xs.length) ctx.fail(`weight shape ${formatShape(ws)} does not match input rank ${xs.length}`);
  const group = ctx.attr<number>('group');
  const c = xs[1]!;
  const wc = ws?.[1];
  if (typeof c === 'number' && typeof wc === 'number' && c !== wc * group) ctx.fail(`input has ${c} channels; weight expects ${wc} x group ${group}`);
  const spatial = !ws && ctx.node.attrs.kernel_shape === undefined
    ? xs.slice(2).map((): Dim => '?')
    : windowShape(windowAttrs(ctx.node, xs.length - 2, ws?.slice(2)), xs.slice(2));
  return [{ dtype, shape: [xs[0]!, ws?.[0] ?? '?', ...spatial] }];
}

// ---- MatMul, Gemm ----------------------------------------------------------------------------

registerOp({
  name: 'onnx.MatMul', summary: 'matrix product with numpy semantics (batch broadcasting, 1-D operands)', inputs: [2, 2], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const a = input(ctx, 0, MATMUL_TYPES);
    const b = input(ctx, 1, MATMUL_TYPES);
    if (a.dtype !== b.dtype) ctx.fail(`operand dtypes differ: ${String(a.dtype)} and ${String(b.dtype)}`);
    return inferMatmul(ctx, a, b, a.dtype as DType);
  },
});

registerOp({
  name: 'onnx.Gemm', summary: 'alpha * A\' B\' + beta * C (A\', B\' optionally transposed; C broadcasts to [M, N], optional)',
  inputs: [2, 3], outputs: [1, 1], since: 13,
  attrs: { alpha: float(1), beta: float(1), transA: int(0), transB: int(0) },
  infer: (ctx) => {
    const a = input(ctx, 0, MATMUL_TYPES);
    const b = input(ctx, 1, MATMUL_TYPES);
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: undefined }];
    if (a.shape.length !== 2 || b.shape.length !== 2) ctx.fail(`Gemm takes 2-D operands, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    const [m, ka] = ctx.attr<number>('transA') ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [kb, n] = ctx.attr<number>('transB') ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) ctx.fail(`Gemm inner dims differ: ${ka} and ${kb}`);
    const c = ctx.inputs[2]?.shape;
    if (c && !broadcastShapes([[m, n], c])) ctx.fail(`C of shape ${formatShape(c)} does not broadcast to [M, N]`);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  upgrade: (node) => { delete node.attrs.broadcast; },
});

// ---- convolutions ----------------------------------------------------------------------------

registerOp({
  name: 'onnx.Conv', summary: 'N-D convolution (1-3 spatial dims) with groups, strides, dilations, pads / auto_pad; bias optional',
  inputs: [2, 3], outputs: [1, 1], attrs: CONV_ATTRS, since: 22,
  infer: (ctx) => inferConv(ctx, input(ctx, 0, FLOATS), input(ctx, 1, FLOATS), input(ctx, 0).dtype as DType),
});

registerOp({
  name: 'onnx.ConvTranspose', summary: 'transposed convolution with output_padding / output_shape, groups and dilations',
  inputs: [2, 3], outputs: [1, 1], since: 22,
  attrs: { ...CONV_ATTRS, output_padding: ints, output_shape: ints },
  infer: (ctx) => {
    const x = input(ctx, 0, FLOATS);
    const w = input(ctx, 1, FLOATS);
    const xs = spatialInput(ctx, x);
    if (!xs) return [{ dtype: x.dtype, shape: undefined }];
    const win = windowAttrs(ctx.node, xs.length - 2, w.shape?.slice(2));
    const m = w.shape?.[1];
    const out = xs.slice(2).map((d, i) => (typeof d === 'number' ? transposeDim(ctx.node, win, i, d).out : '?'));
    return [{ dtype: x.dtype, shape: [xs[0]!, typeof m === 'number' ? m * ctx.attr<number>('group') : '?', ...out] }];
  },
});

// ---- normalizations --------------------------------------------------------------------------

/** Drop opset < 6 `consumed_inputs` / `is_test`. */
function dropLegacy(node: Node): void {
  delete node.attrs.consumed_inputs;
  delete node.attrs.is_test;
}

registerOp({
  name: 'onnx.BatchNormalization',
  summary: 'per-channel (axis 1) normalization with running statistics; training_mode=1 uses batch statistics and returns the updated running mean/var',
  inputs: [5, 5], outputs: [1, 3], since: 15,
  attrs: { epsilon: float(1e-5), momentum: float(0.9), training_mode: int(0) },
  infer: (ctx) => {
    const x = input(ctx, 0, FLOATS);
    const stat = ctx.inputs[3] ?? x;
    if (ctx.numOutputs > 1 && !ctx.attr<number>('training_mode')) ctx.fail('outputs running_mean/running_var exist only with training_mode=1');
    const c = x.shape?.[1] ?? '?';
    return [x, ...new Array(ctx.numOutputs - 1).fill({ dtype: stat.dtype, shape: [c] })];
  },
  upgrade: upgradeBatchNorm,
});

/**
 * Opset < 9 `spatial` (1 = per channel, the only form kept: spatial=0 with per-channel params
 * is the same op); opset < 14 optional training outputs are dropped (inference only).
 */
function upgradeBatchNorm(node: Node, ctx: UpgradeCtx): void {
  dropLegacy(node);
  const spatial = node.attrs.spatial;
  delete node.attrs.spatial;
  if (spatial === 0 && node.inputs.slice(1).some((v) => v?.type.shape && v.type.shape.length !== 1)) {
    throw new LutraError('unsupported', 'BatchNormalization spatial=0 with per-activation parameters is not supported', node.describe());
  }
  if (ctx.opset < 14) node.outputs = node.outputs.slice(0, 1);
}

/** Inference for the axis-based norms: Y like X, optional statistics with the normalized dims kept as 1. */
function inferAxisNorm(ctx: InferCtx): TensorType[] {
  const x = input(ctx, 0, FLOATS);
  const stash = dtypeFromOnnx(ctx.attr<number>('stash_type')) ?? x.dtype;
  const shape = x.shape;
  if (!shape) return [x, ...new Array(ctx.numOutputs - 1).fill({ dtype: stash, shape: undefined })];
  const axis = normalizeAxis(ctx.attr<number>('axis'), shape.length);
  if (axis === undefined) return ctx.fail(`axis ${ctx.attr<number>('axis')} is out of range for rank ${shape.length}`);
  const stat = shape.map((d, i) => (i < axis ? d : 1));
  return [x, ...new Array(ctx.numOutputs - 1).fill({ dtype: stash, shape: stat })];
}

registerOp({
  name: 'onnx.LayerNormalization', summary: 'normalize over dims [axis, rank) then Scale and optional B; optional Mean / InvStdDev outputs',
  inputs: [2, 3], outputs: [1, 3], since: 17,
  attrs: { axis: int(-1), epsilon: float(1e-5), stash_type: int(1) },
  infer: inferAxisNorm,
});

registerOp({
  name: 'onnx.RMSNormalization', summary: 'x / sqrt(mean(x^2 over dims [axis, rank)) + epsilon) * scale',
  inputs: [2, 2], outputs: [1, 1], since: 23,
  attrs: { axis: int(-1), epsilon: float(1e-5), stash_type: int(1) },
  infer: inferAxisNorm,
});

registerOp({
  name: 'onnx.InstanceNormalization', summary: 'per (N, C) normalization over the spatial dims, then per-channel scale and B',
  inputs: [3, 3], outputs: [1, 1], since: 22, attrs: { epsilon: float(1e-5) },
  infer: (ctx) => { spatialInput(ctx, input(ctx, 0, FLOATS)); return [ctx.inputs[0]!]; },
  upgrade: dropLegacy,
});

registerOp({
  name: 'onnx.GroupNormalization', summary: 'normalize over channel groups and spatial dims, then per-channel scale and bias (opset 21 form)',
  inputs: [3, 3], outputs: [1, 1], since: 21,
  attrs: { epsilon: float(1e-5), num_groups: { kind: 'int' }, stash_type: int(1) },
  infer: (ctx) => {
    const x = input(ctx, 0, FLOATS);
    const c = x.shape?.[1];
    const g = ctx.attr<number>('num_groups');
    if (typeof c === 'number' && c % g !== 0) ctx.fail(`${c} channels do not split into ${g} groups`);
    return [x];
  },
  upgrade: upgradeGroupNorm,
});

/** Opset 18 took scale and bias per group: they become per-channel constants (each repeated C / G times). */
function upgradeGroupNorm(node: Node, ctx: UpgradeCtx): void {
  if (ctx.opset >= 21) return;
  const g = node.attrs.num_groups as number;
  const c = node.inputs[0]?.type.shape?.[1];
  if (typeof c !== 'number') return ctx.fail('GroupNormalization-18 needs a static channel count to upgrade');
  for (const i of [1, 2]) {
    const v = node.inputs[i]!;
    const t = constantOf(ctx.graph, v);
    if (!t) return ctx.fail(`GroupNormalization-18 needs a constant ${i === 1 ? 'scale' : 'bias'} to upgrade`);
    const vals = t.toNumbers();
    node.inputs[i] = ctx.constant(Tensor.from(t.dtype, [c], Array.from({ length: c }, (_, k) => vals[Math.floor(k / (c / g))]!)), `${v.name}_per_channel`);
  }
}

registerOp({
  name: 'onnx.LpNormalization', summary: 'x / (sum |x|^p)^(1/p) along one axis (p is 1 or 2; a zero norm gives 0)',
  inputs: [1, 1], outputs: [1, 1], since: 22, attrs: { axis: int(-1), p: int(2) },
  infer: (ctx) => {
    const x = input(ctx, 0, FLOATS);
    if (x.shape && normalizeAxis(ctx.attr<number>('axis'), x.shape.length) === undefined) {
      ctx.fail(`axis ${ctx.attr<number>('axis')} is out of range for rank ${x.shape.length}`);
    }
    if (ctx.attr<number>('p') !== 1 && ctx.attr<number>('p') !== 2) ctx.fail(`p must be 1 or 2, got ${ctx.attr<number>('p')}`);
    return [x];
  },
});

registerOp({
  name: 'onnx.MeanVarianceNormalization', summary: '(x - mean) / (std + 1e-9) with mean and population std over `axes`',
  inputs: [1, 1], outputs: [1, 1], since: 13, attrs: { axes: { kind: 'ints', default: [0, 2, 3] } },
  infer: (ctx) => {
    const x = input(ctx, 0, FLOATS);
    const rank = x.shape?.length;
    if (rank !== undefined) {
      for (const a of ctx.attr<number[]>('axes')) if (normalizeAxis(a, rank) === undefined) ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    }
    return [x];
  },
});

// ---- pooling ---------------------------------------------------------------------------------

/** Inference for windowed pools: [N, C, spatial...] → [N, C, out...] (MaxPool's Indices are i64). */
function inferPool(ctx: InferCtx): TensorType[] {
  const x = input(ctx, 0, ctx.node.op === 'onnx.MaxPool' ? POOL_TYPES : FLOATS);
  const xs = spatialInput(ctx, x);
  const shape = xs && [xs[0]!, xs[1]!, ...windowShape(windowAttrs(ctx.node, xs.length - 2), xs.slice(2))];
  const types: TensorType[] = [{ dtype: x.dtype, shape }, { dtype: 'i64', shape }];
  return types.slice(0, ctx.numOutputs);
}

const POOL_ATTRS: Readonly<Record<string, AttrSpec>> = {
  auto_pad: { kind: 'string', default: 'NOTSET' }, ceil_mode: int(0), dilations: ints, kernel_shape: { kind: 'ints' }, pads: ints, strides: ints,
};

registerOp({
  name: 'onnx.MaxPool', summary: 'windowed max; optional Indices output (flat NCHW index, storage_order 1 = column-major spatial)',
  inputs: [1, 1], outputs: [1, 2], since: 22, attrs: { ...POOL_ATTRS, storage_order: int(0) }, infer: inferPool,
});

registerOp({
  name: 'onnx.AveragePool', summary: 'windowed mean; count_include_pad counts padded positions in the divisor',
  inputs: [1, 1], outputs: [1, 1], since: 22, attrs: { ...POOL_ATTRS, count_include_pad: int(0) }, infer: inferPool,
});

registerOp({
  name: 'onnx.LpPool', summary: 'windowed Lp norm (sum |x|^p)^(1/p); padding contributes 0',
  inputs: [1, 1], outputs: [1, 1], since: 22, attrs: { ...POOL_ATTRS, p: int(2) }, infer: inferPool,
});

/** Global pools: [N, C, spatial...] → [N, C, 1, ...]. */
const GLOBAL_POOLS: readonly { name: string; summary: string; attrs?: Record<string, AttrSpec> }[] = [
  { name: 'GlobalAveragePool', summary: 'mean over the spatial dims' },
  { name: 'GlobalMaxPool', summary: 'max over the spatial dims' },
  { name: 'GlobalLpPool', summary: 'Lp norm over the spatial dims', attrs: { p: int(2) } },
];

for (const g of GLOBAL_POOLS) {
  registerOp({
    name: `onnx.${g.name}`, summary: g.summary, inputs: [1, 1], outputs: [1, 1], since: 22, attrs: g.attrs ?? {},
    infer: (ctx) => {
      const x = input(ctx, 0, FLOATS);
      const xs = spatialInput(ctx, x);
      return [{ dtype: x.dtype, shape: xs && xs.map((d, i) => (i < 2 ? d : 1)) }];
    },
  });
}

// ---- Softmax family, LRN ---------------------------------------------------------------------

/** The Softmax family; each also has a `fused.<name>2D` form for opset < 13 nodes that coerce to 2-D. */
export const SOFTMAX_OPS = ['Softmax', 'LogSoftmax', 'Hardmax'] as const;

const SOFTMAX_SUMMARY: Record<(typeof SOFTMAX_OPS)[number], string> = {
  Softmax: 'exp(x) / sum exp(x) over one axis',
  LogSoftmax: 'x - log(sum exp(x)) over one axis',
  Hardmax: '1 at the first maximum along one axis, else 0',
};

function inferSoftmax(ctx: InferCtx): TensorType[] {
  const x = input(ctx, 0, FLOATS);
  if (x.shape && normalizeAxis(ctx.attr<number>('axis'), x.shape.length) === undefined) {
    ctx.fail(`axis ${ctx.attr<number>('axis')} is out of range for rank ${x.shape.length}`);
  }
  return [x];
}

/**
 * Opset < 13 computes over x flattened to 2-D at `axis` (default 1). When at most one dim of
 * [axis, rank) exceeds 1 that equals the canonical single-axis op over that dim; otherwise the
 * node becomes `fused.<op>2D`, which keeps the 2-D semantics and expands to Flatten → op → Reshape.
 */
function upgradeSoftmax(node: Node, ctx: UpgradeCtx): void {
  if (ctx.opset >= 13) return;
  const axis = (node.attrs.axis as number | undefined) ?? 1;
  const shape = node.inputs[0]?.type.shape;
  const a = shape && normalizeAxis(axis, shape.length);
  const big = shape && a !== undefined ? shape.map((_, i) => i).filter((i) => i >= a && shape[i] !== 1) : undefined;
  if (big && a !== undefined && big.length <= 1) {
    node.attrs.axis = big[0] ?? a;
    return;
  }
  node.attrs.axis = axis;
  node.op = `fused.${node.op.slice('onnx.'.length)}2D`;
}

for (const op of SOFTMAX_OPS) {
  registerOp({
    name: `onnx.${op}`, inputs: [1, 1], outputs: [1, 1], since: 13, attrs: { axis: int(-1) },
    summary: `${SOFTMAX_SUMMARY[op]}; an opset < 13 node (2-D coercion at axis) stays onnx.${op} when that is single-axis, else becomes fused.${op}2D`,
    infer: inferSoftmax, upgrade: upgradeSoftmax,
  });
  registerOp({
    name: `fused.${op}2D`, summary: `opset < 13 ${op}: ${SOFTMAX_SUMMARY[op]} with x flattened to 2-D at axis`,
    inputs: [1, 1], outputs: [1, 1], attrs: { axis: int(1) }, infer: inferSoftmax,
    expand: (node: Node, b: Builder) => {
      const x = node.inputs[0]!;
      const flat = b.op('onnx.Flatten', [x], { axis: node.attrs.axis ?? 1 });
      const y = b.op(`onnx.${op}`, [flat], { axis: 1 });
      return [b.op('onnx.Reshape', [y, b.op('onnx.Shape', [x])])];
    },
  });
}

registerOp({
  name: 'onnx.LRN', summary: 'x / (bias + alpha/size * sum of x^2 over `size` neighbouring channels)^beta',
  inputs: [1, 1], outputs: [1, 1], since: 13,
  attrs: { alpha: float(1e-4), beta: float(0.75), bias: float(1), size: { kind: 'int' } },
  infer: (ctx) => [input(ctx, 0, FLOATS)],
});
