/**
 * @fileoverview Shape and data-movement kernels. Data movement copies storage elements as they
 * are (BigInts stay BigInts, narrow floats stay rounded), through one strided-copy routine with
 * precomputed strides; shape-only ops (Reshape, Squeeze, Identity, ...) share the input's data.
 * Arithmetic kernels (Resize, Einsum, CumSum, Range) compute in float64 and round once.
 */
import { type DType, type TypedArray, dtypeFromOnnx, floatRounder, isBig, isFloat } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { broadcastStatic, normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import {
  parseEinsum, rangeCount, reshapeDims, resizeGeometry, shapeRange, sliceAxis, sliceParams, splitSizes, transposePerm,
} from '../../ir/ops/shape.js';
import { registerKernel } from '../kernel.js';

type Elem = number | bigint;
/**
 * Storage viewed generically. Kernels here only move elements between arrays of one dtype, so
 * the Float64Array view stands for every storage array (BigInt arrays included).
 */
type Buf = Float64Array;
const buf = (t: Tensor): Buf => t.data as unknown as Buf;

const attr = (node: Node, name: string): number => getAttr<number>(node, name);
const optAttr = <T>(node: Node, name: string): T | undefined => node.attrs[name] as T | undefined;

/** The values of an integer input (shape, axes, indices) as numbers. */
const ints = (t: Tensor | undefined): number[] | undefined => t?.toNumbers();

/** Normalize an axis or throw. */
function axisOf(axis: number, rank: number): number {
  const a = normalizeAxis(axis, rank);
  if (a === undefined) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Copy n contiguous elements; `set` over a subarray only pays off for longer runs. */
function copyRun(D: Buf, d: number, S: Buf, s: number, n: number): void {
  if (n >= 16) D.set(S.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) D[d + i] = S[s + i]!;
}

/**
 * dst[dOff + Σ i_k·dStr_k] = src[sOff + Σ i_k·sStr_k] over `shape`. Size-1 dims are dropped and
 * dims contiguous in both arrays merged; contiguous inner runs copy with `set`.
 */
export function stridedCopy(dst: TypedArray, dOff: number, dStr: readonly number[], src: TypedArray, sOff: number, sStr: readonly number[], shape: readonly number[]): void {
  const D = dst as unknown as Buf;
  const S = src as unknown as Buf;
  const sh: number[] = [];
  const ds: number[] = [];
  const ss: number[] = [];
  for (let k = 0; k < shape.length; k++) {
    const n = shape[k]!;
    if (n === 0) return;
    if (n === 1) continue;
    const j = sh.length - 1;
    if (j >= 0 && ds[j] === dStr[k]! * n && ss[j] === sStr[k]! * n) {
      sh[j]! *= n;
      ds[j] = dStr[k]!;
      ss[j] = sStr[k]!;
    } else {
      sh.push(n);
      ds.push(dStr[k]!);
      ss.push(sStr[k]!);
    }
  }
  const r = sh.length;
  if (r === 0) { D[dOff] = S[sOff]!; return; }
  const n = sh[r - 1]!;
  const di = ds[r - 1]!;
  const si = ss[r - 1]!;
  let outer = 1;
  for (let k = 0; k < r - 1; k++) outer *= sh[k]!;
  const idx = new Array<number>(r).fill(0);
  let d = dOff;
  let s = sOff;
  for (let o = 0; o < outer; o++) {
    if (di === 1 && si === 1) copyRun(D, d, S, s, n);
    else for (let i = 0, dd = d, sp = s; i < n; i++, dd += di, sp += si) D[dd] = S[sp]!;
    for (let k = r - 2; k >= 0; k--) {
      idx[k]!++;
      d += ds[k]!;
      s += ss[k]!;
      if (idx[k]! < sh[k]!) break;
      d -= ds[k]! * sh[k]!;
      s -= ss[k]! * sh[k]!;
      idx[k] = 0;
    }
  }
}

/** x with dims permuted by `perm` (out dim i = x dim perm[i]). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const out = Tensor.zeros(x.dtype, shape);
  const xs = strides(x.shape);
  stridedCopy(out.data, 0, strides(shape), x.data, 0, perm.map((p) => xs[p]!), shape);
  return out;
}

/** Resolve an index against `dim` (negative counts from the end) or throw. */
function index(i: number, dim: number): number {
  const j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) throw new Error(`index ${i} is out of range for a dim of size ${dim}`);
  return j;
}

// ---- shape-only ops ------------------------------------------------------------------------

registerKernel('onnx.Reshape', ([x, s], node) => [x!.reshape(reshapeDims(x!.shape, ints(s)!, attr(node, 'allowzero') !== 0) as number[])]);

registerKernel('onnx.Flatten', ([x], node) => {
  const r = x!.rank;
  const ax = attr(node, 'axis');
  const a = ax < 0 ? ax + r : ax;
  return [x!.reshape([numel(x!.shape.slice(0, a)), numel(x!.shape.slice(a))])];
});

registerKernel('onnx.Squeeze', ([x, axesT]) => {
  const axes = ints(axesT)?.map((a) => axisOf(a, x!.rank));
  if (axes) for (const a of axes) if (x!.shape[a] !== 1) throw new Error(`cannot squeeze axis ${a} of size ${x!.shape[a]}`);
  return [x!.reshape(x!.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)))];
});

registerKernel('onnx.Unsqueeze', ([x, axesT]) => {
  const rank = x!.rank + axesT!.size;
  const axes = ints(axesT)!.map((a) => axisOf(a, rank));
  const out: number[] = [];
  for (let i = 0, k = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x!.shape[k++]!);
  return [x!.reshape(out)];
});

registerKernel('onnx.Identity', ([x]) => [x!]);
/**
 * Uniform doubles in [0, 1) from MT19937 seeded like numpy's legacy `np.random.seed(seed)`: the
 * stream the ONNX reference draws training-mode Dropout masks from.
 */
export function mt19937Uniform(seed: number, n: number): Float64Array {
  const mt = new Uint32Array(624);
  mt[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) {
    const p = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
    mt[i] = (Math.imul(1812433253, p) + i) >>> 0;
  }
  let pos = 624;
  const next = (): number => {
    if (pos >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
        mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      pos = 0;
    }
    let y = mt[pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    return (y ^ (y >>> 18)) >>> 0;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  return out;
}

/** Inference: identity with an all-true mask. Training mode keeps x / (1 - ratio) where a seeded uniform draw is >= ratio. */
registerKernel('onnx.Dropout', ([x, ratioT, mode], node) => {
  const ratio = ratioT ? ratioT.get(0) : 0.5;
  const mask = new Tensor('bool', x!.shape, new Uint8Array(x!.size).fill(1));
  let y = x!;
  if (mode && mode.get(0) !== 0 && ratio !== 0) {
    if (!isFloat(x!.dtype)) throw new Error('training-mode Dropout takes float inputs');
    const u = mt19937Uniform(optAttr<number>(node, 'seed') ?? 0, x!.size);
    const scale = 1 / (1 - ratio);
    const S = x!.data as ArrayLike<number>;
    for (let i = 0; i < u.length; i++) mask.data[i] = +(u[i]! >= ratio);
    y = Tensor.from(x!.dtype, x!.shape, Array.from(S, (v, i) => (mask.data[i] ? v * scale : 0)));
  }
  return node.outputs.length > 1 ? [y, mask] : [y];
});

registerKernel('onnx.Shape', ([x], node) => {
  const [a, b] = shapeRange(x!.rank, attr(node, 'start'), optAttr<number>(node, 'end'));
  return [Tensor.from('i64', [b - a], x!.shape.slice(a, b))];
});

registerKernel('onnx.Size', ([x]) => [Tensor.scalar('i64', x!.size)]);

// ---- Transpose, Concat, Split, Slice, Expand, Tile ---------------------------------------------

registerKernel('onnx.Transpose', ([x], node) => [transpose(x!, transposePerm(optAttr<number[]>(node, 'perm'), x!.rank))]);

registerKernel('onnx.Concat', (inputs, node) => {
  const ts = inputs as readonly Tensor[];
  const rank = ts[0]!.rank;
  const axis = axisOf(attr(node, 'axis'), rank);
  const shape = [...ts[0]!.shape];
  shape[axis] = ts.reduce((a, t) => a + t.shape[axis]!, 0);
  const out = Tensor.zeros(ts[0]!.dtype, shape);
  const outer = numel(shape.slice(0, axis));
  const inner = numel(shape.slice(axis + 1));
  const row = shape[axis]! * inner;
  const D = buf(out);
  let off = 0;
  for (const t of ts) {
    const blk = t.shape[axis]! * inner;
    const S = buf(t);
    for (let o = 0; o < outer; o++) copyRun(D, o * row + off, S, o * blk, blk);
    off += blk;
  }
  return [out];
});

registerKernel('onnx.Split', ([x, splitT], node) => {
  const axis = axisOf(attr(node, 'axis'), x!.rank);
  const dim = x!.shape[axis]!;
  const sizes = ints(splitT) ?? splitSizes(dim, optAttr<number>(node, 'num_outputs') ?? node.outputs.length);
  if (sizes.reduce((a, b) => a + b, 0) !== dim) throw new Error(`split sizes [${sizes.join(',')}] do not add up to ${dim}`);
  const outer = numel(x!.shape.slice(0, axis));
  const inner = numel(x!.shape.slice(axis + 1));
  const row = dim * inner;
  const S = buf(x!);
  let off = 0;
  return sizes.map((n) => {
    const out = Tensor.zeros(x!.dtype, x!.shape.map((d, i) => (i === axis ? n : d)));
    const blk = n * inner;
    const D = buf(out);
    for (let o = 0; o < outer; o++) copyRun(D, o * blk, S, o * row + off, blk);
    off += blk;
    return out;
  });
});

registerKernel('onnx.Slice', ([x, st, en, ax, sp]) => {
  const shape = [...x!.shape];
  const xs = strides(x!.shape);
  const srcStr = [...xs];
  let off = 0;
  for (const p of sliceParams(x!.rank, ints(st)!, ints(en)!, ints(ax), ints(sp))) {
    const { start, count } = sliceAxis(x!.shape[p.axis]!, p.start, p.end, p.step);
    shape[p.axis] = count;
    srcStr[p.axis] = xs[p.axis]! * p.step;
    if (count > 0) off += start * xs[p.axis]!;
  }
  const out = Tensor.zeros(x!.dtype, shape);
  stridedCopy(out.data, 0, strides(shape), x!.data, off, srcStr, shape);
  return [out];
});

/** Source strides of `shape` broadcast to `out` (0 along broadcast dims). */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = strides(shape);
  const off = out.length - shape.length;
  return out.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!));
}

/** x broadcast to `shape` (a copy). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const out = Tensor.zeros(x.dtype, shape);
  stridedCopy(out.data, 0, strides(shape), x.data, 0, broadcastStrides(x.shape, shape), shape);
  return out;
}

registerKernel('onnx.Expand', ([x, s]) => [broadcastTo(x!, broadcastStatic([x!.shape, ints(s)!]))]);

registerKernel('onnx.Tile', ([x, r]) => {
  const reps = ints(r)!;
  const shape = x!.shape.map((d, i) => d * reps[i]!);
  const out = Tensor.zeros(x!.dtype, shape);
  const os = strides(shape);
  const xs = strides(x!.shape);
  // out index (a·d + b) along each dim: a repeats (source stride 0), b walks the source
  const copyShape = x!.shape.flatMap((d, i) => [reps[i]!, d]);
  stridedCopy(out.data, 0, x!.shape.flatMap((d, i) => [d * os[i]!, os[i]!]), x!.data, 0, xs.flatMap((s) => [0, s]), copyShape);
  return [out];
});

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

/** Call f(flat index, multi-index) for every element of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], f: (flat: number, at: readonly number[]) => void): void {
  const n = numel(shape);
  const at = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(i, at);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++at[k]! < shape[k]!) break;
      at[k] = 0;
    }
  }
}

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

// ---- Range, ConstantOfShape, EyeLike, OneHot, Trilu, CumSum --------------------------------

registerKernel('onnx.Range', ([s, l, d]) => {
  const dtype = s!.dtype;
  if (isBig(dtype)) {
    const [a, b, c] = [s!.getBig(0), l!.getBig(0), d!.getBig(0)];
    const n = Number(c > 0n ? (b - a + c - 1n) / c : (a - b - c - 1n) / -c);
    return [Tensor.from(dtype, [Math.max(n, 0)], Array.from({ length: Math.max(n, 0) }, (_, i) => a + BigInt(i) * c))];
  }
  const [a, b, c] = [s!.get(0), l!.get(0), d!.get(0)];
  const n = rangeCount(a, b, c);
  return [Tensor.from(dtype, [n], Array.from({ length: n }, (_, i) => a + i * c))];
});

registerKernel('onnx.ConstantOfShape', ([s], node) => {
  const v = optAttr<Tensor>(node, 'value');
  const out = Tensor.zeros(v?.dtype ?? 'f32', ints(s)!);
  if (v) (buf(out)).fill(v.data[0] as number);
  return [out];
});

/** The value 1 in the storage of `dtype`. */
const one = (dtype: DType): Elem => (isBig(dtype) ? 1n : 1);

registerKernel('onnx.EyeLike', ([x], node) => {
  const code = optAttr<number>(node, 'dtype');
  const dtype = code === undefined ? x!.dtype : dtypeFromOnnx(code)!;
  const [n, m] = x!.shape as [number, number];
  const k = attr(node, 'k');
  const out = Tensor.zeros(dtype, [n, m]);
  const D = out.data as unknown as Elem[];
  for (let i = Math.max(0, -k); i < n && i + k < m; i++) D[i * m + i + k] = one(dtype);
  return [out];
});

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

registerKernel('onnx.Trilu', ([x, kT], node) => {
  const k = kT ? kT.get(0) : 0;
  const upper = attr(node, 'upper') !== 0;
  const out = x!.clone();
  const [n, m] = x!.shape.slice(-2) as [number, number];
  const D = out.data as unknown as Elem[];
  const zero: Elem = isBig(x!.dtype) ? 0n : 0;
  for (let base = 0; base < out.size; base += n * m) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) if (upper ? j - i < k : j - i > k) D[base + i * m + j] = zero;
    }
  }
  return [out];
});

registerKernel('onnx.CumSum', ([x, axisT], node) => {
  const axis = axisOf(axisT!.get(0), x!.rank);
  const exclusive = attr(node, 'exclusive') !== 0;
  const reverse = attr(node, 'reverse') !== 0;
  const out = Tensor.zeros(x!.dtype, x!.shape);
  const dim = x!.shape[axis]!;
  const inner = numel(x!.shape.slice(axis + 1));
  const outer = numel(x!.shape.slice(0, axis));
  const big = isBig(x!.dtype);
  const round = x!.dtype === 'f32' ? undefined : floatRounder(x!.dtype);
  const S = x!.data as unknown as ArrayLike<Elem>;
  const D = out.data as unknown as Elem[];
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      let acc: Elem = big ? 0n : 0;
      for (let t = 0; t < dim; t++) {
        const i = (o * dim + (reverse ? dim - 1 - t : t)) * inner + k;
        const v = S[i]!;
        if (!exclusive) acc = (acc as number) + (v as number);
        D[i] = round ? round(acc as number) : acc;
        if (exclusive) acc = (acc as number) + (v as number);
      }
    }
  }
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

// ---- DepthToSpace, SpaceToDepth ------------------------------------------------------------

registerKernel('onnx.DepthToSpace', ([x], node) => {
  const b = attr(node, 'blocksize');
  const [n, c, h, w] = x!.shape as [number, number, number, number];
  const crd = getAttr<string>(node, 'mode') === 'CRD';
  const t = crd
    ? transpose(x!.reshape([n, c / (b * b), b, b, h, w]), [0, 1, 4, 2, 5, 3])
    : transpose(x!.reshape([n, b, b, c / (b * b), h, w]), [0, 3, 4, 1, 5, 2]);
  return [t.reshape([n, c / (b * b), h * b, w * b])];
});

registerKernel('onnx.SpaceToDepth', ([x], node) => {
  const b = attr(node, 'blocksize');
  const [n, c, h, w] = x!.shape as [number, number, number, number];
  return [transpose(x!.reshape([n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]).reshape([n, c * b * b, h / b, w / b])];
});

// ---- Pad -------------------------------------------------------------------------------------

/** Source index along one axis for output index i (pad `before`), or -1 for the constant. */
const PAD_INDEX: Record<string, (i: number, d: number) => number> = {
  constant: (i, d) => (i >= 0 && i < d ? i : -1),
  edge: (i, d) => Math.min(Math.max(i, 0), d - 1),
  reflect: (i, d) => {
    if (d === 1) return 0;
    const p = 2 * (d - 1);
    const m = ((i % p) + p) % p;
    return m < d ? m : p - m;
  },
  wrap: (i, d) => ((i % d) + d) % d,
};

registerKernel('onnx.Pad', ([x, padsT, valueT, axesT], node) => {
  const r = x!.rank;
  const axes = ints(axesT)?.map((a) => axisOf(a, r)) ?? x!.shape.map((_, i) => i);
  const pads = ints(padsT)!;
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  axes.forEach((a, i) => { before[a] = pads[i]!; after[a] = pads[i + axes.length]!; });
  const shape = x!.shape.map((d, i) => d + before[i]! + after[i]!);
  const out = Tensor.zeros(x!.dtype, shape);
  const mode = getAttr<string>(node, 'mode');
  const srcOf = PAD_INDEX[mode];
  if (!srcOf) throw new Error(`unknown pad mode "${mode}"`);
  if (mode !== 'constant' && x!.size === 0 && out.size > 0) throw new Error(`cannot ${mode}-pad an empty tensor`);
  const xs = strides(x!.shape);
  // per axis: output index → source offset (or -1)
  const tables = shape.map((n, k) => Int32Array.from({ length: n }, (_, i) => {
    const s = srcOf(i - before[k]!, x!.shape[k]!);
    return s < 0 ? -1 : s * xs[k]!;
  }));
  const D = out.data as unknown as Elem[];
  const S = x!.data as unknown as ArrayLike<Elem>;
  const fill: Elem = valueT && valueT.size > 0 ? valueT.data[0]! : isBig(x!.dtype) ? 0n : 0;
  if (r === 0) { D[0] = S[0]!; return [out]; }
  const last = tables[r - 1]!;
  const n = shape[r - 1]!;
  let o = 0;
  forEachIndex(shape.slice(0, -1), (_, at) => {
    let base = 0;
    for (let k = 0; k < r - 1 && base >= 0; k++) {
      const t = tables[k]![at[k]!]!;
      base = t < 0 ? -1 : base + t;
    }
    for (let i = 0; i < n; i++, o++) D[o] = base < 0 || last[i]! < 0 ? fill : S[base + last[i]!]!;
  });
  return [out];
});

// ---- Resize ----------------------------------------------------------------------------------

/** Interpolation weights of one output coordinate: ratio in (0, 1] from the left neighbour. */
type Coeffs = (ratio: number, scale: number) => number[];

function cubicCoeffs(a: number): Coeffs {
  return (r) => [
    ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
    ((a + 2) * r - (a + 3)) * r * r + 1,
    ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
    ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a,
  ];
}

/** Antialiased kernels widen by 1/scale when downsampling and are normalized to sum 1. */
function antialiased(support: number, kernel: (x: number) => number): Coeffs {
  return (ratio, scale) => {
    const s = Math.min(scale, 1);
    const start = Math.floor(-support / s) + 1;
    const c = Array.from({ length: 2 - 2 * start }, (_, i) => kernel(Math.abs((start + i - ratio) * s)));
    const sum = c.reduce((p, q) => p + q, 0);
    return c.map((v) => v / sum);
  };
}

const NEAREST: Record<string, (r: number) => number[]> = {
  round_prefer_floor: (r) => [+(r <= 0.5), +(r > 0.5)],
  round_prefer_ceil: (r) => [+(r < 0.5), +(r >= 0.5)],
  floor: () => [1, 0],
  ceil: () => [0, 1],
};

function resizeCoeffs(node: Node): Coeffs {
  const mode = getAttr<string>(node, 'mode');
  const anti = attr(node, 'antialias') !== 0;
  const a = attr(node, 'cubic_coeff_a');
  if (mode === 'nearest') {
    const f = NEAREST[getAttr<string>(node, 'nearest_mode')];
    if (!f) throw new Error(`unknown nearest_mode "${getAttr<string>(node, 'nearest_mode')}"`);
    return (r) => (r === 1 ? [0, 1] : f(r));
  }
  if (mode === 'linear') return anti ? antialiased(1, (x) => Math.max(0, 1 - x)) : (r) => [1 - r, r];
  if (mode === 'cubic') {
    if (!anti) return cubicCoeffs(a);
    return antialiased(2, (x) => (x <= 1 ? (a + 2) * x ** 3 - (a + 3) * x * x + 1 : x < 2 ? a * x ** 3 - 5 * a * x * x + 8 * a * x - 4 * a : 0));
  }
  throw new Error(`unknown resize mode "${mode}"`);
}

/** Input coordinate of output coordinate x along one axis, per coordinate_transformation_mode. */
function sourceCoord(mode: string, x: number, inW: number, outInt: number, scale: number, roi: readonly [number, number]): number {
  const outW = scale * inW;
  switch (mode) {
    case 'align_corners': return outW === 1 ? 0 : (x * (inW - 1)) / (outW - 1);
    case 'asymmetric': return x / scale;
    case 'tf_crop_and_resize': {
      const c = outW === 1 ? ((roi[1] - roi[0]) * (inW - 1)) / 2 : (x * (roi[1] - roi[0]) * (inW - 1)) / (outW - 1);
      return c + roi[0] * (inW - 1);
    }
    case 'pytorch_half_pixel': return outW === 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': return (inW / 2) * (1 - outInt / outW) + (x + 0.5) / scale - 0.5;
    default: throw new Error(`unknown coordinate_transformation_mode "${mode}"`);
  }
}

/** Weights of one axis: for output i, `n` (clamped source index, weight) pairs; NaN weight row = extrapolate. */
interface AxisWeights { n: number; idx: Int32Array; w: Float64Array; extrapolate: Uint8Array }

function axisWeights(node: Node, coeffs: Coeffs, inW: number, outW: number, scale: number, roi: readonly [number, number]): AxisWeights | undefined {
  const ctm = getAttr<string>(node, 'coordinate_transformation_mode');
  const exclude = attr(node, 'exclude_outside') !== 0;
  let tbl: AxisWeights | undefined;
  let identity = inW === outW;
  for (let i = 0; i < outW; i++) {
    const x = sourceCoord(ctm, i, inW, outW, scale, roi);
    const whole = Number.isInteger(x);
    const base = whole ? x - 1 : Math.floor(x);
    const c = coeffs(whole ? 1 : x - base, scale);
    const n = c.length;
    tbl ??= { n, idx: new Int32Array(outW * n), w: new Float64Array(outW * n), extrapolate: new Uint8Array(outW) };
    if (ctm === 'tf_crop_and_resize' && (x < 0 || x > inW - 1)) { tbl.extrapolate[i] = 1; identity = false; continue; }
    const pad = Math.ceil(n / 2);
    const lo = Math.min(Math.max(base - n / 2 + 1, -pad), inW + pad - n);
    if (exclude) {
      let sum = 0;
      for (let j = 0; j < n; j++) { if (lo + j < 0 || lo + j >= inW) c[j] = 0; sum += c[j]!; }
      for (let j = 0; j < n; j++) c[j]! /= sum;
    }
    for (let j = 0; j < n; j++) {
      const src = Math.min(Math.max(lo + j, 0), inW - 1);
      tbl.idx[i * n + j] = src;
      tbl.w[i * n + j] = c[j]!;
      if (c[j] !== 0 && (src !== i || c[j] !== 1)) identity = false;
    }
  }
  return identity ? undefined : tbl;
}

/** Interpolate `data` (float64, `shape`) along `axis` to `outW` with the weights. */
function applyAxis(data: Float64Array, shape: number[], axis: number, outW: number, t: AxisWeights, extrapolation: number): Float64Array {
  const inW = shape[axis]!;
  const inner = numel(shape.slice(axis + 1));
  const outer = numel(shape.slice(0, axis));
  const out = new Float64Array(outer * outW * inner);
  const { n, idx, w, extrapolate } = t;
  for (let o = 0; o < outer; o++) {
    const src = o * inW * inner;
    for (let i = 0; i < outW; i++) {
      const dst = (o * outW + i) * inner;
      if (extrapolate[i]) { out.fill(extrapolation, dst, dst + inner); continue; }
      for (let j = 0; j < n; j++) {
        const wt = w[i * n + j]!;
        const s = src + idx[i * n + j]! * inner;
        for (let k = 0; k < inner; k++) out[dst + k]! += wt * data[s + k]!;
      }
    }
  }
  shape[axis] = outW;
  return out;
}

registerKernel('onnx.Resize', ([x, roiT, scalesT, sizesT], node) => {
  const r = x!.rank;
  const axes = optAttr<number[]>(node, 'axes')?.map((a) => axisOf(a, r));
  const values = (t: Tensor | undefined) => (t && t.size > 0 ? t.toNumbers() : undefined);
  const { sizes, scales } = resizeGeometry(x!.shape, axes, values(scalesT), values(sizesT), getAttr<string>(node, 'keep_aspect_ratio_policy'));
  const dims = axes ?? x!.shape.map((_, i) => i);
  const roi = values(roiT);
  const roiOf = (d: number): [number, number] => {
    const k = dims.indexOf(d);
    return roi && k >= 0 ? [roi[k]!, roi[k + dims.length]!] : [0, 1];
  };
  const coeffs = resizeCoeffs(node);
  const extrapolation = attr(node, 'extrapolation_value');
  let data: Float64Array = Float64Array.from(x!.data as ArrayLike<number>, Number);
  const shape = [...x!.shape];
  // innermost first, as the ONNX reference nests its 1-D interpolations
  for (const d of [...dims].reverse()) {
    if (sizes[d] === 0) { shape[d] = 0; data = new Float64Array(0); continue; }
    const t = axisWeights(node, coeffs, x!.shape[d]!, sizes[d]!, scales[d]!, roiOf(d));
    if (t) data = applyAxis(data, shape, d, sizes[d]!, t, extrapolation);
  }
  const out = Tensor.zeros(x!.dtype, shape);
  out.setAll(isFloat(x!.dtype) ? data : data.map(Math.trunc));
  return [out];
});

// ---- Einsum ----------------------------------------------------------------------------------

registerKernel('onnx.Einsum', (inputs, node) => {
  const ts = inputs as readonly Tensor[];
  const spec = parseEinsum(getAttr<string>(node, 'equation'), ts.map((t) => t.rank));
  const size = new Map<string, number>();
  spec.inputs.forEach((labels, i) => labels.forEach((l, k) => {
    const d = ts[i]!.shape[k]!;
    const prev = size.get(l);
    if (prev === undefined || prev === 1) size.set(l, d);
    else if (d !== 1 && d !== prev) throw new Error(`label ${l} has sizes ${prev} and ${d}`);
  }));
  const summed = [...size.keys()].filter((l) => !spec.output.includes(l));
  const loop = [...spec.output, ...summed];
  const dims = loop.map((l) => size.get(l)!);
  // each operand's stride per loop label (repeated labels add: diagonals; broadcast dims are 0)
  const opStrides = spec.inputs.map((labels, i) => {
    const s = strides(ts[i]!.shape);
    return loop.map((l) => labels.reduce((acc, m, k) => (m === l && ts[i]!.shape[k] !== 1 ? acc + s[k]! : acc), 0));
  });
  const outShape = spec.output.map((l) => size.get(l)!);
  const nOut = numel(outShape);
  const nSum = numel(dims.slice(spec.output.length));
  const vals = ts.map((t) => Float64Array.from(t.data as ArrayLike<number>, Number));
  const acc = new Float64Array(nOut);
  const at = new Array<number>(loop.length).fill(0);
  const offs = new Array<number>(ts.length).fill(0);
  const total = nOut * nSum;
  for (let i = 0; i < total; i++) {
    let p = 1;
    for (let t = 0; t < ts.length; t++) p *= vals[t]![offs[t]!]!;
    acc[Math.floor(i / nSum)]! += p;
    for (let k = loop.length - 1; k >= 0; k--) {
      at[k]!++;
      for (let t = 0; t < ts.length; t++) offs[t]! += opStrides[t]![k]!;
      if (at[k]! < dims[k]!) break;
      for (let t = 0; t < ts.length; t++) offs[t]! -= opStrides[t]![k]! * dims[k]!;
      at[k] = 0;
    }
  }
  const out = Tensor.zeros(ts[0]!.dtype, outShape);
  out.setAll(isFloat(out.dtype) ? acc : acc.map(Math.trunc));
  return [out];
});
