/** fuse-rmsnorm keeps outputs within 1e-5 and replaces decomposed RMSNorms by onnx.RMSNormalization. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType } from '../../src/ir/index.js';
import { expectEquivalent, seeded } from './equivalence.js';

describe('fuse-rmsnorm', () => {
  it('fuses the Reciprocal and the Div forms, with and without γ (seeded inputs)', async () => {
    const g = new Graph('rms');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [2, 6, 16]));
    const axes = b.constant('axes', Tensor.from('i64', [1], [-1]));
    const ms = b.op('onnx.ReduceMean', [b.op('onnx.Pow', [x, b.constant('two', Tensor.scalar('f32', 2))]), axes]);
    const rms = b.op('onnx.Sqrt', [b.op('onnx.Add', [ms, b.constant('eps', Tensor.scalar('f32', 1e-6))])]);
    const llama = b.op('onnx.Mul', [b.constant('gamma', seeded([16], 5)), b.op('onnx.Mul', [x, b.op('onnx.Reciprocal', [rms])])]);
    const ms2 = b.op('onnx.ReduceMean', [b.op('onnx.Mul', [x, x]), axes]);
    const plain = b.op('onnx.Div', [x, b.op('onnx.Sqrt', [b.op('onnx.Add', [ms2, b.constant('eps', Tensor.scalar('f32', 1e-6))])])]);
    b.output(llama, plain);
    const { after } = await expectEquivalent(new Model(g), 'fuse-rmsnorm', [seeded([2, 6, 16], 12, 3)]);
    expect(after).toEqual({ 'onnx.RMSNormalization': 2 });
  });
});
