/**
 * @fileoverview Shape and data-movement ops: Reshape, Transpose, Concat/Split, Slice, Shape,
 * Expand/Tile, Range, Pad, Trilu, CumSum, DepthToSpace and friends. Shape arithmetic (symbolic
 * reshape, slice ranges, Split chunks, Shape ranges) lives here once and is shared by type
 * inference and the interpreter kernels; the Gather/Scatter family, Resize and Einsum live in
 * gather.ts, resize.ts and einsum.ts. Statically known shape/axes inputs are read with
 * `ctx.constant(i)`; what is not known becomes '?' dims or unknown rank.
 */
import { type DType, dtypeFromOnnx } from '../dtype.js';
import type { Node } from '../graph.js';
import { registerOp, type InferCtx, type UpgradeCtx } from '../registry.js';
import { broadcastShapes, normalizeAxis } from '../shape-utils.js';
import { Tensor } from '../tensor.js';
import { formatShape, isQuant, type Dim, type Shape, type TensorType } from '../types.js';
import {
  attrToInput, axisIn, constInts, hint, int, need, optInt, optInts, same, setInput, str, unknownRank,
} from './shape-common.js';


// ---- shape arithmetic ------------------------------------------------------------------------

/** Product of dims: a number when all are static, a symbol when it is the only non-1 factor, else '?'. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  const syms: Dim[] = [];
  for (const d of dims) if (typeof d === 'number') n *= d; else syms.push(d);
  if (syms.length === 0 || n === 0) return n;
  return syms.length === 1 && n === 1 ? syms[0]! : '?';
}

/**
 * product(num) / product(den) over symbolic dims: symbols of `den` cancel against `num`'s; the
 * result is a number, the one remaining symbol, or '?'. Throws when static sizes do not divide.
 */
export function dimQuotient(num: readonly Dim[], den: readonly Dim[]): Dim {
  let n = 1;
  let d = 1;
  const syms: string[] = [];
  for (const x of num) if (typeof x === 'number') n *= x; else syms.push(x);
  for (const x of den) {
    if (typeof x === 'number') { d *= x; continue; }
    const k = x === '?' ? -1 : syms.indexOf(x);
    if (k < 0) return '?';
    syms.splice(k, 1);
  }
  if (syms.length === 0) {
    if (d === 0 || n % d !== 0) throw new Error(`cannot reshape ${n} elements into a multiple of ${d}`);
    return n / d;
  }
  return syms.length === 1 && n === d && syms[0] !== '?' ? syms[0]! : '?';
}

/** Output dims of Reshape: 0 copies the input dim (unless allowzero), one -1 takes the rest. */
export function reshapeDims(input: readonly Dim[], spec: readonly number[], allowzero: boolean): Dim[] {
  const out: Dim[] = spec.map((s, i) => {
    if (s === 0 && !allowzero) {
      if (i >= input.length) throw new Error(`shape entry ${i} is 0 but the input has rank ${input.length}`);
      return input[i]!;
    }
    if (s < -1) throw new Error(`shape entry ${s} is invalid`);
    return s;
  });
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    if (out.indexOf(-1, neg + 1) >= 0) throw new Error('shape has more than one -1');
    out[neg] = dimQuotient(input, out.filter((_, i) => i !== neg));
  } else if (out.every((d) => typeof d === 'number') && input.every((d) => typeof d === 'number')) {
    const a = dimProduct(input);
    const b = dimProduct(out);
    if (a !== b) throw new Error(`cannot reshape [${input.join(',')}] into [${out.join(',')}]`);
  }
  return out;
}

/** Start, element count and step of a Slice along one axis of size `dim` (ONNX clamping rules). */
export function sliceAxis(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  if (step === 0) throw new Error('slice step must not be 0');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, -1, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, count };
}

/** The per-axis parameters of a Slice node, given its constant starts/ends/axes/steps. */
export function sliceParams(rank: number, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]):
  { axis: number; start: number; end: number; step: number }[] {
  if (starts.length !== ends.length) throw new Error(`starts has ${starts.length} entries, ends ${ends.length}`);
  return starts.map((start, i) => {
    const a = axes ? normalizeAxis(axes[i]!, rank) : i;
    if (a === undefined) throw new Error(`slice axis ${axes![i]} is out of range for rank ${rank}`);
    return { axis: a, start, end: ends[i]!, step: steps?.[i] ?? 1 };
  });
}

/** Output shape of ONNX broadcasting `shape` against `target` (Expand). */
function expandShape(ctx: InferCtx, shape: Shape, target: readonly number[]): Dim[] {
  const r = broadcastShapes([shape, target]);
  if (!r) return ctx.fail(`shape ${formatShape(shape)} does not expand to [${target.join(',')}]`);
  // a target dim of 1 keeps the input's dim (symbolic included); broadcastShapes already does that
  return r;
}

/** Upgrade that moves int attributes to inputs for opsets before `before`. */
const movesAttrs = (before: number, moves: readonly (readonly [string, number])[]) => (node: Node, ctx: UpgradeCtx): void => {
  if (ctx.opset >= before) return;
  for (const [name, i] of moves) attrToInput(node, ctx, name, i);
};

// ---- Reshape, Flatten, Squeeze, Unsqueeze, Transpose -------------------------------------------

registerOp({
  name: 'onnx.Reshape', summary: 'same data, new shape (0 copies an input dim unless allowzero, -1 infers one dim)',
  inputs: [2, 2], outputs: [1, 1], attrs: { allowzero: int(0) }, since: 14,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const spec = constInts(ctx, 1);
    if (spec) {
      if (!x.shape) return [{ dtype: x.dtype, shape: spec.includes(-1) || spec.includes(0) ? spec.map((d) => (d <= 0 ? '?' : d)) : spec }];
      try {
        return [{ dtype: x.dtype, shape: reshapeDims(x.shape, spec, ctx.attr<number>('allowzero') !== 0) }];
      } catch (e) {
        return ctx.fail((e as Error).message);
      }
    }
    const s = ctx.inputs[1]?.shape;
    return [{ dtype: x.dtype, shape: s && typeof s[0] === 'number' ? new Array<Dim>(s[0]).fill('?') : undefined }];
  },
  upgrade: (node, ctx) => {
    if (ctx.opset < 5) attrToInput(node, ctx, 'shape', 1);
  },
});

registerOp({
  name: 'onnx.Flatten', summary: 'reshape to 2-D: [prod(dims before axis), prod(dims from axis)]',
  inputs: [1, 1], outputs: [1, 1], attrs: { axis: int(1) }, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    if (!x.shape) return [{ dtype: x.dtype, shape: ['?', '?'] }];
    const r = x.shape.length;
    const ax = ctx.attr<number>('axis');
    const a = ax < 0 ? ax + r : ax;
    if (a < 0 || a > r) return ctx.fail(`axis ${ax} is out of range for rank ${r}`);
    return [{ dtype: x.dtype, shape: [dimProduct(x.shape.slice(0, a)), dimProduct(x.shape.slice(a))] }];
  },
});

/** Normalized, sorted, duplicate-free axes for a rank. */
function axesIn(ctx: InferCtx, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => axisIn(ctx, a, rank));
  if (new Set(out).size !== out.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  return out.sort((a, b) => a - b);
}

registerOp({
  name: 'onnx.Squeeze', summary: 'remove size-1 dims (the given axes, or every size-1 dim)',
  inputs: [1, 2], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const axes = constInts(ctx, 1);
    if (!x.shape) return unknownRank(x);
    if (ctx.inputs[1] && !axes) {
      const n = ctx.inputs[1].shape?.[0];
      return [{ dtype: x.dtype, shape: typeof n === 'number' ? new Array<Dim>(x.shape.length - n).fill('?') : undefined }];
    }
    if (!axes) {
      if (x.shape.includes('?')) return unknownRank(x);
      return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
    }
    const drop = axesIn(ctx, axes, x.shape.length);
    for (const a of drop) if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !drop.includes(i)) }];
  },
  upgrade: movesAttrs(13, [['axes', 1]]),
});

registerOp({
  name: 'onnx.Unsqueeze', summary: 'insert size-1 dims at the given axes (of the output)',
  inputs: [2, 2], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const axes = constInts(ctx, 1);
    if (!x.shape) return unknownRank(x);
    if (!axes) {
      const n = ctx.inputs[1]?.shape?.[0];
      return [{ dtype: x.dtype, shape: typeof n === 'number' ? new Array<Dim>(x.shape.length + n).fill('?') : undefined }];
    }
    return [{ dtype: x.dtype, shape: unsqueezeDims(ctx, x.shape, axes) }];
  },
  upgrade: movesAttrs(13, [['axes', 1]]),
});

function unsqueezeDims(ctx: InferCtx, shape: Shape, axes: readonly number[]): Dim[] {
  const rank = shape.length + axes.length;
  const ins = axesIn(ctx, axes, rank);
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ins.includes(i) ? 1 : shape[k++]!);
  return out;
}

/** The permutation of a Transpose node for `rank` (default: reversed dims). */
export function transposePerm(perm: readonly number[] | undefined, rank: number): number[] {
  const p = perm ? [...perm] : Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (p.length !== rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) throw new Error(`perm [${p.join(',')}] is not a permutation of ${rank} dims`);
  return p;
}

registerOp({
  name: 'onnx.Transpose', summary: 'permute dims (perm defaults to reversing them)',
  inputs: [1, 1], outputs: [1, 1], attrs: { perm: optInts }, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    if (!x.shape) return unknownRank(x);
    try {
      const p = transposePerm((ctx.node.attrs.perm as number[] | undefined), x.shape.length);
      return [{ dtype: x.dtype, shape: p.map((i) => x.shape![i]!) }];
    } catch (e) {
      return ctx.fail((e as Error).message);
    }
  },
});

// ---- Concat, Split -------------------------------------------------------------------------

registerOp({
  name: 'onnx.Concat', summary: 'join tensors along axis', inputs: [1, Infinity], outputs: [1, 1], attrs: { axis: { kind: 'int' } }, since: 13,
  infer: (ctx) => {
    const ts = ctx.inputs.map((_, i) => need(ctx, i));
    const known = ts.find((t) => t.shape);
    if (!known) return unknownRank(ts[0]!);
    const rank = known.shape!.length;
    const axis = axisIn(ctx, ctx.attr<number>('axis'), rank);
    const out: Dim[] = [...known.shape!];
    const along: Dim[] = [];
    for (const t of ts) {
      if (!t.shape) { along.push('?'); continue; }
      if (t.shape.length !== rank) ctx.fail(`inputs have ranks ${ts.map((u) => u.shape?.length ?? '*').join(', ')}`);
      t.shape.forEach((d, i) => {
        if (i === axis) return;
        if (out[i] === '?' || (typeof d === 'number' && typeof out[i] !== 'number')) out[i] = d;
        else if (typeof d === 'number' && typeof out[i] === 'number' && d !== out[i]) ctx.fail(`inputs disagree on dim ${i}: ${out[i]} vs ${d}`);
      });
      along.push(t.shape[axis]!);
    }
    out[axis] = along.every((d) => typeof d === 'number') ? (along as number[]).reduce((a, b) => a + b, 0) : along.length === 1 ? along[0]! : '?';
    return [{ dtype: ts[0]!.dtype, shape: out }];
  },
});

/** Chunk sizes of a Split of `dim` into `n` outputs without a `split` input (ceil-sized, last smaller). */
export function splitSizes(dim: number, n: number): number[] {
  const chunk = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

registerOp({
  name: 'onnx.Split', summary: 'split along axis by the `split` sizes, or into num_outputs (ceil-sized) chunks',
  inputs: [1, 2], outputs: [1, Infinity], attrs: { axis: int(0), num_outputs: optInt }, since: 18,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const n = ctx.numOutputs;
    if (!x.shape) return new Array<TensorType>(n).fill({ dtype: x.dtype, shape: undefined });
    const axis = axisIn(ctx, ctx.attr<number>('axis'), x.shape.length);
    const d = x.shape[axis]!;
    const split = constInts(ctx, 1);
    let sizes: Dim[];
    if (split) {
      if (split.length !== n) ctx.fail(`split has ${split.length} sizes for ${n} outputs`);
      if (typeof d === 'number' && split.reduce((a, b) => a + b, 0) !== d) ctx.fail(`split sizes [${split.join(',')}] do not add up to ${d}`);
      sizes = split;
    } else if (ctx.inputs[1]) {
      sizes = new Array<Dim>(n).fill('?');
    } else {
      sizes = typeof d === 'number' ? splitSizes(d, n) : new Array<Dim>(n).fill(n === 1 ? d : '?');
    }
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape!.map((v, i) => (i === axis ? s : v)) }));
  },
  upgrade: (node, ctx) => {
    if (ctx.opset < 13) attrToInput(node, ctx, 'split', 1);
    if (ctx.opset < 18 && !node.inputs[1]) node.attrs.num_outputs = node.outputs.length;
  },
});

// ---- Slice -----------------------------------------------------------------------------------

registerOp({
  name: 'onnx.Slice', summary: 'strided slice by starts/ends (clamped), optional axes and steps (negative steps walk backwards)',
  inputs: [3, 5], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    if (!x.shape) return unknownRank(x);
    const [starts, ends] = [constInts(ctx, 1), constInts(ctx, 2)];
    const axes = ctx.inputs[3] ? constInts(ctx, 3) : undefined;
    const steps = ctx.inputs[4] ? constInts(ctx, 4) : undefined;
    if (!starts || !ends || (ctx.inputs[3] && !axes) || (ctx.inputs[4] && !steps)) {
      // only the sliced axes change; without constant axes any might
      if (axes) return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (axes.some((a) => normalizeAxis(a, x.shape!.length) === i) ? '?' : d)) }];
      return [{ dtype: x.dtype, shape: x.shape.map(() => '?') }];
    }
    const out: Dim[] = [...x.shape];
    try {
      for (const p of sliceParams(x.shape.length, starts, ends, axes, steps)) {
        const d = x.shape[p.axis]!;
        if (typeof d === 'number') out[p.axis] = sliceAxis(d, p.start, p.end, p.step).count;
        else out[p.axis] = p.start === 0 && p.step === 1 && p.end >= 2 ** 31 - 1 ? d : '?';
      }
    } catch (e) {
      return ctx.fail((e as Error).message);
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  upgrade: movesAttrs(10, [['starts', 1], ['ends', 2], ['axes', 3]]),
});

// ---- Shape, Size, Expand, Tile, Range, ConstantOfShape, Identity, Dropout ----------------------

/** The [start, end) range of dims Shape returns for `rank`. */
export function shapeRange(rank: number, start: number, end: number | undefined): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const s = clamp(start);
  return [s, Math.max(s, clamp(end ?? rank))];
}

registerOp({
  name: 'onnx.Shape', summary: 'the dims [start, end) of the input shape as an i64 vector',
  inputs: [1, 1], outputs: [1, 1], attrs: { start: int(0), end: optInt }, since: 15,
  infer: (ctx) => {
    const s = need(ctx, 0).shape;
    if (!s) return [{ dtype: 'i64', shape: ['?'] }];
    const [a, b] = shapeRange(s.length, ctx.attr<number>('start'), (ctx.node.attrs.end as number | undefined));
    return [{ dtype: 'i64', shape: [b - a] }];
  },
});

registerOp({
  name: 'onnx.Size', summary: 'number of elements as an i64 scalar', inputs: [1, 1], outputs: [1, 1], attrs: {}, since: 13,
  infer: () => [{ dtype: 'i64', shape: [] }],
});

registerOp({
  name: 'onnx.Expand', summary: 'broadcast the input to a shape (numpy rules, both ways)', inputs: [2, 2], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const target = constInts(ctx, 1);
    if (target && x.shape) return [{ dtype: x.dtype, shape: expandShape(ctx, x.shape, target) }];
    const n = ctx.inputs[1]?.shape?.[0];
    if (!x.shape || typeof n !== 'number') return unknownRank(x);
    return [{ dtype: x.dtype, shape: new Array<Dim>(Math.max(n, x.shape.length)).fill('?') }];
  },
});

registerOp({
  name: 'onnx.Tile', summary: 'repeat the input repeats[i] times along each dim', inputs: [2, 2], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    if (!x.shape) return unknownRank(x);
    const reps = constInts(ctx, 1);
    if (reps && reps.length !== x.shape.length) ctx.fail(`repeats has ${reps.length} entries for rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (!reps ? '?' : reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : '?')) }];
  },
});

/** Element count of Range(start, limit, delta). */
export const rangeCount = (start: number, limit: number, delta: number): number => Math.max(Math.ceil((limit - start) / delta), 0);

registerOp({
  name: 'onnx.Range', summary: 'start, start + delta, ... up to (excluding) limit; scalar inputs of one type',
  inputs: [3, 3], outputs: [1, 1], attrs: {}, since: 11,
  infer: (ctx) => {
    const v = [0, 1, 2].map((i) => ctx.constant(i)?.get(0));
    const n = v.every((x) => x !== undefined) ? rangeCount(v[0]!, v[1]!, v[2]!) : '?';
    return [{ dtype: need(ctx, 0).dtype, shape: [n] }];
  },
});

registerOp({
  name: 'onnx.ConstantOfShape', summary: 'a tensor of the given shape filled with `value` (default f32 0)',
  inputs: [1, 1], outputs: [1, 1], attrs: { value: { kind: 'tensor', optional: true } }, since: 9,
  infer: (ctx) => {
    const dtype = (ctx.node.attrs.value as Tensor | undefined)?.dtype ?? 'f32';
    const dims = constInts(ctx, 0);
    if (dims) return [{ dtype, shape: dims }];
    const n = need(ctx, 0).shape?.[0];
    return [{ dtype, shape: typeof n === 'number' ? new Array<Dim>(n).fill('?') : undefined }];
  },
});

registerOp({
  name: 'onnx.Identity', summary: 'the input unchanged', inputs: [1, 1], outputs: [1, 1], attrs: {}, since: 16, infer: same,
});

registerOp({
  name: 'onnx.Dropout', summary: 'inference: the input unchanged and an all-true mask; training_mode: seeded random mask, kept values scaled',
  inputs: [1, 3], outputs: [1, 2], attrs: { seed: optInt }, since: 13,
  infer: (ctx) => {
    const x = need(ctx, 0);
    return ctx.numOutputs === 2 ? [x, { dtype: 'bool', shape: x.shape }] : [x];
  },
  upgrade: (node, ctx) => {
    if (ctx.opset >= 12) return;
    const ratio = node.attrs.ratio as number | undefined;
    delete node.attrs.ratio;
    if (ratio !== undefined) setInput(node, 1, ctx.constant(Tensor.scalar('f32', ratio), hint(node, 'ratio')));
  },
});

// ---- Pad -------------------------------------------------------------------------------------

const PAD_MODES = ['constant', 'reflect', 'edge', 'wrap'];

registerOp({
  name: 'onnx.Pad', summary: 'pad with a constant, or by reflect / edge / wrap; pads [begins..., ends...] over axes (may be negative)',
  inputs: [2, 4], outputs: [1, 1], attrs: { mode: str('constant') }, since: 19,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const mode = ctx.attr<string>('mode');
    if (!PAD_MODES.includes(mode)) ctx.fail(`mode "${mode}" is not one of ${PAD_MODES.join(', ')}`);
    if (!x.shape) return unknownRank(x);
    const pads = constInts(ctx, 1);
    const axes = ctx.inputs[3] ? constInts(ctx, 3) : x.shape.map((_, i) => i);
    if (!pads || !axes) return [{ dtype: x.dtype, shape: x.shape.map(() => '?') }];
    const n = axes.length;
    if (pads.length !== 2 * n) ctx.fail(`pads has ${pads.length} entries for ${n} axes`);
    const out: Dim[] = [...x.shape];
    axes.forEach((a, i) => {
      const k = axisIn(ctx, a, x.shape!.length);
      const d = out[k]!;
      const add = pads[i]! + pads[i + n]!;
      out[k] = add === 0 ? d : typeof d === 'number' ? d + add : '?';
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  upgrade: (node, ctx) => {
    if (ctx.opset >= 11) return;
    attrToInput(node, ctx, 'pads', 1);
    const value = node.attrs.value as number | undefined;
    delete node.attrs.value;
    const dt = plainOf(node.inputs[0]?.type.dtype) ?? 'f32';
    if (value !== undefined && value !== 0) setInput(node, 2, ctx.constant(Tensor.scalar(dt, value), hint(node, 'value')));
  },
});

function plainOf(d: TensorType['dtype'] | undefined): DType | undefined {
  return d === undefined || isQuant(d) ? undefined : d;
}

// ---- Trilu, CumSum, EyeLike ----------------------------------------------------------------

registerOp({
  name: 'onnx.Trilu', summary: 'keep the upper (or lower) triangle of the last two dims, offset by k; zero the rest',
  inputs: [1, 2], outputs: [1, 1], attrs: { upper: int(1) }, since: 14, infer: same,
});

registerOp({
  name: 'onnx.CumSum', summary: 'cumulative sum along axis (exclusive, reverse)', inputs: [2, 2], outputs: [1, 1],
  attrs: { exclusive: int(0), reverse: int(0) }, since: 14, infer: same,
});

registerOp({
  name: 'onnx.EyeLike', summary: '2-D identity-like tensor (ones on diagonal k) of the input shape, dtype optional',
  inputs: [1, 1], outputs: [1, 1], attrs: { dtype: optInt, k: int(0) }, since: 9,
  infer: (ctx) => {
    const x = need(ctx, 0);
    const code = (ctx.node.attrs.dtype as number | undefined);
    const dtype = code === undefined ? x.dtype : dtypeFromOnnx(code) ?? ctx.fail(`dtype ${code} is not supported`);
    if (x.shape && x.shape.length !== 2) ctx.fail(`input must be 2-D, got ${formatShape(x.shape)}`);
    return [{ dtype, shape: x.shape ?? ['?', '?'] }];
  },
});

// ---- DepthToSpace, SpaceToDepth ------------------------------------------------------------

const blockDims = (ctx: InferCtx, toSpace: boolean): TensorType[] => {
  const x = need(ctx, 0);
  const b = ctx.attr<number>('blocksize');
  if (!x.shape) return [{ dtype: x.dtype, shape: ['?', '?', '?', '?'] }];
  if (x.shape.length !== 4) ctx.fail(`input must be 4-D, got ${formatShape(x.shape)}`);
  const [n, c, h, w] = x.shape as Dim[];
  const mul = (d: Dim, k: number) => (typeof d === 'number' ? d * k : '?');
  const div = (d: Dim, k: number) => {
    if (typeof d !== 'number') return '?';
    if (d % k !== 0) ctx.fail(`dim ${d} is not a multiple of ${k}`);
    return d / k;
  };
  return [{ dtype: x.dtype, shape: toSpace ? [n!, div(c!, b * b), mul(h!, b), mul(w!, b)] : [n!, mul(c!, b * b), div(h!, b), div(w!, b)] }];
};

registerOp({
  name: 'onnx.DepthToSpace', summary: 'move channel blocks into spatial blocks (DCR or CRD order)', inputs: [1, 1], outputs: [1, 1],
  attrs: { blocksize: { kind: 'int' }, mode: str('DCR') }, since: 13, infer: (ctx) => blockDims(ctx, true),
});

registerOp({
  name: 'onnx.SpaceToDepth', summary: 'move spatial blocks into channels', inputs: [1, 1], outputs: [1, 1],
  attrs: { blocksize: { kind: 'int' } }, since: 13, infer: (ctx) => blockDims(ctx, false),
});
