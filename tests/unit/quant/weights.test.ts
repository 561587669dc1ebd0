import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/index.js';
import { cholesky, choleskyInverse, upperCholesky } from '../../../src/quant/linalg.js';
import { type QuantScheme, dequantize, fakeQuant, paramsForTensor, quantize } from '../../../src/quant/quantizer.js';
import { type WeightQuantResult, accumulateXtX, clipSearch, gptq, rtn } from '../../../src/quant/weights.js';
import { rng } from '../../helpers/random.js';


const gauss = (r: () => number): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

/** Gaussian weights W [K, N] and activations X [T, K]: X = Z·A (correlated inputs) or X = Z (uncorrelated). */
function problem(K: number, N: number, T: number, correlated: boolean, seed = 1): { w: Tensor; x: Tensor; xtx: Float64Array } {
  const r = rng(seed);
  const w = new Tensor('f32', [K, N], Float32Array.from({ length: K * N }, () => gauss(r) * 0.1));
  const Z = Float64Array.from({ length: T * K }, () => gauss(r));
  let X = Z;
  if (correlated) {
    const A = Float64Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0) + gauss(r) * 0.3);
    X = new Float64Array(T * K);
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) {
      const z = Z[t * K + k]!;
      for (let j = 0; j < K; j++) X[t * K + j] += z * A[k * K + j]!;
    }
  }
  const x = new Tensor('f32', [T, K], Float32Array.from(X));
  const xtx = new Float64Array(K * K);
  accumulateXtX(xtx, x, K);
  return { w, x, xtx };
}

/** ‖X·W − X·Ŵ‖² in float64. */
function outputError(x: Tensor, w: Tensor, res: WeightQuantResult): number {
  const [T, K] = x.shape as [number, number];
  const N = w.shape[1]!;
  const D = dequantize(res.q, res.params).data as Float32Array;
  const W = w.data as Float32Array;
  const X = x.data as Float32Array;
  const E = W.map((v, i) => v - D[i]!);
  let e = 0;
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += X[t * K + k]! * E[k * N + n]!;
    e += s * s;
  }
  return e;
}

const INT4_G32: QuantScheme = { format: 'int4', symmetric: false, granularity: 'group', axis: 0, group: 32 };
const INT4_G128: QuantScheme = { format: 'int4', symmetric: false, granularity: 'group', axis: 0, group: 128 };
const INT8_CH: QuantScheme = { format: 'int8', symmetric: true, granularity: 'channel', axis: 1 };
const INT4_CH: QuantScheme = { format: 'int4', symmetric: true, granularity: 'channel', axis: 1 };

describe('rtn', () => {
  it('is quantize with the tensor\'s own parameters, and reports ‖W − Ŵ‖²', () => {
    const { w } = problem(64, 16, 1, false);
    for (const s of [INT4_G32, INT8_CH, { ...INT4_CH, granularity: 'tensor' } as QuantScheme]) {
      const res = rtn(w, s);
      const p = paramsForTensor(w, s);
      expect(res.params).toEqual(p);
      expect(res.q.data).toEqual(quantize(w, p).data);
      const d = fakeQuant(w, p).data as Float32Array;
      const want = (w.data as Float32Array).reduce((acc, v, i) => acc + (v - d[i]!) ** 2, 0);
      expect(res.error).toBeCloseTo(want, 12);
      expect(res.error).toBeGreaterThan(0);
    }
  });
});

describe('clipSearch', () => {
  it('is never worse than RTN in weight error', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { w } = problem(64, 24, 1, false, seed);
      for (const s of [INT4_G32, INT8_CH, INT4_CH, { format: 'uint8', symmetric: false, granularity: 'tensor' } as QuantScheme]) {
        expect(clipSearch(w, s).error).toBeLessThanOrEqual(rtn(w, s).error);
      }
    }
  });

  it('clips a heavy-tailed weight and strictly beats RTN', () => {
    const r = rng(21);
    // Student-t with 2 degrees of freedom: a few large outliers per channel.
    const w = new Tensor('f32', [128, 8], Float32Array.from({ length: 1024 }, () => gauss(r) / Math.sqrt((gauss(r) ** 2 + gauss(r) ** 2) / 2)));
    const base = rtn(w, INT4_CH).error;
    const clipped = clipSearch(w, INT4_CH);
    expect(clipped.error).toBeLessThan(0.9 * base);
    expect(Array.from(clipped.params.scale).every((s, i) => s <= rtn(w, INT4_CH).params.scale[i]!)).toBe(true);
  });

  it('with calibration activations, minimises the output error and never loses to RTN', () => {
    const { w, x } = problem(96, 16, 256, true, 5);
    for (const s of [INT4_G32, INT4_CH, INT8_CH]) {
      expect(outputError(x, w, clipSearch(w, s, { x }))).toBeLessThanOrEqual(outputError(x, w, rtn(w, s)));
    }
    expect(outputError(x, w, clipSearch(w, INT4_G32, { x }))).toBeLessThan(0.95 * outputError(x, w, rtn(w, INT4_G32)));
  });

  it('with grid 1 and minRatio 1 is RTN', () => {
    const { w } = problem(32, 8, 1, false, 2);
    expect(clipSearch(w, INT4_G32, { grid: 1, minRatio: 1 }).q.data).toEqual(rtn(w, INT4_G32).q.data);
    expect(() => clipSearch(w, INT4_G32, { minRatio: 0 })).toThrow(/minRatio/);
  });
});

describe('accumulateXtX', () => {
  it('streams: chunks add up to the one-shot XᵀX, which is symmetric and exact', () => {
    const x = Tensor.from('f32', [2, 2, 3], [1, 2, 3, 4, 5, 6, -1, 0, 2, 0.5, 1, -2]);
    const once = new Float64Array(9);
    accumulateXtX(once, x, 3);
    const rows = [[1, 2, 3], [4, 5, 6], [-1, 0, 2], [0.5, 1, -2]];
    const naive = Array.from({ length: 9 }, (_, i) => rows.reduce((s, r) => s + r[Math.floor(i / 3)]! * r[i % 3]!, 0));
    expect(Array.from(once)).toEqual(naive);
    const streamed = new Float64Array(9);
    accumulateXtX(streamed, Tensor.from('f32', [2, 3], [1, 2, 3, 4, 5, 6]), 3);
    accumulateXtX(streamed, Tensor.from('f32', [1, 2, 3], [-1, 0, 2, 0.5, 1, -2]), 3);
    expect(streamed).toEqual(once);
    expect(() => accumulateXtX(new Float64Array(16), x, 4)).toThrow(/input dim 4/);
  });
});

describe('linalg', () => {
  const n = 24;
  const r = rng(4);
  const B = Float64Array.from({ length: n * n }, () => gauss(r));
  const A = new Float64Array(n * n); // B·Bᵀ + I: SPD
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? 1 : 0;
    for (let k = 0; k < n; k++) s += B[i * n + k]! * B[j * n + k]!;
    A[i * n + j] = s;
  }
  const mul = (p: Float64Array, q: Float64Array, tp = false) => Float64Array.from({ length: n * n }, (_, idx) => {
    const [i, j] = [Math.floor(idx / n), idx % n];
    let s = 0;
    for (let k = 0; k < n; k++) s += (tp ? p[k * n + i]! : p[i * n + k]!) * q[k * n + j]!;
    return s;
  });
  const maxAbsDiff = (p: Float64Array, q: Float64Array) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i]!)), 0);

  it('factors A = L·Lᵀ and inverts through it', () => {
    const L = cholesky(A, n)!;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
    const LT = Float64Array.from({ length: n * n }, (_, idx) => L[(idx % n) * n + Math.floor(idx / n)]!);
    expect(maxAbsDiff(mul(L, LT), A)).toBeLessThan(1e-9);
    const I = Float64Array.from({ length: n * n }, (_, idx) => (idx % (n + 1) === 0 ? 1 : 0));
    expect(maxAbsDiff(mul(A, choleskyInverse(L, n)), I)).toBeLessThan(1e-9);
  });

  it('gives the upper factor A = Uᵀ·U', () => {
    const U = upperCholesky(A, n)!;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(U[i * n + j]).toBe(0);
    expect(maxAbsDiff(mul(U, U, true), A)).toBeLessThan(1e-9);
  });

  it('reports a matrix that is not positive definite', () => {
    expect(cholesky(Float64Array.of(1, 2, 2, 1), 2)).toBeUndefined();
    expect(upperCholesky(Float64Array.of(0, 0, 0, 1), 2)).toBeUndefined();
  });
});

describe('gptq', () => {
  const corr = problem(256, 48, 1024, true);

  // Measured ratios GPTQ / RTN of ‖XW − XŴ‖² on this problem: ≈ 0.47 (int4 g32), 0.47 (int4 g128), 0.46 (int8 per channel).
  for (const [name, s] of [['int4 group 32', INT4_G32], ['int4 group 128', INT4_G128], ['int8 per channel', INT8_CH]] as const) {
    it(`beats RTN in output error on correlated inputs: ${name}`, () => {
      const base = outputError(corr.x, corr.w, rtn(corr.w, s));
      const g = gptq(corr.w, corr.xtx, s);
      expect(g.q.dtype).toBe(s.format === 'int4' ? 'i4' : 'i8');
      expect(outputError(corr.x, corr.w, g) / base).toBeLessThan(0.6);
      expect(outputError(corr.x, corr.w, gptq(corr.w, corr.xtx, s, { actOrder: true })) / base).toBeLessThan(0.6);
    });
  }

  it('reports ‖W − Ŵ‖² of what it returns, which exceeds RTN\'s (it trades weight error for output error)', () => {
    const g = gptq(corr.w, corr.xtx, INT4_G32);
    const D = dequantize(g.q, g.params).data as Float32Array;
    expect(g.error).toBeCloseTo((corr.w.data as Float32Array).reduce((a, v, i) => a + (v - D[i]!) ** 2, 0), 10);
    expect(g.error).toBeGreaterThan(rtn(corr.w, INT4_G32).error);
  });

  it('equals RTN bit for bit when XᵀX is a multiple of the identity (nothing to compensate)', () => {
    const { w } = problem(96, 16, 1, false, 8);
    const xtx = Float64Array.from({ length: 96 * 96 }, (_, i) => (i % 97 === 0 ? 3 : 0));
    for (const s of [INT4_G32, INT8_CH, INT4_CH]) {
      const g = gptq(w, xtx, s);
      const base = rtn(w, s);
      expect(g.q.data).toEqual(base.q.data);
      expect(g.params).toEqual(base.params);
    }
  });

  it('is close to RTN on uncorrelated, equal-variance inputs', () => {
    const iid = problem(64, 32, 16384, false, 9);
    for (const s of [INT4_G32, INT8_CH]) {
      const ratio = outputError(iid.x, iid.w, gptq(iid.w, iid.xtx, s)) / outputError(iid.x, iid.w, rtn(iid.w, s));
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.02);
    }
  });

  it('zeroes the rows of inputs that never fire', () => {
    const { w, x } = problem(64, 8, 128, true, 10);
    const X = (x.data as Float32Array).slice();
    for (let t = 0; t < 128; t++) X[t * 64 + 5] = 0;
    const xtx = new Float64Array(64 * 64);
    accumulateXtX(xtx, new Tensor('f32', [128, 64], X), 64);
    const g = gptq(w, xtx, INT4_G32);
    expect(Array.from((dequantize(g.q, g.params).data as Float32Array).slice(5 * 8, 6 * 8))).toEqual(new Array(8).fill(0));
  });

  it('refits groups that straddle a block from the current weights, so the block size does not change the result', () => {
    const whole = gptq(corr.w, corr.xtx, INT4_G32, { blockSize: 256 });
    for (const blockSize of [48, 100]) {
      const g = gptq(corr.w, corr.xtx, INT4_G32, { blockSize });
      const differ = (g.q.data as Int8Array).reduce((n, v, i) => n + (v !== whole.q.data[i] ? 1 : 0), 0);
      expect(differ / g.q.size).toBeLessThan(1e-3);
      expect(Math.abs(outputError(corr.x, corr.w, g) / outputError(corr.x, corr.w, whole) - 1)).toBeLessThan(1e-3);
    }
  });

  it('with act-order and groups uses static groups fitted on the original weights', () => {
    const g = gptq(corr.w, corr.xtx, INT4_G32, { actOrder: true });
    expect(g.params).toEqual(paramsForTensor(corr.w, INT4_G32));
  });

  it('defaults groups to axis 0 and channels to axis 1, and rejects other axes', () => {
    const { w, xtx } = problem(64, 8, 32, true, 12);
    expect(gptq(w, xtx, { format: 'int4', symmetric: true, granularity: 'group', group: 16 }).params.shape).toEqual([4, 8]);
    expect(gptq(w, xtx, { format: 'int8', symmetric: true, granularity: 'channel' }).params.shape).toEqual([8]);
    expect(() => gptq(w, xtx, { ...INT4_G32, axis: 1 })).toThrow(/groups along K/);
    expect(() => gptq(w, new Float64Array(4), INT4_G32)).toThrow(/not 64×64/);
  });
});
