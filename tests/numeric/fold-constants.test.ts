/** fold-constants keeps outputs within 1e-5 and folds shape arithmetic and constant subgraphs away. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('fold-constants', () => {
  it('folds a weight transform and Shape arithmetic built with the Builder (seeded inputs)', async () => {
    const g = new Graph('f');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [3, 4, 5]));
    const w = b.op('onnx.Transpose', [b.op('onnx.Mul', [b.constant('w', seeded([5, 6], 1)), b.constant('k', Tensor.scalar('f32', 0.5))])], { perm: [1, 0] });
    const dims = b.op('onnx.Shape', [x], { start: 0, end: 2 });
    const shape = b.op('onnx.Concat', [dims, b.constant('six', Tensor.from('i64', [1], [6]))], { axis: 0 });
    const y = b.op('onnx.Reshape', [b.op('onnx.MatMul', [x, b.op('onnx.Transpose', [w], { perm: [1, 0] })]), shape]);
    b.output(y);
    const { after } = await expectEquivalent(new Model(g), 'fold-constants', [seeded([3, 4, 5], 2)]);
    expect(after).toEqual({ 'onnx.MatMul': 1, 'onnx.Reshape': 1 });
  });

  it.skipIf(!HAS_SHARED).each([
    ['public/mnist-8', 'onnx.Reshape', 1],
    ['public/silero-vad-v3-micro', 'onnx.ConstantOfShape', 0],
  ])('%s: %s count drops to %i', async (name, op, left) => {
    const { model, inputs } = corpusCase(name);
    const { before, after } = await expectEquivalent(model, 'canonicalize,fold-constants', inputs);
    expect(before[op]).toBeGreaterThan(left);
    expect(after[op] ?? 0).toBe(left);
  });
});
