/** fold-batchnorm keeps outputs within 1e-5 and removes every BatchNormalization after a Conv. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType, type Value } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('fold-batchnorm', () => {
  it('folds into Conv, Gemm and MatMul built with the Builder (seeded inputs)', async () => {
    const g = new Graph('bn');
    const b = new Builder(g);
    /** γ, β, mean and a positive variance for `c` channels. */
    const bn = (y: Value, c: number, seed: number) => {
      const variance = Tensor.from('f32', [c], seeded([c], seed + 3, 1).toNumbers().map((v) => Math.abs(v) + 0.5));
      const params = [seeded([c], seed, 1), seeded([c], seed + 1, 1), seeded([c], seed + 2, 1), variance].map((t, i) => b.constant(`bn${seed}_${i}`, t));
      return b.op('onnx.BatchNormalization', [y, ...params]);
    };
    const x = b.input('x', tensorType('f32', [2, 3, 5, 5]));
    const a = b.input('a', tensorType('f32', [6, 5]));
    const conv = b.op('onnx.Conv', [x, b.constant('w', seeded([4, 3, 3, 3], 1)), b.constant('cb', seeded([4], 2))], { pads: [1, 1, 1, 1] });
    const gemm = b.op('onnx.Gemm', [a, b.constant('gw', seeded([3, 5], 3)), b.constant('gc', seeded([3], 4))], { transB: 1, beta: 0.5 });
    const mm = b.op('onnx.MatMul', [a, b.constant('mw', seeded([5, 3], 5))]);
    b.output(bn(conv, 4, 10), bn(gemm, 3, 20), bn(mm, 3, 30));
    const { after } = await expectEquivalent(new Model(g), 'fold-batchnorm', [seeded([2, 3, 5, 5], 80), seeded([6, 5], 81)]);
    expect(after['onnx.BatchNormalization']).toBeUndefined();
    expect(after).toEqual({ 'onnx.Conv': 1, 'onnx.Gemm': 1, 'onnx.MatMul': 1, 'onnx.Add': 1 });
  });

  it.skipIf(!HAS_SHARED).each([
    ['digits_cnn', 3],
    ['public/mobilenetv2-035-128', 7],
    ['public/ssd-mobilenetv1-025-256', 2],
  ])('%s: %i BatchNormalization folded, none left', async (name, count) => {
    const { model, inputs } = corpusCase(name);
    const { before, after } = await expectEquivalent(model, 'fold-batchnorm', inputs);
    expect(before['onnx.BatchNormalization']).toBe(count);
    expect(after['onnx.BatchNormalization']).toBeUndefined();
    expect(after['onnx.Conv']).toBe(before['onnx.Conv']);
  });
});
