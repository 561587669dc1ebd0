import { describe, expect, it } from 'vitest';
import { Tensor } from '../../../src/ir/tensor.js';
import { Accuracy, BitsPerChar, OutputComparison } from '../../../src/quant/metrics.js';
import { errorOf } from '../../helpers/errors.js';
import { uniform } from '../../helpers/random.js';

const f32 = (shape: number[], values: number[]) => Tensor.from('f32', shape, values);
const i64 = (shape: number[], values: number[]) => Tensor.from('i64', shape, values);

describe('Accuracy', () => {
  it('counts rows whose argmax (first on ties) equals the label', () => {
    const logits = f32([4, 3], [1, 2, 0, /**/ 3, 1, 2, /**/ 0, 0, 5, /**/ 2, 2, 1]);
    const a = new Accuracy();
    a.add(logits, i64([4], [1, 0, 1, 0])); // argmax 1, 0, 2, 0 (tie → first)
    expect([a.correct, a.total]).toEqual([3, 4]);
    expect(a.result()).toBe(0.75);
  });

  it('takes labels shaped like the output without its last axis (per-token accuracy)', () => {
    const a = new Accuracy();
    a.add(f32([1, 2, 2], [0, 1, 1, 0]), i64([1, 2], [1, 1]));
    expect(a.result()).toBe(0.5);
  });

  it('names both shapes when the labels do not fit, and rejects labels outside the classes', () => {
    expect(errorOf(() => new Accuracy().add(f32([2, 3], [0, 0, 0, 0, 0, 0]), i64([3], [0, 0, 0]))).message).toMatch(/output \[2,3\] and labels \[3\]/);
    expect(errorOf(() => new Accuracy().add(f32([1, 3], [0, 0, 0]), i64([1], [3]))).message).toMatch(/label 3 at position 0 is not a class index in \[0, 3\)/);
  });
});

describe('BitsPerChar', () => {
  it('is the mean of −log2 softmax(logits)[label] over all tokens', () => {
    // token 0: softmax([0, ln 3]) = [1/4, 3/4], label 1 → log2(4/3) bits; token 1: uniform over 2 → 1 bit.
    const b = new BitsPerChar();
    b.add(f32([1, 2, 2], [0, Math.log(3), 5, 5]), i64([1, 2], [1, 0]));
    expect(b.tokens).toBe(2);
    expect(b.result()).toBeCloseTo((Math.log2(4 / 3) + 1) / 2, 6);
  });

  it('is stable for large logits (shift invariant, no overflow)', () => {
    const b = new BitsPerChar();
    b.add(f32([1, 1, 4], [1e4, 1e4, 1e4, 1e4]), i64([1, 1], [3]));
    expect(b.result()).toBe(2);
  });

  it('needs an [N, T, V] output and [N, T] labels', () => {
    expect(errorOf(() => new BitsPerChar().add(f32([2, 2], [0, 0, 0, 0]), i64([2], [0, 1]))).message)
      .toMatch(/bits per char needs an \[N, T, V\] output and \[N, T\] labels; got output \[2,2\] and labels \[2\]/);
  });
});

describe('OutputComparison', () => {
  it('computes agreement, cosine, SQNR and max errors by hand', () => {
    const c = new OutputComparison();
    c.add(f32([2, 2], [3, 4, 1, 0]), f32([2, 2], [3, 3, 2, 0]));
    const r = c.result();
    // argmax rows: ref (1, 0), cand (0 on the tie, 0) → one row of two agrees.
    expect(r.rows).toBe(2);
    expect(r.agreement).toBe(0.5);
    // dot 9 + 12 + 2 = 23, ‖ref‖² = 26, ‖cand‖² = 22.
    expect(r.cosine).toBeCloseTo(23 / Math.sqrt(26 * 22), 12);
    // Σ ref² = 26, Σ err² = 0 + 1 + 1 + 0 = 2.
    expect(r.sqnrDb).toBeCloseTo(10 * Math.log10(13), 12);
    expect(r.maxAbsErr).toBe(1);
    expect(r.maxAbsErrRel).toBe(0.25);
  });

  it('gives SQNR Infinity, cosine 1 and zero errors for identical outputs', () => {
    const t = f32([1, 3], [1, -2, 0.5]);
    const c = new OutputComparison();
    c.add(t, t);
    expect(c.result()).toEqual({ rows: 1, agreement: 1, cosine: 1, sqnrDb: Infinity, maxAbsErr: 0, maxAbsErrRel: 0 });
    const z = new OutputComparison();
    z.add(f32([2], [0, 0]), f32([2], [0, 0]));
    expect(z.result().cosine).toBe(1);
  });

  it('names both shapes when they differ', () => {
    expect(errorOf(() => new OutputComparison().add(f32([1, 2], [0, 0]), f32([2, 1], [0, 0]))).message)
      .toMatch(/reference output is \[1,2\] but candidate output is \[2,1\]/);
  });
});

describe('streaming', () => {
  const rows = 12;
  const classes = 5;
  const ref = uniform(1, rows * classes, -3, 3);
  const cand = ref.map((x, i) => x + uniform(2, rows * classes, -0.5, 0.5)[i]!);
  const labels = uniform(3, rows, 0, classes).map(Math.floor);
  const batch = (xs: number[], start: number, n: number, w: number) => f32([n, w], xs.slice(start * w, (start + n) * w));
  const tokens = (xs: number[], start: number, n: number) => f32([n, 1, classes], xs.slice(start * classes, (start + n) * classes));
  const labelRows = (start: number, n: number) => i64([n], labels.slice(start, start + n));

  it('adding batches one by one equals adding them at once, and merging partial results equals both', () => {
    const whole = { cmp: new OutputComparison(), acc: new Accuracy(), bpc: new BitsPerChar() };
    whole.cmp.add(batch(ref, 0, rows, classes), batch(cand, 0, rows, classes));
    whole.acc.add(batch(cand, 0, rows, classes), labelRows(0, rows));
    whole.bpc.add(tokens(cand, 0, rows), i64([rows, 1], labels));

    const parts = [[0, 5], [5, 4], [9, 3]] as const;
    const merged = { cmp: new OutputComparison(), acc: new Accuracy(), bpc: new BitsPerChar() };
    const streamed = { cmp: new OutputComparison(), acc: new Accuracy(), bpc: new BitsPerChar() };
    for (const [s, n] of parts) {
      const part = { cmp: new OutputComparison(), acc: new Accuracy(), bpc: new BitsPerChar() };
      for (const m of [part, streamed]) {
        m.cmp.add(batch(ref, s, n, classes), batch(cand, s, n, classes));
        m.acc.add(batch(cand, s, n, classes), labelRows(s, n));
        m.bpc.add(tokens(cand, s, n), i64([n, 1], labels.slice(s, s + n)));
      }
      merged.cmp.merge(part.cmp);
      merged.acc.merge(part.acc);
      merged.bpc.merge(part.bpc);
    }
    for (const m of [merged, streamed]) {
      const got = m.cmp.result();
      const want = whole.cmp.result();
      expect(got.rows).toBe(want.rows);
      expect(got.agreement).toBe(want.agreement);
      expect(got.maxAbsErr).toBe(want.maxAbsErr);
      expect(got.maxAbsErrRel).toBe(want.maxAbsErrRel);
      expect(got.cosine).toBeCloseTo(want.cosine, 12);
      expect(got.sqnrDb).toBeCloseTo(want.sqnrDb, 10);
      expect(m.acc.result()).toBe(whole.acc.result());
      expect(m.bpc.result()).toBeCloseTo(whole.bpc.result(), 12);
    }
    expect(whole.cmp.result().agreement).toBeLessThan(1);
  });
});
