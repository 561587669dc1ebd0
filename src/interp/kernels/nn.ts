/**
 * @fileoverview Neural-network kernels. Operands are copied to Float64Array once so the hot
 * loops stay monomorphic; dot products, convolutions and statistics accumulate in float64 and
 * the result is rounded once to the output dtype. MatMul runs i-k-j over contiguous rows;
 * Conv is im2col (skipped for pointwise convs) + the same GEMM, per image and group. Spatial
 * ops treat 1-D and 2-D inputs as 3-D with leading unit dims.
 */
import { type DType, dtypeFromOnnx, floatRounder, isBig } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { transposeDim, windowAttrs, windowDim, type WindowAttrs } from '../../ir/ops/nn.js';
import { getAttr } from '../../ir/registry.js';
import { broadcastStatic, normalizeAxis } from '../../ir/shape-utils.js';
import { Tensor, strides } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { registerKernel } from '../kernel.js';
import { broadcastIndex } from './elementwise.js';

// ---- conversions -----------------------------------------------------------------------------

/** The tensor's values as a Float64Array (a copy, except for f64 tensors). */
export function f64(t: Tensor): Float64Array {
  if (t.dtype === 'f64') return t.data as Float64Array;
  if (isBig(t.dtype)) return Float64Array.from(t.data as BigInt64Array, Number);
  return Float64Array.from(t.data as Float32Array);
}

/** A tensor of `dtype` from float64 results, each rounded once (integers truncate and wrap). */
export function fromF64(dtype: DType, shape: readonly number[], data: Float64Array): Tensor {
  if (dtype === 'f64') return new Tensor(dtype, shape, data);
  const t = Tensor.zeros(dtype, shape);
  const round = dtype === 'f32' ? undefined : floatRounder(dtype);
  if (isBig(dtype)) {
    const d = t.data as BigInt64Array;
    for (let i = 0; i < data.length; i++) d[i] = BigInt(Math.trunc(data[i]!));
  } else if (round) {
    const d = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) d[i] = round(data[i]!);
  } else {
    (t.data as Float32Array).set(data);
  }
  return t;
}

// ---- MatMul, Gemm ----------------------------------------------------------------------------

/**
 * out[M,N] += A[M,K] · B[K,N] (row-major blocks at the given offsets). i-k-j order over
 * contiguous rows of B and out, blocked 2 rows × 4 k so each loaded B element feeds two rows
 * and each out element is updated once per 4 products.
 */
function gemm(A: Float64Array, aOff: number, B: Float64Array, bOff: number, out: Float64Array, oOff: number, M: number, K: number, N: number): void {
  let i = 0;
  for (; i + 2 <= M; i += 2) {
    const o = oOff + i * N;
    const p = o + N;
    const ar = aOff + i * K;
    const cr = ar + K;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const a0 = A[ar + k]!, a1 = A[ar + k + 1]!, a2 = A[ar + k + 2]!, a3 = A[ar + k + 3]!;
      const c0 = A[cr + k]!, c1 = A[cr + k + 1]!, c2 = A[cr + k + 2]!, c3 = A[cr + k + 3]!;
      const b0 = bOff + k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
      for (let j = 0; j < N; j++) {
        const x0 = B[b0 + j]!, x1 = B[b1 + j]!, x2 = B[b2 + j]!, x3 = B[b3 + j]!;
        out[o + j]! += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        out[p + j]! += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
      }
    }
    for (; k < K; k++) {
      const a = A[ar + k]!;
      const c = A[cr + k]!;
      const br = bOff + k * N;
      for (let j = 0; j < N; j++) {
        const x = B[br + j]!;
        out[o + j]! += a * x;
        out[p + j]! += c * x;
      }
    }
  }
  if (i < M) {
    const o = oOff + i * N;
    const ar = aOff + i * K;
    for (let k = 0; k < K; k++) {
      const a = A[ar + k]!;
      const br = bOff + k * N;
      for (let j = 0; j < N; j++) out[o + j]! += a * B[br + j]!;
    }
  }
}

/** numpy matmul on float64 data: batch dims broadcast, 1-D operands promoted then dropped. */
export function matmulF64(A: Float64Array, aShape: readonly number[], B: Float64Array, bShape: readonly number[]): { data: Float64Array; shape: number[] } {
  const as = aShape.length === 1 ? [1, aShape[0]!] : aShape;
  const bs = bShape.length === 1 ? [bShape[0]!, 1] : bShape;
  const [M, K] = as.slice(-2) as [number, number];
  const [K2, N] = bs.slice(-2) as [number, number];
  if (K !== K2) throw new Error(`MatMul inner dims differ: [${aShape.join(',')}] x [${bShape.join(',')}]`);
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const batch = broadcastStatic([aBatch, bBatch]);
  const out = new Float64Array(numel(batch) * M * N);
  const shape = [...batch, ...(aShape.length === 1 ? [] : [M]), ...(bShape.length === 1 ? [] : [N])];
  if (bBatch.every((d) => d === 1) && numel(aBatch) === numel(batch)) {
    // one shared B: all of A's rows form a single GEMM
    gemm(A, 0, B, 0, out, 0, numel(batch) * M, K, N);
    return { data: out, shape };
  }
  // per output batch index: element offsets into A and B (0 stride where a dim broadcasts)
  const aStr = batchStrides(aBatch, batch, M * K);
  const bStr = batchStrides(bBatch, batch, K * N);
  const counter = new Array<number>(batch.length).fill(0);
  let aOff = 0;
  let bOff = 0;
  for (let b = 0, nb = numel(batch); b < nb; b++) {
    gemm(A, aOff, B, bOff, out, b * M * N, M, K, N);
    for (let d = batch.length - 1; d >= 0; d--) {
      counter[d]!++;
      aOff += aStr[d]!;
      bOff += bStr[d]!;
      if (counter[d]! < batch[d]!) break;
      aOff -= aStr[d]! * batch[d]!;
      bOff -= bStr[d]! * batch[d]!;
      counter[d] = 0;
    }
  }
  return { data: out, shape };
}

/** Element strides of a batch shape aligned right against `out`, 0 where broadcast. */
function batchStrides(src: readonly number[], out: readonly number[], block: number): number[] {
  const off = out.length - src.length;
  const st = strides(src);
  return out.map((_, i) => (i < off || src[i - off] === 1 ? 0 : st[i - off]! * block));
}

registerKernel('onnx.MatMul', ([a, b]) => {
  const r = matmulF64(f64(a!), a!.shape, f64(b!), b!.shape);
  return [fromF64(a!.dtype, r.shape, r.data)];
});

/** Row-major copy of a 2-D operand, transposed when `trans`. */
function operand2d(t: Tensor, trans: boolean): { data: Float64Array; rows: number; cols: number } {
  const [r, c] = t.shape as [number, number];
  const d = f64(t);
  if (!trans) return { data: d, rows: r, cols: c };
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = d[i * c + j]!;
  return { data: out, rows: c, cols: r };
}

registerKernel('onnx.Gemm', ([a, b, c], node) => {
  const A = operand2d(a!, getAttr<number>(node, 'transA') !== 0);
  const B = operand2d(b!, getAttr<number>(node, 'transB') !== 0);
  const [M, K, N] = [A.rows, A.cols, B.cols];
  if (B.rows !== K) throw new Error(`Gemm inner dims differ: ${K} and ${B.rows}`);
  const out = new Float64Array(M * N);
  gemm(A.data, 0, B.data, 0, out, 0, M, K, N);
  const alpha = getAttr<number>(node, 'alpha');
  const beta = getAttr<number>(node, 'beta');
  const C = c && f64(c);
  const ci = c && broadcastIndex(c.shape, [M, N]);
  for (let i = 0; i < out.length; i++) out[i] = alpha * out[i]! + (C ? beta * C[ci![i]!]! : 0);
  return [fromF64(a!.dtype, [M, N], out)];
});

// ---- convolutions ----------------------------------------------------------------------------

/** Spatial geometry padded to 3 dims (D, H, W) with leading unit dims. */
interface Geometry3 {
  readonly inp: number[];
  readonly out: number[];
  readonly k: number[];
  readonly s: number[];
  readonly d: number[];
  readonly begin: number[];
  readonly end: number[];
}

/** Pad per-dim lists to 3 entries with `fill` in front. */
const to3 = (v: readonly number[], fill: number): number[] => [...new Array<number>(3 - v.length).fill(fill), ...v];

/** 3-D geometry of a sliding window over `spatial` input dims. */
function geometry(win: WindowAttrs, spatial: readonly number[]): Geometry3 {
  if (spatial.length > 3) throw new Error(`${spatial.length} spatial dims are not supported (at most 3)`);
  const dims = spatial.map((n, i) => windowDim(win, i, n));
  for (const g of dims) if (g.out <= 0) throw new Error(`window does not fit the input [${spatial.join(',')}]`);
  return {
    inp: to3(spatial, 1), out: to3(dims.map((g) => g.out), 1), k: to3(win.kernel, 1), s: to3(win.strides, 1), d: to3(win.dilations, 1),
    begin: to3(dims.map((g) => g.begin), 0), end: to3(dims.map((g) => g.end), 0),
  };
}

/** Convolution on float64 data: X [N, C, ...], W [M, C/group, k...]; bias (optional) [M]. */
export function convF64(X: Float64Array, xShape: readonly number[], W: Float64Array, wShape: readonly number[], bias: Float64Array | undefined,
  group: number, win: WindowAttrs): { data: Float64Array; shape: number[] } {
  const [N, C] = xShape as [number, number];
  const M = wShape[0]!;
  const g3 = geometry(win, xShape.slice(2));
  const Cg = C / group;
  const Mg = M / group;
  if (!Number.isInteger(Cg) || !Number.isInteger(Mg) || wShape[1] !== Cg) {
    throw new Error(`Conv channels do not match: input [${xShape.join(',')}], weight [${wShape.join(',')}], group ${group}`);
  }
  const kvol = numel(g3.k);
  const inVol = numel(g3.inp);
  const P = numel(g3.out);
  const Kc = Cg * kvol;
  const pointwise = kvol === 1 && P === inVol && numel(g3.s) === 1 && g3.begin.every((b) => b === 0);
  const col = pointwise ? undefined : new Float64Array(Kc * P);
  const out = new Float64Array(N * M * P);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < group; g++) {
      const xBase = (n * C + g * Cg) * inVol;
      let src: Float64Array;
      if (col) {
        im2col(X, xBase, col, Cg, g3);
        src = col;
      } else {
        src = X.subarray(xBase, xBase + Cg * inVol);
      }
      const oOff = (n * M + g * Mg) * P;
      if (bias) for (let m = 0; m < Mg; m++) out.fill(bias[g * Mg + m]!, oOff + m * P, oOff + (m + 1) * P);
      gemm(W, g * Mg * Kc, src, 0, out, oOff, Mg, Kc, P);
    }
  }
  return { data: out, shape: [N, M, ...g3.out.slice(3 - (xShape.length - 2))] };
}

/** Fill col [Cg·kD·kH·kW, oD·oH·oW] from the Cg channels of X at xBase (zeros in the padding). */
function im2col(X: Float64Array, xBase: number, col: Float64Array, Cg: number, g: Geometry3): void {
  const [iD, iH, iW] = g.inp as [number, number, number];
  const [oD, oH, oW] = g.out as [number, number, number];
  const [kD, kH, kW] = g.k as [number, number, number];
  const [sD, sH, sW] = g.s as [number, number, number];
  const [dD, dH, dW] = g.d as [number, number, number];
  const [bD, bH, bW] = g.begin as [number, number, number];
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const cBase = xBase + c * iD * iH * iW;
    for (let kd = 0; kd < kD; kd++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++, r++) {
      let p = r * oD * oH * oW;
      for (let od = 0; od < oD; od++) {
        const id = od * sD - bD + kd * dD;
        for (let oh = 0; oh < oH; oh++) {
          const ih = oh * sH - bH + kh * dH;
          if (id < 0 || id >= iD || ih < 0 || ih >= iH) {
            col.fill(0, p, p + oW);
            p += oW;
            continue;
          }
          const row = cBase + (id * iH + ih) * iW;
          for (let ow = 0, iw = kw * dW - bW; ow < oW; ow++, iw += sW) col[p++] = iw >= 0 && iw < iW ? X[row + iw]! : 0;
        }
      }
    }
  }
}

registerKernel('onnx.Conv', ([x, w, b], node) => {
  const win = windowAttrs(node, x!.rank - 2, w!.shape.slice(2));
  const r = convF64(f64(x!), x!.shape, f64(w!), w!.shape, b && f64(b), getAttr<number>(node, 'group'), win);
  return [fromF64(x!.dtype, r.shape, r.data)];
});

registerKernel('onnx.ConvTranspose', ([x, w, b], node) => {
  const [N, C] = x!.shape as [number, number];
  const group = getAttr<number>(node, 'group');
  const Cg = C / group;
  const Mg = w!.shape[1]!;
  const M = Mg * group;
  const sp = x!.rank - 2;
  if (sp > 3) throw new Error(`${sp} spatial dims are not supported (at most 3)`);
  const win = windowAttrs(node, sp, w!.shape.slice(2));
  const dims = x!.shape.slice(2).map((n, i) => transposeDim(node, win, i, n));
  const [iD, iH, iW] = to3(x!.shape.slice(2), 1) as [number, number, number];
  const [oD, oH, oW] = to3(dims.map((g) => g.out), 1) as [number, number, number];
  const [kD, kH, kW] = to3(win.kernel, 1) as [number, number, number];
  const [sD, sH, sW] = to3(win.strides, 1) as [number, number, number];
  const [dD, dH, dW] = to3(win.dilations, 1) as [number, number, number];
  const [bD, bH, bW] = to3(dims.map((g) => g.begin), 0) as [number, number, number];
  const X = f64(x!);
  const W = f64(w!);
  const inVol = iD * iH * iW;
  const P = oD * oH * oW;
  const kvol = kD * kH * kW;
  const out = new Float64Array(N * M * P);
  if (b) {
    const B = f64(b);
    for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) out.fill(B[m]!, (n * M + m) * P, (n * M + m + 1) * P);
  }
  for (let n = 0; n < N; n++) for (let ci = 0; ci < C; ci++) {
    const g = Math.floor(ci / Cg);
    const xBase = (n * C + ci) * inVol;
    for (let m = 0; m < Mg; m++) {
      const oBase = (n * M + g * Mg + m) * P;
      const wBase = (ci * Mg + m) * kvol;
      for (let kd = 0; kd < kD; kd++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++) {
        const wv = W[wBase + (kd * kH + kh) * kW + kw]!;
        for (let id = 0; id < iD; id++) {
          const od = id * sD - bD + kd * dD;
          if (od < 0 || od >= oD) continue;
          for (let ih = 0; ih < iH; ih++) {
            const oh = ih * sH - bH + kh * dH;
            if (oh < 0 || oh >= oH) continue;
            const xr = xBase + (id * iH + ih) * iW;
            const or = oBase + (od * oH + oh) * oW;
            for (let iw = 0, ow = kw * dW - bW; iw < iW; iw++, ow += sW) if (ow >= 0 && ow < oW) out[or + ow]! += wv * X[xr + iw]!;
          }
        }
      }
    }
  }
  return [fromF64(x!.dtype, [N, M, ...dims.map((g) => g.out)], out)];
});

// ---- pooling ---------------------------------------------------------------------------------

type PoolMode = 'max' | 'avg' | 'lp';

/** Windowed pooling over [N, C, spatial...]; MaxPool also yields flat argmax indices. */
function pool(x: Tensor, node: Node, mode: PoolMode): { data: Float64Array; shape: number[]; indices?: Float64Array } {
  const win = windowAttrs(node, x.rank - 2);
  const g = geometry(win, x.shape.slice(2));
  const [iD, iH, iW] = g.inp as [number, number, number];
  const [oD, oH, oW] = g.out as [number, number, number];
  const [kD, kH, kW] = g.k as [number, number, number];
  const [sD, sH, sW] = g.s as [number, number, number];
  const [dD, dH, dW] = g.d as [number, number, number];
  const [bD, bH, bW] = g.begin as [number, number, number];
  const [eD, eH, eW] = g.end as [number, number, number];
  const includePad = mode === 'avg' && getAttr<number>(node, 'count_include_pad') !== 0;
  const p = mode === 'lp' ? getAttr<number>(node, 'p') : 0;
  const colMajor = mode === 'max' && getAttr<number>(node, 'storage_order') === 1;
  const X = f64(x);
  const NC = x.shape[0]! * x.shape[1]!;
  const inVol = iD * iH * iW;
  const P = oD * oH * oW;
  const out = new Float64Array(NC * P);
  const indices = mode === 'max' ? new Float64Array(NC * P) : undefined;
  /** Taps of a window starting at `start` that fall in [lo, hi). */
  const taps = (start: number, k: number, dil: number, lo: number, hi: number): number => {
    let n = 0;
    for (let t = 0, q = start; t < k; t++, q += dil) if (q >= lo && q < hi) n++;
    return n;
  };
  let o = 0;
  for (let nc = 0; nc < NC; nc++) {
    const base = nc * inVol;
    for (let od = 0; od < oD; od++) for (let oh = 0; oh < oH; oh++) for (let ow = 0; ow < oW; ow++, o++) {
      const zd = od * sD - bD;
      const zh = oh * sH - bH;
      const zw = ow * sW - bW;
      let acc = mode === 'max' ? -Infinity : 0;
      let arg = -1;
      for (let kd = 0, id = zd; kd < kD; kd++, id += dD) {
        if (id < 0 || id >= iD) continue;
        for (let kh = 0, ih = zh; kh < kH; kh++, ih += dH) {
          if (ih < 0 || ih >= iH) continue;
          const row = base + (id * iH + ih) * iW;
          for (let kw = 0, iw = zw; kw < kW; kw++, iw += dW) {
            if (iw < 0 || iw >= iW) continue;
            const v = X[row + iw]!;
            if (mode === 'max') {
              if (v > acc || arg < 0) {
                acc = v;
                arg = colMajor ? id + (ih + iw * iH) * iD : row + iw - base;
              }
            } else acc += mode === 'avg' ? v : Math.abs(v) ** p;
          }
        }
      }
      if (mode === 'avg') {
        const count = includePad
          ? taps(zd, kD, dD, -bD, iD + eD) * taps(zh, kH, dH, -bH, iH + eH) * taps(zw, kW, dW, -bW, iW + eW)
          : taps(zd, kD, dD, 0, iD) * taps(zh, kH, dH, 0, iH) * taps(zw, kW, dW, 0, iW);
        acc /= count;
      } else if (mode === 'lp') acc **= 1 / p;
      out[o] = acc;
      if (indices) indices[o] = base + arg;
    }
  }
  return { data: out, shape: [x.shape[0]!, x.shape[1]!, ...g.out.slice(3 - (x.rank - 2))], indices };
}

registerKernel('onnx.MaxPool', ([x], node) => {
  const r = pool(x!, node, 'max');
  const y = fromF64(x!.dtype, r.shape, r.data);
  return node.outputs.length > 1 ? [y, fromF64('i64', r.shape, r.indices!)] : [y];
});

for (const [op, mode] of [['AveragePool', 'avg'], ['LpPool', 'lp']] as const) {
  registerKernel(`onnx.${op}`, ([x], node) => {
    const r = pool(x!, node, mode);
    return [fromF64(x!.dtype, r.shape, r.data)];
  });
}

/** Global pools: one reduction per (N, C) over the spatial volume. */
const GLOBAL: Record<string, (v: Float64Array, lo: number, hi: number, node: Node) => number> = {
  GlobalAveragePool: (v, lo, hi) => { let s = 0; for (let i = lo; i < hi; i++) s += v[i]!; return s / (hi - lo); },
  GlobalMaxPool: (v, lo, hi) => { let m = -Infinity; for (let i = lo; i < hi; i++) if (v[i]! > m) m = v[i]!; return m; },
  GlobalLpPool: (v, lo, hi, node) => {
    const p = getAttr<number>(node, 'p');
    let s = 0;
    for (let i = lo; i < hi; i++) s += Math.abs(v[i]!) ** p;
    return s ** (1 / p);
  },
};

for (const [op, reduce] of Object.entries(GLOBAL)) {
  registerKernel(`onnx.${op}`, ([x], node) => {
    const X = f64(x!);
    const NC = x!.shape[0]! * x!.shape[1]!;
    const vol = X.length / NC;
    const out = new Float64Array(NC);
    for (let i = 0; i < NC; i++) out[i] = reduce(X, i * vol, (i + 1) * vol, node);
    return [fromF64(x!.dtype, x!.shape.map((d, i) => (i < 2 ? d : 1)), out)];
  });
}

// ---- normalizations --------------------------------------------------------------------------

/** Mean and biased variance of X[lo, hi) with `step` (two-pass, float64). */
function moments(X: Float64Array, lo: number, hi: number, step = 1): [number, number] {
  let s = 0;
  let n = 0;
  for (let i = lo; i < hi; i += step, n++) s += X[i]!;
  const mean = s / n;
  let v = 0;
  for (let i = lo; i < hi; i += step) v += (X[i]! - mean) ** 2;
  return [mean, v / n];
}

registerKernel('onnx.BatchNormalization', ([x, scale, bias, mean, variance], node) => {
  const X = f64(x!);
  const [N, C] = x!.shape as [number, number];
  const vol = numel(x!.shape.slice(2));
  const eps = getAttr<number>(node, 'epsilon');
  const training = getAttr<number>(node, 'training_mode') !== 0;
  const mu = f64(mean!);
  const va = f64(variance!);
  const bm = new Float64Array(C);
  const bv = new Float64Array(C);
  if (training) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0, o = (n * C + c) * vol; i < vol; i++) s += X[o + i]!;
      bm[c] = s / (N * vol);
      let v = 0;
      for (let n = 0; n < N; n++) for (let i = 0, o = (n * C + c) * vol; i < vol; i++) v += (X[o + i]! - bm[c]!) ** 2;
      bv[c] = v / (N * vol);
    }
  }
  const useMean = training ? bm : mu;
  const useVar = training ? bv : va;
  const out = new Float64Array(X.length);
  const [S, B] = [f64(scale!), f64(bias!)];
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const a = S[c]! / Math.sqrt(useVar[c]! + eps);
    const b = B[c]! - useMean[c]! * a;
    for (let i = 0, o = (n * C + c) * vol; i < vol; i++) out[o + i] = X[o + i]! * a + b;
  }
  const y = fromF64(x!.dtype, x!.shape, out);
  if (!training) return [y];
  const mom = getAttr<number>(node, 'momentum');
  const run = (r: Float64Array, cur: Float64Array) => fromF64(mean!.dtype, [C], r.map((v, c) => v * mom + cur[c]! * (1 - mom)));
  return [y, run(mu, bm), run(va, bv)].slice(0, node.outputs.length);
});

/** Split of x's shape at `axis` into (outer, inner) element counts. */
function splitAt(shape: readonly number[], axisAttr: number): [number, number, number] {
  const axis = normalizeAxis(axisAttr, shape.length);
  if (axis === undefined) throw new Error(`axis ${axisAttr} is out of range for rank ${shape.length}`);
  const inner = numel(shape.slice(axis));
  return [axis, numel(shape) / inner, inner];
}

/** Index into a scale / bias broadcast over the normalized trailing dims. */
function trailingIndex(t: Tensor | undefined, normShape: readonly number[]): Int32Array | undefined {
  if (!t) return undefined;
  return broadcastIndex(t.shape.length > normShape.length ? t.shape.slice(t.shape.length - normShape.length) : t.shape, normShape);
}

registerKernel('onnx.LayerNormalization', ([x, scale, bias], node) => {
  const [axis, outer, inner] = splitAt(x!.shape, getAttr<number>(node, 'axis'));
  const eps = getAttr<number>(node, 'epsilon');
  const normShape = x!.shape.slice(axis);
  const [S, B] = [scale && f64(scale), bias && f64(bias)];
  const [si, bi] = [trailingIndex(scale, normShape), trailingIndex(bias, normShape)];
  const X = f64(x!);
  const out = new Float64Array(X.length);
  const means = new Float64Array(outer);
  const inv = new Float64Array(outer);
  for (let r = 0; r < outer; r++) {
    const lo = r * inner;
    const [m, v] = moments(X, lo, lo + inner);
    const is = 1 / Math.sqrt(v + eps);
    means[r] = m;
    inv[r] = is;
    for (let j = 0; j < inner; j++) out[lo + j] = (X[lo + j]! - m) * is * S![si![j]!]! + (B ? B[bi![j]!]! : 0);
  }
  const statShape = x!.shape.map((d, i) => (i < axis ? d : 1));
  const stash = dtypeFromOnnx(getAttr<number>(node, 'stash_type')) ?? x!.dtype;
  return [fromF64(x!.dtype, x!.shape, out), fromF64(stash, statShape, means), fromF64(stash, statShape, inv)].slice(0, node.outputs.length);
});

registerKernel('onnx.RMSNormalization', ([x, scale], node) => {
  const [axis, outer, inner] = splitAt(x!.shape, getAttr<number>(node, 'axis'));
  const eps = getAttr<number>(node, 'epsilon');
  const S = f64(scale!);
  const si = trailingIndex(scale, x!.shape.slice(axis))!;
  const X = f64(x!);
  const out = new Float64Array(X.length);
  for (let r = 0; r < outer; r++) {
    const lo = r * inner;
    let ss = 0;
    for (let j = 0; j < inner; j++) ss += X[lo + j]! ** 2;
    const is = 1 / Math.sqrt(ss / inner + eps);
    for (let j = 0; j < inner; j++) out[lo + j] = X[lo + j]! * is * S[si[j]!]!;
  }
  return [fromF64(x!.dtype, x!.shape, out)];
});

/** Normalize each run of `len` elements of X; element j of run r takes scale and bias of channel `chan(r) + j / spatial volume`. */
function normalizeRuns(x: Tensor, len: number, eps: number, scale: Tensor, bias: Tensor, chan: (r: number) => number): Tensor {
  const X = f64(x);
  const [S, B] = [f64(scale), f64(bias)];
  const out = new Float64Array(X.length);
  const vol = numel(x.shape.slice(2));
  for (let r = 0, runs = X.length / len; r < runs; r++) {
    const lo = r * len;
    const [m, v] = moments(X, lo, lo + len);
    const is = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < len; j++) {
      const c = chan(r) + Math.floor(j / vol);
      out[lo + j] = (X[lo + j]! - m) * is * S[c]! + B[c]!;
    }
  }
  return fromF64(x.dtype, x.shape, out);
}

registerKernel('onnx.InstanceNormalization', ([x, scale, bias], node) => {
  const C = x!.shape[1]!;
  return [normalizeRuns(x!, numel(x!.shape.slice(2)), getAttr<number>(node, 'epsilon'), scale!, bias!, (r) => r % C)];
});

registerKernel('onnx.GroupNormalization', ([x, scale, bias], node) => {
  const G = getAttr<number>(node, 'num_groups');
  const Cpg = x!.shape[1]! / G;
  return [normalizeRuns(x!, Cpg * numel(x!.shape.slice(2)), getAttr<number>(node, 'epsilon'), scale!, bias!, (r) => (r % G) * Cpg)];
});

/** For each element of `shape`, the index of its group when the `axes` dims are reduced away. */
function groupIndex(shape: readonly number[], axes: ReadonlySet<number>): { index: Int32Array; groups: number } {
  const kept = shape.map((d, i) => (axes.has(i) ? 1 : d));
  return { index: broadcastIndex(kept, shape), groups: numel(kept) };
}

registerKernel('onnx.MeanVarianceNormalization', ([x], node) => {
  const axes = new Set(getAttr<number[]>(node, 'axes').map((a) => normalizeAxis(a, x!.rank)!));
  const { index, groups } = groupIndex(x!.shape, axes);
  const X = f64(x!);
  const count = groups === 0 ? 0 : X.length / groups;
  const mean = new Float64Array(groups);
  const sq = new Float64Array(groups);
  for (let i = 0; i < X.length; i++) mean[index[i]!]! += X[i]!;
  for (let g = 0; g < groups; g++) mean[g]! /= count;
  for (let i = 0; i < X.length; i++) sq[index[i]!]! += (X[i]! - mean[index[i]!]!) ** 2;
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = (X[i]! - mean[index[i]!]!) / (Math.sqrt(sq[index[i]!]! / count) + 1e-9);
  return [fromF64(x!.dtype, x!.shape, out)];
});

// ---- Softmax family, LRN ---------------------------------------------------------------------

/** Apply `f` to every run along an axis: `len` values `inner` apart, `outer · inner` runs. */
function alongAxis(x: Tensor, outer: number, len: number, inner: number, f: (v: Float64Array) => void): Tensor {
  const X = f64(x);
  const out = new Float64Array(X.length);
  const v = new Float64Array(len);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    const base = o * len * inner + i;
    for (let j = 0; j < len; j++) v[j] = X[base + j * inner]!;
    f(v);
    for (let j = 0; j < len; j++) out[base + j * inner] = v[j]!;
  }
  return fromF64(x.dtype, x.shape, out);
}

/** Largest element (-Infinity when empty). */
function maxOf(v: Float64Array): number {
  let m = -Infinity;
  for (let j = 0; j < v.length; j++) if (v[j]! > m) m = v[j]!;
  return m;
}

/** In-place transforms of one run. */
const SOFTMAX: Record<string, (v: Float64Array) => void> = {
  Softmax: (v) => {
    const m = maxOf(v);
    let s = 0;
    for (let j = 0; j < v.length; j++) s += (v[j] = Math.exp(v[j]! - m));
    for (let j = 0; j < v.length; j++) v[j]! /= s;
  },
  LogSoftmax: (v) => {
    const m = maxOf(v);
    let s = 0;
    for (let j = 0; j < v.length; j++) s += Math.exp(v[j]! - m);
    const l = m + Math.log(s);
    for (let j = 0; j < v.length; j++) v[j]! -= l;
  },
  Hardmax: (v) => {
    let k = 0;
    for (let j = 1; j < v.length; j++) if (v[j]! > v[k]!) k = j;
    v.fill(0);
    if (v.length) v[k] = 1;
  },
};

for (const [op, f] of Object.entries(SOFTMAX)) {
  registerKernel(`onnx.${op}`, ([x], node) => {
    const axis = normalizeAxis(getAttr<number>(node, 'axis'), x!.rank)!;
    const len = x!.shape[axis]!;
    const inner = numel(x!.shape.slice(axis + 1));
    return [alongAxis(x!, x!.size / (len * inner || 1), len, inner, f)];
  });
  registerKernel(`fused.${op}2D`, ([x], node) => {
    const [, outer, inner] = splitAt(x!.shape, getAttr<number>(node, 'axis'));
    return [alongAxis(x!, outer, inner, 1, f)];
  });
}

registerKernel('onnx.LpNormalization', ([x], node) => {
  const axis = normalizeAxis(getAttr<number>(node, 'axis'), x!.rank)!;
  const p = getAttr<number>(node, 'p');
  const len = x!.shape[axis]!;
  const inner = numel(x!.shape.slice(axis + 1));
  return [alongAxis(x!, x!.size / (len * inner || 1), len, inner, (v) => {
    let s = 0;
    for (let j = 0; j < v.length; j++) s += p === 1 ? Math.abs(v[j]!) : v[j]! * v[j]!;
    const norm = p === 1 ? s : Math.sqrt(s);
    // a zero norm (all-zero run) gives zeros, not NaN
    for (let j = 0; j < v.length; j++) v[j] = norm === 0 ? 0 : v[j]! / norm;
  })];
});

registerKernel('onnx.LRN', ([x], node) => {
  const size = getAttr<number>(node, 'size');
  const alpha = getAttr<number>(node, 'alpha') / size;
  const beta = getAttr<number>(node, 'beta');
  const bias = getAttr<number>(node, 'bias');
  const [N, C] = x!.shape as [number, number];
  const vol = numel(x!.shape.slice(2));
  const X = f64(x!);
  const out = new Float64Array(X.length);
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < vol; i++) {
    let s = 0;
    for (let k = Math.max(0, c - lo); k <= Math.min(C - 1, c + hi); k++) s += X[(n * C + k) * vol + i]! ** 2;
    const o = (n * C + c) * vol + i;
    out[o] = X[o]! / (bias + alpha * s) ** beta;
  }
  return [fromF64(x!.dtype, x!.shape, out)];
});
