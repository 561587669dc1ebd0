/** dce keeps outputs within 1e-5 and drops dead nodes, constants and weights. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, tensorType } from '../../src/ir/index.js';
import { expectEquivalent, seeded } from './equivalence.js';

describe('dce', () => {
  it('drops dead nodes, unused constants and their weights without changing outputs', async () => {
    const g = new Graph('dce');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [8]));
    b.op('onnx.Add', [b.op('onnx.Exp', [x]), b.constant('dead', seeded([8], 1))]);
    b.output(b.op('onnx.Relu', [x]));
    const model = new Model(g);
    const { after } = await expectEquivalent(model, 'dce', [seeded([8], 2)]);
    expect(after).toEqual({ 'onnx.Relu': 1 });
    expect(g.constants).toEqual([]);
    expect(model.weights.size).toBe(0);
  });
});
