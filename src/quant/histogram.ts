/**
 * @fileoverview Streaming magnitude histograms for calibration (techniques.md §2) and the two
 * clip searches that read them. A histogram spans [0, hi) with hi a power of two above every
 * value it holds; widening to 2^d·hi merges old bin i into bin ⌊i / 2^d⌋, which is exactly where
 * each of its values would have landed. So batches, workers and re-binned histograms agree bit
 * for bit, and no raw value is ever kept.
 */

/** Smallest hi a histogram uses: keeps B / hi finite and bin edges normal floats. */
const MIN_HI = 2 ** -60;

/** Smallest power of two strictly above m (and at least MIN_HI): every value < hi gets a bin. */
export function powerOfTwoAbove(m: number): number {
  if (!(m >= MIN_HI)) return MIN_HI;
  let p = 2 ** Math.floor(Math.log2(m));
  while (p <= m) p *= 2;
  while (p / 2 > m) p /= 2;
  return p;
}

/** Counts of magnitudes in `bins` equal bins over [0, hi); hi = 0 while only zeros were seen. */
export class MagnitudeHistogram {
  hi = 0;
  total = 0;
  readonly counts: Float64Array;

  constructor(readonly bins: number) {
    this.counts = new Float64Array(bins);
  }

  /** Bin width (0 while only zeros were seen). */
  get width(): number {
    return this.hi / this.bins;
  }

  /** Multiplier from a magnitude to its bin index (exact: bins × 2^-k). */
  get invWidth(): number {
    return this.hi === 0 ? 0 : this.bins / this.hi;
  }

  /** Widen so that magnitude m falls inside, merging old bins exactly (never narrows). */
  cover(m: number): void {
    if (m < this.hi || m === 0) return;
    const hi = powerOfTwoAbove(m);
    if (this.hi !== 0) this.rebin(hi / this.hi);
    this.hi = hi;
  }

  /** Bin i → bin ⌊i / f⌋ in place (f a power of two; targets never exceed the source index). */
  private rebin(f: number): void {
    const c = this.counts;
    for (let i = 1; i < c.length; i++) {
      const v = c[i]!;
      if (v === 0) continue;
      c[i] = 0;
      c[Math.floor(i / f)] += v;
    }
  }

  /** Add another histogram's counts (re-binning whichever is narrower); exact and commutative. */
  merge(other: MagnitudeHistogram): void {
    if (other.bins !== this.bins) throw new Error(`internal error: merging histograms of ${this.bins} and ${other.bins} bins`);
    if (other.total === 0) return;
    this.cover(other.hi / 2);
    const f = other.hi === 0 ? Infinity : this.hi / other.hi;
    const c = this.counts;
    other.counts.forEach((v, i) => {
      if (v !== 0) c[Math.floor(i / f)] += v;
    });
    this.total += other.total;
  }

  /** A copy (for combining sides without touching the observer's state). */
  clone(): MagnitudeHistogram {
    const h = new MagnitudeHistogram(this.bins);
    h.hi = this.hi;
    h.total = this.total;
    h.counts.set(this.counts);
    return h;
  }

  /** Magnitude below which `rank` of the counts lie, linear within the bin it falls in. */
  valueAtRank(rank: number): number {
    const c = this.counts;
    const w = this.width;
    let cum = 0;
    let last = 0;
    for (let b = 0; b < c.length; b++) {
      const n = c[b]!;
      if (n === 0) continue;
      if (cum + n >= rank) return (b + Math.max(0, rank - cum) / n) * w;
      cum += n;
      last = b;
    }
    return (last + 1) * w;
  }

  /** Index of the last non-empty bin, or -1. */
  lastBin(): number {
    for (let b = this.counts.length - 1; b >= 0; b--) if (this.counts[b] !== 0) return b;
    return -1;
  }
}

/** Q's value (in count units) where P has mass but Q has none, so KL(P‖Q) stays finite. */
const KL_EPS = 1e-4;

/**
 * TensorRT entropy calibration: for i = levels … (last non-empty bin + 1), P = the first i bins
 * with the outlier mass added to bin i−1; Q = those i bins (without outliers, as TensorRT,
 * MXNet and onnxruntime do) summed into `levels` even groups, each group's mass spread over
 * the bins where P is non-zero, ε where a group is empty but P is not; the threshold is
 * i·width for the least KL(P‖Q) (ties keep the larger i, clipping less), capped at `absMax`.
 * Q is flat within a group, so prefix sums of c and c·log c give each candidate in O(levels).
 */
export function entropyThreshold(h: MagnitudeHistogram, levels: number, absMax: number): number {
  const stop = h.lastBin() + 1;
  if (stop <= levels || h.total === 0) return absMax;
  const c = h.counts;
  // Prefix sums over bins [0, k): mass, Σ c·log c, non-empty bins.
  const mass = new Float64Array(stop + 1);
  const clogc = new Float64Array(stop + 1);
  const nonzero = new Float64Array(stop + 1);
  for (let k = 0; k < stop; k++) {
    const v = c[k]!;
    mass[k + 1] = mass[k]! + v;
    clogc[k + 1] = clogc[k]! + (v > 0 ? v * Math.log(v) : 0);
    nonzero[k + 1] = nonzero[k]! + (v > 0 ? 1 : 0);
  }
  const total = h.total;
  let best = Infinity;
  let bestI = stop;
  for (let i = stop; i >= levels; i--) {
    const inside = mass[i]!;
    if (inside <= 0) continue;
    const last = c[i - 1]! + (total - inside);
    // Σ_k p_k log p_k − Σ_k p_k log q_k over the bins where P is non-zero.
    let plogp = 0;
    let plogq = 0;
    for (let g = 0; g < levels; g++) {
      const start = Math.floor((g * i) / levels);
      const end = Math.floor(((g + 1) * i) / levels);
      const groupMass = mass[end]! - mass[start]!;
      if (end < i) {
        if (groupMass === 0) continue;
        plogp += clogc[end]! - clogc[start]!;
        plogq += groupMass * Math.log(groupMass / (nonzero[end]! - nonzero[start]!));
        continue;
      }
      // The last group holds bin i−1, whose P also carries the outliers.
      const restMass = mass[i - 1]! - mass[start]!;
      const nz = nonzero[i - 1]! - nonzero[start]! + (last > 0 ? 1 : 0);
      const q = groupMass > 0 ? groupMass / nz : KL_EPS;
      plogp += clogc[i - 1]! - clogc[start]! + (last > 0 ? last * Math.log(last) : 0);
      plogq += (restMass + last) * Math.log(q);
    }
    const kl = (plogp - plogq) / total + Math.log(inside / total);
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return Math.min(bestI * h.width, absMax);
}

/**
 * Expected squared error Σ ∫ (x − Q(x))² of quantizing the histogram's magnitudes onto the grid
 * {0, s, …, n·s} (round to nearest, clamp at n·s), each bin's count spread uniformly over the
 * bin cut at `sideMax` (the largest magnitude seen), so it streams instead of keeping values.
 */
export function gridError(h: MagnitudeHistogram, sideMax: number, s: number, n: number): number {
  const c = h.counts;
  const w = h.width;
  let err = 0;
  for (let b = 0; b < c.length; b++) {
    const count = c[b]!;
    if (count === 0) continue;
    const a = b * w;
    const e = Math.min((b + 1) * w, sideMax);
    let k = Math.min(n, Math.floor(a / s + 0.5));
    if (!(e > a)) {
      const d = a - k * s;
      err += count * d * d;
      continue;
    }
    let sum = 0;
    for (let u = a; u < e; k++) {
      const v = k < n ? Math.min(e, (k + 0.5) * s) : e;
      if (v > u) {
        const du = u - k * s;
        const dv = v - k * s;
        sum += ((v - u) * (du * du + du * dv + dv * dv)) / 3;
        u = v;
      }
    }
    err += (count / (e - a)) * sum;
  }
  return err;
}
