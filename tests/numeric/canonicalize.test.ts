/** canonicalize keeps outputs within 1e-5 and removes the no-op ops of real exporters. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('canonicalize', () => {
  it('removes no-ops and merges pairs built with the Builder (seeded inputs)', async () => {
    const g = new Graph('c');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [2, 3, 4]));
    const t = b.op('onnx.Transpose', [b.op('onnx.Transpose', [x], { perm: [2, 0, 1] })], { perm: [0, 2, 1] });
    const r = b.op('onnx.Reshape', [b.op('onnx.Reshape', [t, b.constant('s', Tensor.from('i64', [2], [4, 6]))]), b.constant('s', Tensor.from('i64', [3], [2, 2, -1]))]);
    const z = b.op('onnx.Add', [b.op('onnx.Mul', [b.op('onnx.Identity', [r]), b.constant('one', Tensor.scalar('f32', 1))]), b.constant('zero', Tensor.scalar('f32', 0))]);
    b.output(b.op('onnx.Relu', [z]));
    const { after } = await expectEquivalent(new Model(g), 'canonicalize', [seeded([2, 3, 4], 3)]);
    expect(after).toEqual({ 'onnx.Transpose': 1, 'onnx.Reshape': 1, 'onnx.Relu': 1 });
  });

  it.skipIf(!HAS_SHARED).each([
    ['public/chessgpt', 'onnx.Identity', 63],
    ['public/squeezenet1.1-fp16', 'onnx.Dropout', 1],
    ['public/silero-vad-v3-micro', 'onnx.Cast', 18],
  ])('%s: removes every %s (%i)', async (name, op, count) => {
    const { model, inputs } = corpusCase(name);
    const { before, after } = await expectEquivalent(model, 'canonicalize', inputs);
    expect(before[op]).toBe(count);
    expect(after[op]).toBeUndefined();
  });
});
