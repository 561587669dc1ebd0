import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, tensorType } from '../../../src/ir/index.js';
import { runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { ONNX_TESTS } from '../../helpers/shared.js';
import { evalAll, evalOp, f32, i64, inferOp, t } from './op-harness.js';

const T = tensorType;

/** Expect `x` to hold `want` within `tol` (relative to max(1, |want|)). */
function close(x: Tensor, want: number[], tol = 1e-6): void {
  const got = x.toNumbers();
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!))));
}

/** A [1, heads, seq, 1] tensor. */
const col = (heads: number, v: number[]): Tensor => f32([1, heads, v.length / heads, 1], v);

describe('Attention', () => {
  it('is_causal lets query i see keys 0..i (uniform scores → running means of V)', () => {
    const q = col(1, [0, 0, 0]);
    const [y, , , probs] = evalAll('Attention', [q, col(1, [1, 2, 3]), col(1, [1, 2, 4]), null, null, null], { is_causal: 1, qk_matmul_output_mode: 3 }, 4);
    close(y!, [1, 1.5, 7 / 3]);
    close(probs!, [1, 0, 0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3]);
  });

  it('GQA maps query head h to KV head floor(h / (q_heads / kv_heads))', () => {
    // one key per head: softmax is 1, so each query head returns its KV head's value
    const y = evalOp('Attention', [col(4, [0.3, -1, 2, 5]), col(2, [1, 1]), col(2, [10, 20])]);
    expect(y.shape).toEqual([1, 4, 1, 1]);
    close(y, [10, 10, 20, 20]);
    // the same in 3-D form: [batch, seq, heads·head_size]
    const y3 = evalOp('Attention', [f32([1, 1, 4], [0.3, -1, 2, 5]), f32([1, 1, 2], [1, 1]), f32([1, 1, 2], [10, 20])], { q_num_heads: 4, kv_num_heads: 2 });
    expect(y3.shape).toEqual([1, 1, 4]);
    close(y3, [10, 10, 20, 20]);
  });

  it('appends K/V to past_key/past_value, returns them as present, and offsets the causal mask by the past length', () => {
    const [y, pk, pv] = evalAll('Attention', [col(1, [0]), col(1, [7]), col(1, [6]), null, col(1, [1, 2]), col(1, [1, 2])], { is_causal: 1 }, 3);
    expect(pk!.shape).toEqual([1, 1, 3, 1]);
    expect(pk!.toNumbers()).toEqual([1, 2, 7]);
    expect(pv!.toNumbers()).toEqual([1, 2, 6]);
    close(y!, [3]); // the one query (after 2 past keys) sees all 3 keys
  });

  it('applies scale, a bool mask (false = excluded) and a short float mask padded with -inf', () => {
    const q = f32([1, 1, 1, 2], [1, 0]);
    const key = f32([1, 1, 2, 2], [Math.log(3), 0, 0, 0]);
    const v = col(1, [1, 0]);
    // scores [ln 3, 0] with scale 1 → probabilities [3/4, 1/4]
    close(evalOp('Attention', [q, key, v], { scale: 1 }), [0.75]);
    close(evalOp('Attention', [q, key, v, t('bool', [1, 2], [0, 1])], { scale: 1 }), [0]);
    close(evalOp('Attention', [q, key, v, f32([1, 1], [0])], { scale: 1 }), [1]);
  });

  it('gives a fully masked row zero probabilities instead of NaN', () => {
    const [y, , , probs] = evalAll('Attention', [col(1, [1]), col(1, [1, 2]), col(1, [3, 4]), t('bool', [1, 2], [0, 0])], { qk_matmul_output_mode: 3 }, 4);
    expect(y!.toNumbers()).toEqual([0]);
    expect(probs!.toNumbers()).toEqual([0, 0]);
  });

  it('nonpad_kv_seqlen hides the padded tail of each batch', () => {
    const v = f32([2, 1, 3, 1], [1, 2, 9, 1, 2, 9]);
    const key = f32([2, 1, 3, 1], [0, 0, 0, 0, 0, 0]);
    close(evalOp('Attention', [f32([2, 1, 1, 1], [0, 0]), key, v, null, null, null, i64([2, 3])]), [1.5, 4]);
  });

  it('infers 3-D GQA shapes with a past', () => {
    expect(inferOp('Attention', [T('f32', [2, 4, 72]), T('f32', [2, 6, 24]), T('f32', [2, 6, 30]), null, T('f32', [2, 3, 12, 8]), T('f32', [2, 3, 12, 10])],
      { q_num_heads: 9, kv_num_heads: 3 }, 4)).toEqual(['f32[2,4,90]', 'f32[2,3,18,8]', 'f32[2,3,18,10]', 'f32[2,9,4,18]']);
    expect(() => inferOp('Attention', [T('f32', [2, 4, 72]), T('f32', [2, 6, 24]), T('f32', [2, 6, 24])])).toThrow(/q_num_heads/);
  });
});

describe('RotaryEmbedding, LpNormalization, MeanVarianceNormalization, Shrink, Swish', () => {
  it('RotaryEmbedding rotates (x_j, x_{j+d/2}) halves or interleaved pairs by the cached angle', () => {
    const x = f32([1, 1, 1, 4], [1, 2, 3, 4]);
    const c = Math.cos(0.5);
    const s = Math.sin(0.5);
    const cos = f32([2, 2], [1, 1, c, c]);
    const sin = f32([2, 2], [0, 0, s, s]);
    close(evalOp('RotaryEmbedding', [x, cos, sin, i64([1], [1, 1])]), [c - 3 * s, 2 * c - 4 * s, s + 3 * c, 2 * s + 4 * c]);
    close(evalOp('RotaryEmbedding', [x, cos, sin, i64([1], [1, 1])], { interleaved: 1 }), [c - 2 * s, s + 2 * c, 3 * c - 4 * s, 3 * s + 4 * c]);
    // position 0 is the identity; rotary_embedding_dim=2 leaves the last two features alone
    close(evalOp('RotaryEmbedding', [x, cos, sin, i64([0], [1, 1])]), [1, 2, 3, 4]);
    close(evalOp('RotaryEmbedding', [x, cos, sin, i64([1], [1, 1])], { rotary_embedding_dim: 2 }), [c - 2 * s, s + 2 * c, 3, 4]);
  });

  it('LpNormalization divides by the L1 or L2 norm along the axis', () => {
    close(evalOp('LpNormalization', [f32([2, 2], [3, 4, -1, 3])], { p: 1 }), [3 / 7, 4 / 7, -0.25, 0.75]);
    close(evalOp('LpNormalization', [f32([2, 2], [3, 4, 0, 2])], { axis: 0 }), [1, 0.8944272, 0, 0.4472136]);
  });

  it('MeanVarianceNormalization standardizes over the axes', () => {
    close(evalOp('MeanVarianceNormalization', [f32([2, 2], [1, 3, 10, 30])], { axes: [1] }), [-1, 1, -1, 1]);
  });

  it('Shrink zeroes |x| <= lambd and moves the rest toward 0 by bias; Swish is x·sigmoid(alpha·x)', () => {
    close(evalOp('Shrink', [f32([5], [-2, -1, 0, 1, 2])], { lambd: 1, bias: 0.5 }), [-1.5, 0, 0, 0, 1.5]);
    close(evalOp('Swish', [f32([3], [-1, 0, 2])], { alpha: 2 }), [-1 / (1 + Math.exp(2)), 0, 2 / (1 + Math.exp(-4))]);
  });
});

describe('ONNX node conformance tests', () => {
  const dir = join(ONNX_TESTS, 'node');
  it.skipIf(!existsSync(dir))('every Attention, RotaryEmbedding, LpNormalization, MVN, Shrink and Swish test passes', () => {
    const report = runOnnxSuite(dir, { filter: /^test_(attention|rotary_embedding|lpnormalization|mvn|shrink|swish)/ });
    expect(report.results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(report.skipped).toBe(0);
    expect(report.passed).toBeGreaterThanOrEqual(178);
  }, 120_000);
});
