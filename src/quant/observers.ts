/**
 * @fileoverview Calibration observers (techniques.md §2): streaming, mergeable summaries of the
 * float tensors whose quantization ranges calibration picks. An observer keeps fixed-size state
 * (running extremes, exponential averages, power-of-two histograms — see histogram.ts), never
 * the observed values. Same inputs in the same order give bit-identical results.
 *
 * Kinds: `minmax` (running extremes), `moving-minmax` (exponential average of each batch's
 * extremes), `percentile` (of |x| for symmetric targets, both tails for asymmetric ones),
 * `entropy` (TensorRT KL search on the |x| histogram), `mse` (clip ratio r ∈ [0.5, 1] of the
 * range minimising the expected squared error). With `axis` set an observer also keeps
 * per-channel statistics; its per-channel ranges are the channel's extremes for every kind
 * (moving-minmax: the channel's moving averages), while its per-tensor range follows the kind.
 *
 * Values with |x| ≥ SENTINEL_ABS (±Infinity included) are mask fill values, e.g.
 * `Where(mask, scores, -3.4e38)` before Softmax: they are excluded from every statistic and
 * counted. NaN is a user error.
 */
import { isFloat, roundHalfEven } from '../ir/dtype.js';
import { fail } from '../ir/diagnostics.js';
import type { Tensor } from '../ir/tensor.js';
import { MagnitudeHistogram, entropyThreshold, gridError } from './histogram.js';

/** Calibration observer kinds. */
export type ObserverKind = 'minmax' | 'moving-minmax' | 'percentile' | 'entropy' | 'mse';

/** Every observer kind, for option validation. */
export const OBSERVER_KINDS: readonly ObserverKind[] = ['minmax', 'moving-minmax', 'percentile', 'entropy', 'mse'];

/** What `createObserver` builds: the kind, an optional channel axis, and the kind's knobs. */
export interface ObserverOptions {
  kind: ObserverKind;
  /** Per-channel along this axis of the observed tensor (negative counts from the end). */
  axis?: number;
  /** percentile: the kept percentile, in (0, 100]; default 99.99. */
  percentile?: number;
  /** moving-minmax: weight of the running value, in [0, 1); default 0.9. */
  momentum?: number;
  /** percentile / entropy / mse: histogram bins per sign, an integer ≥ 8; default 2048. */
  bins?: number;
}

/** A clip range; ranges are not widened to include 0 here (the quantizer does that, §1). */
export interface Range {
  min: number;
  max: number;
}

/** The integer grid a range is for: entropy and mse choose their clip for it. */
export interface QuantTarget {
  qmin: number;
  qmax: number;
  symmetric: boolean;
}

/** Per-channel statistics (max|X_j|, mean|X_j|, min_j, max_j) that the outlier passes (§3–§5) read. */
export interface ChannelStats {
  absMax: Float64Array;
  absMean: Float64Array;
  min: Float64Array;
  max: Float64Array;
  /** Rows per channel (elements observed per channel, sentinels included). */
  count: number;
  /** Non-sentinel values per channel (absMean's divisor); absent means `count` for every channel. */
  valid?: Float64Array;
}

/** A streaming calibration observer (see the file overview). */
export interface Observer {
  /** Fold in a float tensor; keeps only fixed-size state. */
  observe(x: Tensor): void;
  /** Fold in an observer of the same options, as if its stream followed this one's. */
  merge(other: Observer): void;
  /** Per-tensor clip range for `target`; {0, 0} before any value was seen. */
  range(target: QuantTarget): Range;
  /** Per-channel ranges when `axis` is set. */
  channelRanges(target: QuantTarget): Range[] | undefined;
  /** Per-channel statistics when `axis` is set. */
  readonly stats: ChannelStats | undefined;
  /** Elements observed (sentinels excluded). */
  readonly count: number;
  /** Elements ignored as mask sentinels. */
  readonly sentinels: number;
  /** Serializable summary (extremes, moving averages, histograms, channel stats) for reports. */
  toJSON(): unknown;
}

/** |x| at or above this is a mask sentinel (e.g. `Where(mask, s, -3.4e38)`): counted, not ranged. */
export const SENTINEL_ABS = 1e30;

/** Clip ratios the mse observer tries: r = 0.5 + 0.5·k / MSE_STEPS for k = MSE_STEPS … 0. */
const MSE_STEPS = 100;

type FloatData = Float32Array | Float64Array;

/** The float data of an observed tensor, or a user error for other dtypes. */
function floatData(x: Tensor): FloatData {
  if (!isFloat(x.dtype)) fail('input', `observers take float tensors, got ${x.dtype}`);
  return x.data as FloatData;
}

const nanError = (i: number): never => fail('input', `tensor contains NaN (element ${i})`);

/** Running per-channel sums and extremes (empty channel: min +∞, max −∞). */
class ChannelAcc {
  readonly absMax: Float64Array;
  readonly absSum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly valid: Float64Array;
  rows = 0;

  constructor(readonly channels: number) {
    this.absMax = new Float64Array(channels);
    this.absSum = new Float64Array(channels);
    this.min = new Float64Array(channels).fill(Infinity);
    this.max = new Float64Array(channels).fill(-Infinity);
    this.valid = new Float64Array(channels);
  }

  /** Fold in another accumulator over the same channels. */
  add(o: ChannelAcc): void {
    for (let c = 0; c < this.channels; c++) {
      this.absMax[c] = Math.max(this.absMax[c]!, o.absMax[c]!);
      this.absSum[c] += o.absSum[c]!;
      this.min[c] = Math.min(this.min[c]!, o.min[c]!);
      this.max[c] = Math.max(this.max[c]!, o.max[c]!);
      this.valid[c] += o.valid[c]!;
    }
    this.rows += o.rows;
  }

  /** The public form: means instead of sums, 0 for empty channels. */
  toStats(): ChannelStats {
    const n = this.channels;
    const s: ChannelStats = {
      absMax: this.absMax.slice(), absMean: new Float64Array(n), min: new Float64Array(n), max: new Float64Array(n),
      count: this.rows, valid: this.valid.slice(),
    };
    for (let c = 0; c < n; c++) {
      if (this.valid[c] === 0) continue;
      s.absMean[c] = this.absSum[c]! / this.valid[c]!;
      s.min[c] = this.min[c]!;
      s.max[c] = this.max[c]!;
    }
    return s;
  }

  /** Back from the public form (sums recovered as mean × valid). */
  static fromStats(s: ChannelStats): ChannelAcc {
    const acc = new ChannelAcc(s.absMax.length);
    for (let c = 0; c < acc.channels; c++) {
      const v = s.valid ? s.valid[c]! : s.count;
      acc.valid[c] = v;
      if (v === 0) continue;
      acc.absMax[c] = s.absMax[c]!;
      acc.absSum[c] = s.absMean[c]! * v;
      acc.min[c] = s.min[c]!;
      acc.max[c] = s.max[c]!;
    }
    acc.rows = s.count;
    return acc;
  }
}

/** Extremes and counts of one batch. */
interface Scan {
  min: number;
  max: number;
  count: number;
  sentinels: number;
}

/** One pass over the data: global extremes, sentinel count, NaN check, and optionally channels. */
function scan(x: Tensor, axis: number | undefined): { s: Scan; ch?: ChannelAcc } {
  const d = floatData(x);
  const s: Scan = { min: Infinity, max: -Infinity, count: 0, sentinels: 0 };
  if (axis === undefined) {
    let mn = Infinity;
    let mx = -Infinity;
    let sent = 0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v !== v) nanError(i);
      if (v >= SENTINEL_ABS || v <= -SENTINEL_ABS) {
        sent++;
        continue;
      }
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    Object.assign(s, { min: mn, max: mx, count: d.length - sent, sentinels: sent });
    return { s };
  }
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) fail('input', `channel axis ${axis} is out of range for a rank-${x.rank} tensor`);
  const channels = x.shape[a]!;
  let inner = 1;
  for (let k = a + 1; k < x.rank; k++) inner *= x.shape[k]!;
  const outer = channels * inner === 0 ? 0 : d.length / (channels * inner);
  const ch = new ChannelAcc(channels);
  ch.rows = outer * inner;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let mn = ch.min[c]!;
      let mx = ch.max[c]!;
      let am = ch.absMax[c]!;
      let sum = ch.absSum[c]!;
      let n = 0;
      for (let k = 0; k < inner; k++, i++) {
        const v = d[i]!;
        if (v !== v) nanError(i);
        const m = v < 0 ? -v : v;
        if (m >= SENTINEL_ABS) {
          s.sentinels++;
          continue;
        }
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        if (m > am) am = m;
        sum += m;
        n++;
      }
      ch.min[c] = mn;
      ch.max[c] = mx;
      ch.absMax[c] = am;
      ch.absSum[c] = sum;
      ch.valid[c] += n;
      if (mn < s.min) s.min = mn;
      if (mx > s.max) s.max = mx;
    }
  }
  s.count = d.length - s.sentinels;
  return { s, ch };
}

/**
 * Per-channel statistics of one tensor along `axis` (sentinels excluded, NaN an error); fold
 * batches together with `mergeChannelStats`.
 */
export function channelStats(x: Tensor, axis: number): ChannelStats {
  return scan(x, axis).ch!.toStats();
}

/** Statistics of two streams of the same channels as one (sums up to float64 rounding). */
export function mergeChannelStats(a: ChannelStats, b: ChannelStats): ChannelStats {
  if (a.absMax.length !== b.absMax.length) fail('input', `cannot merge channel statistics of ${a.absMax.length} and ${b.absMax.length} channels`);
  const acc = ChannelAcc.fromStats(a);
  acc.add(ChannelAcc.fromStats(b));
  return acc.toStats();
}

/**
 * Exponential moving averages v ← m·v + (1−m)·batch, started at the first batch, one per slot.
 * Keeping each slot's first value makes merging exact: A then B gives m^nB·vA + vB − m^nB·firstB.
 */
class Ema {
  readonly value: Float64Array;
  readonly first: Float64Array;
  readonly batches: Float64Array;

  constructor(readonly n: number, readonly momentum: number) {
    this.value = new Float64Array(n);
    this.first = new Float64Array(n);
    this.batches = new Float64Array(n);
  }

  /** Fold a batch value into slot j. */
  update(j: number, v: number): void {
    if (this.batches[j] === 0) {
      this.value[j] = v;
      this.first[j] = v;
    } else {
      this.value[j] = this.momentum * this.value[j]! + (1 - this.momentum) * v;
    }
    this.batches[j]++;
  }

  /** Continue with another average's batches, as if they came after this one's. */
  merge(o: Ema): void {
    for (let j = 0; j < this.n; j++) {
      const nb = o.batches[j]!;
      if (nb === 0) continue;
      if (this.batches[j] === 0) {
        this.value[j] = o.value[j]!;
        this.first[j] = o.first[j]!;
      } else {
        const decay = this.momentum ** nb;
        this.value[j] = decay * this.value[j]! + o.value[j]! - decay * o.first[j]!;
      }
      this.batches[j] += nb;
    }
  }
}

/** The two sides of a signed distribution: |x| of x ≥ 0 and of x < 0, each its own histogram. */
class SignedHistogram {
  readonly pos: MagnitudeHistogram;
  readonly neg: MagnitudeHistogram;

  constructor(bins: number) {
    this.pos = new MagnitudeHistogram(bins);
    this.neg = new MagnitudeHistogram(bins);
  }

  /** Bin a batch whose extremes are `s` (sentinels skipped). */
  add(d: FloatData, s: Scan): void {
    const { pos, neg } = this;
    pos.cover(Math.max(s.max, 0));
    neg.cover(Math.max(-s.min, 0));
    const pc = pos.counts;
    const nc = neg.counts;
    const pi = pos.invWidth;
    const ni = neg.invWidth;
    const last = pos.bins - 1;
    let np = 0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v >= 0) {
        if (v >= SENTINEL_ABS) continue;
        pc[Math.min(last, Math.floor(v * pi))]++;
        np++;
      } else if (v > -SENTINEL_ABS) {
        nc[Math.min(last, Math.floor(-v * ni))]++;
      }
    }
    pos.total += np;
    neg.total += s.count - np;
  }

  /** |x| over both signs. */
  magnitudes(): MagnitudeHistogram {
    const h = this.pos.clone();
    h.merge(this.neg);
    return h;
  }

  /** The value with `percent` % of the signed distribution below it. */
  percentile(percent: number): number {
    const rank = (percent * (this.pos.total + this.neg.total)) / 100;
    if (rank <= this.neg.total) return -this.neg.valueAtRank(this.neg.total - rank);
    return this.pos.valueAtRank(rank - this.neg.total);
  }
}

/** Zero point and per-side level counts of the grid that `[lo, hi]` (containing 0) maps to. */
function grid(lo: number, hi: number, t: QuantTarget): { s: number; up: number; down: number } {
  const { qmin, qmax } = t;
  if (t.symmetric) {
    // Mirrors the quantizer: signed z = 0, unsigned z = the midpoint; s = max|x| / (qmax − z).
    const z = qmin < 0 ? 0 : Math.ceil((qmin + qmax) / 2);
    return { s: Math.max(-lo, hi) / (qmax - z), up: qmax - z, down: z - qmin };
  }
  const s = (hi - lo) / (qmax - qmin);
  const z = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / s)));
  return { s, up: qmax - z, down: z - qmin };
}

/** Checks a quantization target before a clip search reads it. */
function checkTarget(t: QuantTarget): void {
  if (!(Number.isFinite(t.qmin) && Number.isFinite(t.qmax) && t.qmin < t.qmax)) {
    fail('usage', `quantization target needs finite qmin < qmax, got [${t.qmin}, ${t.qmax}]`);
  }
}

/** The one Observer implementation; kinds differ only in which state they keep and how they clip. */
class StreamingObserver implements Observer {
  count = 0;
  sentinels = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly ema?: { min: Ema; max: Ema };
  private readonly hist?: SignedHistogram;
  private channels?: ChannelAcc;
  private channelEma?: { min: Ema; max: Ema };

  constructor(readonly opts: Required<Omit<ObserverOptions, 'axis'>> & { axis?: number }) {
    if (opts.kind === 'moving-minmax') this.ema = { min: new Ema(1, opts.momentum), max: new Ema(1, opts.momentum) };
    if (opts.kind === 'percentile' || opts.kind === 'entropy' || opts.kind === 'mse') this.hist = new SignedHistogram(opts.bins);
  }

  observe(x: Tensor): void {
    const { s, ch } = scan(x, this.opts.axis);
    this.count += s.count;
    this.sentinels += s.sentinels;
    if (s.count > 0) {
      this.min = Math.min(this.min, s.min);
      this.max = Math.max(this.max, s.max);
      this.ema?.min.update(0, s.min);
      this.ema?.max.update(0, s.max);
      this.hist?.add(x.data as FloatData, s);
    }
    if (ch) {
      if (this.channels && this.channels.channels !== ch.channels) {
        fail('input', `observer saw ${this.channels.channels} channels along axis ${this.opts.axis}, now ${ch.channels}`);
      }
      if (this.ema) {
        this.channelEma ??= { min: new Ema(ch.channels, this.opts.momentum), max: new Ema(ch.channels, this.opts.momentum) };
        for (let c = 0; c < ch.channels; c++) {
          if (ch.valid[c] === 0) continue;
          this.channelEma.min.update(c, ch.min[c]!);
          this.channelEma.max.update(c, ch.max[c]!);
        }
      }
      if (this.channels) this.channels.add(ch);
      else this.channels = ch;
    }
  }

  /**
   * Exact and commutative for minmax and the histogram kinds; for moving-minmax `a.merge(b)`
   * equals observing a's batches then b's (up to float64 rounding), so merge in stream order.
   */
  merge(other: Observer): void {
    if (!(other instanceof StreamingObserver) || JSON.stringify(other.opts) !== JSON.stringify(this.opts)) {
      throw new Error('internal error: merging observers with different options');
    }
    if (other.channels && this.channels && other.channels.channels !== this.channels.channels) {
      fail('input', `cannot merge observers of ${this.channels.channels} and ${other.channels.channels} channels`);
    }
    this.count += other.count;
    this.sentinels += other.sentinels;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    if (this.ema && other.ema) {
      this.ema.min.merge(other.ema.min);
      this.ema.max.merge(other.ema.max);
    }
    if (this.hist && other.hist) {
      this.hist.pos.merge(other.hist.pos);
      this.hist.neg.merge(other.hist.neg);
    }
    if (other.channels) {
      if (!this.channels) this.channels = new ChannelAcc(other.channels.channels);
      this.channels.add(other.channels);
    }
    if (other.channelEma) {
      const n = other.channelEma.min.n;
      this.channelEma ??= { min: new Ema(n, this.opts.momentum), max: new Ema(n, this.opts.momentum) };
      this.channelEma.min.merge(other.channelEma.min);
      this.channelEma.max.merge(other.channelEma.max);
    }
  }

  range(target: QuantTarget): Range {
    checkTarget(target);
    if (this.count === 0) return { min: 0, max: 0 };
    const { min, max } = this;
    const absMax = Math.max(-min, max);
    const sym = (t: number): Range => ({ min: -t, max: t });
    const clipBoth = (t: number): Range => (target.symmetric ? sym(t) : { min: Math.max(min, -t), max: Math.min(max, t) });
    switch (this.opts.kind) {
      case 'minmax':
        return target.symmetric ? sym(absMax) : { min, max };
      case 'moving-minmax': {
        const lo = this.ema!.min.value[0]!;
        const hi = this.ema!.max.value[0]!;
        return target.symmetric ? sym(Math.max(-lo, hi)) : { min: lo, max: hi };
      }
      case 'percentile': {
        // Ranks as p·n / 100, not (p / 100)·n: 99.9 / 100 rounds above 0.999 and would skip a rank.
        const p = this.opts.percentile;
        const h = this.hist!;
        if (target.symmetric) {
          const mag = h.magnitudes();
          return sym(Math.min(absMax, mag.valueAtRank((p * mag.total) / 100)));
        }
        const lo = h.percentile(100 - p);
        const hi = h.percentile(p);
        return { min: Math.max(min, Math.min(max, lo)), max: Math.min(max, Math.max(min, hi)) };
      }
      case 'entropy': {
        // Asymmetric targets: the KL search runs on |x| with the same half-grid of levels and
        // its threshold clips each side that reaches past it (one tail's outliers are clipped
        // without widening the other side).
        const levels = Math.ceil((target.qmax - target.qmin + 1) / 2);
        return clipBoth(entropyThreshold(this.hist!.magnitudes(), levels, absMax));
      }
      case 'mse':
        return this.mseRange(target);
    }
  }

  /** The clip [r·lo, r·hi] (lo ≤ 0 ≤ hi from the observed range) with the least expected error; ties keep the larger r. */
  private mseRange(target: QuantTarget): Range {
    const lo0 = Math.min(this.min, 0);
    const hi0 = Math.max(this.max, 0);
    const { pos, neg } = this.hist!;
    let best: Range = target.symmetric ? { min: -Math.max(-lo0, hi0), max: Math.max(-lo0, hi0) } : { min: lo0, max: hi0 };
    if (hi0 - lo0 === 0) return best;
    let bestErr = Infinity;
    for (let k = MSE_STEPS; k >= 0; k--) {
      const r = 0.5 + (0.5 * k) / MSE_STEPS;
      const lo = r * lo0;
      const hi = r * hi0;
      const g = grid(lo, hi, target);
      const err = gridError(pos, hi0, g.s, g.up) + gridError(neg, -lo0, g.s, g.down);
      if (err < bestErr) {
        bestErr = err;
        const t = Math.max(-lo, hi);
        best = target.symmetric ? { min: -t, max: t } : { min: lo, max: hi };
      }
    }
    return best;
  }

  channelRanges(target: QuantTarget): Range[] | undefined {
    checkTarget(target);
    const ch = this.channels;
    if (!ch) return this.opts.axis === undefined ? undefined : [];
    const out: Range[] = [];
    for (let c = 0; c < ch.channels; c++) {
      let lo = ch.min[c]!;
      let hi = ch.max[c]!;
      if (this.channelEma) {
        lo = this.channelEma.min.value[c]!;
        hi = this.channelEma.max.value[c]!;
      }
      if (ch.valid[c] === 0) out.push({ min: 0, max: 0 });
      else if (target.symmetric) out.push({ min: -Math.max(-lo, hi), max: Math.max(-lo, hi) });
      else out.push({ min: lo, max: hi });
    }
    return out;
  }

  get stats(): ChannelStats | undefined {
    if (this.opts.axis === undefined) return undefined;
    return (this.channels ?? new ChannelAcc(0)).toStats();
  }

  toJSON(): unknown {
    const empty = this.count === 0;
    const side = (h: MagnitudeHistogram) => ({ hi: h.hi, counts: Array.from(h.counts.subarray(0, h.lastBin() + 1)) });
    const stats = this.stats;
    return {
      kind: this.opts.kind,
      ...(this.opts.axis !== undefined ? { axis: this.opts.axis } : {}),
      count: this.count,
      sentinels: this.sentinels,
      min: empty ? null : this.min,
      max: empty ? null : this.max,
      ...(this.ema && !empty ? { moving: { min: this.ema.min.value[0], max: this.ema.max.value[0] } } : {}),
      ...(this.hist ? { histogram: { bins: this.opts.bins, pos: side(this.hist.pos), neg: side(this.hist.neg) } } : {}),
      ...(stats ? {
        channels: {
          count: stats.count, absMax: Array.from(stats.absMax), absMean: Array.from(stats.absMean),
          min: Array.from(stats.min), max: Array.from(stats.max),
        },
      } : {}),
    };
  }
}

/** Build an observer, checking its options (a bad option is a usage error). */
export function createObserver(opts: ObserverOptions): Observer {
  const { kind, axis, percentile = 99.99, momentum = 0.9, bins = 2048 } = opts;
  if (!OBSERVER_KINDS.includes(kind)) fail('usage', `unknown observer kind '${String(kind)}' (expected ${OBSERVER_KINDS.join(', ')})`);
  if (axis !== undefined && !Number.isInteger(axis)) fail('usage', `observer axis must be an integer, got ${axis}`);
  if (!(percentile > 0 && percentile <= 100)) fail('usage', `observer percentile must be in (0, 100], got ${percentile}`);
  if (!(momentum >= 0 && momentum < 1)) fail('usage', `observer momentum must be in [0, 1), got ${momentum}`);
  if (!(Number.isInteger(bins) && bins >= 8 && bins <= 1 << 20)) fail('usage', `observer bins must be an integer in [8, 2^20], got ${bins}`);
  return new StreamingObserver({ kind, percentile, momentum, bins, ...(axis !== undefined ? { axis } : {}) });
}
