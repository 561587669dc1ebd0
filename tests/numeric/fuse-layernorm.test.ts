/** fuse-layernorm keeps outputs within 1e-5 and replaces the decomposed LayerNorms by onnx.LayerNormalization. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType, type Value } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

/** (x − mean) / √(var + ε) · γ + β over the last axis, built op by op. */
function decomposed(b: Builder, x: Value, c: number): Value {
  const axes = b.constant('axes', Tensor.from('i64', [1], [-1]));
  const d = b.op('onnx.Sub', [x, b.op('onnx.ReduceMean', [x, axes])]);
  const v = b.op('onnx.ReduceMean', [b.op('onnx.Pow', [d, b.constant('two', Tensor.scalar('f32', 2))]), axes]);
  const n = b.op('onnx.Div', [d, b.op('onnx.Sqrt', [b.op('onnx.Add', [v, b.constant('eps', Tensor.scalar('f32', 1e-5))])])]);
  return b.op('onnx.Add', [b.op('onnx.Mul', [n, b.constant('gamma', seeded([c], 3))]), b.constant('beta', seeded([c], 4))]);
}

describe('fuse-layernorm', () => {
  it('fuses a decomposed LayerNorm built with the Builder (seeded inputs)', async () => {
    const g = new Graph('ln');
    const b = new Builder(g);
    b.output(decomposed(b, b.input('x', tensorType('f32', [3, 5, 8])), 8));
    const { after } = await expectEquivalent(new Model(g), 'fuse-layernorm', [seeded([3, 5, 8], 11, 3)]);
    expect(after).toEqual({ 'onnx.LayerNormalization': 1 });
  });

  it.skipIf(!HAS_SHARED)('public/silero-vad-v3-micro: 8 decomposed LayerNorms fused', async () => {
    const { model, inputs } = corpusCase('public/silero-vad-v3-micro');
    const { before, after } = await expectEquivalent(model, 'canonicalize,fuse-layernorm', inputs);
    expect(before['onnx.LayerNormalization']).toBeUndefined();
    expect(after['onnx.LayerNormalization']).toBe(8);
    expect(after['onnx.Sub']).toBeUndefined();
    expect(after['onnx.ReduceMean']).toBe(before['onnx.ReduceMean']! - 16);
    expect(after['onnx.Sqrt']).toBe(before['onnx.Sqrt']! - 8);
  });
});
