/** fuse-gelu keeps outputs within 1e-5 and replaces every decomposed GELU by onnx.Gelu. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, tensorType } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('fuse-gelu', () => {
  it('fuses both forms built with the Builder (seeded inputs)', async () => {
    const g = new Graph('gelu');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [4, 16]));
    const k = (v: number) => b.constant('k', Tensor.scalar('f32', v));
    const erf = b.op('onnx.Mul', [b.op('onnx.Mul', [x, b.op('onnx.Add', [b.op('onnx.Erf', [b.op('onnx.Div', [x, k(Math.SQRT2)])]), k(1)])]), k(0.5)]);
    const inner = b.op('onnx.Add', [x, b.op('onnx.Mul', [b.op('onnx.Pow', [x, k(3)]), k(0.044715)])]);
    const tanh = b.op('onnx.Mul', [b.op('onnx.Mul', [x, k(0.5)]), b.op('onnx.Add', [b.op('onnx.Tanh', [b.op('onnx.Mul', [inner, k(Math.sqrt(2 / Math.PI))])]), k(1)])]);
    b.output(erf, tanh);
    const { after } = await expectEquivalent(new Model(g), 'fuse-gelu', [seeded([4, 16], 7, 4)]);
    expect(after).toEqual({ 'onnx.Gelu': 2 });
  });

  it.skipIf(!HAS_SHARED).each([
    ['digits_vit', 4],
    ['digits_mlp', 2],
    ['char_lm', 4],
  ])('%s: %i onnx.Gelu, no onnx.Erf left', async (name, gelus) => {
    const { model, inputs } = corpusCase(name);
    const { before, after } = await expectEquivalent(model, 'fuse-gelu', inputs);
    expect(before['onnx.Erf']).toBe(gelus);
    expect(after['onnx.Gelu']).toBe(gelus);
    expect(after['onnx.Erf']).toBeUndefined();
    expect(after['onnx.Div'] ?? 0).toBe(before['onnx.Div']! - gelus);
  });
});
