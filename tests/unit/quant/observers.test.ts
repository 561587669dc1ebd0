import { describe, expect, it } from 'vitest';
import { LutraError, Tensor } from '../../../src/ir/index.js';
import { MagnitudeHistogram, powerOfTwoAbove } from '../../../src/quant/histogram.js';
import {
  type ObserverKind, type ObserverOptions, type QuantTarget, channelStats, createObserver, mergeChannelStats,
} from '../../../src/quant/observers.js';
import { rng } from '../../helpers/random.js';

const INT8: QuantTarget = { qmin: -128, qmax: 127, symmetric: true };
const UINT8: QuantTarget = { qmin: 0, qmax: 255, symmetric: false };
const KINDS: ObserverKind[] = ['minmax', 'moving-minmax', 'percentile', 'entropy', 'mse'];


const uniform = (seed: number, n: number, lo: number, hi: number): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};

/** Standard normal values (Box–Muller) shifted by `mean`. */
function normal(seed: number, n: number, mean = 0): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => mean + Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** Laplace(0, 1) values (inverse CDF). */
function laplace(seed: number, n: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const u = r() - 0.5;
    return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
  });
}

const f32 = (data: ArrayLike<number>, shape = [data.length]): Tensor => new Tensor('f32', shape, Float32Array.from(data));

const concat = (...xs: Float32Array[]): Float32Array => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

/** Exact percentile of sorted values: the value at rank q·n (1-based, rounded up). */
const exactQuantile = (sorted: Float32Array, q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

const observe = (opts: ObserverOptions, ...batches: Float32Array[]) => {
  const o = createObserver(opts);
  for (const b of batches) o.observe(f32(b));
  return o;
};

/** Width of one histogram bin for values up to `m` (the observers' power-of-two grid). */
const binWidth = (m: number, bins = 2048): number => powerOfTwoAbove(m) / bins;

describe('minmax observers', () => {
  it('minmax keeps the running extremes across batches', () => {
    const o = observe({ kind: 'minmax' }, Float32Array.from([1, -2, 3, 0.5]), Float32Array.from([4, -1]));
    expect(o.range(UINT8)).toEqual({ min: -2, max: 4 });
    expect(o.range(INT8)).toEqual({ min: -4, max: 4 });
    expect(o.count).toBe(6);
    expect(o.sentinels).toBe(0);
    expect(o.stats).toBeUndefined();
    expect(o.channelRanges(INT8)).toBeUndefined();
  });

  it('moving-minmax averages each batch\'s extremes starting from the first batch', () => {
    // min: -1 → 0.5·-1 + 0.5·-3 = -2 → 0.5·-2 + 0.5·0 = -1; max: 2 → 3 → 2.
    const o = observe({ kind: 'moving-minmax', momentum: 0.5 },
      Float32Array.from([-1, 2]), Float32Array.from([-3, 4, 1]), Float32Array.from([0, 1]));
    expect(o.range(UINT8)).toEqual({ min: -1, max: 2 });
    expect(o.range(INT8)).toEqual({ min: -2, max: 2 });
    const d = observe({ kind: 'moving-minmax' }, Float32Array.from([-1, 2]), Float32Array.from([-3, 4]));
    expect(d.range(UINT8).min).toBeCloseTo(0.9 * -1 + 0.1 * -3, 12);
    expect(d.range(UINT8).max).toBeCloseTo(0.9 * 2 + 0.1 * 4, 12);
  });

  it('gives {0, 0} before any value', () => {
    for (const kind of KINDS) expect(createObserver({ kind }).range(INT8)).toEqual({ min: 0, max: 0 });
  });
});

describe('percentile observer', () => {
  it('matches the exact percentile of |x| of a seeded normal within one bin', () => {
    const x = normal(1, 200_000);
    const o = observe({ kind: 'percentile', percentile: 99.9 }, x);
    const mags = Float32Array.from(x, Math.abs).sort();
    const absMax = mags[mags.length - 1]!;
    const r = o.range(INT8);
    expect(r.min).toBe(-r.max);
    expect(Math.abs(r.max - exactQuantile(mags, 0.999))).toBeLessThanOrEqual(binWidth(absMax));
    expect(r.max).toBeLessThan(absMax);
  });

  it('clips both tails for asymmetric targets', () => {
    const x = normal(2, 200_000, 1.5);
    const o = observe({ kind: 'percentile', percentile: 99 }, x);
    const sorted = x.slice().sort();
    const r = o.range(UINT8);
    expect(Math.abs(r.max - exactQuantile(sorted, 0.99))).toBeLessThanOrEqual(binWidth(sorted[sorted.length - 1]!));
    expect(Math.abs(r.min - exactQuantile(sorted, 0.01))).toBeLessThanOrEqual(binWidth(-sorted[0]!));
  });

  it('percentile 100 is the observed max', () => {
    const x = uniform(3, 10_000, -2, 3);
    const o = observe({ kind: 'percentile', percentile: 100 }, x);
    const m = Math.max(...Array.from(x, Math.abs));
    expect(o.range(INT8).max).toBe(m);
  });
});

describe('histogram re-binning', () => {
  it('three batches with growing ranges bin exactly as one batch of all values', () => {
    const a = uniform(4, 5000, -1, 1);
    const b = uniform(5, 5000, -3, 2.5);
    const c = normal(6, 5000).map((v) => v * 4);
    for (const kind of ['percentile', 'entropy', 'mse'] as const) {
      const streamed = observe({ kind, percentile: 99 }, a, b, c);
      const once = observe({ kind, percentile: 99 }, concat(a, b, c));
      expect(streamed.toJSON()).toEqual(once.toJSON());
      expect(streamed.range(INT8)).toEqual(once.range(INT8));
      expect(streamed.range(UINT8)).toEqual(once.range(UINT8));
    }
    const all = Float32Array.from(concat(a, b, c), Math.abs).sort();
    const r = observe({ kind: 'percentile', percentile: 99 }, a, b, c).range(INT8);
    expect(Math.abs(r.max - exactQuantile(all, 0.99))).toBeLessThanOrEqual(binWidth(all[all.length - 1]!));
  });

  it('widening by 2^d moves bin i to bin floor(i / 2^d)', () => {
    const h = new MagnitudeHistogram(8);
    h.cover(0.9); // hi = 1, width 1/8
    h.counts.set([1, 2, 3, 4, 5, 6, 7, 8]);
    h.total = 36;
    h.cover(3); // hi = 4: four old bins per new bin
    expect(h.hi).toBe(4);
    expect(Array.from(h.counts)).toEqual([10, 26, 0, 0, 0, 0, 0, 0]);
    expect(powerOfTwoAbove(4)).toBe(8);
    expect(powerOfTwoAbove(3.99)).toBe(4);
  });
});

describe('entropy and mse observers', () => {
  const heavy = concat(laplace(7, 100_000), Float32Array.from([40, -38, 35, -41, 39]));
  const flat = uniform(8, 100_000, -1, 1);
  const absMax = (x: Float32Array) => Math.max(...Array.from(x, Math.abs));

  it('entropy clips a heavy-tailed distribution well below its max', () => {
    const r = observe({ kind: 'entropy' }, heavy).range(INT8);
    expect(r.min).toBe(-r.max);
    expect(r.max).toBeGreaterThan(2);
    expect(r.max).toBeLessThan(0.5 * absMax(heavy));
  });

  it('mse clips the outliers of a heavy-tailed distribution, harder on a coarser grid', () => {
    // Squared error weighs the five outliers against 100k rounding errors, so int8 clips mildly.
    const o = observe({ kind: 'mse' }, heavy);
    const r8 = o.range(INT8);
    const r4 = o.range({ qmin: -8, qmax: 7, symmetric: true });
    expect(r8.min).toBe(-r8.max);
    expect(r8.max).toBeLessThan(0.9 * absMax(heavy));
    expect(r4.max).toBeLessThan(0.6 * absMax(heavy));
  });

  for (const [kind, clip] of [['entropy', 0.5], ['mse', 0.99]] as const) {

    it(`${kind} keeps about the max of a uniform distribution`, () => {
      const r = observe({ kind }, flat).range(INT8);
      expect(r.max).toBeGreaterThan(0.95 * absMax(flat));
      expect(r.max).toBeLessThanOrEqual(absMax(flat));
    });

    it(`${kind} clips a lone outlier within the observed range for asymmetric targets`, () => {
      const x = concat(laplace(9, 50_000).map((v) => v + 3), Float32Array.from([60]));
      const lo = Math.min(...x);
      const r = observe({ kind }, x).range(UINT8);
      expect(r.max).toBeLessThan(clip * 60);
      expect(r.max).toBeGreaterThan(8);
      expect(r.min).toBeLessThan(0);
      expect(r.min).toBeGreaterThanOrEqual(lo);
    });
  }

});

describe('merging and determinism', () => {
  const batches = [normal(10, 3000), uniform(11, 3000, -5, 1), laplace(12, 3000), normal(13, 3000, 2)];

  for (const kind of KINDS) {
    it(`${kind}: merging two workers' observers equals one stream`, () => {
      const opts: ObserverOptions = { kind, axis: 0, momentum: 0.7 };
      const one = createObserver(opts);
      const a = createObserver(opts);
      const b = createObserver(opts);
      batches.forEach((x, i) => {
        const t = f32(x, [30, 100]);
        one.observe(t);
        (i < 2 ? a : b).observe(t);
      });
      a.merge(b);
      expect(a.count).toBe(one.count);
      for (const target of [INT8, UINT8]) {
        const ra = a.range(target);
        const r1 = one.range(target);
        if (kind === 'moving-minmax') {
          expect(ra.min).toBeCloseTo(r1.min, 12);
          expect(ra.max).toBeCloseTo(r1.max, 12);
        } else {
          expect(ra).toEqual(r1);
        }
        const ca = a.channelRanges(target)!;
        const c1 = one.channelRanges(target)!;
        expect(ca).toHaveLength(30);
        ca.forEach((r, c) => {
          expect(r.min).toBeCloseTo(c1[c]!.min, 12);
          expect(r.max).toBeCloseTo(c1[c]!.max, 12);
        });
      }
      const sa = a.stats!;
      const s1 = one.stats!;
      expect(sa.count).toBe(s1.count);
      expect(sa.absMax).toEqual(s1.absMax);
      sa.absMean.forEach((m, c) => expect(m).toBeCloseTo(s1.absMean[c]!, 12));
    });
  }

  it('histogram merges are commutative and exact', () => {
    const a = observe({ kind: 'percentile' }, batches[0]!, batches[1]!);
    const b = observe({ kind: 'percentile' }, batches[2]!, batches[3]!);
    const ab = observe({ kind: 'percentile' }, batches[0]!, batches[1]!);
    ab.merge(b);
    b.merge(a);
    expect(ab.toJSON()).toEqual(b.toJSON());
  });

  it('the same inputs in the same order give identical results', () => {
    for (const kind of KINDS) {
      const run = () => {
        const o = observe({ kind }, ...batches);
        return JSON.stringify([o.toJSON(), o.range(INT8), o.range(UINT8)]);
      };
      expect(run()).toBe(run());
    }
  });

  it('refuses to merge observers with different options', () => {
    expect(() => createObserver({ kind: 'minmax' }).merge(createObserver({ kind: 'percentile' }))).toThrow(/different options/);
  });
});

describe('sentinels and NaN', () => {
  const clean = normal(14, 4000);
  const masked = new Float32Array(clean.length + 4);
  masked.set(clean, 2);
  masked[0] = -3.4028235e38;
  masked[1] = -Infinity;
  masked[clean.length + 2] = Infinity;
  masked[clean.length + 3] = 2e30;

  for (const kind of KINDS) {
    it(`${kind} ignores and counts mask fill values`, () => {
      const a = observe({ kind }, clean);
      const b = observe({ kind }, masked);
      expect(b.sentinels).toBe(4);
      expect(b.count).toBe(clean.length);
      expect(b.range(INT8)).toEqual(a.range(INT8));
      expect(b.range(UINT8)).toEqual(a.range(UINT8));
    });
  }

  it('excludes sentinels from per-channel statistics', () => {
    const s = channelStats(f32([-3.4028235e38, 1, -3.4028235e38, -3], [2, 2]), 1);
    expect(Array.from(s.absMax)).toEqual([0, 3]);
    expect(Array.from(s.absMean)).toEqual([0, 2]);
    expect(Array.from(s.min)).toEqual([0, -3]);
    expect(Array.from(s.valid!)).toEqual([0, 2]);
    const o = createObserver({ kind: 'minmax', axis: 1 });
    o.observe(f32([-3.4028235e38, 1, -3.4028235e38, -3], [2, 2]));
    expect(o.channelRanges(UINT8)).toEqual([{ min: 0, max: 0 }, { min: -3, max: 1 }]);
    expect(o.sentinels).toBe(2);
  });

  it('an all-sentinel tensor gives an empty range', () => {
    const o = observe({ kind: 'entropy' }, Float32Array.from([-3.4028235e38, -3.4028235e38]));
    expect(o.range(INT8)).toEqual({ min: 0, max: 0 });
    expect(o.count).toBe(0);
  });

  it('NaN is an input error', () => {
    for (const kind of KINDS) {
      const o = createObserver({ kind });
      let err: unknown;
      try {
        o.observe(f32([1, Number.NaN, 2]));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LutraError);
      expect((err as LutraError).code).toBe('input');
      expect((err as LutraError).message).toMatch(/tensor contains NaN/);
    }
    expect(() => channelStats(f32([1, Number.NaN], [1, 2]), 1)).toThrow(/NaN/);
  });
});

describe('per-channel statistics', () => {
  it('channelStats along the last axis (hand-checked)', () => {
    const s = channelStats(f32([1, -2, 3, -4, 5, -6], [2, 3]), 1);
    expect(Array.from(s.absMax)).toEqual([4, 5, 6]);
    expect(Array.from(s.absMean)).toEqual([2.5, 3.5, 4.5]);
    expect(Array.from(s.min)).toEqual([-4, -2, -6]);
    expect(Array.from(s.max)).toEqual([1, 5, 3]);
    expect(s.count).toBe(2);
  });

  it('channelStats along a middle axis and a negative axis', () => {
    // shape [2, 3, 2]: channel c holds elements (o, c, k) for o, k ∈ {0, 1}.
    const x = f32([1, 2, 3, 4, 5, 6, -7, -8, -9, -10, -11, -12], [2, 3, 2]);
    const s = channelStats(x, 1);
    expect(Array.from(s.absMax)).toEqual([8, 10, 12]);
    expect(Array.from(s.absMean)).toEqual([4.5, 6.5, 8.5]);
    expect(Array.from(s.min)).toEqual([-8, -10, -12]);
    expect(Array.from(s.max)).toEqual([2, 4, 6]);
    expect(s.count).toBe(4);
    expect(channelStats(x, -2)).toEqual(s);
  });

  it('mergeChannelStats equals the statistics of both batches together', () => {
    const a = uniform(15, 64 * 8, -2, 2);
    const b = normal(16, 32 * 8);
    const merged = mergeChannelStats(channelStats(f32(a, [64, 8]), 1), channelStats(f32(b, [32, 8]), 1));
    const whole = channelStats(f32(concat(a, b), [96, 8]), 1);
    expect(merged.count).toBe(96);
    expect(merged.absMax).toEqual(whole.absMax);
    expect(merged.min).toEqual(whole.min);
    expect(merged.max).toEqual(whole.max);
    merged.absMean.forEach((m, c) => expect(m).toBeCloseTo(whole.absMean[c]!, 12));
    expect(() => mergeChannelStats(merged, channelStats(f32(a, [128, 4]), 1))).toThrow(/8 and 4 channels/);
  });

  it('observers with an axis keep channel stats and give per-channel ranges', () => {
    for (const kind of KINDS) {
      const o = createObserver({ kind, axis: -1, momentum: 0.5 });
      o.observe(f32([1, -2, 3, -4, 5, -6], [2, 3]));
      o.observe(f32([3, 0, 1, 0, 1, -1], [2, 3]));
      expect(Array.from(o.stats!.absMax)).toEqual([4, 5, 6]);
      expect(o.stats!.count).toBe(4);
      const ranges = o.channelRanges(UINT8)!;
      if (kind === 'moving-minmax') {
        // channel 0: min -4 → 0.5·-4 + 0.5·0 = -2, max 1 → 2; channel 2: min -6 → -3.5, max 3 → 2.
        expect(ranges[0]).toEqual({ min: -2, max: 2 });
        expect(ranges[2]).toEqual({ min: -3.5, max: 2 });
      } else {
        expect(ranges).toEqual([{ min: -4, max: 3 }, { min: -2, max: 5 }, { min: -6, max: 3 }]);
        expect(o.channelRanges(INT8)![1]).toEqual({ min: -5, max: 5 });
      }
    }
  });

  it('rejects a changed channel count', () => {
    const o = createObserver({ kind: 'minmax', axis: 1 });
    o.observe(f32([1, 2, 3, 4], [2, 2]));
    expect(() => o.observe(f32([1, 2, 3], [1, 3]))).toThrow(/2 channels along axis 1, now 3/);
  });
});

describe('options and inputs', () => {
  it('rejects bad options as usage errors', () => {
    expect(() => createObserver({ kind: 'percentile', percentile: 0 })).toThrow(/percentile must be in/);
    expect(() => createObserver({ kind: 'entropy', bins: 7 })).toThrow(/bins must be an integer/);
    expect(() => createObserver({ kind: 'moving-minmax', momentum: 1 })).toThrow(/momentum must be in/);
    expect(() => createObserver({ kind: 'bogus' as ObserverKind })).toThrow(/unknown observer kind 'bogus'/);
  });

  it('rejects non-float tensors and bad axes', () => {
    expect(() => createObserver({ kind: 'minmax' }).observe(Tensor.from('i32', [2], [1, 2]))).toThrow(/float tensors, got i32/);
    expect(() => createObserver({ kind: 'minmax', axis: 2 }).observe(f32([1, 2], [1, 2]))).toThrow(/axis 2 is out of range/);
  });

  it('toJSON carries the histogram and channel summaries', () => {
    const o = createObserver({ kind: 'percentile', axis: 0, bins: 8 });
    o.observe(f32([0.5, -0.25, 0.75, 0], [2, 2]));
    expect(o.toJSON()).toEqual({
      kind: 'percentile', axis: 0, count: 4, sentinels: 0, min: -0.25, max: 0.75,
      histogram: { bins: 8, pos: { hi: 1, counts: [1, 0, 0, 0, 1, 0, 1] }, neg: { hi: 0.5, counts: [0, 0, 0, 0, 1] } },
      channels: { count: 2, absMax: [0.5, 0.75], absMean: [0.375, 0.375], min: [-0.25, 0], max: [0.5, 0.75] },
    });
  });
});
