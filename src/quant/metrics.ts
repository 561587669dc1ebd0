/**
 * @fileoverview Evaluation metrics as streaming, mergeable accumulators: feed batches with
 * `add`, combine partial results (workers, data sets) with `merge`, read `result()`. They keep
 * float64 sums and counts, never the tensors, so memory does not grow with the eval set, and
 * adding batches one by one equals adding them at once (up to float64 summation order).
 *
 * - `Accuracy`: top-1 accuracy of logits [..., C] against integer labels [...].
 * - `BitsPerChar`: mean −log2 softmax(logits)[label] over all tokens of [N, T, V] vs [N, T].
 * - `OutputComparison`: how far a candidate output is from a reference one (top-1 agreement,
 *   cosine similarity, SQNR, max abs error).
 */
import { LutraError } from '../ir/diagnostics.js';
import type { Tensor } from '../ir/tensor.js';
import { SENTINEL_ABS } from './observers.js';

/** A tensor's elements as JS numbers without copying float data (i64/u64 are converted). */
function numbers(t: Tensor): ArrayLike<number> {
  const d = t.data;
  return d instanceof BigInt64Array || d instanceof BigUint64Array ? Float64Array.from(d, Number) : (d as ArrayLike<number>);
}

const shapeText = (s: readonly number[]): string => `[${s.join(',')}]`;

/** The index of the largest element of row `r` of width `w` (the first one on ties; NaN never wins). */
function argmaxRow(x: ArrayLike<number>, r: number, w: number): number {
  const o = r * w;
  let best = 0;
  let bestValue = x[o]!;
  for (let c = 1; c < w; c++) {
    const v = x[o + c]!;
    if (v > bestValue || bestValue !== bestValue) {
      best = c;
      bestValue = v;
    }
  }
  return best;
}

/** A label as a class index in [0, classes), or a diagnostic naming its position. */
function labelAt(labels: ArrayLike<number>, i: number, classes: number): number {
  const y = labels[i]!;
  if (!Number.isInteger(y) || y < 0 || y >= classes) {
    throw new LutraError('input', `label ${y} at position ${i} is not a class index in [0, ${classes})`);
  }
  return y;
}

/** Check that labels are [...] for logits [..., C]; the message names both shapes. */
function checkLabelShape(metric: string, logits: Tensor, labels: Tensor, need: string): void {
  const lead = logits.shape.slice(0, -1);
  if (logits.rank < 1 || labels.rank !== lead.length || labels.shape.some((d, i) => d !== lead[i])) {
    throw new LutraError('input', `${metric} needs ${need}; got output ${shapeText(logits.shape)} and labels ${shapeText(labels.shape)}`);
  }
}

/** Top-1 accuracy: the fraction of rows whose argmax over the last axis equals the label. */
export class Accuracy {
  correct = 0;
  total = 0;

  /** Logits [..., C] and integer labels with the leading shape [...]. */
  add(logits: Tensor, labels: Tensor): void {
    checkLabelShape('top-1 accuracy', logits, labels, 'labels [N] for an [N, C] output (or labels shaped like the output without its last axis)');
    const x = numbers(logits);
    const y = numbers(labels);
    const classes = logits.shape[logits.rank - 1]!;
    for (let r = 0; r < labels.size; r++) if (argmaxRow(x, r, classes) === labelAt(y, r, classes)) this.correct++;
    this.total += labels.size;
  }

  merge(other: Accuracy): void {
    this.correct += other.correct;
    this.total += other.total;
  }

  /** correct / total; NaN before any row. */
  result(): number {
    return this.correct / this.total;
  }
}

/**
 * Bits per character: mean over tokens of −log2 softmax(logits[n, t])[labels[n, t]]. The
 * log-softmax is taken stably in float64 (max subtracted before exp).
 */
export class BitsPerChar {
  bits = 0;
  tokens = 0;

  /** Logits [N, T, V] and integer labels [N, T]. */
  add(logits: Tensor, labels: Tensor): void {
    if (logits.rank !== 3) throw new LutraError('input', `bits per char needs an [N, T, V] output and [N, T] labels; got output ${shapeText(logits.shape)} and labels ${shapeText(labels.shape)}`);
    checkLabelShape('bits per char', logits, labels, 'an [N, T, V] output and [N, T] labels');
    const x = numbers(logits);
    const y = numbers(labels);
    const vocab = logits.shape[2]!;
    let nats = 0;
    for (let r = 0; r < labels.size; r++) {
      const o = r * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, x[o + v]!);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(x[o + v]! - max);
      nats += Math.log(sum) - (x[o + labelAt(y, r, vocab)]! - max);
    }
    this.bits += nats / Math.LN2;
    this.tokens += labels.size;
  }

  merge(other: BitsPerChar): void {
    this.bits += other.bits;
    this.tokens += other.tokens;
  }

  /** bits / tokens; NaN before any token. */
  result(): number {
    return this.bits / this.tokens;
  }
}

/** What `OutputComparison` reports. Non-finite values are meaningful: see each field. */
export interface ComparisonResult {
  /** Rows compared for agreement (elements / size of the last axis). */
  rows: number;
  /** Fraction of rows where the candidate's argmax over the last axis equals the reference's. */
  agreement: number;
  /** Σ ref·cand / (‖ref‖·‖cand‖) over all elements; 1 when both are all zero, 0 when only one is. */
  cosine: number;
  /** 10·log10(Σ ref² / Σ (ref − cand)²) in dB; Infinity when identical. */
  sqnrDb: number;
  /** max |ref − cand|. */
  maxAbsErr: number;
  /** maxAbsErr / max |ref|; 0 when identical, Infinity when the reference is all zero and they differ. */
  maxAbsErrRel: number;
}

/**
 * Running float64 sums of a test signal against a reference: what SQNR, cosine and max errors
 * are made of. Shared by `OutputComparison` (model outputs) and the per-layer report, which skips
 * mask sentinels in the reference (`skipSentinels`, |x| ≥ 1e30).
 */
export class ErrorSums {
  refSq = 0;
  testSq = 0;
  errSq = 0;
  dot = 0;
  maxAbsErr = 0;
  maxAbsRef = 0;
  elements = 0;
  /** Reference elements left out as mask sentinels. */
  sentinels = 0;
  /** Compared test elements that are NaN or ±Infinity. */
  nonFinite = 0;

  constructor(private readonly skipSentinels = false) {}

  add(ref: ArrayLike<number>, test: ArrayLike<number>): void {
    this.elements += ref.length;
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!;
      if (this.skipSentinels && (r >= SENTINEL_ABS || r <= -SENTINEL_ABS)) {
        this.sentinels++;
        continue;
      }
      const t = test[i]!;
      if (!Number.isFinite(t)) this.nonFinite++;
      const e = r - t;
      this.dot += r * t;
      this.refSq += r * r;
      this.testSq += t * t;
      this.errSq += e * e;
      this.maxAbsErr = Math.max(this.maxAbsErr, Math.abs(e));
      this.maxAbsRef = Math.max(this.maxAbsRef, Math.abs(r));
    }
  }

  merge(o: ErrorSums): void {
    this.refSq += o.refSq;
    this.testSq += o.testSq;
    this.errSq += o.errSq;
    this.dot += o.dot;
    this.maxAbsErr = Math.max(this.maxAbsErr, o.maxAbsErr);
    this.maxAbsRef = Math.max(this.maxAbsRef, o.maxAbsRef);
    this.elements += o.elements;
    this.sentinels += o.sentinels;
    this.nonFinite += o.nonFinite;
  }
}

/** A candidate output against its reference, accumulated batch by batch. */
export class OutputComparison {
  rows = 0;
  agreeing = 0;
  readonly sums = new ErrorSums();

  /** Σ (ref − cand)² so far. */
  get errSq(): number {
    return this.sums.errSq;
  }

  /** One batch of both outputs; their shapes must be equal. */
  add(ref: Tensor, cand: Tensor): void {
    if (ref.rank !== cand.rank || ref.shape.some((d, i) => d !== cand.shape[i])) {
      throw new LutraError('input', `reference output is ${shapeText(ref.shape)} but candidate output is ${shapeText(cand.shape)}`);
    }
    const a = numbers(ref);
    const b = numbers(cand);
    this.sums.add(a, b);
    const width = ref.rank === 0 ? 1 : ref.shape[ref.rank - 1]!;
    const rows = width === 0 ? 0 : a.length / width;
    for (let r = 0; r < rows; r++) if (argmaxRow(a, r, width) === argmaxRow(b, r, width)) this.agreeing++;
    this.rows += rows;
  }

  merge(other: OutputComparison): void {
    this.rows += other.rows;
    this.agreeing += other.agreeing;
    this.sums.merge(other.sums);
  }

  result(): ComparisonResult {
    const { refSq, testSq, errSq, dot, maxAbsErr, maxAbsRef } = this.sums;
    const norms = Math.sqrt(refSq) * Math.sqrt(testSq);
    return {
      rows: this.rows,
      agreement: this.agreeing / this.rows,
      cosine: norms > 0 ? dot / norms : refSq === testSq ? 1 : 0,
      sqnrDb: errSq === 0 ? Infinity : 10 * Math.log10(refSq / errSq),
      maxAbsErr,
      maxAbsErrRel: maxAbsErr === 0 ? 0 : maxAbsErr / maxAbsRef,
    };
  }
}
