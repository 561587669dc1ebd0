/**
 * @fileoverview Shape and data-movement kernels. Data movement copies storage elements as they
 * are (BigInts stay BigInts, narrow floats stay rounded), through the strided-copy routine of
 * copy.ts; shape-only ops (Reshape, Squeeze, Identity, ...) share the input's data. Arithmetic
 * kernels (CumSum, Range) compute in float64 and round once. The Gather/Scatter family, Resize
 * and Einsum kernels live in gather.ts, resize.ts and einsum.ts.
 */
import { type DType, dtypeFromOnnx, floatRounder, isBig, isFloat } from '../../ir/dtype.js';
import { getAttr } from '../../ir/registry.js';
import { broadcastStatic } from '../../ir/shape-utils.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import {
  rangeCount, reshapeDims, shapeRange, sliceAxis, sliceParams, splitSizes, transposePerm,
} from '../../ir/ops/shape.js';
import { registerKernel } from '../kernel.js';
import { type Elem, attr, axisOf, buf, copyRun, forEachIndex, ints, optAttr, stridedCopy } from './copy.js';

/** x with dims permuted by `perm` (out dim i = x dim perm[i]). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const out = Tensor.zeros(x.dtype, shape);
  const xs = strides(x.shape);
  stridedCopy(out.data, 0, strides(shape), x.data, 0, perm.map((p) => xs[p]!), shape);
  return out;
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

// ---- Range, ConstantOfShape, EyeLike, Trilu, CumSum ---------------------------------------

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
