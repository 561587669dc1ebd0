/**
 * @fileoverview The Resize kernel: nearest / linear / cubic (antialiased too) with every
 * coordinate transformation mode, one axis at a time in float64, rounded once to the dtype.
 */
import { isFloat } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { getAttr } from '../../ir/registry.js';
import { Tensor } from '../../ir/tensor.js';
import { numel } from '../../ir/types.js';
import { resizeGeometry } from '../../ir/ops/resize.js';
import { registerKernel } from '../kernel.js';
import { attr, axisOf, optAttr } from './copy.js';

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
export interface AxisWeights { n: number; idx: Int32Array; w: Float64Array; extrapolate: Uint8Array }

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

/**
 * The output shape of a Resize of `shape`, the resized dims, and each dim's interpolation table
 * (undefined where a dim maps to itself); shared with the code generator, which reads the same tables.
 */
export function resizeTables(node: Node, shape: readonly number[], roiT: Tensor | undefined, scalesT: Tensor | undefined, sizesT: Tensor | undefined):
  { sizes: number[]; dims: number[]; tables: (AxisWeights | undefined)[] } {
  const r = shape.length;
  const axes = optAttr<number[]>(node, 'axes')?.map((a) => axisOf(a, r));
  const values = (t: Tensor | undefined) => (t && t.size > 0 ? t.toNumbers() : undefined);
  const { sizes, scales } = resizeGeometry(shape, axes, values(scalesT), values(sizesT), getAttr<string>(node, 'keep_aspect_ratio_policy'));
  const dims = axes ?? shape.map((_, i) => i);
  const roi = values(roiT);
  const roiOf = (d: number): [number, number] => {
    const k = dims.indexOf(d);
    return roi && k >= 0 ? [roi[k]!, roi[k + dims.length]!] : [0, 1];
  };
  const coeffs = resizeCoeffs(node);
  const tables = shape.map((w, d) => (dims.includes(d) && sizes[d] !== 0 ? axisWeights(node, coeffs, w, sizes[d]!, scales[d]!, roiOf(d)) : undefined));
  return { sizes, dims, tables };
}

registerKernel('onnx.Resize', ([x, roiT, scalesT, sizesT], node) => {
  const { sizes, dims, tables } = resizeTables(node, x!.shape, roiT, scalesT, sizesT);
  const extrapolation = attr(node, 'extrapolation_value');
  let data: Float64Array = Float64Array.from(x!.data as ArrayLike<number>, Number);
  const shape = [...x!.shape];
  // innermost first, as the ONNX reference nests its 1-D interpolations
  for (const d of [...dims].reverse()) {
    if (sizes[d] === 0) { shape[d] = 0; data = new Float64Array(0); continue; }
    const t = tables[d];
    if (t) data = applyAxis(data, shape, d, sizes[d]!, t, extrapolation);
  }
  const out = Tensor.zeros(x!.dtype, shape);
  out.setAll(isFloat(x!.dtype) ? data : data.map(Math.trunc));
  return [out];
});
