/**
 * @fileoverview Weight rounding: round-to-nearest (RTN), per-slot clip-ratio search, and GPTQ
 * second-order rounding (techniques §8). Every method returns storage-dtype weights plus the
 * QuantParams that dequantize them, quantized exactly as onnx.QuantizeLinear would.
 *
 * Layout: GPTQ (and clipSearch's output-error mode) take a MatMul weight W [K, N] — input dim K
 * first, `Y = X·W`. The paper writes the layer as Wᵀ ([N, K]) and walks its *columns*; here those
 * are the *rows* of W, each a contiguous run of N values, so "quantize column j" is "quantize
 * row j" below, and groups run along K (scheme axis 0).
 */
import { fail } from '../ir/diagnostics.js';
import { Tensor } from '../ir/tensor.js';
import { f64, fromF64 } from '../interp/kernels/nn.js';
import { choleskyInverse, cholesky, upperCholesky } from './linalg.js';
import {
  type QuantParams, type QuantScheme, dequantize, dequantizeElement, formatInfo, paramLayout, paramsForTensor, paramsFromRange, quantize,
  quantizeElement, slotRanges,
} from './quantizer.js';

/** Quantized weights with their parameters and the rounding error they leave. */
export interface WeightQuantResult {
  /** Storage dtype, same shape as the float weight. */
  q: Tensor;
  params: QuantParams;
  /** ‖W − dequantize(q)‖², summed in float64. */
  error: number;
}

/** ‖W − dequantize(q)‖² in float64. */
function weightError(w: Tensor, q: Tensor, params: QuantParams): number {
  const W = f64(w);
  const D = dequantize(q, params).data as Float32Array;
  let e = 0;
  for (let i = 0; i < W.length; i++) e += (W[i]! - D[i]!) ** 2;
  return e;
}

/** Quantize with given params and measure: the common tail of every method. */
function finish(w: Tensor, params: QuantParams): WeightQuantResult {
  const q = quantize(w, params);
  return { q, params, error: weightError(w, q, params) };
}

/** Round to nearest with the tensor's own min / max per tensor, channel or group: the baseline every other method must beat. */
export function rtn(w: Tensor, scheme: QuantScheme): WeightQuantResult {
  return finish(w, paramsForTensor(w, scheme));
}

/**
 * XᵀX += Σ_tokens xᵀx for activations x [..., K] (all leading dims are tokens), in float64:
 * the streaming statistic GPTQ and output-error clip search need, mergeable by adding.
 */
export function accumulateXtX(into: Float64Array, x: Tensor, K: number): void {
  if (x.shape[x.rank - 1] !== K) fail('pass', `activations [${x.shape.join(',')}] do not end in the weight's input dim ${K}`);
  if (into.length !== K * K) fail('pass', `XᵀX accumulator holds ${into.length} values, not ${K}×${K}`);
  const X = f64(x);
  const tokens = X.length / K;
  // Upper triangle only (half the work), then mirrored into both halves.
  const upper = new Float64Array(K * K);
  for (let t = 0; t < tokens; t++) {
    const row = t * K;
    for (let a = 0; a < K; a++) {
      const va = X[row + a]!;
      if (va === 0) continue;
      const ra = a * K;
      for (let b = a; b < K; b++) upper[ra + b] += va * X[row + b]!;
    }
  }
  for (let a = 0; a < K; a++) {
    into[a * K + a] += upper[a * K + a]!;
    for (let b = a + 1; b < K; b++) {
      into[a * K + b] += upper[a * K + b]!;
      into[b * K + a] += upper[a * K + b]!;
    }
  }
}

/** K and N of a MatMul weight, failing on anything that is not [K, N]. */
function matmulDims(w: Tensor, what: string): [number, number] {
  if (w.rank !== 2) fail('pass', `${what} needs a MatMul weight [K, N], got [${w.shape.join(',')}]`);
  return [w.shape[0]!, w.shape[1]!];
}

/**
 * Per-slot clip search: each parameter slot (tensor, channel or group) picks the shrink ratio r
 * from `grid`+1 evenly spaced values in [minRatio, 1] whose range [r·min, r·max] gives the least
 * error. The error is ‖W − Ŵ‖² per slot, or with calibration activations `x` [tokens, K] the
 * output error ‖XW − XŴ‖² (W must be [K, N]), minimised by one pass of coordinate descent over
 * the slots. Both start from r = 1 (RTN) and only accept improvements, so never lose to RTN.
 */
export function clipSearch(w: Tensor, scheme: QuantScheme, opts: { grid?: number; minRatio?: number; x?: Tensor } = {}): WeightQuantResult {
  const grid = opts.grid ?? 20;
  const minRatio = opts.minRatio ?? 0.5;
  if (!Number.isInteger(grid) || grid < 1) fail('pass', `clip search grid must be a positive integer, got ${grid}`);
  if (!(minRatio > 0 && minRatio <= 1)) fail('pass', `clip search minRatio must be in (0, 1], got ${minRatio}`);
  const W = f64(w);
  const layout = paramLayout(w.shape, scheme);
  const { min, max } = slotRanges(W, layout);
  const cands = Array.from({ length: grid + 1 }, (_, c) => {
    const r = 1 - ((1 - minRatio) * c) / grid;
    return paramsFromRange(min.map((v) => v * r), max.map((v) => v * r), scheme, layout.shape);
  });
  const qf = quantizeElement(scheme.format);
  /** W[i] − Ŵ[i] under candidate c. */
  const err = (c: number, i: number): number => {
    const s = layout.slotOf[i]!;
    const { scale, zero } = cands[c]!;
    return W[i]! - dequantizeElement(qf(W[i]!, scale[s]!, zero[s]!), scale[s]!, zero[s]!);
  };
  const choice = opts.x ? outputErrorChoice(w, opts.x, layout.slotOf, layout.slots, cands.length, err)
    : weightErrorChoice(W.length, layout.slotOf, layout.slots, cands.length, err);
  const scale = new Float32Array(layout.slots);
  const zero = new Int32Array(layout.slots);
  for (let s = 0; s < layout.slots; s++) {
    scale[s] = cands[choice[s]!]!.scale[s]!;
    zero[s] = cands[choice[s]!]!.zero[s]!;
  }
  return finish(w, { scheme, scale, zero, shape: layout.shape });
}

/** Per slot, the candidate with the least Σ err² (ties keep the lower index, r = 1 first). */
function weightErrorChoice(size: number, slotOf: Int32Array, slots: number, cands: number, err: (c: number, i: number) => number): Int32Array {
  const best = new Float64Array(slots).fill(Infinity);
  const choice = new Int32Array(slots);
  const acc = new Float64Array(slots);
  for (let c = 0; c < cands; c++) {
    acc.fill(0);
    for (let i = 0; i < size; i++) acc[slotOf[i]!] += err(c, i) ** 2;
    for (let s = 0; s < slots; s++) if (acc[s]! < best[s]!) { best[s] = acc[s]!; choice[s] = c; }
  }
  return choice;
}

/**
 * Coordinate descent on f(E) = Σ_n e_nᵀ H e_n = ‖X·E‖² (E = W − Ŵ, H = XᵀX): each slot in turn
 * takes the candidate with the most negative change 2δᵀ(HE) + δᵀHδ given the others' choices.
 */
function outputErrorChoice(w: Tensor, x: Tensor, slotOf: Int32Array, slots: number, cands: number, err: (c: number, i: number) => number): Int32Array {
  const [K, N] = matmulDims(w, 'output-error clip search');
  const H = new Float64Array(K * K);
  accumulateXtX(H, x, K);
  const E = new Float64Array(K * N);
  for (let i = 0; i < E.length; i++) E[i] = err(0, i);
  // G = H·E, kept current as E changes.
  const G = new Float64Array(K * N);
  for (let r = 0; r < K; r++) for (let k = 0; k < K; k++) {
    const h = H[r * K + k]!;
    if (h === 0) continue;
    for (let n = 0; n < N; n++) G[r * N + n] += h * E[k * N + n]!;
  }
  // Members of each slot, column by column (n outer, k inner), so same-column runs are contiguous.
  const start = new Int32Array(slots + 1);
  for (let i = 0; i < slotOf.length; i++) start[slotOf[i]! + 1]++;
  for (let s = 0; s < slots; s++) start[s + 1] += start[s]!;
  const members = new Int32Array(slotOf.length);
  const fill = start.slice(0, slots);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) members[fill[slotOf[k * N + n]!]++] = k * N + n;
  const choice = new Int32Array(slots);
  const delta = new Float64Array(slotOf.length);
  for (let s = 0; s < slots; s++) {
    const [a, b] = [start[s]!, start[s + 1]!];
    let bestGain = 0;
    let bestC = 0;
    for (let c = 1; c < cands; c++) {
      let change = 0;
      for (let m = a; m < b; m++) {
        const i = members[m]!;
        delta[m] = err(c, i) - E[i]!;
        change += 2 * delta[m]! * G[i]!;
      }
      for (let m = a; m < b;) {
        const n = members[m]! % N;
        let e = m;
        while (e < b && members[e]! % N === n) e++;
        for (let p = m; p < e; p++) {
          const kp = (members[p]! - n) / N;
          for (let q = m; q < e; q++) change += delta[p]! * H[kp * K + (members[q]! - n) / N]! * delta[q]!;
        }
        m = e;
      }
      if (change < bestGain) { bestGain = change; bestC = c; }
    }
    if (bestC === 0) continue;
    choice[s] = bestC;
    for (let m = a; m < b; m++) {
      const i = members[m]!;
      const d = err(bestC, i) - E[i]!;
      if (d === 0) continue;
      E[i] = E[i]! + d;
      const [k, n] = [(i - (i % N)) / N, i % N];
      for (let r = 0; r < K; r++) G[r * N + n] += H[r * K + k]! * d;
    }
  }
  return choice;
}

/**
 * GPTQ (Frantar et al. 2022) for a MatMul weight W [K, N] given XᵀX [K×K] of its calibration
 * inputs. H = 2·XᵀX + λI with λ = `dampening` (0.01) × mean diag(H); inputs that never fire
 * (H_jj = 0) get H_jj = 1 and a zero row of W, as the reference does. With U the upper Cholesky
 * factor of H⁻¹, rows j of W are quantized in order, in blocks of `blockSize` (128): the error
 * e = (w_j − ŵ_j) / U_jj is pushed onto the later rows of the block at once (w_r −= e·U_jr) and
 * onto the rows after the block lazily, in one update per block. Per-tensor / per-channel (axis 1)
 * parameters come from the whole W up front; groups (axis 0, along K) are re-fitted at each group
 * boundary from the current, error-updated rows. `actOrder` walks rows by diag(H) descending;
 * with groups it uses static groups — parameters fitted on W before any update — because ONNX
 * blocked quantization needs each group to be K-contiguous in the original order. Float64 throughout.
 */
export function gptq(w: Tensor, xtx: Float64Array, scheme: QuantScheme,
  opts: { blockSize?: number; dampening?: number; actOrder?: boolean } = {}): WeightQuantResult {
  const [K, N] = matmulDims(w, 'GPTQ');
  if (xtx.length !== K * K) fail('pass', `GPTQ: XᵀX holds ${xtx.length} values, not ${K}×${K}`);
  const blockSize = opts.blockSize ?? 128;
  const dampening = opts.dampening ?? 0.01;
  if (!Number.isInteger(blockSize) || blockSize < 1) fail('pass', `GPTQ block size must be a positive integer, got ${blockSize}`);
  const gs = gptqScheme(scheme);
  const group = gs.granularity === 'group' ? gs.group! : 0;

  const W = Float64Array.from(w.data as ArrayLike<number>);
  const H = new Float64Array(K * K);
  for (let i = 0; i < H.length; i++) H[i] = 2 * xtx[i]!;
  for (let j = 0; j < K; j++) {
    if (H[j * K + j] !== 0) continue;
    H[j * K + j] = 1;
    W.fill(0, j * N, (j + 1) * N);
  }

  // Fixed parameters (tensor, channel, static groups) from W as it stands; dynamic groups later.
  const layout = paramLayout([K, N], gs);
  const fixed = gs.granularity !== 'group' || opts.actOrder;
  const { min, max } = fixed ? slotRanges(W, layout) : { min: new Float64Array(layout.slots), max: new Float64Array(layout.slots) };
  const params = paramsFromRange(min, max, gs, layout.shape);

  const perm = Array.from({ length: K }, (_, j) => j);
  if (opts.actOrder) perm.sort((a, b) => H[b * K + b]! - H[a * K + a]! || a - b);
  const Wp = new Float64Array(K * N);
  const Hp = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    Wp.set(W.subarray(perm[i]! * N, (perm[i]! + 1) * N), i * N);
    for (let j = 0; j < K; j++) Hp[i * K + j] = H[perm[i]! * K + perm[j]!]!;
  }
  let meanDiag = 0;
  for (let j = 0; j < K; j++) meanDiag += Hp[j * K + j]! / K;
  for (let j = 0; j < K; j++) Hp[j * K + j] += dampening * meanDiag;
  const L = cholesky(Hp, K);
  const U = L && upperCholesky(choleskyInverse(L, K), K);
  if (!U) fail('pass', `GPTQ: the damped Hessian is not positive definite; raise dampening (now ${dampening})`);

  const qf = quantizeElement(gs.format);
  const Q = new Float64Array(K * N);
  const Err = new Float64Array(Math.min(blockSize, K) * N);
  for (let i1 = 0; i1 < K; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, K);
    for (let j = i1; j < i2; j++) {
      if (group && !opts.actOrder && j % group === 0) refitGroup(params, Wp, U, Err, K, N, j, Math.min(j + group, K), i1, i2);
      const o = perm[j]!;
      const slotRow = gs.granularity === 'group' ? Math.floor(o / group) * N : 0;
      const ujj = U[j * K + j]!;
      const e = Err.subarray((j - i1) * N, (j - i1 + 1) * N);
      for (let n = 0; n < N; n++) {
        const slot = gs.granularity === 'tensor' ? 0 : gs.granularity === 'channel' ? n : slotRow + n;
        const [s, z] = [params.scale[slot]!, params.zero[slot]!];
        const v = Wp[j * N + n]!;
        const q = qf(v, s, z);
        Q[o * N + n] = q;
        e[n] = (v - dequantizeElement(q, s, z)) / ujj;
      }
      for (let r = j + 1; r < i2; r++) {
        const u = U[j * K + r]!;
        if (u === 0) continue;
        for (let n = 0; n < N; n++) Wp[r * N + n] -= e[n]! * u;
      }
    }
    for (let r = i2; r < K; r++) {
      for (let j = i1; j < i2; j++) {
        const u = U[j * K + r]!;
        if (u === 0) continue;
        const eo = (j - i1) * N;
        for (let n = 0; n < N; n++) Wp[r * N + n] -= Err[eo + n]! * u;
      }
    }
  }
  const q = fromF64(formatInfo(gs.format).storage, [K, N], Q);
  return { q, params, error: weightError(w, q, params) };
}

/** The scheme GPTQ works with: channels along N (axis 1), groups along K (axis 0); anything else fails. */
function gptqScheme(scheme: QuantScheme): QuantScheme {
  const want = scheme.granularity === 'group' ? 0 : scheme.granularity === 'channel' ? 1 : undefined;
  if (want === undefined) return scheme;
  const axis = scheme.axis ?? want;
  if (axis !== want && axis !== want - 2) {
    fail('pass', `GPTQ on a MatMul weight [K, N] quantizes ${scheme.granularity === 'group' ? 'groups along K (axis 0)' : 'channels along N (axis 1)'}, not axis ${axis}`);
  }
  return { ...scheme, axis: want };
}

/**
 * Fit group parameters for rows [j, end) from their current values. Rows inside the block are
 * current in Wp; rows past it still miss the block's pending lazy update from rows [i1, j),
 * which is applied on the fly here.
 */
function refitGroup(params: QuantParams, Wp: Float64Array, U: Float64Array, Err: Float64Array, K: number, N: number,
  j: number, end: number, i1: number, i2: number): void {
  const lo = new Float64Array(N).fill(Infinity);
  const hi = new Float64Array(N).fill(-Infinity);
  const row = new Float64Array(N);
  for (let r = j; r < end; r++) {
    row.set(Wp.subarray(r * N, (r + 1) * N));
    if (r >= i2) {
      for (let p = i1; p < j; p++) {
        const u = U[p * K + r]!;
        if (u === 0) continue;
        const eo = (p - i1) * N;
        for (let n = 0; n < N; n++) row[n] -= Err[eo + n]! * u;
      }
    }
    for (let n = 0; n < N; n++) {
      if (row[n]! < lo[n]!) lo[n] = row[n]!;
      if (row[n]! > hi[n]!) hi[n] = row[n]!;
    }
  }
  const fresh = paramsFromRange(lo, hi, params.scheme);
  const g = Math.floor(j / params.scheme.group!);
  params.scale.set(fresh.scale, g * N);
  params.zero.set(fresh.zero, g * N);
}
