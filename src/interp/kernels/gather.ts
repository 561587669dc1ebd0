/**
 * @fileoverview Indexing kernels: the Gather/Scatter family, OneHot, TopK, ArgMax/ArgMin and
 * NonZero. Gathers and scatters move storage elements as they are; scatter reductions round
 * floats to the dtype after combining.
 */
import { floatRounder, isBig, isFloat } from '../../ir/dtype.js';
import { getAttr } from '../../ir/registry.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { registerKernel } from '../kernel.js';
import { type Elem, attr, axisOf, buf, copyRun, forEachIndex, ints } from './copy.js';

/** Resolve an index against `dim` (negative counts from the end) or throw. */
function index(i: number, dim: number): number {
  const j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) throw new Error(`index ${i} is out of range for a dim of size ${dim}`);
  return j;
}

// ---- Gather family ---------------------------------------------------------------------------

registerKernel('onnx.Gather', ([x, idxT], node) => {
  const axis = axisOf(attr(node, 'axis'), x!.rank);
  const idx = ints(idxT)!;
  const dim = x!.shape[axis]!;
  const outer = numel(x!.shape.slice(0, axis));
  const inner = numel(x!.shape.slice(axis + 1));
  const out = Tensor.zeros(x!.dtype, [...x!.shape.slice(0, axis), ...idxT!.shape, ...x!.shape.slice(axis + 1)]);
  const S = buf(x!);
  const D = buf(out);
  const rows = idx.map((i) => index(i, dim) * inner);
  let d = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * dim * inner;
    for (const r of rows) {
      const s = base + r;
      copyRun(D, d, S, s, inner);
      d += inner;
    }
  }
  return [out];
});

/** The data offset of each element of `idx` along `axis` (the other coordinates are the element's own). */
function elementOffsets(data: readonly number[], idxT: Tensor, axis: number): Int32Array {
  const ds = strides(data);
  const idx = idxT.toNumbers();
  const off = new Int32Array(idx.length);
  forEachIndex(idxT.shape, (i, at) => {
    let o = 0;
    for (let k = 0; k < at.length; k++) o += (k === axis ? index(idx[i]!, data[axis]!) : at[k]!) * ds[k]!;
    off[i] = o;
  });
  return off;
}

registerKernel('onnx.GatherElements', ([x, idxT], node) => {
  const off = elementOffsets(x!.shape, idxT!, axisOf(attr(node, 'axis'), x!.rank));
  const out = Tensor.zeros(x!.dtype, idxT!.shape);
  const S = buf(x!);
  const D = buf(out);
  for (let i = 0; i < off.length; i++) D[i] = S[off[i]!]!;
  return [out];
});

/**
 * The slices an ND index tensor addresses: for each index tuple (batch dims included) the data
 * offset of its slice, and the slice size.
 */
function ndOffsets(data: readonly number[], idxT: Tensor, batchDims: number): { offsets: number[]; slice: number } {
  const k = idxT.shape[idxT.rank - 1]!;
  const idx = idxT.toNumbers();
  const ds = strides(data);
  const slice = numel(data.slice(batchDims + k));
  const tuples = idx.length / k;
  const perBatch = tuples / Math.max(1, numel(idxT.shape.slice(0, batchDims)));
  const batchSize = numel(data.slice(batchDims));
  const offsets: number[] = [];
  for (let t = 0; t < tuples; t++) {
    let o = Math.floor(t / perBatch) * batchSize;
    for (let j = 0; j < k; j++) o += index(idx[t * k + j]!, data[batchDims + j]!) * ds[batchDims + j]!;
    offsets.push(o);
  }
  return { offsets, slice };
}

registerKernel('onnx.GatherND', ([x, idxT], node) => {
  const b = attr(node, 'batch_dims');
  const { offsets, slice } = ndOffsets(x!.shape, idxT!, b);
  const k = idxT!.shape[idxT!.rank - 1]!;
  const out = Tensor.zeros(x!.dtype, [...idxT!.shape.slice(0, -1), ...x!.shape.slice(b + k)]);
  const S = buf(x!);
  const D = buf(out);
  offsets.forEach((o, t) => copyRun(D, t * slice, S, o, slice));
  return [out];
});

/** Scatter reductions by representation; floats round to the dtype after combining. */
const SCATTER: Record<string, { num: (a: number, b: number) => number; big: (a: bigint, b: bigint) => bigint } | undefined> = {
  none: undefined,
  add: { num: (a, b) => a + b, big: (a, b) => a + b },
  mul: { num: (a, b) => a * b, big: (a, b) => a * b },
  max: { num: (a, b) => (a >= b ? a : b), big: (a, b) => (a >= b ? a : b) },
  min: { num: (a, b) => (a <= b ? a : b), big: (a, b) => (a <= b ? a : b) },
};

/** data[o] ∘= update, per the reduction. */
function scatterInto(out: Tensor, reduction: string): (o: number, v: Elem) => void {
  const D = out.data as unknown as { [i: number]: Elem };
  const red = SCATTER[reduction];
  if (!red) return (o, v) => { D[o] = v; };
  if (isBig(out.dtype)) return (o, v) => { D[o] = red.big(D[o] as bigint, v as bigint); };
  const round = out.dtype === 'f32' ? undefined : floatRounder(out.dtype);
  const mul = reduction === 'mul' && !isFloat(out.dtype) ? Math.imul : red.num;
  return round ? (o, v) => { D[o] = round(mul(D[o] as number, v as number)); } : (o, v) => { D[o] = mul(D[o] as number, v as number); };
}

registerKernel('onnx.ScatterND', ([x, idxT, upd], node) => {
  const out = x!.clone();
  const { offsets, slice } = ndOffsets(x!.shape, idxT!, 0);
  const put = scatterInto(out, getAttr<string>(node, 'reduction'));
  const U = upd!.data as unknown as ArrayLike<Elem>;
  offsets.forEach((o, t) => { for (let j = 0; j < slice; j++) put(o + j, U[t * slice + j]!); });
  return [out];
});

registerKernel('onnx.ScatterElements', ([x, idxT, upd], node) => {
  const out = x!.clone();
  const off = elementOffsets(x!.shape, idxT!, axisOf(attr(node, 'axis'), x!.rank));
  const put = scatterInto(out, getAttr<string>(node, 'reduction'));
  const U = upd!.data as unknown as ArrayLike<Elem>;
  for (let i = 0; i < off.length; i++) put(off[i]!, U[i]!);
  return [out];
});

// ---- OneHot ---------------------------------------------------------------------------------

registerKernel('onnx.OneHot', ([idxT, depthT, values], node) => {
  const depth = Math.trunc(depthT!.get(0));
  const axis = axisOf(attr(node, 'axis'), idxT!.rank + 1);
  const shape = [...idxT!.shape];
  shape.splice(axis, 0, depth);
  const out = Tensor.zeros(values!.dtype, shape);
  const [off, on] = [values!.data[0]!, values!.data[1]!];
  const D = out.data as unknown as Elem[];
  (buf(out)).fill(off as number);
  const inner = numel(idxT!.shape.slice(axis));
  const idx = idxT!.toNumbers();
  idx.forEach((v, i) => {
    const j = Math.trunc(v < 0 ? v + depth : v);
    if (j < 0 || j >= depth) return;
    const o = Math.floor(i / inner);
    D[(o * depth + j) * inner + (i % inner)] = on;
  });
  return [out];
});

// ---- TopK, ArgMax / ArgMin, NonZero -----------------------------------------------------------

/** Visit each line of `shape` along `axis`: f(offset of its first element, stride). */
function forEachLine(shape: readonly number[], axis: number, f: (base: number, stride: number, line: number) => void): void {
  const inner = numel(shape.slice(axis + 1));
  const outer = numel(shape.slice(0, axis));
  for (let o = 0, line = 0; o < outer; o++) for (let k = 0; k < inner; k++, line++) f(o * shape[axis]! * inner + k, inner, line);
}

registerKernel('onnx.TopK', ([x, kT], node) => {
  const axis = axisOf(attr(node, 'axis'), x!.rank);
  const k = kT!.get(0);
  const largest = attr(node, 'largest') !== 0;
  const dim = x!.shape[axis]!;
  if (k < 0 || k > dim) throw new Error(`k = ${k} is out of range for a dim of size ${dim}`);
  const shape = x!.shape.map((d, i) => (i === axis ? k : d));
  const vals = Tensor.zeros(x!.dtype, shape);
  const inds = Tensor.zeros('i64', shape);
  const S = x!.data as unknown as ArrayLike<Elem>;
  const V = vals.data as unknown as Elem[];
  const I = inds.data as BigInt64Array;
  const inner = numel(x!.shape.slice(axis + 1));
  const order = Array.from({ length: dim }, (_, i) => i);
  forEachLine(x!.shape, axis, (base, stride, line) => {
    const at = (i: number) => S[base + i * stride]!;
    order.sort((a, b) => {
      const [u, v] = [at(a), at(b)];
      if (u === v) return a - b;
      return (largest ? u < v : u > v) ? 1 : -1;
    });
    const ob = Math.floor(line / inner) * k * inner + (line % inner);
    for (let j = 0; j < k; j++) {
      V[ob + j * inner] = at(order[j]!);
      I[ob + j * inner] = BigInt(order[j]!);
    }
    order.sort((a, b) => a - b);
  });
  return [vals, inds];
});

for (const [op, better] of [['ArgMax', (a: Elem, b: Elem) => a > b], ['ArgMin', (a: Elem, b: Elem) => a < b]] as const) {
  registerKernel(`onnx.${op}`, ([x], node) => {
    const axis = axisOf(attr(node, 'axis'), x!.rank);
    const last = attr(node, 'select_last_index') !== 0;
    const keep = attr(node, 'keepdims') !== 0;
    const dim = x!.shape[axis]!;
    const shape = x!.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : []));
    const out = Tensor.zeros('i64', shape);
    const S = x!.data as unknown as ArrayLike<Elem>;
    const D = out.data as BigInt64Array;
    forEachLine(x!.shape, axis, (base, stride, line) => {
      let best = 0;
      for (let i = 1; i < dim; i++) {
        const v = S[base + i * stride]!;
        const b = S[base + best * stride]!;
        if (better(v, b) || (last && v === b)) best = i;
      }
      D[line] = BigInt(best);
    });
    return [out];
  });
}

registerKernel('onnx.NonZero', ([x]) => {
  const S = x!.data as unknown as ArrayLike<Elem>;
  const hits: number[] = [];
  for (let i = 0; i < x!.size; i++) if (S[i]) hits.push(i);
  const r = x!.rank;
  const out = Tensor.zeros('i64', [r, hits.length]);
  const D = out.data as BigInt64Array;
  const xs = strides(x!.shape);
  hits.forEach((h, j) => { for (let k = 0; k < r; k++) D[k * hits.length + j] = BigInt(Math.floor(h / xs[k]!) % x!.shape[k]!); });
  return [out];
});
